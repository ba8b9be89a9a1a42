"""`marathon` emulator: Curator-latch election, leader proxying, apps placed through the
Mesos master emulator, state in ZooKeeper under `<zk path>/state`.

Exit codes (`docs/docs/exit-codes.md`): 100 ZooKeeper connect failure, 101 ZooKeeper
connection lost, 103 leadership lost, 105 leadership ended gracefully (abdication),
111 bind error, 112 invalid flag.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid

from . import MARATHON_VERSION, resources, web, zk
from .common import die, iso, now, version_info
from .flags import Flag, FlagError, load_marathon_flags

log = logging.getLogger("emulator")

EXIT_ZK_CONNECT, EXIT_ZK_LOST, EXIT_LEADERSHIP_LOST, EXIT_ABDICATED, EXIT_BIND, EXIT_FLAG = (
    100,
    101,
    103,
    105,
    111,
    112,
)

FLAGS = [
    Flag("master"),
    Flag("zk", default="zk://localhost:2181/marathon"),
    Flag("ha", "bool", True),
    Flag("hostname"),
    Flag("http_port", "int", 8080),
    Flag("https_port", "int", 8443),
    Flag("http_address"),
    Flag("https_address"),
    Flag("http", "bool", True),
    Flag("framework_name", default="marathon"),
    Flag("leader_proxy_connection_timeout", "int", 5000),
    Flag("leader_proxy_read_timeout", "int", 10000),
    Flag("leader_proxy_max_open_connections", "int", 64),
    Flag("leader_proxy_ssl_ignore_hostname", "bool", False),
    Flag("zk_session_timeout", "int", 10000),
    Flag("zk_timeout", "int", 10000),
    Flag("zk_connection_timeout", "int", 10000),
    Flag("zk_max_node_size", "int", 1024000),
    Flag("zk_compression", "bool", True),
    Flag("zk_compression_threshold", "int", 65536),
    Flag("zk_max_versions", "int", 50),
    Flag("failover_timeout", "int", 604800),
    Flag("mesos_role"),
    Flag("mesos_user"),
    Flag("mesos_authentication", "bool", False),
    Flag("mesos_authentication_principal"),
    Flag("mesos_authentication_secret_file"),
    Flag("webui_url"),
    Flag("mesos_leader_ui_url"),
    Flag("http_credentials"),
    Flag("http_realm", default="Mesosphere"),
    Flag("ssl_keystore_path"),
    Flag("ssl_keystore_password"),
    Flag("metrics_prometheus", "bool", True),
    Flag("metrics_statsd", "bool", False),
    Flag("metrics_datadog", "bool", False),
    Flag("metrics_name_prefix", default="marathon"),
    Flag("task_launch_timeout", "int", 300000),
    Flag("reconciliation_interval", "int", 600000),
    Flag("logging_level"),
    Flag("default_accepted_resource_roles"),
    Flag("enable_features"),
    Flag("local_port_min", "int", 10000),
    Flag("local_port_max", "int", 20000),
]


def validate(flags: dict[str, object]) -> None:
    if not flags["master"]:
        raise FlagError("Required option 'master' not found")
    if flags["ha"]:
        zk.parse_zk_url(str(flags["zk"]))
    master = str(flags["master"])
    if not (master.startswith("zk://") or master.startswith("http://") or ":" in master):
        raise FlagError(f"Option 'master': invalid value '{master}'")


APP_DEFAULTS: dict[str, object] = {
    "cmd": None,
    "args": None,
    "cpus": 1.0,
    "mem": 128.0,
    "disk": 0.0,
    "gpus": 0,
    "instances": 1,
    "env": {},
    "constraints": [],
    "portDefinitions": [],
    "healthChecks": [],
    "labels": {},
    "backoffSeconds": 1,
    "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 300,
    "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
}

# Marathon's defaults for one entry of `healthChecks` (HTTP and MESOS_HTTP are checked; others are kept
# but not run by the emulator).
HEALTH_CHECK_DEFAULTS: dict[str, object] = {
    "protocol": "HTTP",
    "path": "/",
    "portIndex": 0,
    "gracePeriodSeconds": 300,
    "intervalSeconds": 60,
    "timeoutSeconds": 20,
    "maxConsecutiveFailures": 3,
    "ignoreHttp1xx": False,
}

# Fields whose change is only a scaling, not a new configuration (no task restarts).
SCALING_FIELDS = ("instances", "version", "versionInfo")


def normalize_app(body: dict, app_id: str | None = None) -> dict:
    """An app definition with Marathon's defaults and a canonical absolute id."""
    raw_id = str(app_id or body.get("id") or "")
    if not raw_id.strip("/"):
        raise ValueError("id: must not be empty")
    app = {**APP_DEFAULTS, **{k: v for k, v in body.items() if v is not None}}
    app["id"] = "/" + raw_id.strip("/")
    if float(app["cpus"]) < 0.001:
        raise ValueError("cpus: must be at least 0.001")
    if int(app["instances"]) < 0:
        raise ValueError("instances: must be >= 0")
    app["healthChecks"] = [{**HEALTH_CHECK_DEFAULTS, **check} for check in app.get("healthChecks") or []]
    app["upgradeStrategy"] = {**APP_DEFAULTS["upgradeStrategy"], **(app.get("upgradeStrategy") or {})}  # type: ignore[dict-item]
    return app


def config_changed(old: dict, new: dict) -> bool:
    """Whether `new` differs from `old` in more than scaling (Marathon then restarts the tasks)."""
    strip = lambda app: {k: v for k, v in app.items() if k not in SCALING_FIELDS}  # noqa: E731
    return strip(old) != strip(new)


def version_info_for(old: dict | None, new: dict, version: str) -> dict:
    """`versionInfo` of a new app version: lastConfigChangeAt moves only when the config changed."""
    previous = (old or {}).get("versionInfo") or {}
    if old is None or config_changed(old, new):
        return {"lastScalingAt": version, "lastConfigChangeAt": version}
    return {"lastScalingAt": version, "lastConfigChangeAt": previous.get("lastConfigChangeAt", version)}


def pick_port(ports_range: str | None, used: set[int]) -> int | None:
    """The lowest free host port of an agent's `ports` resource (`[31000-32000]` or several ranges)."""
    import re

    for low, high in re.findall(r"(\d+)-(\d+)", str(ports_range or "[31000-32000]")):
        for port in range(int(low), int(high) + 1):
            if port not in used:
                return port
    return None


def upgrade_plan(wanted: int, config_version: str, tasks: list[dict], strategy: dict) -> tuple[int, list[str]]:
    """One step of a deployment: (instances to launch, task ids to kill).

    `tasks` are the app's live tasks: {id, version (config version at launch), ready (running, and
    healthy when the app has health checks)}. Like Marathon's default upgrade, old tasks are
    replaced by new ones keeping at least minimumHealthCapacity * wanted ready instances and at
    most (1 + maximumOverCapacity) * wanted instances in all.
    """
    import math

    new = [t for t in tasks if t["version"] == config_version]
    old = [t for t in tasks if t["version"] != config_version]
    kill: list[str] = [t["id"] for t in new[wanted:]]  # scaling down: the newest launched last
    new = new[:wanted]
    if not old:
        return max(0, wanted - len(new)), kill
    min_ready = math.ceil(wanted * float(strategy.get("minimumHealthCapacity", 1.0)))
    max_total = wanted + math.floor(wanted * float(strategy.get("maximumOverCapacity", 1.0)))
    ready_new = sum(1 for t in new if t["ready"])
    ready_old = [t for t in old if t["ready"]]
    # old tasks that may go: all the unready ones, and ready ones beyond what keeps capacity
    keep_old = max(0, min_ready - ready_new)
    removable = [t["id"] for t in old if not t["ready"]] + [t["id"] for t in ready_old[: len(ready_old) - keep_old]]
    kill += removable
    remaining = len(new) + len(old) - len(removable)
    launch = max(0, min(wanted - len(new), max_total - remaining))
    if launch == 0 and wanted - len(new) > 0 and not removable and old:
        # no room to start a new task without going below capacity: free one slot anyway
        kill.append(old[-1]["id"])
    return launch, kill


def health_update(record: dict, ok: bool, at: str, cause: str | None = None) -> dict:
    """Marathon's healthCheckResults entry of a task after one check."""
    record = dict(record)
    if ok:
        record.update(alive=True, consecutiveFailures=0, lastSuccess=at)
        record.setdefault("firstSuccess", at)
        record["firstSuccess"] = record["firstSuccess"] or at
    else:
        record.update(
            alive=False,
            consecutiveFailures=int(record.get("consecutiveFailures") or 0) + 1,
            lastFailure=at,
            lastFailureCause=cause,
        )
    return record


def should_kill_unhealthy(record: dict, check: dict, started: float, at: float) -> bool:
    """Marathon kills a task after maxConsecutiveFailures failures (0: never), not within the grace period
    unless it has been healthy before."""
    limit = int(check.get("maxConsecutiveFailures", 3))
    if limit <= 0 or int(record.get("consecutiveFailures") or 0) < limit:
        return False
    return bool(record.get("firstSuccess")) or at - started > float(check.get("gracePeriodSeconds", 300))


def task_id_for(app_id: str) -> str:
    return f"{app_id.strip('/').replace('/', '_')}.instance-{uuid.uuid4()}._app.1"


def app_of_task(task_id: str) -> str:
    return "/" + task_id.split(".instance-", 1)[0].replace("_", "/")


def choose_agent(agents: list[dict], request: dict[str, float], placed: dict[str, int]) -> dict | None:
    """The agent with the fewest instances of this app among those whose free resources fit."""
    candidates = []
    for agent in agents:
        free = resources.subtract(agent["resources"], agent["used_resources"])
        if agent.get("active", True) and resources.fits(request, free):
            candidates.append(agent)
    if not candidates:
        return None
    return min(candidates, key=lambda a: (placed.get(a["id"], 0), a["hostname"]))


class Marathon:
    def __init__(self, flags: dict[str, object]) -> None:
        self.flags = flags
        self.hostname = str(flags["hostname"] or socket.gethostname())
        self.port = int(flags["http_port"])  # type: ignore[arg-type]
        self.participant = f"{self.hostname}:{self.port}"
        self.zk_url = zk.parse_zk_url(str(flags["zk"]))
        self.latch_path = f"{self.zk_url.path}/leader-curator"
        self.state_path = f"{self.zk_url.path}/state"
        self.lock = threading.RLock()
        self.start_time = now()
        self.leader_id: str | None = None
        self.leader_since: float | None = None
        self.leading = False
        self.my_node: str | None = None
        self.framework_id: str | None = None
        self.apps: dict[str, dict] = {}
        self.tasks: list[dict] = []
        # what Marathon knows of its tasks beyond Mesos' view: host, ports, config version, health
        self.task_meta: dict[str, dict] = {}
        self.wake = threading.Event()
        self.abdicating = False
        self.zk = None
        master = str(flags["master"])
        self.master_zk = zk.parse_zk_url(master) if master.startswith("zk://") else None
        self.master_url = None if self.master_zk else "http://" + master.removeprefix("http://")

    def elected(self) -> bool:
        return self.leader_id == self.participant and self.leader_since is not None

    # ---- election ---------------------------------------------------------------------
    def _state_listener(self, state: str) -> None:
        if state == "LOST" and not self.abdicating:
            die("ZooKeeper session lost", EXIT_ZK_LOST)

    def _children(self, children: list[str]) -> None:
        if self.abdicating:
            return
        if self.my_node and self.my_node not in children:
            die("Lost leadership" if self.elected() else "Leader latch node vanished", EXIT_LEADERSHIP_LOST)
        child = zk.latch_leader_child(children)
        leader = None
        if child:
            try:
                leader = self.zk.get(f"{self.latch_path}/{child}")[0].decode()
            except Exception:  # noqa: BLE001
                leader = None
        with self.lock:
            if (self.elected() or self.leading) and child != self.my_node:
                die("Lost leadership", EXIT_LEADERSHIP_LOST)
            self.leader_id = leader
            if child is not None and child == self.my_node and not self.leading:
                # Like Marathon, become the serving leader only once the state is loaded, so
                # that no request is answered (or write acknowledged) from a stale view.
                self.leading = True
                threading.Thread(target=self._lead, name="leader", daemon=True).start()

    def start_zk(self) -> None:
        from kazoo.recipe.watchers import ChildrenWatch

        self.zk = zk.client(self.zk_url, int(self.flags["zk_session_timeout"]) / 1000)
        self.zk.add_listener(self._state_listener)
        try:
            self.zk.start(timeout=int(self.flags["zk_connection_timeout"]) / 1000)
        except Exception as exc:  # noqa: BLE001
            die(f"Failed to connect to ZooKeeper {self.zk_url.hosts}: {exc}", EXIT_ZK_CONNECT)
        self.zk.ensure_path(self.latch_path)
        self.zk.ensure_path(f"{self.state_path}/apps")
        for child in self.zk.get_children(self.latch_path):
            try:
                if self.zk.get(f"{self.latch_path}/{child}")[0].decode() == self.participant:
                    die(
                        f"Multiple election participants have the same id: {self.participant}",
                        EXIT_LEADERSHIP_LOST,
                    )
            except Exception:  # noqa: BLE001  (node vanished meanwhile)
                continue
        created = self.zk.create(
            f"{self.latch_path}/_c_{uuid.uuid4()}-{zk.LATCH_LOCK_NAME}",
            self.participant.encode(),
            ephemeral=True,
            sequence=True,
        )
        self.my_node = created.rsplit("/", 1)[1]
        ChildrenWatch(self.zk, self.latch_path, self._children)

    def shutdown(self) -> None:
        """SIGTERM: leave the election cleanly (Curator closes its latch), then exit."""
        self.abdicating = True
        if self.zk is not None:
            with contextlib.suppress(Exception):
                self.zk.stop()
        die("Shutting down (SIGTERM)", 0)

    def abdicate(self) -> None:
        time.sleep(0.5)
        self.abdicating = True
        log.info("Abdicating leadership")
        try:
            self.zk.delete(f"{self.latch_path}/{self.my_node}")
            self.zk.stop()
        finally:
            die("Leadership ended gracefully (abdicated)", EXIT_ABDICATED)

    # ---- the leader's work ----------------------------------------------------------
    def _load_state(self) -> None:
        if self.zk.exists(f"{self.state_path}/framework-id"):
            self.framework_id = self.zk.get(f"{self.state_path}/framework-id")[0].decode() or None
        apps = {}
        for child in self.zk.get_children(f"{self.state_path}/apps"):
            app = json.loads(self.zk.get(f"{self.state_path}/apps/{child}")[0])
            apps[app["id"]] = app
        meta = {}
        if self.zk.exists(f"{self.state_path}/tasks"):
            for child in self.zk.get_children(f"{self.state_path}/tasks"):
                with contextlib.suppress(Exception):
                    meta[child] = json.loads(self.zk.get(f"{self.state_path}/tasks/{child}")[0])
        with self.lock:
            self.apps = apps
            self.task_meta = meta

    def _app_node(self, kind: str, app_id: str) -> str:
        return f"{self.state_path}/{kind}/{app_id.strip('/').replace('/', '_')}"

    def _store_version(self, app: dict) -> None:
        """Every app version is kept (like Marathon's `/v2/apps/{id}/versions`), at most zk_max_versions."""
        base = self._app_node("versions", app["id"])
        self.zk.create(f"{base}/{app['version']}", json.dumps(app).encode(), makepath=True)
        versions = sorted(self.zk.get_children(base))
        for old in versions[: max(0, len(versions) - int(self.flags["zk_max_versions"]))]:
            self.zk.delete(f"{base}/{old}")

    def _versions(self, app_id: str) -> list[str]:
        base = self._app_node("versions", app_id)
        return sorted(self.zk.get_children(base), reverse=True) if self.zk.exists(base) else []

    def _version(self, app_id: str, version: str) -> dict | None:
        node = f"{self._app_node('versions', app_id)}/{version}"
        return json.loads(self.zk.get(node)[0]) if self.zk.exists(node) else None

    def _store_task(self, task_id: str, meta: dict) -> None:
        node = f"{self.state_path}/tasks/{task_id}"
        stored = {k: v for k, v in meta.items() if k != "health"}
        if not self.zk.exists(node):
            self.zk.create(node, json.dumps(stored).encode(), makepath=True)

    def _forget_tasks(self, live_ids: set[str]) -> None:
        for task_id in [t for t in self.task_meta if t not in live_ids]:
            self.task_meta.pop(task_id, None)
            with contextlib.suppress(Exception):
                self.zk.delete(f"{self.state_path}/tasks/{task_id}")

    def _store_app(self, app: dict) -> None:
        node = self._app_node("apps", app["id"])
        data = json.dumps(app).encode()
        if self.zk.exists(node):
            self.zk.set(node, data)
        else:
            self.zk.create(node, data, makepath=True)
        self._store_version(app)

    def _delete_app(self, app_id: str) -> None:
        for node in (self._app_node("apps", app_id), self._app_node("versions", app_id)):
            if self.zk.exists(node):
                self.zk.delete(node, recursive=True)

    def _mesos_leader(self) -> str | None:
        if self.master_url:
            return self.master_url
        children = self.zk.get_children(self.master_zk.path) if self.zk.exists(self.master_zk.path) else []
        child = zk.mesos_leader_child(children)
        if not child:
            return None
        info = zk.parse_master_info(self.zk.get(f"{self.master_zk.path}/{child}")[0])
        address = info.get("address") or {}
        return f"http://{address.get('ip')}:{address.get('port', info.get('port'))}"

    def _lead(self) -> None:
        self._load_state()
        with self.lock:
            self.leader_since = now()
        log.info("Elected as leader (%s)", self.participant)
        threading.Thread(target=self._health_loop, name="health", daemon=True).start()
        while True:
            try:
                self._reconcile()
            except Exception as exc:  # noqa: BLE001
                log.warning("Reconciliation failed: %s", exc)
            self.wake.wait(2)
            self.wake.clear()

    # ---- health checks (Marathon HTTP checks, run by the leader) ------------------------
    def _health_loop(self) -> None:
        last: dict[str, float] = {}
        while True:
            time.sleep(0.2)
            with self.lock:
                apps = dict(self.apps)
                running = [t for t in self.tasks if t["state"] == "TASK_RUNNING"]
            for task in running:
                app = apps.get(app_of_task(task["id"]))
                meta = self.task_meta.get(task["id"])
                checks = [c for c in (app or {}).get("healthChecks", []) if c.get("protocol") in ("HTTP", "MESOS_HTTP")]
                if not checks or not meta or not meta.get("ports"):
                    continue
                check = checks[0]
                if now() - last.get(task["id"], 0) < float(check["intervalSeconds"]):
                    continue
                last[task["id"]] = now()
                threading.Thread(target=self._check, args=(task["id"], meta, check), daemon=True).start()

    def _check(self, task_id: str, meta: dict, check: dict) -> None:
        ports = meta["ports"]
        port = ports[int(check.get("portIndex", 0))] if int(check.get("portIndex", 0)) < len(ports) else ports[0]
        url = f"http://{meta['ip']}:{port}{check.get('path') or '/'}"
        cause = None
        try:
            status, _, _ = web.call("GET", url, timeout=float(check["timeoutSeconds"]))
            ok = 200 <= status < 400
            cause = None if ok else f"HTTP {status}"
        except OSError as exc:
            ok, cause = False, str(exc)
        with self.lock:
            if task_id not in self.task_meta:
                return
            record = health_update(meta.get("health") or {"instanceId": task_id}, ok, iso(now()), cause)
            self.task_meta[task_id]["health"] = record
            kill = should_kill_unhealthy(record, check, float(meta.get("started", now())), now())
        if kill:
            log.info("Killing unhealthy task %s (%s)", task_id, cause)
            master = self._mesos_leader()
            if master and self.framework_id:
                body = {"framework_id": self.framework_id, "task_id": task_id}
                web.call("POST", f"{master}/master/emulator/kill", body)
            self.wake.set()

    def _ready(self, app: dict, task: dict) -> bool:
        if task["state"] != "TASK_RUNNING":
            return False
        if not app.get("healthChecks"):
            return True
        return bool(((self.task_meta.get(task["id"]) or {}).get("health") or {}).get("alive"))

    def _config_version(self, app: dict) -> str:
        return (app.get("versionInfo") or {}).get("lastConfigChangeAt") or app.get("version", "")

    def _reconcile(self) -> None:
        master = self._mesos_leader()
        if not master:
            return
        status, payload, _ = web.call(
            "POST",
            f"{master}/master/emulator/framework",
            {
                "id": self.framework_id,
                "name": self.flags["framework_name"],
                "hostname": self.hostname,
                "user": self.flags["mesos_user"] or "root",
                "role": self.flags["mesos_role"] or "*",
                "webui_url": self.flags["webui_url"] or f"http://{self.participant}",
                "failover_timeout": self.flags["failover_timeout"],
                "pid": f"scheduler@{self.participant}",
            },
        )
        if status != 200:
            return
        fw_id = json.loads(payload)["id"]
        if fw_id != self.framework_id:
            self.framework_id = fw_id
            node = f"{self.state_path}/framework-id"
            if self.zk.exists(node):
                self.zk.set(node, fw_id.encode())
            else:
                self.zk.create(node, fw_id.encode(), makepath=True)
        status, payload, _ = web.call("GET", f"{master}/master/tasks")
        if status != 200:
            return
        tasks = [t for t in json.loads(payload)["tasks"] if t["framework_id"] == fw_id]
        live = [t for t in tasks if t["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING")]
        with self.lock:
            self.tasks = live
            apps = dict(self.apps)
            self._forget_tasks(
                {
                    t["id"]
                    for t in tasks
                    if t["state"]
                    not in ("TASK_KILLED", "TASK_FAILED", "TASK_FINISHED", "TASK_LOST", "TASK_GONE", "TASK_ERROR")
                }
            )
        status, payload, _ = web.call("GET", f"{master}/master/slaves")
        agents = json.loads(payload)["slaves"] if status == 200 else []
        for app_id, app in apps.items():
            mine = [t for t in live if app_of_task(t["id"]) == app_id]
            version = self._config_version(app)
            with self.lock:
                plan_input = [
                    {
                        "id": t["id"],
                        "version": (self.task_meta.get(t["id"]) or {}).get("version", ""),
                        "ready": self._ready(app, t),
                    }
                    for t in mine
                ]
            launch, kill = upgrade_plan(int(app["instances"]), version, plan_input, app.get("upgradeStrategy") or {})
            for task_id in kill:
                web.call("POST", f"{master}/master/emulator/kill", {"framework_id": fw_id, "task_id": task_id})
            mine = [t for t in mine if t["id"] not in kill]
            for _ in range(launch):
                self._launch(master, fw_id, app, mine, agents)
        for task in live:
            if app_of_task(task["id"]) not in apps:
                web.call("POST", f"{master}/master/emulator/kill", {"framework_id": fw_id, "task_id": task["id"]})

    def _launch(self, master: str, fw_id: str, app: dict, mine: list[dict], agents: list[dict]) -> None:
        request = {"cpus": float(app["cpus"]), "mem": float(app["mem"]), "disk": float(app["disk"])}
        if float(app.get("gpus") or 0):
            request["gpus"] = float(app["gpus"])
        placed: dict[str, int] = {}
        for task in mine:
            placed[task["slave_id"]] = placed.get(task["slave_id"], 0) + 1
        agent = choose_agent(agents, request, placed)
        if agent is None:
            log.info("No agent has the resources for an instance of %s (%s)", app["id"], request)
            return
        command = app.get("cmd") or " ".join(app.get("args") or [])
        port_count = max(1, len(app.get("portDefinitions") or []))
        with self.lock:
            used = {p for m in self.task_meta.values() if m.get("agent_id") == agent["id"] for p in m.get("ports", [])}
        ports: list[int] = []
        for _ in range(port_count if app.get("portDefinitions") or app.get("healthChecks") else 0):
            port = pick_port(str((agent.get("resources") or {}).get("ports") or ""), used | set(ports))
            if port is not None:
                ports.append(port)
        ip = str(agent.get("pid", "")).rsplit("@", 1)[-1].split(":")[0]
        env = {
            **(app.get("env") or {}),
            "MARATHON_APP_ID": app["id"],
            "MARATHON_APP_VERSION": app.get("version", ""),
            "HOST": agent["hostname"],
            **({"PORT": str(ports[0]), "PORTS": ",".join(map(str, ports))} if ports else {}),
            **{f"PORT{i}": str(p) for i, p in enumerate(ports)},
        }
        task = {
            "task_id": task_id_for(app["id"]),
            "name": app["id"].strip("/").replace("/", "."),
            "agent_id": agent["id"],
            "resources": request,
            "command": {
                "value": command,
                "environment": {"variables": [{"name": k, "value": str(v)} for k, v in env.items()]},
            },
        }
        meta = {
            "host": agent["hostname"],
            "ip": ip,
            "agent_id": agent["id"],
            "ports": ports,
            "version": self._config_version(app),
            "appVersion": app.get("version", ""),
            "started": now(),
            "startedAt": iso(now()),
        }
        with self.lock:
            self.task_meta[task["task_id"]] = meta
        status, payload, _ = web.call("POST", f"{master}/master/emulator/launch", {"framework_id": fw_id, "task": task})
        if status == 200:
            with contextlib.suppress(Exception):
                self._store_task(task["task_id"], meta)
            mine.append({"id": task["task_id"], "slave_id": agent["id"], "state": "TASK_STAGING"})
            agent["used_resources"] = resources.add(agent["used_resources"], request)
        else:
            with self.lock:
                self.task_meta.pop(task["task_id"], None)
            log.warning("Launch of %s refused: %s %s", task["task_id"], status, payload[:200])

    # ---- HTTP ---------------------------------------------------------------------------
    def _task_view(self, app: dict | None, t: dict) -> dict:
        meta = self.task_meta.get(t["id"]) or {}
        view = {
            "id": t["id"],
            "appId": app_of_task(t["id"]),
            "slaveId": t["slave_id"],
            "state": t["state"],
            "host": meta.get("host", t.get("hostname", "")),
            "ipAddresses": [{"ipAddress": meta["ip"], "protocol": "IPv4"}] if meta.get("ip") else [],
            "ports": meta.get("ports", []),
            "version": meta.get("appVersion", ""),
            "startedAt": meta.get("startedAt"),
        }
        if app and app.get("healthChecks"):
            health = meta.get("health")
            view["healthCheckResults"] = [health] if health else []
        return view

    def _deployments(self, app: dict) -> list[dict]:
        tasks = [t for t in self.tasks if app_of_task(t["id"]) == app["id"]]
        version = self._config_version(app)
        current = [t for t in tasks if (self.task_meta.get(t["id"]) or {}).get("version") == version]
        done = len(tasks) == len(current) == int(app["instances"]) and all(self._ready(app, t) for t in tasks)
        return [] if done else [{"id": f"{app['id'].strip('/')}-{app.get('version', '')}"}]

    def _app_view(self, app: dict, embed_tasks: bool) -> dict:
        tasks = [t for t in self.tasks if app_of_task(t["id"]) == app["id"]]
        health = [((self.task_meta.get(t["id"]) or {}).get("health") or {}) for t in tasks]
        view = {
            **app,
            "tasksRunning": sum(t["state"] == "TASK_RUNNING" for t in tasks),
            "tasksStaged": sum(t["state"] != "TASK_RUNNING" for t in tasks),
            "tasksHealthy": sum(bool(h.get("alive")) for h in health) if app.get("healthChecks") else 0,
            "tasksUnhealthy": sum(bool(h) and not h.get("alive") for h in health) if app.get("healthChecks") else 0,
            "deployments": self._deployments(app),
        }
        if embed_tasks:
            view["tasks"] = [self._task_view(app, t) for t in tasks]
        return view

    def info(self) -> dict:
        leader = self.leader_id
        return {
            "name": "marathon",
            "version": MARATHON_VERSION + "-emulator",
            "buildref": "stackbench-emulator",
            "emulator": True,
            "elected": self.elected(),
            "leader": leader,
            "frameworkId": self.framework_id,
            "marathon_config": {
                "master": _redact(str(self.flags["master"])),
                "hostname": self.hostname,
                "ha": self.flags["ha"],
                "framework_name": self.flags["framework_name"],
                "http_port": self.port,
                "failover_timeout": self.flags["failover_timeout"],
                "leader_proxy_connection_timeout_ms": self.flags["leader_proxy_connection_timeout"],
                "leader_proxy_read_timeout_ms": self.flags["leader_proxy_read_timeout"],
                "mesos_leader_ui_url": self.flags["mesos_leader_ui_url"],
                "mesos_role": self.flags["mesos_role"],
                "mesos_user": self.flags["mesos_user"],
                "webui_url": self.flags["webui_url"],
            },
            "zookeeper_config": {
                "zk": _redact(str(self.flags["zk"])),
                "zk_session_timeout": self.flags["zk_session_timeout"],
                "zk_timeout": self.flags["zk_timeout"],
                "zk_connection_timeout": self.flags["zk_connection_timeout"],
                "zk_max_versions": self.flags["zk_max_versions"],
                "zk_compression": self.flags["zk_compression"],
                "zk_compression_threshold": self.flags["zk_compression_threshold"],
                "zk_max_node_size": self.flags["zk_max_node_size"],
            },
            "http_config": {"http_port": self.port, "https_port": self.flags["https_port"]},
        }

    def handle(self, req: web.Request) -> web.Response:
        deadline = time.monotonic() + 10
        while self.leading and not self.elected() and time.monotonic() < deadline:
            time.sleep(0.05)  # a new leader still loading its state
        if not self.elected():
            return self._proxy(req)
        response = self._leader_handle(req)
        response.headers["X-Marathon-Leader"] = f"http://{self.participant}"
        return response

    def _proxy(self, req: web.Request) -> web.Response:
        if req.path.startswith("/v2/events"):
            leader = self.leader_id
            if not leader:
                return web.Response.text("Could not determine the current leader", 502)
            return web.Response(307, b"", {"Location": f"http://{leader}{req.path}"})
        for _ in range(10):
            if self.leader_id and self.leader_id != self.participant:
                break
            time.sleep(0.25)
        leader = self.leader_id
        if not leader or leader == self.participant:
            return web.Response.text("Could not determine the current leader", 502)
        query = "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs)
        headers = {k: v for k, v in req.headers.items() if k in ("content-type", "accept", "authorization")}
        try:
            status, body, resp_headers = web.call(
                req.method,
                f"http://{leader}{req.path}{'?' + query if query else ''}",
                raw=req.body if req.body else None,
                headers=headers,
                timeout=int(self.flags["leader_proxy_read_timeout"]) / 1000,
            )
        except OSError as exc:
            return web.Response.text(f"Could not reach the current leader {leader}: {exc}", 502)
        keep = {k: v for k, v in resp_headers.items() if k.lower() in ("content-type", "location", "x-marathon-leader")}
        keep["Via"] = f"1.1 {self.participant}"
        return web.Response(status, body, keep)

    def _leader_handle(self, req: web.Request) -> web.Response:  # noqa: C901  (a router)
        path = req.path.rstrip("/") or "/"
        if path == "/":
            return web.Response(302, b"", {"Location": "/ui/"})
        if path == "/ping":
            if "application/json" in req.headers.get("accept", ""):
                return web.Response.json("pong")
            return web.Response.text("pong")
        if path == "/v2/info":
            return web.Response.json(self.info())
        if path == "/version":
            return web.Response.json(version_info(MARATHON_VERSION))
        if path == "/v2/leader":
            if req.method == "DELETE":
                threading.Thread(target=self.abdicate, daemon=True).start()
                return web.Response.json({"message": "Leadership abdicated"})
            return web.Response.json({"leader": self.participant})
        if path == "/metrics":
            with self.lock:
                running = sum(t["state"] == "TASK_RUNNING" for t in self.tasks)
                return web.Response.json(
                    {
                        "version": "1",
                        "counters": {},
                        "histograms": {},
                        "meters": {},
                        "timers": {},
                        "gauges": {
                            "marathon.uptime.gauge.seconds": {"value": round(now() - self.start_time, 3)},
                            "marathon.leadership.duration.gauge.seconds": {
                                "value": round(now() - (self.leader_since or now()), 3)
                            },
                            "marathon.apps.active.gauge": {"value": len(self.apps)},
                            "marathon.instances.running.gauge": {"value": running},
                        },
                    }
                )
        if path == "/v2/tasks":
            with self.lock:
                return web.Response.json(
                    {"tasks": [self._task_view(self.apps.get(app_of_task(t["id"])), t) for t in self.tasks]}
                )
        if path == "/v2/deployments":
            with self.lock:
                return web.Response.json(
                    [
                        {**d, "affectedApps": [a["id"]], "version": a.get("version")}
                        for a in self.apps.values()
                        for d in self._deployments(a)
                    ]
                )
        if path == "/v2/apps":
            return self._apps(req)
        if path.startswith("/v2/apps/"):
            rest = path[len("/v2/apps") :]
            if "/versions" in rest:
                return self._app_versions(req, *rest.split("/versions", 1))
            if rest.endswith("/tasks"):
                with self.lock:
                    app = self.apps.get("/" + rest[: -len("/tasks")].strip("/"))
                    if app is None:
                        return web.Response.json({"message": f"App '{rest[: -len('/tasks')]}' does not exist"}, 404)
                    return web.Response.json({"tasks": self._app_view(app, True)["tasks"]})
            return self._app(req, rest)
        return web.Response.json({"message": "Not found"}, 404)

    def _apps(self, req: web.Request) -> web.Response:
        if req.method == "GET":
            with self.lock:
                return web.Response.json({"apps": [self._app_view(a, False) for a in self.apps.values()]})
        if req.method != "POST":
            return web.Response(405)
        try:
            app = normalize_app(req.json())  # type: ignore[arg-type]
        except (ValueError, TypeError, AttributeError) as exc:
            return web.Response.json({"message": "Object is not valid", "details": [{"errors": [str(exc)]}]}, 422)
        with self.lock:
            if app["id"] in self.apps:
                return web.Response.json({"message": f"An app with id [{app['id']}] already exists."}, 409)
            app["version"] = iso(now())
            app["versionInfo"] = version_info_for(None, app, app["version"])
            self.apps[app["id"]] = app
            self._store_app(app)
            self.wake.set()
            return web.Response.json(self._app_view(app, False), 201, {"Location": f"/v2/apps{app['id']}"})

    def _app(self, req: web.Request, app_id: str) -> web.Response:
        app_id = "/" + app_id.strip("/")
        with self.lock:
            app = self.apps.get(app_id)
            if req.method == "GET":
                if app is None:
                    return web.Response.json({"message": f"App '{app_id}' does not exist"}, 404)
                return web.Response.json({"app": self._app_view(app, True)})
            deployment = {"version": iso(now()), "deploymentId": str(uuid.uuid4())}
            if req.method == "DELETE":
                if app is None:
                    return web.Response.json({"message": f"App '{app_id}' does not exist"}, 404)
                del self.apps[app_id]
                self._delete_app(app_id)
                self.wake.set()
                return web.Response.json(deployment)
            if req.method in ("PUT", "PATCH"):
                body = req.json() or {}
                if isinstance(body, dict) and body.get("version") and app is not None:
                    # rollback: `{"version": "<an earlier version>"}` restores that definition
                    earlier = self._version(app_id, str(body["version"]))
                    if earlier is None:
                        return web.Response.json({"message": f"Version {body['version']} of {app_id} not found"}, 404)
                    body = {k: v for k, v in earlier.items() if k not in ("version", "versionInfo")}
                try:
                    merged = normalize_app({**(app or {}), **body}, app_id)  # type: ignore[arg-type]
                except (ValueError, TypeError) as exc:
                    return web.Response.json(
                        {"message": "Object is not valid", "details": [{"errors": [str(exc)]}]}, 422
                    )
                merged["version"] = deployment["version"]
                merged["versionInfo"] = version_info_for(app, merged, merged["version"])
                self.apps[app_id] = merged
                self._store_app(merged)
                self.wake.set()
                if app is None:
                    return web.Response.json(self._app_view(merged, False), 201)
                return web.Response.json(deployment)
        return web.Response(405)

    def _app_versions(self, req: web.Request, app_id: str, version: str) -> web.Response:
        app_id = "/" + app_id.strip("/")
        version = version.strip("/")
        if req.method != "GET":
            return web.Response(405)
        if app_id not in self.apps:
            return web.Response.json({"message": f"App '{app_id}' does not exist"}, 404)
        if not version:
            return web.Response.json({"versions": self._versions(app_id)})
        found = self._version(app_id, version)
        if found is None:
            return web.Response.json({"message": f"Version {version} of {app_id} not found"}, 404)
        return web.Response.json(found)


def _redact(url: str) -> str:
    import re

    return re.sub(r"//[^@/]+@", "//xxxxxxxx:xxxxxxxx@", url)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        flags = load_marathon_flags(FLAGS, argv, os.environ)
        validate(flags)
    except (FlagError, ValueError) as exc:
        sys.stderr.write(f"[scallop] Error: {exc}\n")
        sys.exit(EXIT_FLAG)
    web.setup_logging("marathon", str(flags["logging_level"] or "INFO"))
    app = Marathon(flags)
    log.info("Starting Marathon %s (emulator) as %s", MARATHON_VERSION, app.participant)
    try:
        web.serve(str(flags["http_address"] or "0.0.0.0"), app.port, app.handle)
    except OSError as exc:
        die(f"Failed to bind the HTTP port {app.port}: {exc}", EXIT_BIND)
    signal.signal(signal.SIGTERM, lambda *_: app.shutdown())
    if flags["ha"]:
        app.start_zk()
    else:
        die("This emulator only supports --ha (the default)", EXIT_FLAG)
    while True:
        time.sleep(3600)
