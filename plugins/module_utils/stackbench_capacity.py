"""Capacity of a node: what the machine has and what the cluster offers to workloads on it.

Pure functions (parsing, arithmetic, merging, formatting), shared by the `node_capacity`
module (on hosts) and the capacity report filters (on the controller). No Ansible imports,
so the unit tests run without hosts.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

MIB = 1024 * 1024

# ----- the machine ---------------------------------------------------------------------------


def parse_meminfo(text: str) -> dict[str, int]:
    """`/proc/meminfo` → `memory_total_bytes`, `memory_available_bytes` (kB lines are KiB)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if not fields:
            continue
        number = int(fields[0])
        if len(fields) > 1 and fields[1].lower() == "kb":
            number *= 1024
        values[key.strip()] = number
    if "MemTotal" not in values:
        raise ValueError("no MemTotal line in /proc/meminfo")
    available = values.get("MemAvailable")
    if available is None:  # kernels before 3.14
        available = values.get("MemFree", 0) + values.get("Buffers", 0) + values.get("Cached", 0)
    return {"memory_total_bytes": values["MemTotal"], "memory_available_bytes": available}


def cgroup_cpu_limit(quota_text: str | None, period_text: str | None = None) -> float | None:
    """CPU limit from cgroup v2 `cpu.max` ("max 100000", "200000 100000") or v1 quota+period."""
    if quota_text is None:
        return None
    parts = quota_text.split()
    if not parts or parts[0] in ("max", "-1"):
        return None
    quota = int(parts[0])
    period = int(parts[1]) if len(parts) > 1 else int((period_text or "100000").strip())
    return quota / period if period > 0 else None


def existing_ancestor(path: str, exists: Callable[[str], bool] = os.path.exists) -> str:
    """The path itself, or its closest existing parent (a data dir may not exist yet)."""
    current = os.path.abspath(path)
    while not exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def filesystems(paths: Iterable[str], stat: Callable[[str], Any] = os.stat,
                statvfs: Callable[[str], Any] = os.statvfs,
                exists: Callable[[str], bool] = os.path.exists) -> list[dict[str, Any]]:
    """Size and free space of the filesystems holding `paths`, one entry per filesystem.

    Two data dirs on the same filesystem share its space, so they are counted once
    (deduplicated by device number); each entry lists the paths it holds.
    """
    by_device: dict[int, dict[str, Any]] = {}
    for path in paths:
        probe = existing_ancestor(path, exists)
        device = stat(probe).st_dev
        entry = by_device.get(device)
        if entry is None:
            vfs = statvfs(probe)
            entry = {
                "paths": [],
                "device": device,
                "size_bytes": vfs.f_blocks * vfs.f_frsize,
                "free_bytes": vfs.f_bfree * vfs.f_frsize,
                "available_bytes": vfs.f_bavail * vfs.f_frsize,
            }
            by_device[device] = entry
        if path not in entry["paths"]:
            entry["paths"].append(path)
    return list(by_device.values())


# ----- Kubernetes ------------------------------------------------------------------------------

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


# ----- Mesos -----------------------------------------------------------------------------------

def _mesos_resources(resources: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    """Mesos resource JSON: cpus, gpus, mem and disk (MB) → cores, count, bytes; ports kept as text."""
    resources = resources or {}
    out: dict[str, Any] = {
        f"{prefix}_cpus": float(resources.get("cpus", 0)),
        f"{prefix}_gpus": float(resources.get("gpus", 0)),
        f"{prefix}_mem_bytes": int(round(float(resources.get("mem", 0)) * MIB)),
        f"{prefix}_disk_bytes": int(round(float(resources.get("disk", 0)) * MIB)),
    }
    if "ports" in resources:
        out[f"{prefix}_ports"] = resources["ports"]
    return out


def _sum_resources(groups: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for group in groups:
        for key in ("cpus", "gpus", "mem", "disk"):
            total[key] = total.get(key, 0.0) + float(group.get(key, 0) or 0)
    return total


def parse_mesos_agent_state(document: Mapping[str, Any]) -> dict[str, Any]:
    """An agent's own `/state`: advertised resources and what frameworks hold on it."""
    if "resources" not in document:
        raise ValueError("not a Mesos agent /state document (no 'resources')")
    entry: dict[str, Any] = {"mesos_agent_id": document.get("id"), "hostname": document.get("hostname")}
    entry.update(_mesos_resources(document["resources"], "mesos_resources"))
    allocated = [document.get("unreserved_resources_allocated") or {}]
    allocated += list((document.get("reserved_resources_allocated") or {}).values())
    entry.update(_mesos_resources(_sum_resources(allocated), "mesos_used"))
    return entry


def parse_mesos_slaves(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The master's `/master/slaves` or `/master/state` → {agent hostname: resources and used}."""
    if "slaves" not in document:
        raise ValueError("not a Mesos /master/slaves or /master/state document (no 'slaves')")
    agents: dict[str, dict[str, Any]] = {}
    for slave in document["slaves"]:
        entry: dict[str, Any] = {"mesos_agent_id": slave.get("id"), "hostname": slave.get("hostname"),
                                 "mesos_active": bool(slave.get("active", True))}
        entry.update(_mesos_resources(slave.get("resources"), "mesos_resources"))
        entry.update(_mesos_resources(slave.get("used_resources"), "mesos_used"))
        pid = slave.get("pid", "")
        entry["addresses"] = [pid.split("@", 1)[1].rsplit(":", 1)[0]] if "@" in pid else []
        agents[slave["hostname"]] = entry
    return agents


# ----- the report ------------------------------------------------------------------------------

def merge_views(hosts: Mapping[str, Mapping[str, Any]],
                cluster_views: Iterable[Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One row per inventory host: its own figures joined with each cluster's view of it.

    A cluster entry matches a host by name (node name, agent hostname) or by any address the
    host reported (`addresses`). Cluster nodes that match no host get rows of their own.
    """
    rows = {name: {"host": name, **{k: v for k, v in data.items() if k != "addresses"}}
            for name, data in hosts.items()}
    lookup: dict[str, str] = {}
    for name, data in hosts.items():
        lookup[name] = name
        for address in data.get("addresses", []) or []:
            lookup.setdefault(str(address), name)
        for extra in ("hostname", "fqdn"):
            if data.get(extra):
                lookup.setdefault(str(data[extra]), name)
    for view in cluster_views:
        for node_name, node in view.items():
            keys = [node_name, node.get("hostname") or "", *node.get("addresses", [])]
            host = next((lookup[k] for k in keys if k in lookup), None)
            fields = {k: v for k, v in node.items() if k not in ("addresses", "name", "hostname")}
            if host is None:
                host = node_name
                rows.setdefault(host, {"host": host})
            rows[host].update(fields)
    return [rows[name] for name in sorted(rows)]


TABLE_COLUMNS = (
    ("host", "host", None),
    ("cpus", "logical_cpus", None),
    ("mem GiB", "memory_total_bytes", 2**30),
    ("avail GiB", "memory_available_bytes", 2**30),
    ("disk GiB", "disk_size_bytes", 2**30),
    ("free GiB", "disk_available_bytes", 2**30),
    ("k8s cpu cap/alloc", ("kubernetes_capacity_cpu_cores", "kubernetes_allocatable_cpu_cores"), None),
    ("k8s mem GiB cap/alloc", ("kubernetes_capacity_memory_bytes", "kubernetes_allocatable_memory_bytes"),
     2**30),
    ("mesos cpus res/used", ("mesos_resources_cpus", "mesos_used_cpus"), None),
    ("mesos mem GiB res/used", ("mesos_resources_mem_bytes", "mesos_used_mem_bytes"), 2**30),
)


def _cell(value: Any, scale: int | None) -> str:
    if value is None:
        return "-"
    if scale:
        return f"{value / scale:.1f}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_table(rows: list[Mapping[str, Any]]) -> str:
    """A fixed-width text table; columns with no data in any row are left out."""
    columns = []
    for title, key, scale in TABLE_COLUMNS:
        keys = key if isinstance(key, tuple) else (key,)
        if any(row.get(k) is not None for row in rows for k in keys):
            columns.append((title, keys, scale))
    lines = [[title for title, _, _ in columns]]
    for row in rows:
        lines.append(["/".join(_cell(row.get(k), scale) for k in keys) for _, keys, scale in columns])
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in lines]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


def _scalar_or_list(value: Any) -> bool:
    if isinstance(value, dict):
        return False
    return not (isinstance(value, list) and any(isinstance(v, dict | list) for v in value))


def host_rows(results: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """`node_capacity` host-view results per host → the fields a report row takes.

    The module's bookkeeping keys go; an agent's own Mesos view is flattened into the row.
    """
    rows: dict[str, dict[str, Any]] = {}
    for host, result in results.items():
        row = {k: v for k, v in result.items()
               if k not in ("changed", "failed", "invocation", "mesos_agent", "warnings", "deprecations")}
        agent = result.get("mesos_agent") or {}
        row.update({k: v for k, v in agent.items() if k.startswith("mesos_")})
        rows[host] = row
    return rows


def to_csv(rows: list[Mapping[str, Any]]) -> str:
    """CSV with the union of all scalar keys (host first); lists of scalars are joined with ';'."""
    keys: list[str] = ["host"]
    for row in rows:
        keys += [k for k, v in row.items() if k not in keys and _scalar_or_list(v)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ";".join(map(str, v)) if isinstance(v, list) else v
                         for k, v in row.items() if k in keys})
    return buffer.getvalue()
