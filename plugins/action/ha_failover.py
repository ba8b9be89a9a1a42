"""Controller-side HA failover validation (see plugins/modules/ha_failover.py for the docs).

Finds the leader of a cluster with the system's own mechanism, writes a marker, injects a
fault on the leader while a client writes throughout, measures the time to a new leader and
the write outage, checks every acknowledged write on every member, always heals the fault,
and checks the old leader rejoins as a follower. The decisions and the arithmetic live in
plugins/module_utils/stackbench_failover.py; this file only talks to the hosts.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from ansible import context
from ansible.plugins.action import ActionBase

_UTILS = Path(__file__).resolve().parent.parent / "module_utils" / "stackbench_failover.py"


def _failover() -> ModuleType:
    """Load the shared logic by path (controller plugins cannot import custom module_utils)."""
    name = "stackbench_failover"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, _UTILS)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


F = _failover()

DEFAULT_GROUPS = {
    "zookeeper": "zookeeper", "etcd": "etcd", "mesos_masters": "mesos_masters", "marathon": "marathon",
    "kube_apiserver": "kube_control_plane", "kube_controller_manager": "kube_control_plane",
    "kube_scheduler": "kube_control_plane",
}
IMPLEMENTED = ("zookeeper", "etcd", "mesos_masters", "marathon", "kube_apiserver", "kube_controller_manager",
               "kube_scheduler")
DEFAULT_SERVICES = {"zookeeper": "zookeeper", "etcd": "etcd", "mesos_masters": "mesos-master", "marathon": "marathon",
                    "kube_apiserver": "kube-apiserver", "kube_controller_manager": "kube-controller-manager",
                    "kube_scheduler": "kube-scheduler"}
DEFAULT_PORTS = {"zookeeper": 2181, "etcd": 2379, "mesos_masters": 5050, "marathon": 8080,
                 "kube_apiserver": 6443, "kube_controller_manager": 6443, "kube_scheduler": 6443}
# Leader-elected Kubernetes components: the Lease in kube-system each of them holds.
KUBE_LEASES = {"kube_controller_manager": "kube-controller-manager", "kube_scheduler": "kube-scheduler"}
KUBE_NAMESPACE = "stackbench-ha"
# roles/kubernetes writes it there (kubernetes_admin_kubeconfig), credentials embedded.
DEFAULT_KUBECONFIG = Path(__file__).resolve().parents[2] / ".stackbench" / "stackbench-kubernetes-admin.kubeconfig"
PARTITION_CHAIN = "STACKBENCH-PART"


class Failure(Exception):
    """A run that cannot go on; the message is the task's `msg`."""


# ----- running commands on hosts (through Ansible, so every connection plugin works) ----------

class HostRunner:
    """Runs a shell command on an inventory host with `ansible` and the same inventory/connection."""

    def __init__(self, inventory_sources: list[str], timeout: float = 120) -> None:
        self.inventory_sources = inventory_sources
        self.timeout = timeout

    def _base(self) -> list[str]:
        cmd = [str(Path(sys.executable).with_name("ansible"))]
        for source in self.inventory_sources:
            cmd += ["-i", source]
        args = context.CLIARGS
        if args.get("connection") and args["connection"] not in ("smart",):
            cmd += ["-c", args["connection"]]
        if args.get("private_key_file"):
            cmd += ["--private-key", args["private_key_file"]]
        if args.get("remote_user"):
            cmd += ["-u", args["remote_user"]]
        for extra in args.get("extra_vars") or ():
            cmd += ["-e", extra]
        for vault in args.get("vault_password_files") or ():
            cmd += ["--vault-password-file", vault]
        if args.get("become_method"):
            cmd += ["--become-method", args["become_method"]]
        return cmd

    def shell(self, host: str, command: str, become: bool = True) -> tuple[int, str, str]:
        cmd = self._base() + [host, "-m", "ansible.builtin.shell", "-a", command]
        if become:
            cmd.append("-b")
        env = {**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, env=env, check=False,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 255, "", f"timed out after {self.timeout}s"
        try:  # other enabled callbacks (profile_tasks) may print after the JSON document
            start = run.stdout.index("{")
            document, _ = json.JSONDecoder().raw_decode(run.stdout[start:])
            result = document["plays"][0]["tasks"][0]["hosts"][host]
        except (ValueError, KeyError, IndexError):
            return 255, "", (run.stdout + run.stderr).strip()[-500:]
        if result.get("unreachable"):
            return 255, "", result.get("msg", "unreachable")
        return int(result.get("rc", 1 if result.get("failed") else 0)), result.get("stdout", ""), \
            result.get("stderr", "") or (result.get("msg", "") if result.get("failed") else "")


def _stackbench() -> str:
    """The stackbench CLI next to this Python (the venv), else from PATH."""
    beside = Path(sys.executable).with_name("stackbench")
    return str(beside) if beside.exists() else "stackbench"


def _local(cmd: list[str], timeout: float = 120) -> tuple[int, str]:
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 255, str(exc)
    return run.returncode, (run.stdout + run.stderr).strip()


# ----- faults ----------------------------------------------------------------------------------

def partition_commands(chain: str = PARTITION_CHAIN) -> tuple[str, str]:
    """iptables commands that cut a host off except SSH (so it can be healed), and undo them."""
    cut = " && ".join([
        f"(iptables -N {chain}-IN 2>/dev/null || iptables -F {chain}-IN)",
        f"(iptables -N {chain}-OUT 2>/dev/null || iptables -F {chain}-OUT)",
        f"iptables -A {chain}-IN -i lo -j ACCEPT",
        f"iptables -A {chain}-IN -p tcp --dport 22 -j ACCEPT",
        f"iptables -A {chain}-IN -j DROP",
        f"iptables -A {chain}-OUT -o lo -j ACCEPT",
        f"iptables -A {chain}-OUT -p tcp --sport 22 -j ACCEPT",
        f"iptables -A {chain}-OUT -j DROP",
        "date +%s.%N",
        f"iptables -I INPUT 1 -j {chain}-IN",
        f"iptables -I OUTPUT 1 -j {chain}-OUT",
    ])
    heal = "; ".join([
        f"while iptables -D INPUT -j {chain}-IN 2>/dev/null; do :; done",
        f"while iptables -D OUTPUT -j {chain}-OUT 2>/dev/null; do :; done",
        f"iptables -F {chain}-IN 2>/dev/null", f"iptables -X {chain}-IN 2>/dev/null",
        f"iptables -F {chain}-OUT 2>/dev/null", f"iptables -X {chain}-OUT 2>/dev/null", "true",
    ])
    return cut, heal


def fault_command(fault: str, service: str) -> str:
    """The host command for stop/kill; it prints the host's time right before the fault."""
    unit = shlex.quote(service)
    if fault == "stop":
        return f"systemctl is-active --quiet {unit} && date +%s.%N && systemctl stop {unit}"
    if fault == "kill":
        return (f"pid=$(systemctl show -p MainPID --value {unit}) && [ \"$pid\" -gt 0 ] "
                f"&& date +%s.%N && kill -9 \"$pid\"")
    raise ValueError(fault)


class Fault:
    """Injects one fault on one host and heals it (idempotently)."""

    def __init__(self, kind: str, host: str, service: str, runner: HostRunner, lab: str | None,
                 lab_host: str) -> None:
        self.kind, self.host, self.service, self.runner, self.lab, self.lab_host = \
            kind, host, service, runner, lab, lab_host
        self.injected = False
        self.command_seconds: float | None = None
        self.time_source = "controller clock when the fault command returned"
        self.log: list[str] = []

    def inject(self) -> float:
        before = time.time()
        if self.kind == "partition" and self.lab:
            rc, out = _local([_stackbench(), "lab", "partition", self.lab_host, "--lab", self.lab])
            after = time.time()
            self.command_seconds = after - before
            self.injected = True
            if rc != 0:
                raise Failure(f"lab partition of {self.host} failed: {out}")
            # The disconnect is complete when the command returns: measuring from then gives
            # lower bounds (fault_command_seconds says by how much they may be short).
            return after
        command = partition_commands()[0] if self.kind == "partition" else fault_command(self.kind, self.service)
        rc, out, err = self.runner.shell(self.host, command)
        after = time.time()
        self.command_seconds = after - before
        self.injected = True  # even a failed command may have done part of its work: always heal
        if rc != 0:
            raise Failure(f"{self.kind} on {self.host} failed (rc={rc}): {err or out}")
        try:
            stamp = float(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            stamp = after
        # Trust the host's clock only when it agrees with ours (lab containers share it).
        if before - 1 <= stamp <= after + 1:
            self.time_source = "host clock before the fault"
            return stamp
        return after

    def heal(self) -> None:
        if not self.injected:
            return
        if self.kind == "partition" and self.lab:
            rc, out = _local([_stackbench(), "lab", "heal", self.lab_host, "--lab", self.lab])
            self.log.append(f"lab heal {self.lab_host}: rc={rc} {out[-200:]}")
            if rc != 0:
                raise Failure(f"could not heal the lab partition of {self.host}: {out}")
        elif self.kind == "partition":
            rc, out, err = self.runner.shell(self.host, partition_commands()[1])
            if rc != 0:
                raise Failure(f"could not remove the iptables partition on {self.host}: {err or out}")
        else:
            rc, out, err = self.runner.shell(self.host, f"systemctl start {shlex.quote(self.service)}")
            if rc != 0:
                raise Failure(f"could not start {self.service} again on {self.host}: {err or out}")
        self.injected = False


# ----- clients ---------------------------------------------------------------------------------

def zk_four_letter(address: str, port: int, word: str, timeout: float = 1.0) -> str | None:
    """Send a 4lw command; None when the member does not answer."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(word.encode())
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")
    except OSError:
        return None


class ZooKeeperSystem:
    name = "zookeeper"

    def __init__(self, members: dict[str, str], port: int, timeout: float) -> None:
        import logging

        from kazoo.client import KazooClient  # controller-side dependency (requirements.lock)

        logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # reconnects during a fault are expected

        self._kazoo = KazooClient
        self.members, self.port, self.timeout = members, port, timeout
        self.base = f"/stackbench-ha/{uuid.uuid4().hex[:12]}"
        self.write_timeout = 1.0
        self.client: Any = None
        self.settings: dict[str, str] = {}

    def mode(self, host: str) -> str | None:
        text = zk_four_letter(self.members[host], self.port, "mntr")
        if text is None:
            return None
        try:
            return F.zk_mode(F.parse_mntr(text)) or "not serving"  # answers, but no quorum / electing
        except F.ParseError as exc:
            raise Failure(f"zookeeper on {host}: {exc}") from None

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        return {h: self.mode(h) for h in hosts}

    def leader(self, hosts: list[str]) -> str | None:
        return F.single_leader(self.modes(hosts))

    def read_settings(self, host: str) -> None:
        text = zk_four_letter(self.members[host], self.port, "conf") or ""
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                self.settings[key.strip()] = value.strip()

    def bounds(self) -> dict[str, float]:
        s = self.settings
        if "tickTime" not in s:
            return {}
        return F.zookeeper_bounds(int(s["tickTime"]), int(s.get("syncLimit", 0)), int(s.get("initLimit", 0)),
                                  int(s["maxSessionTimeout"]) if "maxSessionTimeout" in s else None)

    def connect(self, hosts: list[str]) -> None:
        connect = ",".join(f"{self.members[h]}:{self.port}" for h in hosts)
        self.client = self._kazoo(hosts=connect, timeout=10.0,
                                  connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
        self.client.start(timeout=self.timeout)
        self.client.ensure_path(self.base)

    def write(self, key: str, value: bytes) -> None:
        self.client.create_async(f"{self.base}/{key}", value).get(timeout=self.write_timeout)

    def keys_on(self, host: str) -> list[str] | None:
        client = self._kazoo(hosts=f"{self.members[host]}:{self.port}", timeout=10.0,
                             connection_retry={"max_tries": 3, "delay": 0.2})
        try:
            client.start(timeout=10)
            client.sync(self.base)  # catch up with the leader before reading
            return client.get_children(self.base)
        except Exception:  # noqa: BLE001 - a member that cannot be read is reported as unread
            return None
        finally:
            client.stop()
            client.close()

    def cleanup(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):  # cleanup is best effort
                self.client.delete(self.base, recursive=True)
            with contextlib.suppress(Exception):  # the parent too, unless another run uses it
                self.client.delete(self.base.rsplit("/", 1)[0])
            self.client.stop()
            self.client.close()


class EtcdSystem:
    name = "etcd"

    def __init__(self, members: dict[str, str], port: int, timeout: float, ca: str, cert: str, key: str) -> None:
        self.members, self.port, self.timeout = members, port, timeout
        self.context = ssl.create_default_context(cafile=ca)
        self.context.load_cert_chain(cert, key)
        self.prefix = f"/stackbench-ha/{uuid.uuid4().hex[:12]}/"
        self.write_timeout = 1.0
        self.ids: dict[int, str] = {}
        self.current = 0
        self.writers: list[str] = []
        self.settings: dict[str, str] = {}

    def _post(self, host: str, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        request = urllib.request.Request(f"https://{self.members[host]}:{self.port}{path}",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout, context=self.context) as response:
            return json.loads(response.read())

    def status(self, host: str) -> dict[str, Any] | None:
        try:
            status = F.etcd_status(self._post(host, "/v3/maintenance/status", {}, 1.0), host)
        except (OSError, ValueError, urllib.error.URLError):
            return None
        self.ids[status["member_id"]] = host
        return status

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for host in hosts:
            status = self.status(host)
            out[host] = None if status is None else ("leader" if status["is_leader"] else
                                                     "follower" if status["leader_id"] else "candidate")
        return out

    def leader(self, hosts: list[str]) -> str | None:
        statuses = [s for s in (self.status(h) for h in hosts) if s is not None]
        if len(statuses) < len(hosts) // 2 + 1:
            return None
        agreed = F.etcd_agreed_leader(statuses)
        return self.ids.get(agreed) if agreed else None

    def bounds(self) -> dict[str, float]:
        s = self.settings
        return F.etcd_bounds(int(s.get("ETCD_ELECTION_TIMEOUT", 1000)), int(s.get("ETCD_HEARTBEAT_INTERVAL", 100)))

    def connect(self, hosts: list[str]) -> None:
        self.writers = list(hosts)

    def write(self, key: str, value: bytes) -> None:
        host = self.writers[self.current % len(self.writers)]
        try:
            self._post(host, "/v3/kv/put", {"key": base64.b64encode((self.prefix + key).encode()).decode(),
                                            "value": base64.b64encode(value).decode()}, self.write_timeout)
        except Exception:
            self.current += 1  # try another member next time
            raise

    def _prefix_end(self) -> str:
        raw = bytearray(self.prefix.encode())
        raw[-1] += 1
        return base64.b64encode(bytes(raw)).decode()

    def keys_on(self, host: str) -> list[str] | None:
        body = {"key": base64.b64encode(self.prefix.encode()).decode(), "range_end": self._prefix_end(),
                "keys_only": True}
        try:  # a linearizable read through this member: it answers once it has caught up
            reply = self._post(host, "/v3/kv/range", body, 5.0)
        except (OSError, ValueError, urllib.error.URLError):
            return None
        return [base64.b64decode(kv["key"]).decode()[len(self.prefix):] for kv in reply.get("kvs", [])]

    def cleanup(self) -> None:
        body = {"key": base64.b64encode(self.prefix.encode()).decode(), "range_end": self._prefix_end()}
        for host in self.writers:
            try:
                self._post(host, "/v3/kv/deleterange", body, 5.0)
                return
            except (OSError, ValueError, urllib.error.URLError):
                continue


def _http_json(url: str, timeout: float, method: str = "GET", body: Any = None,
               context: ssl.SSLContext | None = None, content_type: str = "application/json") -> tuple[int, Any]:
    """(status, decoded JSON or text) without following redirects; (0, error) when nothing answered."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type,
                                                                               "Accept": "application/json"})
    handlers: list[Any] = [_NoRedirect]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (OSError, ValueError) as exc:
        return 0, str(exc)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _duration_seconds(text: str) -> float | None:
    """Mesos durations: `10secs`, `1mins`, `500ms` (a bare number is seconds)."""
    match = __import__("re").match(r"^([0-9.]+)\s*(ns|us|ms|secs|mins|hrs|days)?$", text.strip())
    if not match:
        return None
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "secs": 1, "mins": 60, "hrs": 3600, "days": 86400, None: 1}
    return float(match.group(1)) * scale[match.group(2)]


class MesosMastersSystem:
    """Mesos masters: the leader is the master whose /metrics/snapshot says elected and recovered.

    There is no client write to the masters' registry that this plugin can make through a public
    API, so the figures are the failover (new leader ready) and the agents re-registering.
    """

    name = "mesos_masters"
    supports_writes = False

    def __init__(self, members: dict[str, str], port: int, timeout: float) -> None:
        self.members, self.port, self.timeout = members, port, timeout
        self.settings: dict[str, str] = {}
        self.agents_before: int | None = None

    def _metrics(self, host: str) -> dict[str, Any] | None:
        status, body = _http_json(f"http://{self.members[host]}:{self.port}/metrics/snapshot", 1.0)
        return body if status == 200 and isinstance(body, dict) else None

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for host in hosts:
            metrics = self._metrics(host)
            if metrics is None:
                out[host] = None
                continue
            state = F.mesos_master_state(metrics)
            out[host] = "leader" if state["ready"] else "recovering" if state["elected"] else "follower"
        return out

    def leader(self, hosts: list[str]) -> str | None:
        return F.single_leader(self.modes(hosts))

    def read_settings(self, host: str) -> None:
        status, body = _http_json(f"http://{self.members[host]}:{self.port}/master/flags", 2.0)
        if status == 200 and isinstance(body, dict):
            flags = body.get("flags", {})
            self.settings = {k: str(flags[k]) for k in ("zk_session_timeout", "quorum") if k in flags}
        metrics = self._metrics(host) or {}
        self.agents_before = int(metrics.get("master/slaves_active", 0))

    def bounds(self) -> dict[str, float]:
        timeout = _duration_seconds(self.settings.get("zk_session_timeout", ""))
        return {"zk_session_timeout": timeout} if timeout else {}

    def after_new_leader(self, leader: str, fault_at: float, timeout: float, lost_agents: int = 0) -> dict[str, Any]:
        """Time until the new leader sees as many active agents as the old one did.

        `lost_agents`: agents the fault itself cut off (an agent on a partitioned leader's host).
        """
        wanted = max((self.agents_before or 0) - lost_agents, 0)
        _, seen = wait_for(lambda: int((self._metrics(leader) or {}).get("master/slaves_active", -1)) >= wanted,
                           timeout, interval=0.25)
        return {"agents_active_before": wanted,
                "time_to_agents_reregistered_seconds": None if seen is None else round(seen - fault_at, 3)}

    def connect(self, hosts: list[str]) -> None:
        pass

    def cleanup(self) -> None:
        pass


class MarathonSystem:
    """Marathon: `GET /v2/leader` (standbys proxy it to the leader); writes create apps (instances 0)."""

    name = "marathon"
    supports_writes = True

    def __init__(self, members: dict[str, str], port: int, timeout: float) -> None:
        self.members, self.port, self.timeout = members, port, timeout
        self.run = uuid.uuid4().hex[:10]
        self.prefix = f"/stackbench-ha-{self.run}-"
        self.write_timeout = 1.0
        self.writers: list[str] = []
        self.current = 0
        self.created: list[str] = []
        self.settings: dict[str, str] = {}

    def _url(self, host: str, path: str) -> str:
        return f"http://{self.members[host]}:{self.port}{path}"

    def _leader_of(self, host: str) -> str | None | bool:
        """The member `host` names as leader; False when it does not answer; None when it knows none."""
        status, body = _http_json(self._url(host, "/v2/leader"), 1.0)
        if status == 0:
            return False
        try:
            named = F.marathon_leader(status, json.dumps(body) if isinstance(body, dict) else str(body))
        except (F.ParseError, ValueError, KeyError):
            return None
        if named is None:
            return None
        name = named.rsplit(":", 1)[0]
        for member, address in self.members.items():
            if name in (member, address):
                return member
        return None

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for host in hosts:
            named = self._leader_of(host)
            out[host] = None if named is False else "not serving" if named is None else \
                "leader" if named == host else "follower"
        return out

    def leader(self, hosts: list[str]) -> str | None:
        named = {self._leader_of(h) for h in hosts} - {False}
        if len(named) != 1:
            return None
        (leader,) = named
        return leader if leader in hosts else None

    def read_settings(self, host: str) -> None:
        status, body = _http_json(self._url(host, "/v2/info"), 2.0)
        if status == 200 and isinstance(body, dict):
            zk = body.get("zookeeper_config", {})
            self.settings = {k: str(zk[k]) for k in ("zk_session_timeout", "zk_timeout") if k in zk}

    def bounds(self) -> dict[str, float]:
        out = {}
        if "zk_session_timeout" in self.settings:
            out["zk_session_timeout"] = int(self.settings["zk_session_timeout"]) / 1000
        return out

    def connect(self, hosts: list[str]) -> None:
        self.writers = list(hosts)

    def write(self, key: str, value: bytes) -> None:
        host = self.writers[self.current % len(self.writers)]
        app = {"id": self.prefix + key, "cmd": "sleep 3600", "instances": 0, "cpus": 0.01, "mem": 16,
               "labels": {"stackbench-ha": self.run}}
        status, body = _http_json(self._url(host, "/v2/apps"), self.write_timeout, "POST", app)
        if status in (200, 201):
            self.created.append(app["id"])
            return
        self.current += 1
        raise ConnectionError(f"HTTP {status}: {str(body)[:120]}")

    def keys_on(self, host: str) -> list[str] | None:
        status, body = _http_json(self._url(host, "/v2/apps"), 10.0)
        if status != 200 or not isinstance(body, dict):
            return None
        return [a["id"][len(self.prefix):] for a in body.get("apps", []) if a.get("id", "").startswith(self.prefix)]

    def cleanup(self) -> None:
        for app_id in list(self.created):
            for host in self.writers:
                status, _ = _http_json(self._url(host, f"/v2/apps{app_id}?force=true"), 5.0, "DELETE")
                if status in (200, 202, 404):
                    break


# ----- Kubernetes ------------------------------------------------------------------------------

def ssh_tunnel_command(hv: Any, host: str, local_port: int, remote_port: int) -> list[str]:
    """`ssh -N -L` from the controller to `127.0.0.1:remote_port` on `host`, with the inventory's SSH settings."""
    cmd = ["ssh", "-N", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=5",
           "-L", f"127.0.0.1:{local_port}:127.0.0.1:{remote_port}"]
    if hv.get("ansible_port"):
        cmd += ["-p", str(hv["ansible_port"])]
    key = hv.get("ansible_ssh_private_key_file") or hv.get("ansible_private_key_file")
    if key:
        cmd += ["-i", str(key)]
    for extra in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        if hv.get(extra):
            cmd += shlex.split(str(hv[extra]))
    address = hv.get("ansible_host") or host
    user = hv.get("ansible_user")
    return cmd + [f"{user}@{address}" if user else str(address)]


class SshTunnel:
    """A local port forwarded over SSH to a port on a host's loopback (its local API endpoint)."""

    def __init__(self, command: Callable[[int], list[str]]) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def open(self, timeout: float = 30) -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(self.command(self.port), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                error = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                raise Failure(f"ssh tunnel exited (rc={self.process.returncode}): {error.strip()[-300:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return self.port
            time.sleep(0.2)
        self.close()
        raise Failure(f"ssh tunnel did not listen on 127.0.0.1:{self.port} within {timeout:.0f}s")

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


class KubeSystem:
    """The Kubernetes API as the writer's target: a client writing keys into one ConfigMap.

    The client writes through the HA endpoint a workload sees: by default the local load
    balancer (127.0.0.1:6543) of a node that is not faulted, reached from the controller over an
    SSH tunnel (`kube_client_via: tunnel`), one new TCP+TLS connection per write, so the load
    balancer spreads the writes over the apiservers like fresh client connections. With
    `kube_client_via: direct` the controller writes to the surviving apiservers itself and moves
    to the next one after an error (a client with a list of endpoints). Each write is a JSON
    merge patch adding one key to the run's ConfigMap in namespace stackbench-ha; acknowledged =
    HTTP 200. Reads back are GETs (quorum reads from etcd) through each apiserver directly.
    """

    supports_writes = True
    healthy_modes: tuple[str, ...] = ("leader", "follower")
    rejoined_modes: tuple[str, ...] = ("follower",)

    def __init__(self, name: str, members: dict[str, str], port: int, timeout: float, credentials: dict[str, Any],
                 tmp: Path, hostvars: Any, groups: dict[str, list[str]], runner: HostRunner,
                 args: dict[str, Any]) -> None:
        self.name, self.members, self.port, self.timeout = name, members, port, timeout
        self.context = F.kube_ssl_context(credentials, str(tmp))
        self.hostvars, self.groups, self.runner = hostvars, groups, runner
        self.via = args.get("kube_client_via", "tunnel")
        if self.via not in ("tunnel", "direct"):
            raise Failure(f"unknown kube_client_via {self.via!r}: use tunnel or direct")
        self.endpoint_host: str | None = args.get("endpoint_host")
        self.endpoint_port = int(args.get("endpoint_port", 6543))
        self.run = uuid.uuid4().hex[:10]
        self.configmap = f"/api/v1/namespaces/{KUBE_NAMESPACE}/configmaps/ha-{self.run}"
        self.write_timeout = 1.0
        self.settings: dict[str, Any] = {}
        self.figures: dict[str, Any] = {}
        self.tunnel: SshTunnel | None = None
        self.endpoints: list[str] = []
        self.current = 0
        self.read_order = list(members)

    # -- plumbing
    def base(self, host: str) -> str:
        return f"https://{self.members[host]}:{self.port}"

    def api(self, base: str, path: str, method: str = "GET", body: Any = None, timeout: float = 2.0,
            content_type: str = "application/json") -> tuple[int, Any]:
        return _http_json(base + path, timeout, method, body, context=self.context, content_type=content_type)

    def api_any(self, path: str, method: str = "GET", body: Any = None, timeout: float = 1.0) -> tuple[int, Any]:
        """Through the first apiserver that answers below 500; the one that did is tried first next time."""
        status, reply = 0, "no apiserver"
        for host in list(self.read_order):
            status, reply = self.api(self.base(host), path, method, body, timeout)
            if 0 < status < 500:
                self.read_order.remove(host)
                self.read_order.insert(0, host)
                return status, reply
        return status, reply

    def setup_call(self, path: str, body: Any, ok: tuple[int, ...], what: str) -> None:
        """POST through the writer's endpoints (the first that answers); Failure unless the status is in `ok`."""
        status, reply = 0, "no endpoint"
        for base in self.endpoints:
            status, reply = self.api(base, path, "POST", body, 10.0)
            if status:
                break
        if status not in ok:
            raise Failure(f"cannot create {what}: HTTP {status} {str(reply)[:200]}")

    def ready(self, host: str) -> str | None:
        status, _ = self.api(self.base(host), "/readyz", timeout=1.0)
        return None if status == 0 else "serving" if F.apiserver_ready(status) else "not ready"

    def service_active(self, host: str, service: str) -> bool:
        rc, _, _ = self.runner.shell(host, f"systemctl is-active --quiet {shlex.quote(service)}")
        return rc == 0

    # -- the writer's side
    def connect(self, hosts: list[str]) -> None:
        avoid = [h for h in self.members if h not in hosts]
        if self.via == "direct":
            self.endpoints = [self.base(h) for h in hosts]
            self.figures["client_view"] = "direct to the surviving apiservers: " + ", ".join(hosts)
        else:
            nodes = list(self.groups.get("kube_nodes") or []) or list(self.members)
            endpoint = self.endpoint_host or F.choose_endpoint_host(nodes, list(self.members), avoid)
            if endpoint is None or endpoint in avoid:
                raise Failure(f"no node to write through that is not faulted (nodes: {', '.join(nodes)})")
            self.endpoint_host = endpoint
            self.tunnel = SshTunnel(lambda port: ssh_tunnel_command(self.hostvars[endpoint], endpoint, port,
                                                                    self.endpoint_port))
            self.endpoints = [f"https://127.0.0.1:{self.tunnel.open(self.timeout)}"]
            self.figures["client_view"] = f"{endpoint}'s local load balancer 127.0.0.1:{self.endpoint_port}"
            rc, out, _ = self.runner.shell(endpoint, "cat /etc/haproxy/haproxy.cfg", become=True)
            try:  # no bounds rather than no run when the balancer is not the one roles/kube_apiserver_lb sets up
                if rc == 0:
                    self.settings.update({f"lb_{k}": v for k, v in F.haproxy_settings(out).items()})
            except F.ParseError as exc:
                self.figures["lb_settings_error"] = str(exc)
        self.setup_call("/api/v1/namespaces", {"metadata": {"name": KUBE_NAMESPACE}}, (201, 409),
                        f"namespace {KUBE_NAMESPACE}")
        collection, name = self.configmap.rsplit("/", 1)
        self.setup_call(collection, {"metadata": {"name": name, "labels": {"stackbench-ha": self.run}}, "data": {}},
                        (201,), f"ConfigMap {name}")

    def write(self, key: str, value: bytes) -> None:
        base = self.endpoints[self.current % len(self.endpoints)]
        status, body = self.api(base, self.configmap, "PATCH", {"data": {key: value.decode()}}, self.write_timeout,
                                "application/merge-patch+json")
        if status == 200:
            return
        self.current += 1  # direct: the next apiserver; tunnel: the same endpoint
        if status == 0:
            raise (TimeoutError if "timed out" in str(body) else ConnectionError)(str(body)[:120])
        raise ConnectionError(f"HTTP {status}: {str(body)[:120]}")

    def keys_on(self, host: str) -> list[str] | None:
        status, body = self.api(self.base(host), self.configmap, timeout=10.0)
        if status != 200 or not isinstance(body, dict):
            return None
        return F.configmap_keys(body)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):  # best effort: the namespace stays for the next run
            self.api_any(self.configmap, "DELETE", timeout=5.0)
        if self.tunnel is not None:
            self.tunnel.close()

    def lb_bounds(self) -> dict[str, float]:
        lb = {k[3:]: v for k, v in self.settings.items() if k.startswith("lb_")}
        return F.apiserver_lb_bounds(lb) if lb else {}


class KubeApiserverSystem(KubeSystem):
    """kube-apiserver: no leader, every apiserver serves. The "leader" is the apiserver the fault
    targets (`target`, default the first control-plane host); "new leader" is the HA endpoint
    accepting a write started after the fault; "rejoined" is the old apiserver's /readyz at 200."""

    healthy_modes = ("serving",)
    rejoined_modes = ("serving",)

    def __init__(self, *args: Any, target: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = target or next(iter(self.members))
        if self.target not in self.members:
            raise Failure(f"target {self.target!r} is not in the group ({', '.join(self.members)})")

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        return {h: self.ready(h) for h in hosts}

    def leader(self, hosts: list[str]) -> str | None:
        return self.target if self.target in hosts and self.ready(self.target) == "serving" else None

    def read_settings(self, host: str) -> None:
        pass  # the load balancer's settings are read in connect(), from the node written through

    def bounds(self) -> dict[str, float]:
        return self.lb_bounds()

    @property
    def default_settle_seconds(self) -> float:
        """Keep writing until the load balancer must have taken a silent apiserver out (and 2 s more)."""
        return self.lb_bounds().get("lb_backend_down_silent_max", 1.0) + 2

    def wait_new_leader(self, survivors: list[str], old: str, fault_at: float, writer: Writer,
                        timeout: float) -> tuple[str | None, float | None]:
        """Writable again: the first write started after the fault is acknowledged."""
        ok, seen = wait_for(lambda: writer.acked_since(fault_at), timeout, interval=0.05)
        if not ok:
            return None, None
        first = min(a.ended for a in list(writer.log.attempts) if a.ok and a.started >= fault_at)
        label = f"LB@{self.endpoint_host}" if self.via == "tunnel" else "direct"
        return label, first

    def after_new_leader(self, leader: str, fault_at: float, timeout: float, lost: int = 0) -> dict[str, Any]:
        """Every surviving apiserver's /readyz right after the API is writable again."""
        return {"readyz_after_fault": {h: self.ready(h) for h in self.members if h != self.target}}

    def rejoin_mode(self, host: str) -> str | None:
        return self.ready(host)


class KubeLeaseSystem(KubeSystem):
    """kube-controller-manager / kube-scheduler: the leader holds Lease kube-system/<component>.

    holderIdentity is `<hostname>_<uuid>`: a takeover is a valid lease with another identity (a
    process that systemd restarted on the old host is a new identity too, and is reported so).
    """

    rejoined_modes = ("follower", "leader (restarted on the same host)")

    def __init__(self, *args: Any, lease: str, service: str, pod_image: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{lease}"
        self.service = service
        self.pod_image = pod_image
        self.old_holder: str | None = None
        self.new_holder: str | None = None
        self.pod_path: str | None = None

    def lease(self) -> dict[str, Any] | None:
        status, body = self.api_any(self.lease_path)
        if status != 200 or not isinstance(body, dict):
            return None
        return F.lease_holder(body)

    def holder_host(self, lease: dict[str, Any] | None) -> str | None:
        return F.holder_inventory_host(lease["holder_host"], self.members) if lease else None

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        lease = self.lease()
        holder = self.holder_host(lease) if lease and F.lease_valid(lease, datetime.now(UTC)) else None
        return {h: "leader" if h == holder else "follower" if self.service_active(h, self.service) else None
                for h in hosts}

    def leader(self, hosts: list[str]) -> str | None:
        lease = self.lease()
        if not lease or not F.lease_valid(lease, datetime.now(UTC)):
            return None
        self.old_holder = lease["holder"]
        self.settings["lease-duration"] = float(lease["lease_duration_seconds"])
        host = self.holder_host(lease)
        return host if host in hosts else None

    def read_settings(self, host: str) -> None:
        rc, out, _ = self.runner.shell(host, f"systemctl show -p ExecStart --value {shlex.quote(self.service)}")
        try:
            flags = F.leader_election_settings(out if rc == 0 else "")
        except F.ParseError as exc:
            raise Failure(f"{self.service} on {host}: {exc}") from None
        if "lease-duration" in self.settings:  # what the holder wrote into the lease wins
            flags["lease-duration"] = self.settings["lease-duration"]
        self.settings.update(flags)

    def bounds(self) -> dict[str, float]:
        s = self.settings
        return {**F.lease_bounds(s["lease-duration"], s["retry-period"], s["renew-deadline"]), **self.lb_bounds()} \
            if "retry-period" in s else self.lb_bounds()

    def connect(self, hosts: list[str]) -> None:
        super().connect(hosts)
        if self.pod_image:  # the Pod needs the namespace's default ServiceAccount (admission)
            self.setup_call(f"/api/v1/namespaces/{KUBE_NAMESPACE}/serviceaccounts", {"metadata": {"name": "default"}},
                            (201, 409), "the default ServiceAccount")

    def after_fault(self, fault_at: float) -> None:
        """Scheduler: a Pod created right after the fault waits for the new leader to bind it."""
        if not self.pod_image:
            return
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"ha-sched-{self.run}", "labels": {"stackbench-ha": self.run}},
               "spec": {"containers": [{"name": "pause", "image": self.pod_image, "imagePullPolicy": "IfNotPresent"}],
                        "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                        "tolerations": [{"operator": "Exists"}]}}
        path = f"/api/v1/namespaces/{KUBE_NAMESPACE}/pods"
        status = 0
        for _ in range(20):
            status, _ = self.api(self.endpoints[0], path, "POST", pod, 2.0)
            if status in (201, 409):
                self.pod_path = f"{path}/{pod['metadata']['name']}"
                self.figures["pod_created_after_fault_seconds"] = round(time.time() - fault_at, 3)
                return
            time.sleep(0.25)
        self.figures["pod_create_error"] = f"HTTP {status}"

    def wait_new_leader(self, survivors: list[str], old: str, fault_at: float, writer: Writer,
                        timeout: float) -> tuple[str | None, float | None]:
        def taken_over() -> dict[str, Any] | None:
            lease = self.lease()
            return lease if lease and F.new_lease_holder(lease, self.old_holder, datetime.now(UTC)) else None

        lease, seen = wait_for(taken_over, timeout, interval=0.2)
        if lease is None:
            return None, None
        self.new_holder = lease["holder"]
        acquired = lease["acquire_time"].timestamp() if lease["acquire_time"] else None
        self.figures.update(old_holder_identity=self.old_holder, new_holder_identity=self.new_holder,
                            lease_acquired_after_fault_seconds=None if acquired is None
                            else round(acquired - fault_at, 3),
                            lease_transitions=lease["lease_transitions"])
        return self.holder_host(lease) or lease["holder_host"], seen

    def after_new_leader(self, leader: str, fault_at: float, timeout: float, lost: int = 0) -> dict[str, Any]:
        if not self.pod_path:
            return {}
        pod, seen = wait_for(lambda: (lambda r: F.pod_scheduled(r[1]) if r[0] == 200 and isinstance(r[1], dict)
                                      else None)(self.api_any(self.pod_path)), timeout, interval=0.2)
        return {"pod_scheduled_on": pod,
                "time_to_pod_scheduled_seconds": None if seen is None else round(seen - fault_at, 3)}

    def rejoin_mode(self, host: str) -> str | None:
        if not self.service_active(host, self.service):
            return "inactive"
        lease = self.lease()
        if not lease or lease["holder"] != self.new_holder:
            return f"lease moved on to {lease['holder'] if lease else None}"
        return "follower" if self.holder_host(lease) != host else "leader (restarted on the same host)"

    def cleanup(self) -> None:
        if self.pod_path:
            with contextlib.suppress(Exception):
                self.api_any(self.pod_path + "?gracePeriodSeconds=0", "DELETE", timeout=5.0)
        super().cleanup()


def kube_system(system: str, members: dict[str, str], port: int, timeout: float, hostvars: Any,
                groups: dict[str, list[str]], runner: HostRunner, args: dict[str, Any], tmp: Path) -> KubeSystem:
    """The Kubernetes runner for `system`, with the admin kubeconfig's client certificate."""
    import yaml

    path = Path(args.get("kubeconfig") or DEFAULT_KUBECONFIG)
    try:
        credentials = F.kubeconfig_credentials(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError, F.ParseError) as exc:
        raise Failure(f"cannot use the admin kubeconfig {path}: {exc}") from None
    common = (system, members, port, timeout, credentials, tmp, hostvars, groups, runner, args)
    if system == "kube_apiserver":
        return KubeApiserverSystem(*common, target=args.get("target"))
    pod_image = args.get("kube_pod_image", "registry.k8s.io/pause:3.10") if system == "kube_scheduler" else None
    return KubeLeaseSystem(*common, lease=KUBE_LEASES[system], service=args.get("service") or DEFAULT_SERVICES[system],
                           pod_image=pod_image or None)


# ----- the writer ------------------------------------------------------------------------------

class Writer(threading.Thread):
    """Writes sequential keys as fast as acknowledgements come (with a small pause)."""

    def __init__(self, system: Any, interval: float) -> None:
        super().__init__(daemon=True)
        self.system, self.interval = system, interval
        self.log = F.WriteLog()
        self.stop_event = threading.Event()
        self.seq = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.seq += 1
            key = f"w{self.seq:07d}"
            started = time.time()
            try:
                self.system.write(key, str(started).encode())
                self.log.record(self.seq, key, started, time.time(), True)
            except Exception as exc:  # noqa: BLE001 - every failure is data
                self.log.record(self.seq, key, started, time.time(), False, f"{type(exc).__name__}: {exc}")
                self.stop_event.wait(0.05)
            self.stop_event.wait(self.interval)

    def acked_since(self, moment: float) -> bool:
        return any(a.ok and a.started >= moment for a in list(self.log.attempts))


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> tuple[Any, float | None]:
    """Poll until `predicate()` is truthy; (value, time.time() when seen) or (None, None)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value, time.time()
        time.sleep(interval)
    return None, None


# ----- the action ------------------------------------------------------------------------------

class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("system", "fault", "group", "force", "service", "port", "timeout_seconds",
                             "baseline_seconds", "settle_seconds", "write_interval_seconds", "write_timeout_seconds",
                             "partition_method", "leader_wait_seconds", "target", "kubeconfig", "kube_client_via",
                             "endpoint_host", "endpoint_port", "kube_pod_image",
                             "etcd_ca_cert", "etcd_client_cert", "etcd_client_key", "etcd_pki_dir"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        system = args.get("system")
        fault_kind = args.get("fault", "kill")
        result.update(changed=False, system=system, fault=fault_kind)
        try:
            result.update(self._validate(system, fault_kind, args, task_vars))
        except Failure as exc:
            result.update(failed=True, msg=str(exc))
        return result

    def _validate(self, system: str, fault_kind: str, args: dict[str, Any],
                  task_vars: dict[str, Any]) -> dict[str, Any]:
        if system not in F.SYSTEMS:
            raise Failure(f"unknown system {system!r}: use one of {', '.join(F.SYSTEMS)}")
        if system not in IMPLEMENTED:
            raise Failure(f"system {system!r} is not implemented yet (implemented: {', '.join(IMPLEMENTED)})")
        if fault_kind not in F.FAULTS:
            raise Failure(f"unknown fault {fault_kind!r}: use one of {', '.join(F.FAULTS)}")
        group = args.get("group") or DEFAULT_GROUPS[system]
        groups = task_vars.get("groups", {})
        hosts = list(groups.get(group) or [])
        if not hosts:
            raise Failure(f"the inventory has no hosts in group {group!r} (needed for {system})")
        hostvars = task_vars["hostvars"]
        members = {h: str(self._address(hostvars[h], system, h)) for h in hosts}
        runner = HostRunner(list(task_vars.get("ansible_inventory_sources") or []))
        return run_failover(system, fault_kind, members, hostvars, runner, args, dict(groups))

    @staticmethod
    def _address(hv: Any, system: str, host: str) -> str:
        return hv["ansible_host"] if "ansible_host" in hv and hv["ansible_host"] else host


def _fetch_etcd_certs(runner: HostRunner, host: str, pki_dir: str, target: Path) -> tuple[str, str, str]:
    paths = []
    for name in ("ca.crt", "member.crt", "member.key"):
        rc, out, err = runner.shell(host, f"base64 -w0 {shlex.quote(pki_dir + '/' + name)}")
        if rc != 0:
            raise Failure(f"cannot read {pki_dir}/{name} on {host} for the etcd client: {err or out}")
        path = target / name
        path.write_bytes(base64.b64decode(out.strip()))
        path.chmod(0o600)
        paths.append(str(path))
    return paths[0], paths[1], paths[2]


def run_failover(system: str, fault_kind: str, members: dict[str, str], hostvars: Any, runner: HostRunner,
                 args: dict[str, Any], groups: dict[str, list[str]] | None = None) -> dict[str, Any]:
    timeout = float(args.get("timeout_seconds", 90))
    hosts = list(members)
    service = args.get("service") or DEFAULT_SERVICES[system]
    with tempfile.TemporaryDirectory(prefix="stackbench-ha-") as tmp:
        port = int(args.get("port") or DEFAULT_PORTS[system])
        if system.startswith("kube_"):
            client: Any = kube_system(system, members, port, timeout, hostvars, dict(groups or {}), runner, args,
                                      Path(tmp))
        elif system == "zookeeper":
            client = ZooKeeperSystem(members, port, timeout)
        elif system == "mesos_masters":
            client = MesosMastersSystem(members, port, timeout)
        elif system == "marathon":
            client = MarathonSystem(members, port, timeout)
        else:
            ca, cert, key = args.get("etcd_ca_cert"), args.get("etcd_client_cert"), args.get("etcd_client_key")
            if not (ca and cert and key):
                source = next(iter(hosts))
                ca, cert, key = _fetch_etcd_certs(runner, source, args.get("etcd_pki_dir", "/etc/etcd/pki"),
                                                  Path(tmp))
            client = EtcdSystem(members, port, timeout, ca, cert, key)

        try:
            # 1. who leads, is it safe to take it down?
            modes = client.modes(hosts)
            answering = [h for h, m in modes.items() if m is not None]
            if not answering:
                raise Failure(f"no {system} member answered ({', '.join(f'{h}={members[h]}' for h in hosts)}): "
                              "unreachable endpoints or the service is down")
            leader = client.leader(hosts)
            wait = float(args.get("leader_wait_seconds", 0))
            if leader is None and wait > 0:  # e.g. still recovering from an earlier fault
                leader, _ = wait_for(lambda: client.leader(hosts), wait, interval=0.5)
                modes = client.modes(hosts)
            if leader is None:
                raise Failure(f"{system}: no single leader to begin with (modes: {modes})")
            healthy = sum(1 for m in modes.values() if m in getattr(client, "healthy_modes", ("leader", "follower")))
            ok, why = F.fault_decision(system, len(hosts), healthy, 1, bool(args.get("force", False)))
            if not ok:
                raise Failure(why)
            survivors = [h for h in hosts if h != leader]
            if system != "etcd":
                client.read_settings(leader)
            else:
                rc, out, _ = runner.shell(leader, "grep -h -E '^ETCD_(ELECTION_TIMEOUT|HEARTBEAT_INTERVAL)=' "
                                                  "/etc/etcd/*.env /etc/default/etcd 2>/dev/null; true")
                client.settings = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

            # 2. marker and the writer
            writes = getattr(client, "supports_writes", True)
            client.connect(survivors)
            client.write_timeout = float(args.get("write_timeout_seconds", 1.0))
            marker = "marker"
            if writes:
                client.write(marker, b"stackbench ha marker")
            # each Marathon write is an app; each Kubernetes write a new TLS connection from this controller
            default_interval = 0.1 if system == "marathon" else 0.05 if system.startswith("kube_") else 0.02
            writer = Writer(client, float(args.get("write_interval_seconds", default_interval)))
            if writes:
                writer.start()
            time.sleep(float(args.get("baseline_seconds", 2)))
            lab = hostvars[leader].get("stackbench_lab")
            method = args.get("partition_method", "auto")
            if method not in ("auto", "lab", "iptables"):
                raise Failure(f"unknown partition_method {method!r}: use auto, lab or iptables")
            if method == "iptables":
                lab = None
            elif method == "lab" and not lab:
                raise Failure(f"partition_method=lab but {leader} has no stackbench_lab variable")
            fault = Fault(fault_kind, leader, service, runner, lab, leader)
            new_leader = new_leader_at = rejoined = rejoin_seconds = None
            extra: dict[str, Any] = {}
            heal_error = fault_error = None
            healed_at: float | None = None
            fault_at = time.time()
            try:
                # 3. the fault
                fault_at = fault.inject()
                if hasattr(client, "after_fault"):
                    client.after_fault(fault_at)
                # 4. a new leader among the survivors, and writes again
                if hasattr(client, "wait_new_leader"):
                    new_leader, new_leader_at = client.wait_new_leader(survivors, leader, fault_at, writer, timeout)
                else:
                    new_leader, new_leader_at = wait_for(
                        lambda: (lead if (lead := client.leader(survivors)) and lead != leader else None), timeout)
                if new_leader and hasattr(client, "after_new_leader"):
                    cut_off = int(fault_kind == "partition" and leader in set((groups or {}).get("mesos_agents", [])))
                    extra = client.after_new_leader(new_leader, fault_at, timeout, cut_off)
                if writes:
                    wait_for(lambda: writer.acked_since(fault_at), timeout)
                time.sleep(float(args.get("settle_seconds", getattr(client, "default_settle_seconds", 3))))
            except Failure as exc:
                fault_error = str(exc)
            finally:
                writer.stop_event.set()
                if writer.is_alive():
                    writer.join(timeout=10)
                # 6. heal, always
                try:
                    fault.heal()
                    healed_at = time.time()
                except Failure as exc:
                    heal_error = str(exc)
            if fault_error:
                raise Failure(fault_error + (f"; healing failed too: {heal_error}" if heal_error
                                             else "; the fault was healed"))
            if healed_at is not None:
                # Wait for "follower": a partitioned old leader may still claim leadership for a
                # while after the heal (a stale leader), which is worth reporting, not accepting.
                last_mode: list[str | None] = [None]
                mode_of = getattr(client, "rejoin_mode", lambda host: client.modes([host])[host])
                wanted_modes = getattr(client, "rejoined_modes", ("follower",))

                def rejoined_as_follower() -> bool:
                    last_mode[0] = mode_of(leader)
                    return last_mode[0] in wanted_modes

                ok_rejoin, seen_at = wait_for(rejoined_as_follower, timeout, interval=0.25)
                rejoined = last_mode[0]
                rejoin_seconds = None if seen_at is None else seen_at - healed_at

            # 5. the marker and every acknowledged write, on every member that answers
            acknowledged = writer.log.acknowledged_keys()
            present = {h: client.keys_on(h) for h in hosts} if writes else {}
            lost = F.lost_writes(acknowledged, present)
            marker_ok = {h: marker in keys for h, keys in present.items() if keys is not None}
        finally:
            client.cleanup()
        summary = F.summarize(system=system, fault=fault_kind, old_leader=leader, new_leader=new_leader,
                              fault_at=fault_at, new_leader_at=new_leader_at, log=writer.log, lost=lost,
                              marker_ok=marker_ok, rejoined_as=rejoined, rejoin_seconds=rejoin_seconds,
                              bounds=client.bounds())
        summary.update(extra)
        summary.update(getattr(client, "figures", {}))
        if not writes:  # nothing was written: no write figures, rather than misleading zeros
            for key in ("write_unavailable_seconds", "first_ack_after_fault_seconds", "max_ack_gap_seconds",
                        "lost_acknowledged_writes", "marker_survived"):
                summary[key] = None
            summary["writes_note"] = f"{system}: no client writes (no public write API to its replicated state)"
        summary["members_unreadable"] = sorted(h for h, keys in present.items() if keys is None)
        summary["decision"] = why
        summary["fault_command_seconds"] = None if fault.command_seconds is None else round(fault.command_seconds, 3)
        summary["fault_time_source"] = fault.time_source
        summary["host_connection"] = context.CLIARGS.get("connection") or "default"
        wanted = ("tickTime", "initLimit", "syncLimit", "minSessionTimeout", "maxSessionTimeout",
                  "ETCD_ELECTION_TIMEOUT", "ETCD_HEARTBEAT_INTERVAL", "zk_session_timeout", "zk_timeout", "quorum",
                  "lease-duration", "renew-deadline", "retry-period", "lb_inter", "lb_fall", "lb_rise",
                  "lb_timeout_connect", "lb_timeout_check", "lb_retries")
        summary["settings"] = {k: v for k, v in client.settings.items() if k in wanted}
        problems = []
        if heal_error:
            problems.append(heal_error)
        if new_leader is None:
            problems.append(f"no new leader among {', '.join(survivors)} within {timeout:.0f}s")
        if summary["lost_acknowledged_writes"]:
            problems.append(f"{summary['lost_acknowledged_writes']} acknowledged writes were lost")
        if writes and not summary["marker_survived"]:
            problems.append("the marker is missing on some member")
        if extra.get("agents_active_before") and extra.get("time_to_agents_reregistered_seconds") is None:
            problems.append("the agents did not all re-register with the new leader in time")
        if rejoined not in getattr(client, "rejoined_modes", ("follower",)):
            problems.append(f"old leader {leader} rejoined as {rejoined!r}, not as a follower")
        if "pod_scheduled_on" in summary and not summary["pod_scheduled_on"]:
            problems.append("the Pod created after the fault was not scheduled in time")
        if summary.get("pod_create_error"):
            problems.append(f"could not create the Pod after the fault: {summary['pod_create_error']}")
        if summary["members_unreadable"]:
            problems.append(f"members not readable after the run: {', '.join(summary['members_unreadable'])}")
        summary["problems"] = problems
        summary["passed"] = not problems
        return summary
