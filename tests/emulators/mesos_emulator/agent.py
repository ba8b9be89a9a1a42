"""`mesos-agent` emulator: detects the leading master through ZooKeeper, registers over HTTP,
offers auto-detected resources, runs tasks' commands as processes in sandboxes."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from . import MESOS_VERSION, resources, v1, web, zk
from .common import die, now, resolve_ip, usage_error, version_info
from .flags import Flag, FlagError, load_mesos_flags, mesos_flag_values

log = logging.getLogger("emulator")

FLAGS = [
    Flag("master"),
    Flag("master_detector"),
    Flag("work_dir"),
    Flag("resources"),
    Flag("attributes"),
    Flag("containerizers", default="mesos"),
    Flag("isolation", default="posix/cpu,posix/mem"),
    Flag("launcher"),
    Flag("port", "int", 5051),
    Flag("hostname"),
    Flag("hostname_lookup", "bool", True),
    Flag("ip"),
    Flag("ip_discovery_command"),
    Flag("advertise_ip"),
    Flag("advertise_port", "int"),
    Flag("log_dir"),
    Flag("logging_level", default="INFO"),
    Flag("external_log_file"),
    Flag("quiet", "bool", False),
    Flag("logbufsecs", "int", 0),
    Flag("initialize_driver_logging", "bool", True),
    Flag("runtime_dir", default="/var/run/mesos"),
    Flag("recover", default="reconnect"),
    Flag("strict", "bool", True),
    Flag("recovery_timeout", "duration", 900.0),
    Flag("systemd_enable_support", "bool", True),
    Flag("systemd_runtime_directory", default="/run/systemd/system"),
    Flag("cgroups_root", default="mesos"),
    Flag("cgroups_hierarchy", default="/sys/fs/cgroup"),
    Flag("default_role", default="*"),
    Flag("executor_registration_timeout", "duration", 60.0),
    Flag("docker", default="docker"),
    Flag("docker_socket", default="/var/run/docker.sock"),
    Flag("image_providers"),
    Flag("switch_user", "bool", True),
    Flag("zk_session_timeout", "duration", 10.0),
    Flag("registration_backoff_factor", "duration", 1.0),
    Flag("domain"),
    Flag("credential"),
    Flag("gc_delay", "duration", 604800.0),
    Flag("version", "bool", False),
    Flag("help", "bool", False),
]

ISOLATORS = {
    "posix/cpu",
    "posix/mem",
    "posix/disk",
    "posix/rlimits",
    "cgroups/cpu",
    "cgroups/mem",
    "cgroups/all",
    "cgroups/devices",
    "cgroups/pids",
    "cgroups/blkio",
    "cgroups/net_cls",
    "cgroups/perf_event",
    "cgroups/cpuset",
    "cgroups/hugetlb",
    "filesystem/posix",
    "filesystem/linux",
    "filesystem/shared",
    "disk/du",
    "disk/xfs",
    "docker/runtime",
    "docker/volume",
    "gpu/nvidia",
    "namespaces/pid",
    "namespaces/ipc",
    "network/cni",
    "network/port_mapping",
    "linux/capabilities",
    "environment_secret",
    "volume/host_path",
    "volume/image",
    "volume/sandbox_path",
    "volume/secret",
    "appc/runtime",
}
CGROUP_SUBSYSTEM = {
    "cgroups/cpu": "cpu",
    "cgroups/mem": "memory",
    "cgroups/devices": "devices",
    "cgroups/pids": "pids",
    "cgroups/blkio": "blkio",
    "cgroups/net_cls": "net_cls",
    "cgroups/perf_event": "perf_event",
    "cgroups/cpuset": "cpuset",
    "cgroups/hugetlb": "hugetlb",
}
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_GONE_BY_OPERATOR"}

# A task's kill grace without a KillPolicy (the command executor's default), and how long the agent
# gives its tasks when the master shuts it down (--executor_shutdown_grace_period's default).
DEFAULT_KILL_GRACE_SECONDS = 3.0
SHUTDOWN_GRACE_SECONDS = 5.0


def kill_grace(task: dict, drain_config: dict | None) -> float:
    """The grace between SIGTERM and SIGKILL: the task's KillPolicy, capped by a drain's max_grace_period."""
    policy = ((task.get("kill_policy") or {}).get("grace_period") or {}).get("nanoseconds")
    grace = float(policy) / 1e9 if isinstance(policy, int | float) else DEFAULT_KILL_GRACE_SECONDS
    limit = ((drain_config or {}).get("max_grace_period") or {}).get("nanoseconds")
    return min(grace, float(limit) / 1e9) if isinstance(limit, int | float) else grace


def parse_attributes(text: str | None) -> dict[str, object]:
    """`rack:2;zone:a` -> {"rack": 2.0, "zone": "a"} (scalars as numbers, like `/state`)."""
    out: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        name, sep, value = part.partition(":")
        if not sep or not name:
            raise FlagError(f"Failed to parse attribute '{part}'")
        try:
            out[name] = float(value)
        except ValueError:
            out[name] = value
    return out


def cgroup_v1_subsystem_mounted(hierarchy: str, subsystem: str) -> bool:
    path = os.path.join(hierarchy, subsystem)
    return os.path.isdir(path) and not os.path.exists(os.path.join(hierarchy, "cgroup.controllers"))


def validate(flags: dict[str, object], euid: int | None = None, hierarchy: str | None = None) -> None:
    """Start-up checks of `src/slave/main.cpp` and the containerizer/isolator creation."""
    euid = os.geteuid() if euid is None else euid
    hierarchy = hierarchy or str(flags["cgroups_hierarchy"])
    if not flags["master"] and not flags["master_detector"]:
        raise FlagError("Missing required option `--master` or `--master_detector`")
    if flags["master"] and flags["master_detector"]:
        raise FlagError("Only one of --master or --master_detector options should be specified")
    if not flags["work_dir"]:
        raise FlagError("Flag 'work_dir' is required, but it was not provided")
    if flags["ip"] and flags["ip_discovery_command"]:
        raise FlagError("Only one of `--ip` or `--ip_discovery_command` should be specified")
    master = str(flags["master"] or "")
    if master.startswith("zk://") or master.startswith("file://"):
        zk.parse_zk_url(master)
    elif master and ":" not in master:
        raise FlagError(f"Failed to create a master detector: Failed to parse '{master}'")
    resources.parse_resources(str(flags["resources"] or ""))
    parse_attributes(str(flags["attributes"] or ""))
    for containerizer in str(flags["containerizers"]).split(","):
        if containerizer not in ("mesos", "docker"):
            raise FlagError(f"Failed to create a containerizer: Unknown or unsupported containerizer: {containerizer}")
        if containerizer == "docker" and not shutil.which(str(flags["docker"])):
            raise FlagError(
                "Failed to create a containerizer: Could not create DockerContainerizer: "
                "Failed to create docker: Failed to get docker version"
            )
    isolators = [i for i in str(flags["isolation"]).split(",") if i]
    for isolator in isolators:
        if isolator not in ISOLATORS:
            raise FlagError(
                f"Failed to create a containerizer: Could not create MesosContainerizer: "
                f"Unknown or unsupported isolator '{isolator}'"
            )
        if isolator.startswith("cgroups/"):
            if euid != 0:
                raise FlagError(
                    "Failed to create a containerizer: Could not create MesosContainerizer: "
                    f"Failed to create isolator '{isolator}': Using cgroups requires root permissions"
                )
            subsystems = CGROUP_SUBSYSTEM.values() if isolator == "cgroups/all" else [CGROUP_SUBSYSTEM.get(isolator)]
            for subsystem in filter(None, subsystems):
                if isolator == "cgroups/all" and subsystem not in ("cpu", "memory"):
                    continue
                if not cgroup_v1_subsystem_mounted(hierarchy, subsystem):
                    raise FlagError(
                        "Failed to create a containerizer: Could not create MesosContainerizer: "
                        f"Failed to create isolator '{isolator}': Failed to prepare hierarchy for "
                        f"{subsystem} subsystem: '{subsystem}' is not a cgroup v1 hierarchy "
                        f"under '{hierarchy}'"
                    )
    if flags["launcher"] == "linux" and (euid != 0 or not cgroup_v1_subsystem_mounted(hierarchy, "freezer")):
        raise FlagError(
            "Failed to create a containerizer: Could not create MesosContainerizer: "
            "Failed to create launcher: The linux launcher requires root and the freezer subsystem"
        )
    if flags["launcher"] not in (None, "linux", "posix"):
        raise FlagError(f"Unknown launcher '{flags['launcher']}'")


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie or a vanished process does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Agent:
    def __init__(self, flags: dict[str, object]) -> None:
        self.flags = flags
        self.work_dir = str(flags["work_dir"])
        self.ip = str(flags["ip"] or resolve_ip(flags["hostname"]))  # type: ignore[arg-type]
        self.port = int(flags["port"])  # type: ignore[arg-type]
        self.advertise_ip = str(flags["advertise_ip"] or self.ip)
        self.advertise_port = int(flags["advertise_port"] or self.port)  # type: ignore[arg-type]
        self.hostname = str(
            flags["hostname"] or (socket.gethostname() if flags["hostname_lookup"] else self.advertise_ip)
        )
        self.pid = f"slave(1)@{self.advertise_ip}:{self.advertise_port}"
        self.url = f"http://{self.advertise_ip}:{self.advertise_port}"
        self.start_time = now()
        self.resources = resources.agent_resources(
            str(flags["resources"] or ""),
            os.cpu_count(),
            resources.memory_total_bytes(),
            resources.filesystem_size_bytes(self.work_dir),
        )
        self.attributes = parse_attributes(str(flags["attributes"] or ""))
        self.id: str | None = self._checkpointed_id()
        self.registered = False
        self.master_url: str | None = None
        self.master_hostname: str | None = None
        self.lock = threading.RLock()
        self.tasks: dict[str, dict] = {}
        self.drain_config: dict | None = self._checkpointed_drain()
        self.wake = threading.Event()  # a status update to send now, not at the next heartbeat
        self.zk = None
        master = str(flags["master"] or "")
        self.zk_url = zk.parse_zk_url(master) if master.startswith(("zk://", "file://")) else None
        if not self.zk_url and master:
            self.master_url = "http://" + master.removeprefix("http://")

    # ---- checkpointed id (<work_dir>/meta/slaves/latest -> <id>) -------------------------
    def _checkpointed_id(self) -> str | None:
        latest = os.path.join(self.work_dir, "meta", "slaves", "latest")
        return os.path.basename(os.readlink(latest)) if os.path.islink(latest) else None

    def _checkpoint_id(self, agent_id: str) -> None:
        meta = os.path.join(self.work_dir, "meta", "slaves")
        os.makedirs(os.path.join(meta, agent_id), exist_ok=True)
        latest = os.path.join(meta, "latest")
        if os.path.islink(latest):
            os.unlink(latest)
        os.symlink(agent_id, latest)

    # ---- checkpointed DrainConfig (a restarted agent keeps draining) ----------------------
    def _drain_path(self) -> str:
        return os.path.join(self.work_dir, "meta", "slaves", "latest", "drain_config")

    def _checkpointed_drain(self) -> dict | None:
        try:
            with open(self._drain_path(), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def drain(self, config: dict | None) -> web.Response:
        """DrainSlaveMessage: every task is killed (grace capped by max_grace_period); None stops draining."""
        with self.lock:
            self.drain_config = config
            if config is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._drain_path())
                return web.Response.json({})
            if self.id:
                with open(self._drain_path(), "w", encoding="utf-8") as out:
                    json.dump(config, out)
            for task in self.tasks.values():
                if task["state"] not in TERMINAL and task["state"] != "TASK_KILLING":
                    self._terminate(task, kill_grace(task, config))
        log.info("Draining: killing all tasks (%s)", json.dumps(config))
        return web.Response.json({})

    def shutdown(self, message: str) -> None:
        """ShutdownMessage: kill every task, forget the agent id (a restart registers anew), exit."""
        log.warning("Agent asked to shut down by the master: %s", message)
        with self.lock:
            for task in self.tasks.values():
                if task["state"] not in TERMINAL and task["state"] != "TASK_KILLING":
                    self._terminate(task, SHUTDOWN_GRACE_SECONDS)
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS + 1
        while time.monotonic() < deadline:
            with self.lock:
                if all(t["state"] in TERMINAL for t in self.tasks.values()):
                    break
            time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.work_dir, "meta", "slaves", "latest"))
        die("Agent shut down by the master: " + message, 0)

    # ---- checkpointed tasks (recover=reconnect keeps them across agent restarts) -------
    def _tasks_dir(self) -> str:
        return os.path.join(self.work_dir, "meta", "slaves", self.id or "unregistered", "tasks")

    def _checkpoint_task(self, record: dict) -> None:
        os.makedirs(self._tasks_dir(), exist_ok=True)
        proc = record.get("proc")
        data = {k: record[k] for k in ("id", "name", "framework_id", "resources", "sandbox")}
        data["pid"] = proc.pid if proc is not None else None
        with open(os.path.join(self._tasks_dir(), record["id"] + ".json"), "w", encoding="utf-8") as out:
            json.dump(data, out)

    def _forget_task(self, task_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self._tasks_dir(), task_id + ".json"))

    def recover(self) -> None:
        """Reattach to checkpointed tasks whose processes still run (`--recover=reconnect`)."""
        if not self.id or not os.path.isdir(self._tasks_dir()):
            return
        for name in sorted(os.listdir(self._tasks_dir())):
            path = os.path.join(self._tasks_dir(), name)
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            if self.flags["recover"] == "reconnect" and (data["pid"] is None or pid_alive(data["pid"])):
                self.tasks[data["id"]] = {**data, "state": "TASK_RUNNING", "proc": None}
                log.info("Recovered task %s (pid %s)", data["id"], data["pid"])
            else:
                if data["pid"] and pid_alive(data["pid"]):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(data["pid"], signal.SIGKILL)
                os.unlink(path)

    # ---- master detection -----------------------------------------------------------
    def _children(self, children: list[str]) -> None:
        child = zk.mesos_leader_child(children)
        url = None
        hostname = None
        if child:
            try:
                data, _ = self.zk.get(f"{self.zk_url.path}/{child}")
                info = zk.parse_master_info(data)
                address = info.get("address") or {}
                url = f"http://{address.get('ip')}:{address.get('port', info.get('port'))}"
                hostname = address.get("hostname") or info.get("hostname")
            except Exception:  # noqa: BLE001
                url = None
        with self.lock:
            if url != self.master_url:
                log.info("New master detected at %s", url or "(none)")
                self.registered = False
            self.master_url, self.master_hostname = url, hostname

    def start_zk(self) -> None:
        from kazoo.recipe.watchers import ChildrenWatch

        self.zk = zk.client(self.zk_url, float(self.flags["zk_session_timeout"]))
        while True:
            try:
                self.zk.start(timeout=15)
                break
            except Exception as exc:  # noqa: BLE001
                log.warning("Failed to connect to ZooKeeper %s: %s; retrying", self.zk_url.hosts, exc)
        self.zk.ensure_path(self.zk_url.path)
        ChildrenWatch(self.zk, self.zk_url.path, self._children)

    # ---- registration and status updates ---------------------------------------------
    def heartbeat(self) -> None:
        self._reap()
        with self.lock:
            url = self.master_url
            body = {
                "id": self.id,
                "pid": self.pid,
                "hostname": self.hostname,
                "port": self.advertise_port,
                "url": self.url,
                "resources": self.resources,
                "attributes": self.attributes,
                "version": MESOS_VERSION,
                "drain_config": self.drain_config,
                "tasks": [
                    {k: t[k] for k in ("id", "name", "framework_id", "state", "resources")} for t in self.tasks.values()
                ],
            }
        if not url:
            return
        try:
            status, payload, _ = web.call("POST", f"{url}/master/emulator/agent", body, timeout=5)
        except OSError as exc:
            log.warning("Failed to reach master %s: %s", url, exc)
            with self.lock:
                self.registered = False
            return
        if status == 403 and b"shutdown" in payload:
            threading.Thread(target=self.shutdown, args=(json.loads(payload)["shutdown"],), daemon=True).start()
            return
        if status != 200:
            with self.lock:
                self.registered = False
            return

        reply = json.loads(payload)
        with self.lock:
            if not self.registered:
                log.info("Registered with master %s; given agent ID %s", reply["master"], reply["id"])
            self.registered = True
            if self.id != reply["id"]:
                self.id = reply["id"]
                self._checkpoint_id(self.id)
            if (reply.get("drain_config") or None) != self.drain_config:
                threading.Thread(target=self.drain, args=(reply.get("drain_config"),), daemon=True).start()
            # Forget terminal tasks once the master has seen them.
            for task_id in [t for t, v in self.tasks.items() if v["state"] in TERMINAL and v.get("reported")]:
                del self.tasks[task_id]
            for task in self.tasks.values():
                if task["state"] in TERMINAL:
                    task["reported"] = True

    # ---- tasks ----------------------------------------------------------------------
    def launch(self, body: dict) -> web.Response:
        task = body["task"]
        fw = body["framework_id"]
        with self.lock:
            if not self.id:
                return web.Response.text("Agent is not registered", 409)
            if self.drain_config is not None:
                return web.Response.text(f"Task {task['task_id']} cannot be launched because the agent is draining",
                                         409)
            sandbox = os.path.join(
                self.work_dir,
                "slaves",
                self.id,
                "frameworks",
                fw,
                "executors",
                task["task_id"],
                "runs",
                "latest",
            )
            os.makedirs(sandbox, exist_ok=True)
            command = (task.get("command") or {}).get("value") or ""
            env = {
                **os.environ,
                "MESOS_TASK_ID": task["task_id"],
                "MESOS_SANDBOX": sandbox,
                "MESOS_AGENT_ENDPOINT": f"{self.advertise_ip}:{self.advertise_port}",
                **{
                    e["name"]: e["value"]
                    for e in (task.get("command") or {}).get("environment", {}).get("variables", [])
                },
            }
            record = {
                "id": task["task_id"],
                "name": task["name"],
                "framework_id": fw,
                "state": "TASK_RUNNING",
                "resources": task["resources"],
                "sandbox": sandbox,
                "proc": None,
                **({"kill_policy": task["kill_policy"]} if task.get("kill_policy") else {}),
            }
            if command:
                with (
                    open(os.path.join(sandbox, "stdout"), "ab") as out,
                    open(os.path.join(sandbox, "stderr"), "ab") as err,
                ):
                    record["proc"] = subprocess.Popen(
                        ["/bin/sh", "-c", command],
                        cwd=sandbox,
                        env=env,
                        stdout=out,
                        stderr=err,
                        start_new_session=True,
                    )
            self.tasks[record["id"]] = record
            self._checkpoint_task(record)
            log.info("Launched task %s of framework %s", record["id"], fw)
        self.wake.set()  # TASK_RUNNING reaches the master now, not at the next heartbeat
        return web.Response.json({"state": record["state"]})

    def kill(self, body: dict) -> web.Response:
        with self.lock:
            task = self.tasks.get(body["task_id"])
            if task is None:
                return web.Response.text("Unknown task", 404)
            if task["state"] not in TERMINAL and task["state"] != "TASK_KILLING":
                self._terminate(task, kill_grace(task, self.drain_config))
            return web.Response.json({"state": task["state"]})

    def _terminate(self, task: dict, grace: float) -> None:
        """Kill a task (the caller holds the lock): SIGTERM, SIGKILL after `grace`, then TASK_KILLED
        (TASK_GONE_BY_OPERATOR when a drain with mark_gone killed it)."""
        proc = task.get("proc")
        pid = proc.pid if proc is not None and proc.poll() is None else task.get("pid")
        task["state"] = "TASK_KILLING"
        final = "TASK_GONE_BY_OPERATOR" if (self.drain_config or {}).get("mark_gone") else "TASK_KILLED"

        def alive() -> bool:
            if proc is not None:
                return proc.poll() is None
            return bool(pid) and pid_alive(int(pid))

        def run() -> None:
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid and alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            with self.lock:
                task["state"] = final
                self._forget_task(task["id"])
            self.wake.set()

        threading.Thread(target=run, daemon=True).start()

    def _reap(self) -> None:
        with self.lock:
            for task in self.tasks.values():
                if task["state"] != "TASK_RUNNING":
                    continue
                proc = task.get("proc")
                if proc is not None and proc.poll() is not None:
                    task["state"] = "TASK_FINISHED" if proc.returncode == 0 else "TASK_FAILED"
                elif proc is None and task.get("pid") and not pid_alive(task["pid"]):
                    task["state"] = "TASK_FAILED"  # a recovered task whose exit status is unknown
                if task["state"] != "TASK_RUNNING":
                    self._forget_task(task["id"])

    # ---- HTTP -----------------------------------------------------------------------
    def used(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for task in self.tasks.values():
            if task["state"] not in TERMINAL:
                used = resources.add(used, task["resources"])
        return used

    def state(self) -> dict:
        with self.lock:
            used = resources.encode(self.used())
            total = resources.encode(self.resources)
            frameworks: dict[str, dict] = {}
            for task in self.tasks.values():
                fw = frameworks.setdefault(
                    task["framework_id"],
                    {"id": task["framework_id"], "executors": [], "completed_executors": []},
                )
                entry = {
                    "id": task["id"],
                    "name": task["name"],
                    "container": task["sandbox"],
                    "directory": task["sandbox"],
                    "resources": resources.encode(task["resources"]),
                    "tasks": [
                        {
                            "id": task["id"],
                            "name": task["name"],
                            "state": task["state"],
                            "framework_id": task["framework_id"],
                            "slave_id": self.id,
                            "resources": resources.encode(task["resources"]),
                        }
                    ],
                    "queued_tasks": [],
                    "completed_tasks": [],
                }
                key = "completed_executors" if task["state"] in TERMINAL else "executors"
                fw[key].append(entry)
            return {
                **version_info(MESOS_VERSION),
                "start_time": self.start_time,
                "id": self.id or "",
                "pid": self.pid,
                "hostname": self.hostname,
                **({"drain_config": self.drain_config} if self.drain_config is not None else {}),
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
                "resources": total,
                "reserved_resources": {},
                "unreserved_resources": total,
                "reserved_resources_full": {},
                "unreserved_resources_full": [],
                "reserved_resources_allocated": {},
                "unreserved_resources_allocated": used,
                "resource_providers": [],
                "attributes": self.attributes,
                "master_hostname": self.master_hostname or "",
                "log_dir": self.flags["log_dir"] or "",
                "external_log_file": self.flags["external_log_file"] or "",
                "flags": mesos_flag_values(FLAGS, self.flags),
                "frameworks": list(frameworks.values()),
                "completed_frameworks": [],
            }

    def metrics(self) -> dict[str, float]:
        with self.lock:
            used = self.used()
            out = {
                "slave/registered": 1.0 if self.registered else 0.0,
                "slave/uptime_secs": round(now() - self.start_time, 3),
                "slave/executors_running": float(sum(t["state"] == "TASK_RUNNING" for t in self.tasks.values())),
                "slave/recovery_errors": 0.0,
            }
            for state in ("running", "staging", "starting", "failed", "finished", "killed", "lost"):
                out[f"slave/tasks_{state}"] = float(
                    sum(t["state"] == f"TASK_{state.upper()}" for t in self.tasks.values())
                )
            for name in ("cpus", "mem", "disk", "gpus"):
                total = float(self.resources.get(name, 0.0) or 0.0)  # type: ignore[arg-type]
                use = float(used.get(name, 0.0))
                out[f"slave/{name}_total"] = total
                out[f"slave/{name}_used"] = use
                out[f"slave/{name}_percent"] = use / total if total else 0.0
            return out

    # ---- resource usage (/monitor/statistics, /containers) ----------------------------
    def _pid(self, task: dict) -> int | None:
        proc = task.get("proc")
        return proc.pid if proc is not None else task.get("pid")

    def _statistics(self, task: dict) -> dict:
        """ResourceStatistics of the task's process, read from /proc (no isolator measures it here)."""
        stats: dict[str, float] = {
            "timestamp": round(now(), 3),
            "cpus_limit": float(task["resources"].get("cpus", 0.0)),
            "mem_limit_bytes": int(float(task["resources"].get("mem", 0.0)) * 1024 * 1024),
        }
        pid = self._pid(task)
        with contextlib.suppress(OSError, ValueError, IndexError, TypeError):
            fields = open(f"/proc/{pid}/stat", encoding="ascii").read().rsplit(")", 1)[1].split()  # noqa: SIM115
            ticks = os.sysconf("SC_CLK_TCK")
            stats["cpus_user_time_secs"] = int(fields[11]) / ticks
            stats["cpus_system_time_secs"] = int(fields[12]) / ticks
            stats["mem_rss_bytes"] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        return stats

    def _usage(self, task: dict) -> dict:
        return {"executor_id": task["id"], "executor_name": f"Command Executor (Task: {task['id']})",
                "framework_id": task["framework_id"], "source": task["id"], "statistics": self._statistics(task)}

    def _container(self, task: dict) -> dict:
        container_id = os.path.basename(os.path.dirname(task["sandbox"])) if task.get("sandbox") else task["id"]
        return {**self._usage(task), "container_id": container_id,
                "status": {"container_id": {"value": container_id}, "executor_pid": self._pid(task)}}

    # ---- v1 operator API (POST /api/v1) -----------------------------------------------
    def _operator(self, req: web.Request) -> web.Response:
        call, refusal = v1.read_call(req)
        if refusal:
            return refusal
        kind = call["type"]  # type: ignore[index]
        if kind == "GET_HEALTH":
            return web.Response.json({"type": kind, "get_health": {"healthy": True}})
        if kind == "GET_VERSION":
            return web.Response.json({"type": kind, "get_version": {"version_info": v1.version_info(MESOS_VERSION)}})
        if kind == "GET_FLAGS":
            flags = v1.flags(mesos_flag_values(FLAGS, self.flags))
            return web.Response.json({"type": kind, "get_flags": {"flags": flags}})
        if kind == "GET_STATE":
            with self.lock:
                tasks = [
                    {"name": t["name"], "task_id": {"value": t["id"]}, "framework_id": {"value": t["framework_id"]},
                     "agent_id": {"value": self.id or ""}, "state": t["state"],
                     "resources": v1.resources(t["resources"])}
                    for t in self.tasks.values()
                ]
                frameworks = sorted({t["framework_id"] for t in self.tasks.values()})
            state = {
                "get_tasks": {"launched_tasks": [t for t in tasks if t["state"] not in TERMINAL],
                              "completed_tasks": [t for t in tasks if t["state"] in TERMINAL]},
                "get_executors": {"executors": []},
                "get_frameworks": {"frameworks": [{"framework_info": {"id": {"value": f}}} for f in frameworks]},
            }
            return web.Response.json({"type": kind, "get_state": state})
        return web.Response.text(f"Failed to validate agent::Call: unsupported call type {kind!r}", 400)

    def handle(self, req: web.Request) -> web.Response:
        path = req.path.rstrip("/") or "/"
        path = path.removeprefix("/slave(1)")
        if path == "/health":
            return web.Response(200)
        if path == "/version":
            return web.Response.json(version_info(MESOS_VERSION))
        if path in ("/state", "/state.json"):
            return web.Response.json(self.state())
        if path == "/metrics/snapshot":
            return web.Response.json(self.metrics())
        if path == "/flags":
            return web.Response.json({"flags": mesos_flag_values(FLAGS, self.flags)})
        if path == "/monitor/statistics":
            with self.lock:
                return web.Response.json([self._usage(t) for t in self.tasks.values() if t["state"] == "TASK_RUNNING"])
        if path == "/containers":
            with self.lock:
                return web.Response.json([self._container(t) for t in self.tasks.values()
                                          if t["state"] == "TASK_RUNNING"])
        if path == "/api/v1":
            return self._operator(req)
        if req.method == "POST" and path == "/emulator/launch":
            return self.launch(req.json())
        if req.method == "POST" and path == "/emulator/kill":
            return self.kill(req.json())
        if req.method == "POST" and path == "/emulator/drain":
            return self.drain(req.json().get("drain_config"))
        if req.method == "POST" and path == "/emulator/shutdown":
            threading.Thread(target=self.shutdown, args=(str(req.json().get("message", "")),), daemon=True).start()
            return web.Response.json({})
        return web.Response(404)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        flags = load_mesos_flags(FLAGS, argv, os.environ)
        if flags["help"]:
            print("Usage: mesos-agent [options]\n\n" + "\n".join(f"  --{f.name}" for f in FLAGS))
            sys.exit(0)
        if flags["version"]:
            print(f"mesos {MESOS_VERSION} (stackbench emulator)")
            sys.exit(0)
        validate(flags)
    except (FlagError, ValueError) as exc:
        usage_error("mesos-agent", str(exc))
        return
    web.setup_logging("mesos-agent", str(flags["logging_level"]))
    os.makedirs(str(flags["work_dir"]), exist_ok=True)
    agent = Agent(flags)
    agent.recover()
    log.info("Agent started on %s:%d with resources %s", agent.ip, agent.port, agent.resources)
    try:
        web.serve(str(flags["ip"] or "0.0.0.0"), agent.port, agent.handle)
    except OSError as exc:
        die(f"Failed to initialize: Failed to bind on {flags['ip'] or '0.0.0.0'}:{agent.port}: {exc}")
    if agent.zk_url:
        agent.start_zk()
    while True:
        agent.heartbeat()
        agent.wake.wait(2)
        agent.wake.clear()
