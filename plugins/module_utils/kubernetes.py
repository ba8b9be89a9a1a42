"""Kubernetes API objects and settings: Node lists (capacity, allocatable) and resource quantities,
Lease holders and their validity, apiserver readiness, ConfigMap keys, a Pod's node, a kubeconfig's
credentials read as kubectl reads them and the TLS context they make, Go durations and the
leader-election flags of a component's command line.

One parser for the node_capacity module (on hosts), the failover runs and the compare evaluator
(on the controller); standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError, release

# ----- resources (Node list) -------------------------------------------------------------------

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource Quantity (`3920Mi`, `2`, `1500m`, `16Gi`, `1e3`) as an exact Decimal."""
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise ValueError(f"not a Kubernetes quantity: {value!r}") from None
    return number * _SUFFIX[match.group(2)]


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _k8s_resources(resources: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in resources.items():
        quantity = parse_quantity(raw)
        if name == "cpu":
            out[f"{prefix}_cpu_cores"] = _number(quantity)
        elif name in ("memory", "ephemeral-storage") or name.startswith("hugepages-"):
            out[f"{prefix}_{name.replace('-', '_').lower()}_bytes"] = _number(quantity)
        elif name == "pods":
            out[f"{prefix}_pods"] = _number(quantity)
        else:  # extended resources (nvidia.com/gpu, ...) are counts
            out[f"{prefix}_{re.sub(r'[^a-z0-9]+', '_', name.lower())}"] = _number(quantity)
    return out


def parse_kubernetes_nodes(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`GET /api/v1/nodes` (a NodeList) → {node name: capacity, allocatable and the overhead}."""
    if document.get("kind") not in (None, "NodeList"):
        raise ValueError(f"expected a NodeList, got kind {document.get('kind')!r}")
    nodes: dict[str, dict[str, Any]] = {}
    for item in document.get("items", []):
        name = item["metadata"]["name"]
        status = item.get("status", {})
        entry: dict[str, Any] = {"name": name}
        entry.update(_k8s_resources(status.get("capacity", {}), "kubernetes_capacity"))
        entry.update(_k8s_resources(status.get("allocatable", {}), "kubernetes_allocatable"))
        for key in ("cpu_cores", "memory_bytes", "ephemeral_storage_bytes"):
            cap, alloc = entry.get(f"kubernetes_capacity_{key}"), entry.get(f"kubernetes_allocatable_{key}")
            if cap is not None and alloc is not None:
                entry[f"kubernetes_reserved_{key}"] = _number(Decimal(str(cap)) - Decimal(str(alloc)))
        ready = [c for c in status.get("conditions", []) if c.get("type") == "Ready"]
        entry["kubernetes_ready"] = bool(ready) and ready[0].get("status") == "True"
        entry["kubernetes_unschedulable"] = bool(item.get("spec", {}).get("unschedulable", False))
        entry["addresses"] = [a["address"] for a in status.get("addresses", []) if "address" in a]
        info = status.get("nodeInfo", {})
        entry["kubelet_version"] = info.get("kubeletVersion")
        entry["container_runtime_version"] = info.get("containerRuntimeVersion")
        nodes[name] = entry
    return nodes


# ----- leader election (Leases) ----------------------------------------------------------------

def _k8s_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def lease_holder(lease: Mapping[str, Any]) -> dict[str, Any]:
    """A coordination.k8s.io/v1 Lease → holder identity, its host, renew time and duration."""
    if lease.get("kind") not in (None, "Lease"):
        raise ParseError(f"expected a Lease, got {lease.get('kind')!r}")
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or None
    return {
        "holder": holder,
        "holder_host": holder.rsplit("_", 1)[0] if holder else None,  # "<hostname>_<uuid>"
        "acquire_time": _k8s_time(spec.get("acquireTime")),
        "renew_time": _k8s_time(spec.get("renewTime")),
        "lease_duration_seconds": int(spec.get("leaseDurationSeconds", 0)),
        "lease_transitions": int(spec.get("leaseTransitions", 0)),
    }


def lease_valid(lease: Mapping[str, Any], now: datetime) -> bool:
    """Whether the holder still owns the lease at `now` (renewTime + leaseDuration in the future)."""
    if not lease["holder"] or lease["renew_time"] is None:
        return False
    return (now - lease["renew_time"]).total_seconds() < lease["lease_duration_seconds"]


def new_lease_holder(lease: Mapping[str, Any], old_holder: str | None, now: datetime) -> str | None:
    """The holder identity of a valid lease that is not `old_holder` (a takeover), else None.

    A restarted process on the old leader's host is a new identity (a new uuid): it counts.
    """
    if lease["holder"] and lease["holder"] != old_holder and lease_valid(lease, now):
        return lease["holder"]
    return None


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_seconds(text: str) -> float:
    """A Go duration flag value (`15s`, `1m0s`, `500ms`, `1h2m3.5s`) in seconds."""
    text = text.strip()
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ParseError(f"not a Go duration: {text!r}")
    return round(sum(float(n) * _GO_UNITS[u] for n, u in parts), 6)


LEADER_ELECTION_DEFAULTS = {"lease-duration": 15.0, "renew-deadline": 10.0, "retry-period": 2.0}


def leader_election_settings(command_line: str) -> dict[str, float]:
    """`--leader-elect-{lease-duration,renew-deadline,retry-period}` from a unit's ExecStart.

    Missing flags take the upstream defaults (15s, 10s, 2s); values are seconds.
    """
    settings = dict(LEADER_ELECTION_DEFAULTS)
    for name in settings:
        match = re.search(rf"--leader-elect-{name}[= ](\S+)", command_line)
        if match:
            settings[name] = go_duration_seconds(match.group(1))
    return settings


# ----- the API: readiness, objects ---------------------------------------------------------------

def apiserver_ready(status: int, body: str = "") -> bool:
    """`/readyz`: ready only on HTTP 200 (automation must check the code, not the text)."""
    return status == 200


def configmap_keys(configmap: Mapping[str, Any]) -> list[str]:
    """The data keys of a ConfigMap (GET /api/v1/namespaces/NS/configmaps/NAME)."""
    if configmap.get("kind") not in (None, "ConfigMap"):
        raise ParseError(f"expected a ConfigMap, got {configmap.get('kind')!r}")
    return sorted((configmap.get("data") or {}).keys())


def pod_scheduled(pod: Mapping[str, Any]) -> str | None:
    """The node a Pod was bound to (spec.nodeName), or None while it is pending scheduling."""
    return (pod.get("spec") or {}).get("nodeName") or None


# ----- credentials -------------------------------------------------------------------------------

def read_kubeconfig(path: str, context: str | None = None, require_client_certificate: bool = True,
                    loads: Callable[[str], Any] = json.loads) -> dict[str, Any]:
    """kubeconfig_credentials() of the kubeconfig file at `path`, its relative paths against the file's directory.

    `loads` parses the text: JSON with the standard library; the controller passes yaml.safe_load (what runs
    on hosts imports nothing beyond the standard library).
    """
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        config = loads(text)
    except Exception as exc:  # noqa: BLE001 - whichever parser it is, its failure is the document's
        raise ParseError(f"{path} is not a kubeconfig: {exc}") from None
    if not isinstance(config, Mapping):
        raise ParseError(f"{path} is not a kubeconfig (no mapping at its top)")
    return kubeconfig_credentials(config, context, os.path.dirname(os.path.abspath(path)),
                                  require_client_certificate)


def kubeconfig_credentials(config: Mapping[str, Any], context: str | None = None, base_dir: str | None = None,
                           require_client_certificate: bool = True) -> dict[str, Any]:
    """A decoded kubeconfig -> what kubectl would connect with for `context` (default: current-context).

    As client-go reads it: the context's cluster and user; `*-data` (base64) overrides the file next to it;
    relative file paths are against `base_dir` (the kubeconfig's directory; read_kubeconfig() sets it);
    tokenFile wins over token; insecure-skip-tls-verify together with a CA is refused. Returns server,
    ca/cert/key (PEM bytes or None), token, insecure, tls_server_name and namespace. Exec and auth-provider
    plugins are not run; with `require_client_certificate` (what the callers' TLS clients use) a user
    without a client certificate and key is refused.
    """
    def named(kind: str, name: str) -> Mapping[str, Any]:
        for item in config.get(kind) or []:
            if item.get("name") == name:
                return item.get(kind[:-1]) or {}
        raise ParseError(f"kubeconfig has no {kind[:-1]} named {name!r}")

    name = context or config.get("current-context")
    if not name:
        raise ParseError("kubeconfig has no current-context (and no context was given)")
    ctx = named("contexts", name)
    cluster, user = named("clusters", ctx.get("cluster", "")), named("users", ctx.get("user", ""))

    def path_of(value: str) -> str:
        return value if base_dir is None or os.path.isabs(value) else os.path.join(base_dir, value)

    def read(value: str) -> bytes:
        try:
            with open(path_of(value), "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise ParseError(f"kubeconfig context {name!r}: cannot read {path_of(value)}: {exc.strerror}") from None

    def pem(section: Mapping[str, Any], key: str) -> bytes | None:
        if section.get(f"{key}-data"):
            try:
                # newlines are allowed, as Go's decoder skips them; anything else outside base64 is refused
                return base64.b64decode("".join(str(section[f"{key}-data"]).split()), validate=True)
            except (binascii.Error, ValueError):
                raise ParseError(f"kubeconfig context {name!r}: {key}-data is not base64") from None
        return read(section[key]) if section.get(key) else None

    insecure = bool(cluster.get("insecure-skip-tls-verify", False))
    ca = pem(cluster, "certificate-authority")
    if insecure and ca:  # client-go refuses this combination too
        raise ParseError(f"kubeconfig cluster {ctx.get('cluster')!r}: insecure-skip-tls-verify with a "
                         "certificate-authority is not allowed")
    token = read(user["tokenFile"]).decode().strip() if user.get("tokenFile") else user.get("token") or None
    out = {"server": cluster.get("server"), "ca": ca, "cert": pem(user, "client-certificate"),
           "key": pem(user, "client-key"), "token": token, "insecure": insecure,
           "tls_server_name": cluster.get("tls-server-name") or None, "namespace": ctx.get("namespace") or "default"}
    needed = ("server", "cert", "key") if require_client_certificate or not token else ("server",)
    missing = [k for k in needed if not out[k]]
    if missing:
        raise ParseError(f"kubeconfig context {name!r} lacks {', '.join(missing)} (client certificates only)"
                         if require_client_certificate else f"kubeconfig context {name!r} lacks "
                         f"{', '.join(missing)} (a client certificate and key, or a token)")
    return out


def kube_ssl_context(credentials: Mapping[str, Any], key_dir: str) -> ssl.SSLContext:
    """A TLS context from kubeconfig_credentials(): trusts its CA, presents its client certificate.

    The certificate and key go to files in key_dir (0600), as ssl can only load a chain from files.
    """
    ca = credentials.get("ca")
    context = ssl.create_default_context(cadata=ca.decode() if ca else None)
    if credentials.get("insecure"):  # insecure-skip-tls-verify: what kubectl does with it
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if not credentials.get("cert"):  # a token user: no client certificate to present
        return context
    paths = []
    for name in ("cert", "key"):
        path = os.path.join(key_dir, f"kube-client.{name}")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(credentials[name])
        paths.append(path)
    context.load_cert_chain(*paths)
    return context


# ----- version skew (upgrades) -----------------------------------------------------------------


def _release(version: str) -> tuple[int, int, int]:
    return release(version, "a Kubernetes release")


def version_skew_errors(target: str, apiservers: list[str], kubelets: list[str],
                        allow_downgrade: bool = False) -> list[str]:
    """Why moving a cluster whose hosts run `apiservers` and `kubelets` to `target` breaks Kubernetes'
    version-skew policy (one minor release at a time, kubelets at most three minors behind the
    apiservers, no downgrade unless forced); [] when the move is allowed or nothing is installed."""
    wanted = _release(target)
    errors = []
    for kind, installed in (("kube-apiserver", apiservers), ("kubelet", kubelets)):
        releases = sorted({_release(v) for v in installed})
        if releases and wanted < releases[-1] and not allow_downgrade:
            errors.append(f"{target} is older than the installed {kind} {'.'.join(map(str, releases[-1]))}: "
                          "Kubernetes does not support a downgrade (-e kubernetes_allow_downgrade=true forces it)")
        if releases and wanted[:2] > releases[0][:2]:
            oldest = releases[0]
            gap = wanted[1] - oldest[1] if wanted[0] == oldest[0] else 99
            limit = 1 if kind == "kube-apiserver" else 3
            if gap > limit:
                errors.append(
                    f"{'.'.join(map(str, oldest))} -> {target} skips a minor release of {kind}: upgrade one minor "
                    f"at a time (first to {oldest[0]}.{oldest[1] + 1}.x)" if limit == 1 else
                    f"the {kind} {'.'.join(map(str, oldest))} would be more than three minor releases behind "
                    f"{target}: upgrade it first")
    return errors
