"""Mesos: a master's `/metrics/snapshot` (elected, registry recovered), the cluster judged from all
masters, the leading master from ZooKeeper's `json.info_<seq>` znodes, `/master/slaves` and an agent's
own `/state` (resources advertised and used), and Mesos durations.

One parser for the mesos_cluster_status and node_capacity modules (on hosts) and the failover runs
(on the controller); standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.json_http import http_json

MIB = 1024 * 1024

# ----- masters ---------------------------------------------------------------------------------


def mesos_master_state(metrics: Mapping[str, Any]) -> dict[str, bool]:
    """`/metrics/snapshot` of a master → elected, and ready (elected and registry recovered)."""
    if "master/elected" not in metrics:
        raise ParseError("not a Mesos master /metrics/snapshot (no master/elected)")
    elected = float(metrics["master/elected"]) == 1.0
    recovered = float(metrics.get("registrar/log/recovered", 0)) == 1.0
    return {"elected": elected, "ready": elected and recovered}


def master_mode(metrics: Mapping[str, Any]) -> str:
    """A master as a member mode: leader (elected, recovered), recovering (elected only) or follower."""
    state = mesos_master_state(metrics)
    return "leader" if state["ready"] else "recovering" if state["elected"] else "follower"


def metrics_snapshot(address: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """`GET http://<address>/metrics/snapshot` (address is host:port); None when it does not answer."""
    status, body = http_json(f"http://{address}/metrics/snapshot", timeout)
    return body if status == 200 and isinstance(body, dict) else None


def summarize_masters(snapshots: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """Cluster view from each master's `/metrics/snapshot` (None: unreachable).

    Healthy: every master answers, exactly one says `master/elected` = 1, and that one has
    recovered its registrar (`registrar/log/recovered` = 1), as api-surfaces §7.2 advises.
    """
    states: dict[str, dict[str, bool] | None] = {}
    for name, snapshot in snapshots.items():
        if snapshot is not None:
            try:
                states[name] = mesos_master_state(snapshot)
            except ParseError:  # answers, but not as a master: reachable, not elected
                states[name] = None
    reachable = sorted(states)
    leaders = sorted(m for m, s in states.items() if s and s["elected"])
    leader = leaders[0] if len(leaders) == 1 else None
    recovered = bool(leader and (states[leader] or {}).get("ready"))
    return {
        "leader": leader,
        "leaders": leaders,
        "reachable": reachable,
        "unreachable": sorted(set(snapshots) - set(reachable)),
        "recovered": recovered,
        "agents_active": int((snapshots[leader] or {}).get("master/slaves_active", 0)) if leader else 0,
        "healthy": len(reachable) == len(snapshots) and leader is not None and recovered,
    }


_JSON_INFO = re.compile(r"^json\.info_(\d{10})$")


def mesos_zk_leader(children: Iterable[str], data: Mapping[str, str | bytes]) -> dict[str, Any] | None:
    """The leading master from the `json.info_<seq>` znodes: the smallest sequence wins."""
    members = sorted((int(m.group(1)), name) for name in children if (m := _JSON_INFO.match(name)))
    if not members:
        return None
    _, name = members[0]
    raw = data[name]
    info = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    address = info.get("address") or {}
    return {"znode": name, "hostname": address.get("hostname") or info.get("hostname"),
            "ip": address.get("ip"), "port": address.get("port") or info.get("port"), "pid": info.get("pid")}


_DURATION = re.compile(r"^([0-9.]+)\s*(ns|us|ms|secs|mins|hrs|days)?$")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "secs": 1, "mins": 60, "hrs": 3600, "days": 86400, None: 1}


def mesos_duration_seconds(text: str) -> float | None:
    """Mesos durations (flags such as zk_session_timeout): `10secs`, `1mins`, `500ms`; a bare number is seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


# ----- resources (agents) ----------------------------------------------------------------------

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
