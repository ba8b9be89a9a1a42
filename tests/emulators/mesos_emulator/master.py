"""`mesos-master` emulator: ZooKeeper election, registrar quorum, agents, frameworks, tasks.

Emulator-only routes (the real daemons talk libprocess messages instead) live under
`/master/emulator/`: agent (re)registration and heartbeats, framework registration, launch
and kill. Everything else keeps the real paths and field names.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator

from . import MESOS_VERSION, allocator, resources, v1, web, zk
from .common import die, new_id, now, resolve_ip, usage_error, version_info
from .flags import Flag, FlagError, load_mesos_flags, mesos_flag_values

log = logging.getLogger("emulator")

FLAGS = [
    Flag("zk"),
    Flag("quorum", "int"),
    Flag("work_dir"),
    Flag("registry", default="replicated_log"),
    Flag("cluster"),
    Flag("hostname"),
    Flag("hostname_lookup", "bool", True),
    Flag("ip"),
    Flag("ip_discovery_command"),
    Flag("port", "int", 5050),
    Flag("advertise_ip"),
    Flag("advertise_port", "int"),
    Flag("log_dir"),
    Flag("logging_level", default="INFO"),
    Flag("external_log_file"),
    Flag("quiet", "bool", False),
    Flag("logbufsecs", "int", 0),
    Flag("initialize_driver_logging", "bool", True),
    Flag("zk_session_timeout", "duration", 10.0),
    Flag("agent_reregister_timeout", "duration", 600.0),
    Flag("agent_ping_timeout", "duration", 15.0),
    Flag("max_agent_ping_timeouts", "int", 5),
    Flag("registry_fetch_timeout", "duration", 60.0),
    Flag("registry_store_timeout", "duration", 20.0),
    Flag("registry_strict", "bool", False),
    Flag("webui_dir", default="/usr/local/share/mesos/webui"),
    Flag("master_contender"),
    Flag("master_detector"),
    Flag("roles"),
    Flag("weights"),
    Flag("authenticate_frameworks", "bool", False),
    Flag("authenticate_agents", "bool", False),
    Flag("authenticate_http_readonly", "bool", False),
    Flag("authenticate_http_readwrite", "bool", False),
    Flag("credentials"),
    Flag("acls"),
    Flag("offer_timeout", "duration"),
    Flag("max_completed_frameworks", "int", 50),
    Flag("max_completed_tasks_per_framework", "int", 1000),
    Flag("domain"),
    Flag("version", "bool", False),
    Flag("help", "bool", False),
    Flag("allocation_interval", "duration", 1.0),
]

# The master sends schedulers a HEARTBEAT at once and then at this interval (DEFAULT_HEARTBEAT_INTERVAL).
HEARTBEAT_INTERVAL = 15.0

# v1 scheduler calls the emulator accepts (202) without acting on them, beyond those it implements
# (SUBSCRIBE, TEARDOWN, ACCEPT, DECLINE, REVIVE, SUPPRESS, KILL).
SCHEDULER_CALLS = {"SHUTDOWN", "ACKNOWLEDGE",
                   "ACKNOWLEDGE_OPERATION_STATUS", "RECONCILE", "RECONCILE_OPERATIONS", "MESSAGE", "REQUEST",
                   "ACCEPT_INVERSE_OFFERS", "DECLINE_INVERSE_OFFERS", "UPDATE_FRAMEWORK"}

MAINTENANCE_CALLS = {"GET_MAINTENANCE_STATUS", "GET_MAINTENANCE_SCHEDULE", "UPDATE_MAINTENANCE_SCHEDULE",
                     "START_MAINTENANCE", "STOP_MAINTENANCE"}
AGENT_CALLS = {"DRAIN_AGENT", "DEACTIVATE_AGENT", "REACTIVATE_AGENT", "MARK_AGENT_GONE"}

TERMINAL = {
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_DROPPED",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
}

# Task kill grace when the task has no KillPolicy (the command executor's default).
DEFAULT_KILL_GRACE_SECONDS = 3.0


def agent_machine(agent: dict) -> dict[str, str]:
    """The MachineID of an agent: the hostname it announces and the IP of its pid."""
    ip = str(agent.get("pid", "")).rsplit("@", 1)[-1].split(":")[0]
    return {"hostname": str(agent.get("hostname", "")), "ip": ip}


def same_machine(machine: dict, agent: dict) -> bool:
    """Mesos matches a machine to an agent on both fields (omitted ones are ""); hostnames ignore case."""
    own = agent_machine(agent)
    return (str(machine.get("hostname") or "").lower() == own["hostname"].lower()
            and str(machine.get("ip") or "") == own["ip"])


def schedule_error(schedule: object, down: list[dict]) -> str | None:
    """Why Mesos refuses a maintenance Schedule (`master/maintenance.cpp` validation), or None."""
    windows = schedule.get("windows", []) if isinstance(schedule, dict) else None
    if not isinstance(windows, list):
        return "Expecting a maintenance schedule object with a 'windows' array"
    seen: list[dict] = []
    for window in windows:
        if not isinstance(window, dict) or not window.get("machine_ids"):
            return "List of machines in the maintenance window is empty"
        if not isinstance(window.get("unavailability"), dict) or "start" not in window["unavailability"]:
            return "Maintenance window does not specify an unavailability"
        for machine in window["machine_ids"]:
            if not isinstance(machine, dict) or not (machine.get("hostname") or machine.get("ip")):
                return "Both 'hostname' and 'ip' for a machine are empty"
            key = {"hostname": str(machine.get("hostname") or "").lower(), "ip": str(machine.get("ip") or "")}
            if key in seen:
                return f"Machine '{json.dumps(machine)}' appears more than once in the schedule"
            seen.append(key)
    for machine in down:
        if {"hostname": str(machine.get("hostname") or "").lower(), "ip": str(machine.get("ip") or "")} not in seen:
            return f"Machine '{json.dumps(machine)}' is deactivated and must be present in the schedule"
    return None


def duration_seconds(value: object) -> float | None:
    """A v1 DurationInfo (`{"nanoseconds": N}`) in seconds."""
    if isinstance(value, dict) and isinstance(value.get("nanoseconds"), int | float):
        return float(value["nanoseconds"]) / 1e9
    return None


def validate(flags: dict[str, object]) -> None:
    """The start-up checks of `src/master/main.cpp` that matter for a deployment."""
    if flags["ip"] and flags["ip_discovery_command"]:
        raise FlagError("Only one of `--ip` or `--ip_discovery_command` should be specified")
    if flags["zk"] and (flags["master_contender"] or flags["master_detector"]):
        raise FlagError("Only one of --zk or the master_contender/master_detector pair should be specified.")
    if flags["registry"] not in ("replicated_log", "in_memory"):
        raise FlagError(f"'{flags['registry']}' is not a supported option for registry persistence")
    if flags["registry"] == "replicated_log":
        if not flags["work_dir"]:
            raise FlagError("--work_dir needed for replicated log based registry")
        if flags["zk"] and flags["quorum"] is None:
            raise FlagError("Need to specify --quorum for replicated log based registry when using ZooKeeper")
    if flags["zk"]:
        zk.parse_zk_url(str(flags["zk"]))


class Master:
    def __init__(self, flags: dict[str, object]) -> None:
        self.flags = flags
        self.id = new_id()
        self.ip = str(flags["ip"] or resolve_ip(flags["hostname"]))  # type: ignore[arg-type]
        self.port = int(flags["port"])  # type: ignore[arg-type]
        self.advertise_ip = str(flags["advertise_ip"] or self.ip)
        self.advertise_port = int(flags["advertise_port"] or self.port)  # type: ignore[arg-type]
        import socket

        self.hostname = str(
            flags["hostname"] or (socket.gethostname() if flags["hostname_lookup"] else self.advertise_ip)
        )
        self.pid = f"master@{self.advertise_ip}:{self.advertise_port}"
        self.info = zk.master_info(self.id, self.advertise_ip, self.advertise_port, self.hostname, MESOS_VERSION)
        self.start_time = now()
        self.lock = threading.RLock()
        self.leader: dict | None = None
        self.elected_time: float | None = None
        self.recovered = False
        self.members = 0
        self.my_node: str | None = None
        self.agents: dict[str, dict] = {}
        self.frameworks: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.unreachable = 0
        self.agent_counter = 0
        self.framework_counter = 0
        self.completed_frameworks: list[dict] = []
        self.maintenance: dict = {}  # the posted maintenance Schedule
        self.down_machines: list[dict] = []
        self.gone: set[str] = set()  # agents marked gone: never let back in
        self.offers: dict[str, dict] = {}  # outstanding offers to v1 frameworks, by offer id
        self.offer_counter = 0
        self.refused: allocator.Refusals = {}  # (framework, agent): until, resources refused
        self.last_allocation = 0.0
        self.suspended_since: float | None = None
        self.zk = None
        self.url = zk.parse_zk_url(str(flags["zk"])) if flags["zk"] else None

    # ---- election -------------------------------------------------------------------
    def elected(self) -> bool:
        return self.leader is not None and self.leader.get("id") == self.id

    def _children(self, children: list[str]) -> None:
        if self.my_node and self.my_node not in children:
            die(
                "Lost leadership... committing suicide!"
                if self.elected()
                else "Master contender lost candidacy (its ZooKeeper node disappeared); exiting"
            )
        self.members = len([c for c in children if c.startswith(zk.MASTER_INFO_LABEL + "_")])
        leader_child = zk.mesos_leader_child(children)
        info = None
        if leader_child:
            try:
                data, _ = self.zk.get(f"{self.url.path}/{leader_child}")
                info = zk.parse_master_info(data)
            except Exception:  # noqa: BLE001  (node went away between list and read)
                info = None
        with self.lock:
            was_leader = self.elected()
            if was_leader and (info is None or info.get("id") != self.id):
                die("Lost leadership... committing suicide!")
            if info != self.leader:
                log.info(
                    "The newly elected leader is %s with id %s",
                    info and info.get("pid"),
                    info and info.get("id"),
                )
            self.leader = info
            if self.elected() and not was_leader:
                log.info("Elected as the leading master!")
                self.elected_time = now()
                self.agents.clear()
                self.frameworks.clear()
                self.tasks.clear()
                self.offers.clear()
            self._update_recovery()

    def _update_recovery(self) -> None:
        if (
            self.elected()
            and not self.recovered
            and (self.flags["registry"] == "in_memory" or self.members >= int(self.flags["quorum"] or 1))
        ):
            self.recovered = True
            log.info("Recovered registrar: replicated log has a quorum of %d", self.flags["quorum"] or 1)

    def _state_listener(self, state: str) -> None:
        if state == "LOST":
            die("Lost ZooKeeper session; lost leadership/candidacy... committing suicide!")
        self.suspended_since = time.monotonic() if state == "SUSPENDED" else None

    def start_zk(self) -> None:
        from kazoo.recipe.watchers import ChildrenWatch

        self.zk = zk.client(self.url, float(self.flags["zk_session_timeout"]))
        self.zk.add_listener(self._state_listener)
        while True:
            try:
                self.zk.start(timeout=15)
                break
            except Exception as exc:  # noqa: BLE001
                log.warning("Failed to connect to ZooKeeper %s: %s; retrying", self.url.hosts, exc)
        import json

        self.zk.ensure_path(self.url.path)
        self.zk.ensure_path(f"{self.url.path}/log_replicas")
        self.zk.create(
            f"{self.url.path}/log_replicas/", f"{self.ip}:{self.port}".encode(), ephemeral=True, sequence=True
        )
        created = self.zk.create(
            f"{self.url.path}/{zk.MASTER_INFO_LABEL}_",
            json.dumps(self.info).encode(),
            ephemeral=True,
            sequence=True,
        )
        self.my_node = created.rsplit("/", 1)[1]
        log.info("Created ZooKeeper node %s", created)
        ChildrenWatch(self.zk, self.url.path, self._children)

    # ---- background checks ------------------------------------------------------------
    def tick(self) -> None:
        timeout = float(self.flags["zk_session_timeout"])
        if self.suspended_since is not None and time.monotonic() - self.suspended_since > timeout:
            die("Lost ZooKeeper session (disconnected beyond --zk_session_timeout)... committing suicide!")
        with self.lock:
            if (
                self.elected()
                and not self.recovered
                and self.elected_time is not None
                and now() - self.elected_time > float(self.flags["registry_fetch_timeout"])
            ):
                die(
                    "Recovery failed: Failed to recover registrar: Failed to perform fetch within "
                    f"{self.flags['registry_fetch_timeout']}secs"
                )
            limit = float(self.flags["agent_ping_timeout"]) * int(self.flags["max_agent_ping_timeouts"])
            for agent_id, agent in list(self.agents.items()):
                if now() - agent["last_seen"] > limit:
                    log.warning("Agent %s (%s) is unreachable: removing it", agent_id, agent["hostname"])
                    del self.agents[agent_id]
                    self.unreachable += 1
                    for task in self.tasks.values():
                        if task["slave_id"] == agent_id and task["state"] not in TERMINAL:
                            task["state"] = "TASK_UNREACHABLE"
            for agent in list(self.agents.values()):
                self._check_drained(agent)
            self._send_updates()
            if now() - self.last_allocation >= float(self.flags["allocation_interval"]):  # type: ignore[arg-type]
                self.last_allocation = now()
                self._allocate()

    # ---- views ------------------------------------------------------------------------
    def _used(self, agent_id: str | None = None, framework_id: str | None = None) -> dict[str, float]:
        used: dict[str, float] = {}
        for task in self.tasks.values():
            if task["state"] in TERMINAL or task["state"] == "TASK_UNREACHABLE":
                continue
            if agent_id and task["slave_id"] != agent_id:
                continue
            if framework_id and task["framework_id"] != framework_id:
                continue
            used = resources.add(used, task["resources"])
        return used

    def _agent_json(self, agent: dict) -> dict:
        used = self._used(agent["id"])
        return {
            "id": agent["id"],
            "pid": agent["pid"],
            "hostname": agent["hostname"],
            "port": agent["port"],
            "registered_time": agent["registered_time"],
            **({"reregistered_time": agent["reregistered_time"]} if agent.get("reregistered_time") else {}),
            "resources": resources.encode(agent["resources"]),
            "used_resources": resources.encode(used),
            "offered_resources": resources.encode(self._offered(agent_id=agent["id"])),
            "reserved_resources": {},
            "unreserved_resources": resources.encode(agent["resources"]),
            "attributes": agent["attributes"],
            "active": not agent.get("deactivated"),
            "deactivated": bool(agent.get("deactivated")),
            **({"drain_info": agent["drain_info"]} if agent.get("drain_info") else {}),
            **({"estimated_drain_start_time_seconds": agent["drain_started"]}
               if (agent.get("drain_info") or {}).get("state") == "DRAINING" else {}),
            "version": agent["version"],
            "capabilities": [
                "MULTI_ROLE",
                "HIERARCHICAL_ROLE",
                "RESERVATION_REFINEMENT",
                "RESOURCE_PROVIDER",
                "RESIZE_VOLUME",
                "AGENT_OPERATION_FEEDBACK",
                "AGENT_DRAINING",
                "TASK_RESOURCE_LIMITS",
            ],
        }

    def _task_json(self, task: dict) -> dict:
        return {
            "id": task["id"],
            "name": task["name"],
            "framework_id": task["framework_id"],
            "executor_id": "",
            "slave_id": task["slave_id"],
            "agent_id": task["slave_id"],
            "state": task["state"],
            "resources": resources.encode(task["resources"]),
            "role": "*",
            "statuses": [{"state": task["state"], "timestamp": task["updated"]}],
        }

    def _framework_json(self, fw: dict) -> dict:
        tasks = [self._task_json(t) for t in self.tasks.values() if t["framework_id"] == fw["id"]]
        used = resources.encode(self._used(framework_id=fw["id"]))
        return {
            "id": fw["id"],
            "name": fw["name"],
            **({"pid": fw["pid"]} if fw.get("pid") else {}),  # HTTP frameworks have none
            "hostname": fw["hostname"],
            "user": fw["user"],
            "role": fw["role"],
            "roles": [fw["role"]],
            "webui_url": fw.get("webui_url", ""),
            "active": fw["active"],
            "connected": fw.get("connected", fw["active"]),
            "recovered": False,
            "registered_time": fw["registered_time"],
            "failover_timeout": fw.get("failover_timeout", 0),
            "capabilities": [{"type": "MULTI_ROLE"}],
            "resources": used,
            "used_resources": used,
            "offered_resources": resources.encode(self._offered(framework_id=fw["id"])),
            "tasks": [t for t in tasks if t["state"] not in TERMINAL],
            "completed_tasks": [t for t in tasks if t["state"] in TERMINAL],
            "unreachable_tasks": [t for t in tasks if t["state"] == "TASK_UNREACHABLE"],
            "executors": [],
        }

    def state(self) -> dict:
        with self.lock:
            leader = self.leader or {}
            doc = {
                **version_info(MESOS_VERSION),
                "start_time": self.start_time,
                "id": self.id,
                "pid": self.pid,
                "hostname": self.hostname,
                "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
                "activated_slaves": sum(not a.get("deactivated") for a in self.agents.values()),
                "deactivated_slaves": sum(bool(a.get("deactivated")) for a in self.agents.values()),
                "unreachable_slaves": self.unreachable,
                "leader": leader.get("pid", ""),
                "leader_info": {k: leader[k] for k in ("id", "pid", "port", "hostname") if k in leader},
                "log_dir": self.flags["log_dir"] or "",
                "external_log_file": self.flags["external_log_file"] or "",
                "flags": self.flag_values(),
                "slaves": [self._agent_json(a) for a in self.agents.values()],
                "recovered_slaves": [],
                "frameworks": [self._framework_json(f) for f in self.frameworks.values()],
                "completed_frameworks": list(self.completed_frameworks),
                "orphan_tasks": [],
                "unregistered_frameworks": [],
            }
            if self.flags["cluster"]:
                doc["cluster"] = self.flags["cluster"]
            if self.elected_time:
                doc["elected_time"] = self.elected_time
            return doc

    def metrics(self) -> dict[str, float]:
        with self.lock:
            elected = self.elected()
            total: dict[str, float] = {}
            for agent in self.agents.values():
                total = resources.add(total, agent["resources"])
            used = self._used() if elected else {}
            out: dict[str, float] = {
                "master/elected": 1.0 if elected else 0.0,
                "master/uptime_secs": round(now() - self.start_time, 3),
                "registrar/log/recovered": 1.0 if (elected and self.recovered) else 0.0,
                "registrar/log/ensemble_size": float(self._ensemble_size()),
                "master/slaves_active": float(sum(not a.get("deactivated") for a in self.agents.values())
                                              if elected else 0),
                "master/slaves_connected": float(len(self.agents) if elected else 0),
                "master/slaves_disconnected": 0.0,
                "master/slaves_inactive": float(sum(bool(a.get("deactivated")) for a in self.agents.values())
                                                if elected else 0),
                "master/slaves_unreachable": float(self.unreachable if elected else 0),
                "master/frameworks_active": float(sum(f["active"] for f in self.frameworks.values()) if elected else 0),
                "master/tasks_running": float(
                    sum(t["state"] == "TASK_RUNNING" for t in self.tasks.values()) if elected else 0
                ),
                "master/tasks_staging": float(
                    sum(t["state"] == "TASK_STAGING" for t in self.tasks.values()) if elected else 0
                ),
                "system/cpus_total": float(os.cpu_count() or 1),
                "system/mem_total_bytes": float(resources.memory_total_bytes() or 0),
            }
            for name in ("cpus", "mem", "disk", "gpus"):
                t = float(total.get(name, 0.0)) if elected else 0.0
                u = float(used.get(name, 0.0))
                out[f"master/{name}_total"] = t
                out[f"master/{name}_used"] = u
                out[f"master/{name}_percent"] = (u / t) if t else 0.0
            try:
                load = os.getloadavg()
                out.update({"system/load_1min": load[0], "system/load_5min": load[1], "system/load_15min": load[2]})
            except OSError:
                pass
            return out

    def _ensemble_size(self) -> int:
        if not self.zk:
            return 1
        try:
            return len(self.zk.get_children(f"{self.url.path}/log_replicas"))
        except Exception:  # noqa: BLE001
            return 0

    # ---- HTTP -----------------------------------------------------------------------
    def _redirect(self, path: str) -> web.Response:
        leader = self.leader
        if not leader:
            return web.Response.text("No leader elected", 503)
        address = leader.get("address") or {}
        host = address.get("hostname") or leader.get("hostname") or address.get("ip")
        return web.Response(307, b"", {"Location": f"//{host}:{leader.get('port', 5050)}{path}"})

    def handle(self, req: web.Request) -> web.Response:  # noqa: C901  (a router)
        path = req.path.rstrip("/") or "/"
        sub = path.removeprefix("/master") if path.startswith("/master/") else path
        if sub in ("/health",):
            return web.Response(200)
        if sub == "/version":
            return web.Response.json(version_info(MESOS_VERSION))
        if sub == "/metrics/snapshot":
            return web.Response.json(self.metrics())
        if path in ("/master/redirect", "/redirect"):
            return self._redirect("")
        if path.startswith("/master/redirect/") or path.startswith("/redirect/"):
            return web.Response(404)
        if sub == "/flags":
            return web.Response.json({"flags": self.flag_values()})
        leader_only = {"/state", "/state.json", "/slaves", "/frameworks", "/tasks", "/state-summary", "/roles",
                       "/quota", "/weights", "/maintenance/schedule", "/maintenance/status", "/machine/down",
                       "/machine/up"}
        if sub in ("/api/v1", "/api/v1/scheduler"):
            if not self.elected():
                return self._redirect(path)
            if not self.recovered:
                return web.Response.text("Master has not finished recovery", 503)
            return self._operator(req) if sub == "/api/v1" else self._scheduler(req)
        if sub in leader_only or sub.startswith("/emulator/"):
            if not self.elected():
                return self._redirect("/master" + sub)
            if sub.startswith("/emulator/") and not self.recovered:
                return web.Response.text("Master has not finished recovery", 503)
            return self._leader_route(sub, req)
        return web.Response(404)

    def _leader_route(self, sub: str, req: web.Request) -> web.Response:
        if sub in ("/state", "/state.json"):
            return web.Response.json(self.state())
        if sub == "/state-summary":
            st = self.state()
            return web.Response.json({k: st[k] for k in ("hostname", "cluster", "slaves", "frameworks") if k in st})
        if sub == "/slaves":
            with self.lock:
                slaves = [self._agent_json(a) for a in self.agents.values()]
            wanted = req.query.get("slave_id")
            if wanted:
                slaves = [s for s in slaves if s["id"] in wanted]
            return web.Response.json({"slaves": slaves, "recovered_slaves": []})
        if sub == "/frameworks":
            with self.lock:
                return web.Response.json(
                    {
                        "frameworks": [self._framework_json(f) for f in self.frameworks.values()],
                        "completed_frameworks": list(self.completed_frameworks),
                        "unregistered_frameworks": [],
                    }
                )
        if sub in ("/roles", "/quota", "/weights"):
            return self._allocation(sub)
        if sub.startswith("/maintenance/") or sub.startswith("/machine/"):
            return self._maintenance(sub, req)
        if sub == "/tasks":
            with self.lock:
                return web.Response.json({"tasks": [self._task_json(t) for t in self.tasks.values()]})
        if req.method != "POST":
            return web.Response(405)
        body = req.json()
        if sub == "/emulator/agent":
            return self._agent_message(body)
        if sub == "/emulator/framework":
            return self._framework_message(body)
        if sub == "/emulator/launch":
            return self._launch(body)
        if sub == "/emulator/kill":
            return self._kill(body)
        return web.Response(404)

    def _agent_message(self, body: dict) -> web.Response:
        with self.lock:
            agent_id = body.get("id")
            # (re)registration refused: the agent is told to shut down (ShutdownMessage)
            if agent_id and agent_id in self.gone:
                log.warning("Refusing reregistration of agent %s (%s): it has been marked gone", agent_id,
                            body.get("hostname"))
                return web.Response.json({"shutdown": f"Agent {agent_id} has been marked gone"}, 403)
            machine = agent_machine(body)
            if any(same_machine(m, body) for m in self.down_machines):
                log.warning("Refusing registration of agent at %s because the machine '%s' that it is running on "
                            "is `DOWN`", body.get("pid"), json.dumps(machine))
                return web.Response.json({"shutdown": "Machine is `DOWN`"}, 403)
            if not agent_id:
                self.agent_counter += 1
                agent_id = f"{self.id}-S{self.agent_counter - 1}"
            agent = self.agents.get(agent_id)
            if agent is None:
                agent = {"id": agent_id, "registered_time": now()}
                if body.get("id"):
                    agent["reregistered_time"] = now()
                log.info(
                    "%s agent %s at %s (%s)",
                    "Re-registered" if body.get("id") else "Registered",
                    agent_id,
                    body["pid"],
                    body["hostname"],
                )
                self.agents[agent_id] = agent
                if body.get("drain_config"):
                    # an agent re-registering while draining keeps draining (its checkpointed DrainConfig)
                    agent.update(deactivated=True, drain_started=now(),
                                 drain_info={"state": "DRAINING", "config": body["drain_config"]})
            agent.update(
                {
                    "pid": body["pid"],
                    "hostname": body["hostname"],
                    "port": body["port"],
                    "resources": body["resources"],
                    "attributes": body.get("attributes", {}),
                    "version": body.get("version", MESOS_VERSION),
                    "last_seen": now(),
                    "url": body["url"],
                }
            )
            reported = {t["id"]: t for t in body.get("tasks", [])}
            for task_id, task in list(self.tasks.items()):
                if task["slave_id"] != agent_id:
                    continue
                if task_id in reported:
                    task.update(state=reported[task_id]["state"], updated=now())
                elif task["state"] == "TASK_STAGING" and now() - task["updated"] > 30:
                    task.update(state="TASK_LOST", updated=now())
                elif task["state"] not in TERMINAL and task["state"] != "TASK_STAGING":
                    task.update(state="TASK_GONE", updated=now())
            for task_id, task in reported.items():
                if task_id not in self.tasks:
                    self.tasks[task_id] = {**task, "slave_id": agent_id, "updated": now()}
            self._send_updates()  # now: the agent reports a terminal state once, then forgets the task
            # Forget terminal tasks the agent no longer reports.
            for task_id in [
                t
                for t, v in self.tasks.items()
                if v["slave_id"] == agent_id and v["state"] in TERMINAL and t not in reported
            ]:
                del self.tasks[task_id]
            self._check_drained(agent)
            if agent_id not in self.agents:
                return web.Response.json({"shutdown": f"Agent {agent_id} has been marked gone"}, 403)
            draining = (agent.get("drain_info") or {}).get("state") in ("DRAINING", "DRAINED")
            return web.Response.json({"id": agent_id, "master": self.pid,
                                      "drain_config": agent["drain_info"]["config"] if draining else None})

    def _new_framework_id(self) -> str:
        self.framework_counter += 1
        return f"{self.id}-{self.framework_counter - 1:04d}"

    def _framework_message(self, body: dict) -> web.Response:
        with self.lock:
            fw_id = body.get("id") or self._new_framework_id()
            fw = self.frameworks.setdefault(fw_id, {"id": fw_id, "registered_time": now()})
            fw.update(
                {
                    "name": body.get("name", ""),
                    "hostname": body.get("hostname", ""),
                    "user": body.get("user", "root"),
                    "role": body.get("role", "*"),
                    "webui_url": body.get("webui_url", ""),
                    "failover_timeout": body.get("failover_timeout", 0),
                    "pid": body.get("pid", ""),
                    "active": True,
                    "last_seen": now(),
                }
            )
            return web.Response.json({"id": fw_id, "master": self.pid})

    def _launch(self, body: dict) -> web.Response:
        with self.lock:
            admitted = self._admit(body)
        if isinstance(admitted, web.Response):
            return admitted
        return self._start(body, *admitted)

    def _admit(self, body: dict) -> web.Response | tuple[dict, str, dict]:
        """Check a launch and record its task as staging (the caller holds the lock): the task
        record, the agent's URL and the resources, or the refusal."""
        task = body["task"]
        agent = self.agents.get(task["agent_id"])
        if agent is None or body["framework_id"] not in self.frameworks:
            return web.Response.text("Unknown agent or framework", 400)
        if agent.get("deactivated"):
            # a deactivated (draining) agent gets no offers, so nothing can be launched on it
            return web.Response.text(f"Agent {agent['id']} is deactivated: no tasks can be launched on it", 409)
        free = resources.subtract(agent["resources"], self._used(agent["id"]))
        # scalars as numbers; ranges (the task's `ports`) stay in Mesos' text form
        request = {k: (float(v) if isinstance(v, int | float) else v) for k, v in task["resources"].items()}
        if not resources.fits(request, free):
            return web.Response.text("Task uses more resources than the agent offers", 409)
        if task["task_id"] in self.tasks:
            return web.Response.text("Task id is not unique", 409)
        record = {
            "id": task["task_id"],
            "name": task["name"],
            "framework_id": body["framework_id"],
            "slave_id": agent["id"],
            "state": "TASK_STAGING",
            "resources": request,
            "updated": now(),
        }
        self.tasks[record["id"]] = record
        # a launch without an offer (the Marathon emulator's) takes back offers it leaves too small
        after = resources.subtract(free, request)
        for offer_id in [o for o, offer in self.offers.items() if offer["agent_id"] == agent["id"]]:
            if not resources.fits(self.offers[offer_id]["resources"], after):  # type: ignore[arg-type]
                self._rescind(offer_id)
        return record, agent["url"], request

    def _start(self, body: dict, record: dict, url: str, request: dict) -> web.Response:
        """Hand an admitted task to its agent."""
        status, payload, _ = web.call(
            "POST",
            f"{url}/emulator/launch",
            {"framework_id": body["framework_id"], "task": {**body["task"], "resources": request}},
        )
        if status != 200:
            with self.lock:
                record.update(state="TASK_FAILED", updated=now())
            return web.Response.text(f"Agent refused the task: {payload.decode(errors='replace')}", 502)
        return web.Response.json({"task_id": record["id"], "state": record["state"]})

    def _kill(self, body: dict) -> web.Response:
        with self.lock:
            task = self.tasks.get(body["task_id"])
            if task is None:
                return web.Response.text("Unknown task", 404)
            agent = self.agents.get(task["slave_id"])
        if agent is not None:
            web.call("POST", f"{agent['url']}/emulator/kill", {"task_id": task["id"]})
        return web.Response.json({"task_id": task["id"]})

    # ---- /flags, roles, quota, weights, maintenance -----------------------------------
    def flag_values(self) -> dict[str, str]:
        return mesos_flag_values(FLAGS, self.flags)

    def _weights(self) -> list[dict]:
        out = []
        for item in str(self.flags["weights"] or "").split(","):
            role, _, weight = item.partition("=")
            if role and weight:
                out.append({"role": role.strip(), "weight": float(weight)})
        return out

    def _allocation(self, sub: str) -> web.Response:
        if sub == "/quota":
            return web.Response.json({"infos": [], "configs": []})  # no quota is ever set here
        if sub == "/weights":
            return web.Response.json(self._weights())
        with self.lock:
            weights = {w["role"]: w["weight"] for w in self._weights()}
            names = {"*", *weights, *(f["role"] for f in self.frameworks.values())}
            names |= {r for r in str(self.flags["roles"] or "").split(",") if r}
            roles = []
            for name in sorted(names):
                members = [f["id"] for f in self.frameworks.values() if f["role"] == name]
                used: dict[str, float] = {}
                for fw_id in members:
                    used = resources.add(used, self._used(framework_id=fw_id))
                roles.append({
                    "name": name,
                    "weight": weights.get(name, 1.0),
                    "frameworks": members,
                    "resources": resources.encode(used),
                    "allocated": resources.encode(used),
                    "offered": resources.encode({}),
                    "reserved": resources.encode({}),
                    "quota": {"role": name, "guarantee": {}, "limit": {}, "consumed": resources.encode(used)},
                })
            return web.Response.json({"roles": roles})

    def _scheduled(self) -> list[dict]:
        return [m for w in self.maintenance.get("windows") or [] for m in w.get("machine_ids") or []]

    def _maintenance_status(self) -> dict:
        """maintenance::ClusterStatus: scheduled machines are draining until they are down."""
        draining = [{"id": m} for m in self._scheduled() if m not in self.down_machines]
        status: dict[str, list] = {}
        if draining:
            status["draining_machines"] = draining
        if self.down_machines:
            status["down_machines"] = list(self.down_machines)
        return status

    def _update_schedule(self, schedule: object) -> str | None:
        """UpdateSchedule (the caller holds the lock): the error, or None once the schedule is in place."""
        error = schedule_error(schedule, self.down_machines)
        if error:
            return error
        windows = schedule.get("windows") or []  # type: ignore[union-attr]
        self.maintenance = {"windows": windows} if windows else {}
        return None

    def _machines_error(self, machines: object, must_be_down: bool) -> str | None:
        if not isinstance(machines, list) or not machines:
            return "List of machines is empty" if isinstance(machines, list) else "Expecting a JSON array of machines"
        for machine in machines:
            if not isinstance(machine, dict) or not (machine.get("hostname") or machine.get("ip")):
                return "Both 'hostname' and 'ip' for a machine are empty"
            if machine not in self._scheduled():
                return f"Machine '{json.dumps(machine)}' is not part of a maintenance schedule"
            if must_be_down and machine not in self.down_machines:
                return f"Machine '{json.dumps(machine)}' is not in DOWN mode"
            if not must_be_down and machine in self.down_machines:
                return f"Machine '{json.dumps(machine)}' is already in DOWN mode"
        return None

    def _start_maintenance(self, machines: list[dict]) -> None:
        """/machine/down: every agent on the machines is told to shut down and removed (TASK_LOST)."""
        self.down_machines += machines
        for agent in [a for a in self.agents.values() if any(same_machine(m, a) for m in machines)]:
            self._remove_agent(agent, "TASK_LOST", "Operator initiated 'Machine DOWN'")

    def _stop_maintenance(self, machines: list[dict]) -> None:
        """/machine/up: the machines leave DOWN mode and the schedule; agents may register again."""
        self.down_machines = [m for m in self.down_machines if m not in machines]
        for window in self.maintenance.get("windows") or []:
            window["machine_ids"] = [m for m in window["machine_ids"] if m not in machines]
        windows = [w for w in self.maintenance.get("windows") or [] if w["machine_ids"]]
        self.maintenance = {"windows": windows} if windows else {}

    def _maintenance(self, sub: str, req: web.Request) -> web.Response:
        with self.lock:
            if sub == "/maintenance/schedule":
                if req.method == "GET":
                    return web.Response.json(self.maintenance)
                try:
                    schedule = req.json()
                except ValueError as exc:
                    return web.Response.text(f"Failed to parse the request body: {exc}", 400)
                error = self._update_schedule(schedule)
                return web.Response.text(error, 400) if error else web.Response(200)
            if sub == "/maintenance/status":
                return web.Response.json(self._maintenance_status())
            if req.method != "POST":
                return web.Response(405)
            try:
                machines = req.json()
            except ValueError as exc:
                return web.Response.text(f"Failed to parse the request body: {exc}", 400)
            if sub in ("/machine/down", "/machine/up"):
                error = self._machines_error(machines, must_be_down=sub == "/machine/up")
                if error:
                    return web.Response.text(error, 400)
                (self._start_maintenance if sub == "/machine/down" else self._stop_maintenance)(machines)
                return web.Response(200)
        return web.Response(404)

    # ---- draining, deactivation, gone agents (the caller holds the lock) ----------------
    def _agent_call(self, agent: dict, route: str, body: dict) -> None:
        """A message to an agent, sent in the background (the master does not wait for agents)."""
        def send() -> None:
            try:
                web.call("POST", f"{agent['url']}/emulator/{route}", body, timeout=5)
            except OSError as exc:
                log.warning("Failed to reach agent %s for %s: %s", agent["id"], route, exc)

        threading.Thread(target=send, daemon=True).start()

    def _live_tasks(self, agent_id: str) -> list[dict]:
        return [t for t in self.tasks.values() if t["slave_id"] == agent_id and t["state"] not in TERMINAL]

    def _remove_agent(self, agent: dict, task_state: str, message: str) -> None:
        """Remove an agent: its live tasks take `task_state`, and it is told to shut down."""
        self.agents.pop(agent["id"], None)
        for task in self._live_tasks(agent["id"]):
            task.update(state=task_state, updated=now())
        log.info("Removed agent %s (%s): %s", agent["id"], agent["hostname"], message)
        self._agent_call(agent, "shutdown", {"message": message})

    def _mark_gone(self, agent: dict) -> None:
        self.gone.add(agent["id"])
        self._remove_agent(agent, "TASK_GONE_BY_OPERATOR", "Agent has been marked gone")

    def _drain(self, agent: dict, config: dict) -> None:
        agent.update(deactivated=True, drain_started=now(), drain_info={"state": "DRAINING", "config": config})
        log.info("Draining agent %s (%s) with %s", agent["id"], agent["hostname"], json.dumps(config))
        self._agent_call(agent, "drain", {"drain_config": config})
        self._check_drained(agent)

    def _check_drained(self, agent: dict) -> None:
        """DRAINING becomes DRAINED once every task on the agent is terminal; then mark_gone applies."""
        info = agent.get("drain_info") or {}
        if info.get("state") != "DRAINING" or self._live_tasks(agent["id"]):
            return
        info["state"] = "DRAINED"
        log.info("Agent %s (%s) is drained", agent["id"], agent["hostname"])
        if (info.get("config") or {}).get("mark_gone"):
            self._mark_gone(agent)

    # ---- v1 operator API (POST /api/v1) ----------------------------------------------
    def _v1_agent(self, agent: dict) -> dict:
        used = self._used(agent["id"])
        doc = {
            "agent_info": {"id": {"value": agent["id"]}, "hostname": agent["hostname"], "port": agent["port"],
                           "resources": v1.resources(agent["resources"])},
            "active": not agent.get("deactivated"),
            "deactivated": bool(agent.get("deactivated")),
            "version": agent["version"],
            "pid": agent["pid"],
            "registered_time": v1.time_info(agent["registered_time"]),
            "total_resources": v1.resources(agent["resources"]),
            "allocated_resources": v1.resources(used),
            "offered_resources": [],
        }
        if agent.get("drain_info"):
            doc["drain_info"] = agent["drain_info"]
            if agent["drain_info"]["state"] == "DRAINING":
                doc["estimated_drain_start_time"] = v1.time_info(agent["drain_started"])
        return doc

    def _v1_framework(self, fw: dict) -> dict:
        info = {"id": {"value": fw["id"]}, "name": fw["name"], "user": fw["user"], "hostname": fw["hostname"],
                "role": fw["role"], "failover_timeout": float(fw.get("failover_timeout") or 0)}
        if fw.get("webui_url"):
            info["webui_url"] = fw["webui_url"]
        return {"framework_info": info, "active": fw["active"], "connected": fw.get("connected", fw["active"]),
                "recovered": False, "registered_time": v1.time_info(fw["registered_time"])}

    def _operator(self, req: web.Request) -> web.Response:
        call, refusal = v1.read_call(req)
        if refusal:
            return refusal
        kind = call["type"]  # type: ignore[index]
        with self.lock:
            if kind == "GET_HEALTH":
                return web.Response.json({"type": kind, "get_health": {"healthy": True}})
            if kind == "GET_VERSION":
                return web.Response.json({"type": kind, "get_version": {"version_info": v1.version_info(
                    MESOS_VERSION)}})
            if kind == "GET_FLAGS":
                return web.Response.json({"type": kind, "get_flags": {"flags": v1.flags(self.flag_values())}})
            if kind == "GET_AGENTS":
                agents = [self._v1_agent(a) for a in self.agents.values()]
                return web.Response.json({"type": kind, "get_agents": {"agents": agents, "recovered_agents": []}})
            if kind == "GET_FRAMEWORKS":
                frameworks = [self._v1_framework(f) for f in self.frameworks.values()]
                completed = [{"framework_info": {"id": {"value": f["id"]}, "name": f["name"]}, "active": False,
                              "connected": False, "recovered": False} for f in self.completed_frameworks]
                return web.Response.json({"type": kind, "get_frameworks": {"frameworks": frameworks,
                                                                           "completed_frameworks": completed}})
            if kind in MAINTENANCE_CALLS:
                return self._maintenance_call(kind, call)  # type: ignore[arg-type]
            if kind in AGENT_CALLS:
                return self._agent_operator_call(kind, call)  # type: ignore[arg-type]
        return web.Response.text(f"Failed to validate master::Call: unsupported call type {kind!r}", 400)

    def _maintenance_call(self, kind: str, call: dict) -> web.Response:
        """GET_MAINTENANCE_*, UPDATE_MAINTENANCE_SCHEDULE, START/STOP_MAINTENANCE: the /maintenance and
        /machine endpoints in v1 form (the caller holds the lock)."""
        if kind == "GET_MAINTENANCE_STATUS":
            return web.Response.json({"type": kind, "get_maintenance_status": {"status": self._maintenance_status()}})
        if kind == "GET_MAINTENANCE_SCHEDULE":
            return web.Response.json({"type": kind, "get_maintenance_schedule": {"schedule": self.maintenance}})
        body = call.get(kind.lower()) or {}
        if kind == "UPDATE_MAINTENANCE_SCHEDULE":
            error = self._update_schedule(body.get("schedule") if isinstance(body, dict) else None)
            return web.Response.text(error, 400) if error else web.Response(200)
        machines = body.get("machines") if isinstance(body, dict) else None
        error = self._machines_error(machines, must_be_down=kind == "STOP_MAINTENANCE")
        if error:
            return web.Response.text(error, 400)
        (self._start_maintenance if kind == "START_MAINTENANCE" else self._stop_maintenance)(machines)  # type: ignore[arg-type]
        return web.Response(200)

    def _agent_operator_call(self, kind: str, call: dict) -> web.Response:
        """DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT, MARK_AGENT_GONE (the caller holds the lock)."""
        body = call.get(kind.lower()) or {}
        agent_id = ((body.get("agent_id") if isinstance(body, dict) else None) or {}).get("value")
        if not agent_id:
            return web.Response.text(f"Failed to validate master::Call: Expecting '{kind.lower()}.agent_id'", 400)
        if agent_id in self.gone:
            return web.Response.text(f"Agent {agent_id} has been marked gone", 400 if kind != "MARK_AGENT_GONE"
                                     else 200)
        agent = self.agents.get(agent_id)
        if agent is None:
            return web.Response.text(f"Unknown agent {agent_id!r}", 404)
        if kind == "DRAIN_AGENT":
            config: dict = {"mark_gone": bool(body.get("mark_gone"))}
            if duration_seconds(body.get("max_grace_period")) is not None:
                config["max_grace_period"] = {"nanoseconds": int(body["max_grace_period"]["nanoseconds"])}
            self._drain(agent, config)
        elif kind == "DEACTIVATE_AGENT":
            agent["deactivated"] = True
        elif kind == "REACTIVATE_AGENT":
            if not agent.get("deactivated"):
                return web.Response.text(f"Agent {agent_id} is not deactivated", 400)
            agent.update(deactivated=False, drain_info=None)
            self._agent_call(agent, "drain", {"drain_config": None})
        else:
            self._mark_gone(agent)
        return web.Response(200)

    # ---- offers: two-level scheduling for v1 frameworks --------------------------------
    def _offered(self, agent_id: str | None = None, framework_id: str | None = None) -> dict[str, float]:
        out: dict[str, float] = {}
        for offer in self.offers.values():
            if (agent_id and offer["agent_id"] != agent_id) or (framework_id and offer["framework_id"] != framework_id):
                continue
            out = resources.add(out, offer["resources"])
        return out

    @staticmethod
    def _send(fw: dict | None, event: dict) -> None:
        events = (fw or {}).get("events")
        if events is not None:
            events.put(event)

    def _rescind(self, offer_id: str) -> None:
        offer = self.offers.pop(offer_id, None)
        if offer is not None:
            self._send(self.frameworks.get(offer["framework_id"]),
                       {"type": "RESCIND", "rescind": {"offer_id": {"value": offer_id}}})

    def _offer_json(self, offer: dict, agent: dict, role: str) -> dict:
        ip = agent_machine(agent)["ip"]
        attributes = [{"name": k, "type": "SCALAR", "scalar": {"value": float(v)}} if isinstance(v, int | float)
                      else {"name": k, "type": "TEXT", "text": {"value": str(v)}}
                      for k, v in (agent.get("attributes") or {}).items()]
        return {
            "id": {"value": offer["id"]},
            "framework_id": {"value": offer["framework_id"]},
            "agent_id": {"value": offer["agent_id"]},
            "hostname": agent["hostname"],
            "url": {"scheme": "http", "address": {"hostname": agent["hostname"], "ip": ip, "port": agent["port"]},
                    "path": "/slave(1)"},
            "resources": [{**r, "role": "*", "allocation_info": {"role": role}}
                          for r in v1.resources(offer["resources"])],
            "attributes": attributes,
            "executor_ids": [],
            "allocation_info": {"role": role},
        }

    def _allocate(self) -> None:
        """One allocation pass (the caller holds the lock): rescind what is stale, offer what is free."""
        if not (self.elected() and self.recovered):
            return
        timeout = self.flags["offer_timeout"]
        for offer_id, offer in list(self.offers.items()):
            agent = self.agents.get(offer["agent_id"])
            fw = self.frameworks.get(offer["framework_id"])
            if (agent is None or agent.get("deactivated") or fw is None or fw.get("events") is None
                    or (timeout is not None and now() - offer["created"] > float(timeout))):  # type: ignore[arg-type]
                self._rescind(offer_id)
        total: dict[str, float] = {}
        free_by_agent: dict[str, dict[str, object]] = {}
        for agent in self.agents.values():
            total = resources.add(total, agent["resources"])
            if not agent.get("deactivated"):
                free = resources.subtract(agent["resources"], self._used(agent["id"]))
                free_by_agent[agent["id"]] = resources.subtract(free, self._offered(agent_id=agent["id"]))
        candidates = [
            allocator.Candidate(
                fw["id"], fw["role"],
                resources.add(self._used(framework_id=fw["id"]), self._offered(framework_id=fw["id"])),
                offerable=fw.get("events") is not None and bool(fw.get("active")) and not fw.get("suppressed"))
            for fw in self.frameworks.values()
        ]
        self.refused = {k: v for k, v in self.refused.items() if v[0] > now()}
        weights = {w["role"]: w["weight"] for w in self._weights()}
        made: dict[str, list[dict]] = {}
        for fw_id, agent_id, free in allocator.allocate(free_by_agent, candidates, total, weights, self.refused, now()):
            self.offer_counter += 1
            offer = {"id": f"{self.id}-O{self.offer_counter}", "framework_id": fw_id, "agent_id": agent_id,
                     "resources": free, "created": now()}
            self.offers[offer["id"]] = offer
            made.setdefault(fw_id, []).append(
                self._offer_json(offer, self.agents[agent_id], self.frameworks[fw_id]["role"]))
        for fw_id, offers in made.items():
            self._send(self.frameworks[fw_id], {"type": "OFFERS", "offers": {"offers": offers}})

    def _refuse(self, fw: dict, offer_ids: list, filters: object, keep: dict | None = None) -> None:
        """DECLINE, and the unused part of an ACCEPT: the framework's named offers go back, and a
        filter keeps what of them is not in `keep` from it for `refuse_seconds`."""
        mine = [i for i in offer_ids if i in self.offers and self.offers[i]["framework_id"] == fw["id"]]
        taken = [self.offers.pop(i) for i in mine]
        seconds = (filters or {}).get("refuse_seconds") if isinstance(filters, dict) else None
        seconds = allocator.DEFAULT_REFUSE_SECONDS if seconds is None else float(seconds)
        for offer in taken:
            unused = resources.subtract(offer["resources"], keep or {})
            if seconds > 0:
                self.refused[(fw["id"], offer["agent_id"])] = (now() + seconds, unused)

    def _master_update(self, fw: dict, task: dict, agent_id: str, state: str, reason: str, message: str) -> None:
        """A status update the master makes itself (no uuid, so nothing to acknowledge)."""
        self._send(fw, {"type": "UPDATE", "update": {"status": {
            "task_id": {"value": (task.get("task_id") or {}).get("value", "")}, "state": state,
            "agent_id": {"value": agent_id}, "source": "SOURCE_MASTER", "reason": reason, "message": message,
            "timestamp": now()}}})

    def _accept(self, fw: dict, accept: dict) -> None:
        """ACCEPT with LAUNCH operations (the caller holds the lock): the tasks must fit the offers,
        which must be the framework's own, outstanding and of one agent; what is left is refused."""
        offer_ids = [o.get("value") for o in accept.get("offer_ids") or []]
        infos = [t for op in accept.get("operations") or [] if op.get("type") == "LAUNCH"
                 for t in (op.get("launch") or {}).get("task_infos") or []]
        offers = [self.offers.get(i) for i in offer_ids]
        agents = {o["agent_id"] for o in offers if o}
        if not offers or any(o is None or o["framework_id"] != fw["id"] for o in offers) or len(agents) != 1:
            self._refuse(fw, offer_ids, {"refuse_seconds": 0})
            for info in infos:
                self._master_update(fw, info, next(iter(agents), ""), "TASK_DROPPED", "REASON_INVALID_OFFERS",
                                    "Task launched with invalid offers: an offer is unknown, rescinded or not yours")
            return
        (agent_id,) = agents
        offered: dict[str, object] = {}
        for offer in offers:
            offered = resources.add(offered, offer["resources"])  # type: ignore[index, arg-type]
        offered["ports"] = offers[0]["resources"].get("ports", "")  # type: ignore[index, union-attr]
        left = dict(offered)
        launches = []
        for info in infos:
            task_id = (info.get("task_id") or {}).get("value")
            try:
                request = resources.from_v1(info.get("resources") or [])
            except (KeyError, TypeError, ValueError) as exc:
                self._master_update(fw, info, agent_id, "TASK_ERROR", "REASON_TASK_INVALID",
                                    f"Task resources are malformed (missing or bad {exc})")
                continue
            if not task_id or task_id in self.tasks or any(t["task_id"] == task_id for t in launches):
                error = "Task has duplicate ID" if task_id else "Task has no ID"
            elif not resources.fits({k: v for k, v in request.items() if isinstance(v, float)}, left):
                error = "Task uses more resources than available in the offers"
            else:
                left = resources.subtract(left, request)
                launches.append({"task_id": task_id, "name": info.get("name") or task_id, "agent_id": agent_id,
                                 "resources": request, "command": info.get("command") or {},
                                 **({"kill_policy": info["kill_policy"]} if info.get("kill_policy") else {})})
                continue
            self._master_update(fw, info, agent_id, "TASK_ERROR", "REASON_TASK_INVALID", error)
        used = resources.subtract(offered, left)
        self._refuse(fw, offer_ids, accept.get("filters"), keep=used)
        for task in launches:
            body = {"framework_id": fw["id"], "task": task}
            admitted = self._admit(body)  # staging at once, so the next allocation counts it as used
            if isinstance(admitted, web.Response):
                self._master_update(fw, {"task_id": {"value": task["task_id"]}}, agent_id, "TASK_ERROR",
                                    "REASON_TASK_INVALID", admitted.body.decode(errors="replace"))
            else:
                threading.Thread(target=self._start, args=(body, *admitted), daemon=True).start()

    def _send_updates(self) -> None:
        """Tell each v1 framework of every state its tasks reached since the last update (the caller
        holds the lock); executor updates carry a uuid the scheduler acknowledges."""
        for task in self.tasks.values():
            fw = self.frameworks.get(task["framework_id"])
            if fw is None or fw.get("events") is None or task.get("sent_state") == task["state"]:
                continue
            task["sent_state"] = task["state"]
            self._send(fw, {"type": "UPDATE", "update": {"status": {
                "task_id": {"value": task["id"]}, "state": task["state"], "agent_id": {"value": task["slave_id"]},
                "source": "SOURCE_EXECUTOR", "timestamp": task["updated"],
                "uuid": base64.b64encode(os.urandom(16)).decode()}}})

    # ---- v1 scheduler API (POST /api/v1/scheduler) -----------------------------------
    def _scheduler(self, req: web.Request) -> web.Response:
        call, refusal = v1.read_call(req)
        if refusal:
            return refusal
        kind = call["type"]  # type: ignore[index]
        if kind == "SUBSCRIBE":
            return self._subscribe(call, req)  # type: ignore[arg-type]
        fw_id = ((call or {}).get("framework_id") or {}).get("value")
        with self.lock:
            fw = self.frameworks.get(fw_id)
            if fw is None or "stream_id" not in fw:
                return web.Response.text(f"Framework '{fw_id}' is not subscribed", 403 if fw else 400)
            stream = req.headers.get("mesos-stream-id")
            if stream != fw["stream_id"]:
                return web.Response.text(f"The stream ID '{stream}' included in this request didn't match the "
                                         f"stream ID currently associated with framework ID {fw_id}", 400)
            if kind == "TEARDOWN":
                self._remove_framework(fw)
                return web.Response(202)
            if kind == "KILL":
                task_id = ((call.get("kill") or {}).get("task_id") or {}).get("value")  # type: ignore[union-attr]
                if task_id in self.tasks:
                    threading.Thread(target=self._kill, args=({"task_id": task_id},), daemon=True).start()
                return web.Response(202)
            if kind == "ACCEPT":
                self._accept(fw, call.get("accept") or {})  # type: ignore[union-attr]
                return web.Response(202)
            if kind == "DECLINE":
                decline = call.get("decline") or {}  # type: ignore[union-attr]
                self._refuse(fw, [o.get("value") for o in decline.get("offer_ids") or []], decline.get("filters"))
                return web.Response(202)
            if kind == "REVIVE":
                fw["suppressed"] = False
                self.refused = {k: v for k, v in self.refused.items() if k[0] != fw["id"]}
                return web.Response(202)
            if kind == "SUPPRESS":
                fw["suppressed"] = True
                return web.Response(202)
            if kind in SCHEDULER_CALLS:
                return web.Response(202)
        return web.Response.text(f"Failed to validate scheduler::Call: unknown type {kind!r}", 400)

    def _subscribe(self, call: dict, req: web.Request) -> web.Response:
        if req.headers.get("mesos-stream-id"):
            return web.Response.text("Subscribe calls should not include the 'Mesos-Stream-Id' header", 400)
        info = ((call.get("subscribe") or {}).get("framework_info")) or {}
        if not isinstance(info, dict) or not info.get("user") or not info.get("name"):
            return web.Response.text("Failed to validate scheduler::Call: framework_info needs 'user' and 'name'",
                                     400)
        with self.lock:
            fw_id = (info.get("id") or {}).get("value") or self._new_framework_id()
            fw = self.frameworks.get(fw_id)
            if fw is not None and fw.get("events") is not None:
                fw["events"].put(None)  # a resubscription replaces the old stream
            fw = self.frameworks.setdefault(fw_id, {"id": fw_id, "registered_time": now()})
            stream_id = new_id()
            events: queue.Queue = queue.Queue()
            fw.update({
                "name": info["name"], "hostname": info.get("hostname") or "", "user": info["user"],
                "role": info.get("role") or (info.get("roles") or ["*"])[0], "webui_url": info.get("webui_url") or "",
                "failover_timeout": info.get("failover_timeout") or 0, "active": True, "connected": True,
                "last_seen": now(), "stream_id": stream_id, "events": events,
            })
            fw.pop("pid", None)
            log.info("Subscribed framework %s (%s) over HTTP", fw_id, info["name"])
        subscribed = {"type": "SUBSCRIBED", "subscribed": {"framework_id": {"value": fw_id},
                                                           "heartbeat_interval_seconds": HEARTBEAT_INTERVAL,
                                                           "master_info": self.info}}
        return web.Response(200, headers={"Content-Type": "application/json", "Mesos-Stream-Id": stream_id},
                            stream=self._events(fw, stream_id, events, subscribed))

    def _events(self, fw: dict, stream_id: str, events: queue.Queue, subscribed: dict) -> Iterator[bytes]:
        try:
            yield v1.recordio(subscribed)
            yield v1.recordio({"type": "HEARTBEAT"})
            while True:
                try:
                    event = events.get(timeout=HEARTBEAT_INTERVAL)
                except queue.Empty:
                    event = {"type": "HEARTBEAT"}
                if event is None:
                    return  # torn down or resubscribed: the master closes the stream
                yield v1.recordio(event)
        finally:
            with self.lock:
                if fw.get("stream_id") == stream_id:  # the scheduler went away: disconnected, not removed
                    fw.update(active=False, connected=False)
                    fw.pop("events", None)

    def _remove_framework(self, fw: dict) -> None:
        """TEARDOWN (the caller holds the lock): the framework's tasks are killed and it is completed."""
        for task in [t for t in self.tasks.values() if t["framework_id"] == fw["id"] and t["state"] not in TERMINAL]:
            threading.Thread(target=self._kill, args=({"task_id": task["id"]},), daemon=True).start()
        events = fw.get("events")
        fw.update(active=False, connected=False)
        for offer_id in [o for o, offer in self.offers.items() if offer["framework_id"] == fw["id"]]:
            del self.offers[offer_id]
        self.frameworks.pop(fw["id"], None)
        self.completed_frameworks.append(self._framework_json(fw))
        del self.completed_frameworks[: -int(self.flags["max_completed_frameworks"])]  # type: ignore[call-overload]
        fw.pop("stream_id", None)
        if events is not None:
            events.put(None)
        log.info("Framework %s torn down", fw["id"])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        flags = load_mesos_flags(FLAGS, argv, os.environ)
        if flags["help"]:
            print("Usage: mesos-master [options]\n\n" + "\n".join(f"  --{f.name}" for f in FLAGS))
            sys.exit(0)
        if flags["version"]:
            print(f"mesos {MESOS_VERSION} (stackbench emulator)")
            sys.exit(0)
        validate(flags)
    except (FlagError, ValueError) as exc:
        usage_error("mesos-master", str(exc))
        return
    web.setup_logging("mesos-master", str(flags["logging_level"]))
    master = Master(flags)
    if flags["work_dir"]:
        os.makedirs(os.path.join(str(flags["work_dir"]), "replicated_log"), exist_ok=True)
    log.info("Build: %s by %s (emulator)", MESOS_VERSION, "stackbench")
    log.info("Master %s (%s) started on %s:%d", master.id, master.hostname, master.ip, master.port)
    try:
        web.serve(str(flags["ip"] or "0.0.0.0"), master.port, master.handle)
    except OSError as exc:
        die(f"Failed to initialize: Failed to bind on {flags['ip'] or '0.0.0.0'}:{master.port}: {exc}")
    if master.url:
        master.start_zk()
    else:
        master.leader = master.info
        master.elected_time = now()
        master.members = 1
        master._update_recovery()
    while True:
        time.sleep(1)
        master.tick()
