"""The capacity report on the controller: `node_capacity` results per host joined with each
cluster's view of its nodes, as rows, a fixed-width table and CSV (plugins/filter/stackbench_report.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any


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
