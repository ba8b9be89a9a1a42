"""What a node has: logical CPUs and a cgroup CPU limit, memory from /proc/meminfo, and the
filesystems holding the services' data dirs.

Runs on managed hosts (the node_capacity module); standard library only, so the unit tests run
without hosts. The clusters' views of a node are parsed in kubernetes.py and mesos.py; the report
(rows, table, CSV) is controller side, in plugin_utils/capacity_results.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any


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
