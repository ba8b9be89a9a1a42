"""`mesos-master` emulator: ZooKeeper election, registrar quorum, agents, frameworks, tasks.

Emulator-only routes (the real daemons talk libprocess messages instead) live under
`/master/emulator/`: agent (re)registration and heartbeats, framework registration, launch
and kill. Everything else keeps the real paths and field names.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from . import MESOS_VERSION, resources, web, zk
from .common import die, new_id, now, resolve_ip, usage_error, version_info
from .flags import Flag, FlagError, load_mesos_flags

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

TERMINAL = {
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_DROPPED",
    "TASK_GONE",
}


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
            "offered_resources": resources.encode({}),
            "reserved_resources": {},
            "unreserved_resources": resources.encode(agent["resources"]),
            "attributes": agent["attributes"],
            "active": True,
            "deactivated": False,
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
            "pid": fw.get("pid", ""),
            "hostname": fw["hostname"],
            "user": fw["user"],
            "role": fw["role"],
            "roles": [fw["role"]],
            "webui_url": fw.get("webui_url", ""),
            "active": fw["active"],
            "connected": fw["active"],
            "recovered": False,
            "registered_time": fw["registered_time"],
            "failover_timeout": fw.get("failover_timeout", 0),
            "capabilities": [{"type": "MULTI_ROLE"}],
            "resources": used,
            "used_resources": used,
            "offered_resources": resources.encode({}),
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
                "git_sha": "",
                "git_branch": "",
                "start_time": self.start_time,
                "id": self.id,
                "pid": self.pid,
                "hostname": self.hostname,
                "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
                "activated_slaves": len(self.agents),
                "deactivated_slaves": 0,
                "unreachable_slaves": self.unreachable,
                "leader": leader.get("pid", ""),
                "leader_info": {k: leader[k] for k in ("id", "pid", "port", "hostname") if k in leader},
                "log_dir": self.flags["log_dir"] or "",
                "external_log_file": self.flags["external_log_file"] or "",
                "flags": {k: str(v) for k, v in self.flags.items() if v is not None},
                "slaves": [self._agent_json(a) for a in self.agents.values()],
                "recovered_slaves": [],
                "frameworks": [self._framework_json(f) for f in self.frameworks.values()],
                "completed_frameworks": [],
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
                "master/slaves_active": float(len(self.agents) if elected else 0),
                "master/slaves_connected": float(len(self.agents) if elected else 0),
                "master/slaves_disconnected": 0.0,
                "master/slaves_inactive": 0.0,
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
            return web.Response.json({"flags": {k: str(v) for k, v in self.flags.items() if v is not None}})
        leader_only = {"/state", "/state.json", "/slaves", "/frameworks", "/tasks", "/state-summary"}
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
                        "completed_frameworks": [],
                        "unregistered_frameworks": [],
                    }
                )
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
            # Forget terminal tasks the agent no longer reports.
            for task_id in [
                t
                for t, v in self.tasks.items()
                if v["slave_id"] == agent_id and v["state"] in TERMINAL and t not in reported
            ]:
                del self.tasks[task_id]
            return web.Response.json({"id": agent_id, "master": self.pid})

    def _framework_message(self, body: dict) -> web.Response:
        with self.lock:
            fw_id = body.get("id") or f"{self.id}-0000"
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
        task = body["task"]
        with self.lock:
            agent = self.agents.get(task["agent_id"])
            if agent is None or body["framework_id"] not in self.frameworks:
                return web.Response.text("Unknown agent or framework", 400)
            free = resources.subtract(agent["resources"], self._used(agent["id"]))
            request = {k: float(v) for k, v in task["resources"].items()}
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
            url = agent["url"]
        status, payload, _ = web.call(
            "POST",
            f"{url}/emulator/launch",
            {"framework_id": body["framework_id"], "task": {**task, "resources": request}},
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
