"""Agent resources: `--resources` parsing, auto-detection (Mesos 1.11 rules), JSON encoding.

Auto-detection (`Containerizer::resources`, `src/slave/constants.hpp`) applies only to
resources absent from `--resources`:
  cpus  all logical CPUs (fallback 1)
  mem   total RAM - 1 GB when total >= 2 GB, else 50 %   (MB, truncated; fallback 1 GB)
  disk  size of the work_dir filesystem - 5 GB when >= 10 GB, else 50 %  (MB; fallback 10 GB)
  ports [31000-32000]
"""

from __future__ import annotations

import json
import os
import re

GB_MB = 1024
DEFAULT_PORTS = "[31000-32000]"
SCALARS = ("cpus", "gpus", "mem", "disk")


class ResourceError(ValueError):
    pass


def from_v1(items: list[dict]) -> dict[str, object]:
    """A v1 `Resource` list (JSON) -> {name: float | range string | set string}; KeyError when malformed."""
    out: dict[str, object] = {}
    for item in items:
        name = item["name"]
        if item.get("type", "SCALAR") == "SCALAR":
            out[name] = float(out.get(name, 0.0)) + float(item["scalar"]["value"])
        elif item["type"] == "RANGES":
            ranges = item["ranges"]["range"]
            out[name] = "[" + ", ".join(f"{r['begin']}-{r['end']}" for r in ranges) + "]"
        else:
            out[name] = "{" + ", ".join(item["set"]["item"]) + "}"
    return out


def parse_resources(text: str | None) -> dict[str, object]:
    """`cpus:2;mem:1024;ports:[31000-31100]` or a JSON array -> {name: float | range string}.

    Roles (`cpus(role):2`) are accepted and folded into the unreserved total (the emulator
    does not model reservations).
    """
    if not text:
        return {}
    text = text.strip()
    out: dict[str, object] = {}
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ResourceError(f"Failed to parse resources JSON: {exc}") from exc
        return from_v1(items)
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = re.fullmatch(r"([A-Za-z_][\w.-]*)(?:\(([^)]*)\))?:(.+)", part)
        if not match:
            raise ResourceError(f"Failed to parse resource '{part}'")
        name, value = match.group(1), match.group(3).strip()
        if value.startswith("[") or value.startswith("{"):
            out[name] = value
            continue
        try:
            number = float(value)
        except ValueError as exc:
            raise ResourceError(f"Failed to parse resource '{part}': bad scalar value") from exc
        if number < 0:
            raise ResourceError(f"Failed to parse resource '{part}': negative value")
        out[name] = float(out.get(name, 0.0)) + number
    return out


def detected_mem_mb(total_bytes: int | None) -> float:
    if not total_bytes:
        return float(GB_MB)
    total_mb = total_bytes // (1024 * 1024)
    return float(total_mb - GB_MB if total_mb >= 2 * GB_MB else total_mb // 2)


def detected_disk_mb(size_bytes: int | None) -> float:
    if not size_bytes:
        return float(10 * GB_MB)
    size_mb = size_bytes // (1024 * 1024)
    return float(size_mb - 5 * GB_MB if size_mb >= 10 * GB_MB else size_mb // 2)


def memory_total_bytes(meminfo: str = "/proc/meminfo") -> int | None:
    try:
        with open(meminfo, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def filesystem_size_bytes(path: str) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_blocks * st.f_frsize


def agent_resources(
    flag: str | None, cpus: int | None, mem_bytes: int | None, disk_bytes: int | None
) -> dict[str, object]:
    """The agent's total resources: explicit ones from `flag`, the rest auto-detected."""
    given = parse_resources(flag)
    total: dict[str, object] = dict(given)
    if "cpus" not in given:
        total["cpus"] = float(cpus or 1)
    if "mem" not in given:
        total["mem"] = detected_mem_mb(mem_bytes)
    if "disk" not in given:
        total["disk"] = detected_disk_mb(disk_bytes)
    if "ports" not in given:
        total["ports"] = DEFAULT_PORTS
    return total


def encode(resources: dict[str, object]) -> dict[str, object]:
    """JSON form of `/master/state` and `/state`: cpus, gpus, mem, disk always present."""
    out: dict[str, object] = {name: 0.0 for name in SCALARS}
    for name, value in resources.items():
        out[name] = round(value, 3) if isinstance(value, float) else value
    return out


def add(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    out = dict(a)
    for name, value in b.items():
        if isinstance(value, int | float):
            out[name] = round(float(out.get(name, 0.0)) + float(value), 6)
    return out


def subtract(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    out = dict(a)
    for name, value in b.items():
        if isinstance(value, int | float) and isinstance(out.get(name, 0.0), int | float):
            out[name] = round(float(out.get(name, 0.0)) - float(value), 6)
    return out


def fits(request: dict[str, float], free: dict[str, object]) -> bool:
    """Whether every scalar of `request` fits into `free`."""
    for name, value in request.items():
        available = free.get(name, 0.0)
        if isinstance(value, str):  # ranges (`ports`): each asked range inside the agent's
            if not ranges_within(value, str(available or "")):
                return False
            continue
        if not isinstance(available, int | float) or float(value) > float(available) + 1e-9:
            return False
    return True


def ranges_within(wanted: str, offered: str) -> bool:
    """Whether every range of `wanted` (`[31000-31000, 31005-31006]`) lies inside a range of `offered`."""
    import re

    have = [(int(a), int(b)) for a, b in re.findall(r"(\d+)-(\d+)", offered)]
    return all(
        any(low >= a and high <= b for a, b in have)
        for low, high in ((int(a), int(b)) for a, b in re.findall(r"(\d+)-(\d+)", wanted))
    )
