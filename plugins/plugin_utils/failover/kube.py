"""The Kubernetes API as the writer's target, shared by the apiserver and the leader-elected
components: a client writing keys into one ConfigMap through the HA endpoint a workload sees.

By default the client writes through the local load balancer (127.0.0.1:6543) of a node that is
not faulted, reached from the controller over an SSH tunnel (`kube_client_via: tunnel`), one new
TCP+TLS connection per write, so the load balancer spreads the writes over the apiservers like
fresh client connections. With `kube_client_via: direct` the controller writes to the surviving
apiservers itself and moves to the next one after an error (a client with a list of endpoints).
Each write is a JSON merge patch adding one key to the run's ConfigMap in namespace stackbench-ha;
acknowledged = HTTP 200. Reads back are GETs (quorum reads from etcd) through each apiserver directly.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.json_http import http_json
from ansible_collections.stackbench.cluster.plugins.module_utils.kubernetes import (
    apiserver_ready,
    configmap_keys,
    kube_ssl_context,
    read_kubeconfig,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import Cluster, Failure, System
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.hosts import SshTunnel, ssh_tunnel_command

KUBE_NAMESPACE = "stackbench-ha"
# roles/kubernetes_control_plane writes it there (kubernetes_admin_kubeconfig), credentials embedded.
DEFAULT_KUBECONFIG = Path(__file__).resolve().parents[3] / ".stackbench" / "stackbench-kubernetes-admin.kubeconfig"


def haproxy_settings(config: str) -> dict[str, float]:
    """The health-check and retry settings of an HAProxy config (roles/kube_apiserver_lb), in seconds."""
    out: dict[str, float] = {}
    for raw in config.splitlines():
        words = raw.split("#", 1)[0].split()
        if words[:2] in (["timeout", "connect"], ["timeout", "check"]) and len(words) > 2:
            out[f"timeout_{words[1]}"] = _haproxy_time(words[2])
        elif words[:1] == ["retries"] and len(words) > 1:
            out["retries"] = float(words[1])
        elif words[:1] in (["default-server"], ["server"]):
            for key in ("inter", "fall", "rise"):
                if key in words[:-1]:
                    value = words[words.index(key) + 1]
                    out[key] = _haproxy_time(value) if key == "inter" else float(value)
    return out


def _haproxy_time(value: str) -> float:
    """HAProxy times: a bare number is milliseconds; units us, ms, s, m, h, d."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?", value)
    if not match:
        raise ParseError(f"not an HAProxy time: {value!r}")
    scale = {"us": 1e-6, "ms": 1e-3, None: 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    return float(match.group(1)) * scale[match.group(2)]


def apiserver_lb_bounds(settings: Mapping[str, float]) -> dict[str, float]:
    """What the local load balancer's settings imply for a client when one apiserver goes.

    A refused connection (process gone, host up) is retried and redispatched at once; the
    backend is taken out after `fall` failed checks `inter` apart. A silent backend (partition)
    fails each check only after `timeout check`, and a connection sent to it waits up to
    `timeout connect` per try before the redispatch.
    """
    inter, fall = settings.get("inter", 2.0), settings.get("fall", 3.0)
    check = settings.get("timeout_check", settings.get("timeout_connect", inter))
    out = {"lb_check_interval": inter,
           "lb_backend_down_refused_max": round(inter * fall, 3),
           "lb_backend_down_silent_max": round(fall * (inter + check), 3)}
    if "timeout_connect" in settings:
        out["lb_connect_timeout"] = settings["timeout_connect"]
    return out


def choose_endpoint_host(nodes: list[str], control_plane: list[str], avoid: Iterable[str]) -> str | None:
    """The node whose local API endpoint a client writes through: not faulted, a worker if there is one."""
    avoid = set(avoid)
    candidates = [n for n in nodes if n not in avoid]
    workers = [n for n in candidates if n not in control_plane]
    return (workers or candidates or [None])[0]


def admin_credentials(kubeconfig: str | None) -> dict[str, Any]:
    """The admin kubeconfig's client certificate (default: where roles/kubernetes_control_plane writes it)."""
    import yaml

    path = Path(kubeconfig or DEFAULT_KUBECONFIG)
    try:
        return read_kubeconfig(str(path), loads=yaml.safe_load)
    except (OSError, yaml.YAMLError, ParseError) as exc:
        raise Failure(f"cannot use the admin kubeconfig {path}: {exc}") from None


class KubeSystem(System):
    """What the Kubernetes systems share: the API client, the ConfigMap writer, the load balancer's bounds."""

    default_group = "kube_control_plane"
    default_port = 6443
    majority = False  # every apiserver serves; a standby controller manager or scheduler takes over
    write_interval = 0.05  # each write is a new TLS connection from this controller

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        args = cluster.args
        self.context = kube_ssl_context(admin_credentials(args.get("kubeconfig")), str(cluster.tmp))
        self.hostvars, self.groups, self.runner = cluster.hostvars, cluster.groups, cluster.runner
        self.via: str = args["kube_client_via"]
        self.endpoint_host: str | None = args.get("endpoint_host")
        self.endpoint_port = int(args["endpoint_port"])
        self.run = uuid.uuid4().hex[:10]
        self.configmap = f"/api/v1/namespaces/{KUBE_NAMESPACE}/configmaps/ha-{self.run}"
        self.tunnel: SshTunnel | None = None
        self.endpoints: list[str] = []
        self.current = 0
        self.read_order = list(self.members)

    # -- plumbing
    def base(self, host: str) -> str:
        return f"https://{self.members[host]}:{self.port}"

    def api(self, base: str, path: str, method: str = "GET", body: Any = None, timeout: float = 2.0,
            content_type: str = "application/json") -> tuple[int, Any]:
        return http_json(base + path, timeout, method, body, context=self.context, content_type=content_type)

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
        return None if status == 0 else "serving" if apiserver_ready(status) else "not ready"

    def service_active(self, host: str, service: str) -> bool:
        if self.runner is None:
            return False
        rc, _, _ = self.runner.shell(host, f"systemctl is-active --quiet {shlex.quote(service)}")
        return rc == 0

    # -- the writer's side
    def connect(self, hosts: list[str]) -> None:
        avoid = [h for h in self.members if h not in hosts]
        if self.via == "direct":
            self.endpoints = [self.base(h) for h in hosts]
            self.figures["client_view"] = "direct to the surviving apiservers: " + ", ".join(hosts)
        else:
            self._connect_through_node(avoid)
        self.setup_call("/api/v1/namespaces", {"metadata": {"name": KUBE_NAMESPACE}}, (201, 409),
                        f"namespace {KUBE_NAMESPACE}")
        collection, name = self.configmap.rsplit("/", 1)
        self.setup_call(collection, {"metadata": {"name": name, "labels": {"stackbench-ha": self.run}}, "data": {}},
                        (201,), f"ConfigMap {name}")

    def _connect_through_node(self, avoid: list[str]) -> None:
        nodes = list(self.groups.get("kube_nodes") or []) or list(self.members)
        endpoint = self.endpoint_host or choose_endpoint_host(nodes, list(self.members), avoid)
        if endpoint is None or endpoint in avoid:
            raise Failure(f"no node to write through that is not faulted (nodes: {', '.join(nodes)})")
        self.endpoint_host = endpoint
        self.tunnel = SshTunnel(lambda port: ssh_tunnel_command(self.hostvars[endpoint], endpoint, port,
                                                                self.endpoint_port))
        self.endpoints = [f"https://127.0.0.1:{self.tunnel.open(self.timeout)}"]
        self.figures["client_view"] = f"{endpoint}'s local load balancer 127.0.0.1:{self.endpoint_port}"
        if self.runner is None:
            return
        rc, out, _ = self.runner.shell(endpoint, "cat /etc/haproxy/haproxy.cfg", become=True)
        try:  # no bounds rather than no run when the balancer is not the one roles/kube_apiserver_lb sets up
            if rc == 0:
                self.settings.update({f"lb_{k}": v for k, v in haproxy_settings(out).items()})
        except ParseError as exc:
            self.figures["lb_settings_error"] = str(exc)

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
        return configmap_keys(body)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):  # best effort: the namespace stays for the next run
            self.api_any(self.configmap, "DELETE", timeout=5.0)
        if self.tunnel is not None:
            self.tunnel.close()

    def lb_bounds(self) -> dict[str, float]:
        lb = {k[3:]: v for k, v in self.settings.items() if k.startswith("lb_")}
        return apiserver_lb_bounds(lb) if lb else {}
