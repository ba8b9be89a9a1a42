"""HA failover validation: leader detection parsers, quorum safety, measurement bookkeeping.

Pure functions and small data classes, no I/O: the `ha_failover` action plugin (controller
side) does the talking and calls these to decide and to count. Every parser takes the text
or decoded JSON a system really returns (see docs/ha-validation.md for the sources).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SYSTEMS = ("zookeeper", "etcd", "mesos_masters", "marathon", "kube_apiserver",
           "kube_controller_manager", "kube_scheduler")
FAULTS = ("stop", "kill", "partition")


class ParseError(ValueError):
    """A reply that is not what the system returns."""


# ----- ZooKeeper -------------------------------------------------------------------------------

ZK_NOT_SERVING = "This ZooKeeper instance is not currently serving requests"


def parse_mntr(text: str) -> dict[str, str] | None:
    """`mntr` → {key: value}; None while the server is not serving (no quorum, election).

    Raises ParseError when mntr is not whitelisted or the reply is not mntr output.
    """
    if ZK_NOT_SERVING in text:
        return None
    if "is not executed because it is not in the whitelist" in text:
        raise ParseError("mntr is not in 4lw.commands.whitelist on this server")
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        if sep and key.startswith("zk_"):
            values[key] = value.strip()
    if "zk_server_state" not in values:
        raise ParseError(f"not mntr output: {text[:80]!r}")
    return values


def parse_srvr(text: str) -> str | None:
    """`srvr`/`stat` → the Mode (leader, follower, observer, standalone, read-only); None if not serving."""
    if ZK_NOT_SERVING in text:
        return None
    match = re.search(r"^Mode: (\S+)", text, re.MULTILINE)
    if not match:
        raise ParseError(f"not srvr output: {text[:80]!r}")
    return match.group(1)


def zk_mode(mntr: Mapping[str, str] | None) -> str | None:
    return None if mntr is None else mntr.get("zk_server_state")


def single_leader(modes: Mapping[str, str | None]) -> str | None:
    """The one member whose mode is `leader`; None when there is none or more than one."""
    leaders = [host for host, mode in modes.items() if mode == "leader"]
    return leaders[0] if len(leaders) == 1 else None


# ----- etcd ------------------------------------------------------------------------------------

def _uint64(value: Any) -> int:
    """etcdctl prints uint64 ids as JSON numbers, the gRPC gateway as strings: both → int."""
    if isinstance(value, bool):
        raise ParseError(f"not an id: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, float):  # a parser that went through float has lost precision
        raise ParseError(f"id {value!r} was decoded as a float: ids are uint64, parse them as integers")
    raise ParseError(f"not an id: {value!r}")


def etcd_status(status: Mapping[str, Any], endpoint: str = "") -> dict[str, Any]:
    """One StatusResponse (etcdctl `Status` object or a gateway reply) → member_id, leader, term.

    Zero-valued fields are omitted by the encoders (omitempty), so a missing `leader` is 0 (no
    leader known) and a missing `isLearner` is false.
    """
    header = status.get("header") or {}
    if "member_id" not in header:
        raise ParseError("status has no header.member_id")
    member_id = _uint64(header["member_id"])
    leader = _uint64(status.get("leader", 0))
    term = status.get("raftTerm", status.get("raft_term", header.get("raft_term", 0)))
    return {
        "endpoint": endpoint,
        "member_id": member_id,
        "leader_id": leader,
        "is_leader": leader != 0 and leader == member_id,
        "raft_term": int(term),
        "is_learner": bool(status.get("isLearner", status.get("is_learner", False))),
        "version": status.get("version"),
        "errors": list(status.get("errors", [])),
    }


def parse_etcd_endpoint_status(text: str) -> list[dict[str, Any]]:
    """`etcdctl -w json endpoint status [--cluster]` → one status per endpoint (ids exact)."""
    try:
        document = json.loads(text)  # Python's json keeps big integers exact
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if isinstance(document, dict):
        document = [document]
    return [etcd_status(item["Status"], item.get("Endpoint", "")) for item in document]


def etcd_agreed_leader(statuses: Iterable[Mapping[str, Any]]) -> int | None:
    """The leader id every answering member agrees on (same leader and term), or None."""
    seen = {(s["leader_id"], s["raft_term"]) for s in statuses}
    if len(seen) != 1:
        return None
    leader, _ = seen.pop()
    return leader or None


# ----- Mesos -----------------------------------------------------------------------------------

def mesos_master_state(metrics: Mapping[str, Any]) -> dict[str, bool]:
    """`/metrics/snapshot` of a master → elected, and ready (elected and registry recovered)."""
    if "master/elected" not in metrics:
        raise ParseError("not a Mesos master /metrics/snapshot (no master/elected)")
    elected = float(metrics["master/elected"]) == 1.0
    recovered = float(metrics.get("registrar/log/recovered", 0)) == 1.0
    return {"elected": elected, "ready": elected and recovered}


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


# ----- Marathon --------------------------------------------------------------------------------

def marathon_leader(status: int, body: str) -> str | None:
    """`GET /v2/leader`: 200 {"leader": "host:port"} → "host:port"; 404 (no leader) → None."""
    if status == 404:
        return None
    if status != 200:
        raise ParseError(f"/v2/leader answered HTTP {status}")
    return json.loads(body)["leader"]


# ----- Kubernetes ------------------------------------------------------------------------------

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
        "holder_host": holder.split("_", 1)[0] if holder else None,  # "<hostname>_<uuid>"
        "renew_time": _k8s_time(spec.get("renewTime")),
        "lease_duration_seconds": int(spec.get("leaseDurationSeconds", 0)),
        "lease_transitions": int(spec.get("leaseTransitions", 0)),
    }


def lease_valid(lease: Mapping[str, Any], now: datetime) -> bool:
    """Whether the holder still owns the lease at `now` (renewTime + leaseDuration in the future)."""
    if not lease["holder"] or lease["renew_time"] is None:
        return False
    return (now - lease["renew_time"]).total_seconds() < lease["lease_duration_seconds"]


def apiserver_ready(status: int, body: str = "") -> bool:
    """`/readyz`: ready only on HTTP 200 (automation must check the code, not the text)."""
    return status == 200


# ----- quorum safety ---------------------------------------------------------------------------

def quorum_size(members: int) -> int:
    return members // 2 + 1


def fault_decision(system: str, members: int, healthy: int, faulted: int = 1,
                   force: bool = False) -> tuple[bool, str]:
    """May we take `faulted` healthy members down? Refuse when the rest would be below quorum.

    Systems with a quorum (ZooKeeper, etcd, Mesos masters' replicated log) lose writes, or stop
    altogether, without a majority; standby-style systems (Marathon, Kubernetes control plane
    components) need at least one other instance to take over.
    """
    remaining = healthy - faulted
    if system in ("zookeeper", "etcd", "mesos_masters"):
        need = quorum_size(members)
        if remaining < need:
            why = (f"{system}: taking {faulted} of {healthy} healthy members down leaves {remaining}, "
                   f"below the quorum of {need} for {members} members; the cluster would stop "
                   "accepting writes and there would be no new leader to measure")
            return (True, why + " (forced)") if force else (False, why + "; use force=true to do it anyway")
        return True, f"{remaining} of {members} members remain, quorum is {need}"
    if remaining < 1:
        why = f"{system}: no other healthy instance would remain to take over"
        return (True, why + " (forced)") if force else (False, why + "; use force=true to do it anyway")
    return True, f"{remaining} other instance(s) can take over"


# ----- measurement bookkeeping -----------------------------------------------------------------

@dataclass
class WriteAttempt:
    seq: int
    key: str
    started: float
    ended: float
    ok: bool
    error: str = ""


@dataclass
class WriteLog:
    """Every write the client tried during a run, with controller timestamps."""

    attempts: list[WriteAttempt] = field(default_factory=list)

    def record(self, seq: int, key: str, started: float, ended: float, ok: bool, error: str = "") -> None:
        self.attempts.append(WriteAttempt(seq, key, started, ended, ok, error))

    @property
    def acknowledged(self) -> list[WriteAttempt]:
        return [a for a in self.attempts if a.ok]

    def acknowledged_keys(self) -> list[str]:
        return [a.key for a in self.acknowledged]


def write_unavailability(log: WriteLog, fault_at: float) -> dict[str, Any]:
    """Figures of the write outage around a fault injected at `fault_at`.

    - write_unavailable_seconds: the longest time without any acknowledgement, among the gaps
      that end after the fault (a graceful stop takes a while to bite, so the outage does not
      have to start at the fault); None if no write was acknowledged after the fault;
    - first_ack_after_fault_seconds: from the fault to the acknowledgement of the first write
      that started after it;
    - max_ack_gap_seconds: the longest time between two consecutive acknowledgements overall;
    - failed_writes / write_errors: attempts that were not acknowledged (errors, timeouts).
    """
    acked = sorted(log.acknowledged, key=lambda a: a.ended)
    after = [a for a in acked if a.started >= fault_at]
    first_after = after[0].ended if after else None
    pairs = list(zip(acked, acked[1:], strict=False))
    gaps = [b.ended - a.ended for a, b in pairs]
    # a gap that spans the fault counts from the last acknowledgement before it
    outage = [b.ended - a.ended for a, b in pairs if b.ended >= fault_at]
    errors: dict[str, int] = {}
    for attempt in log.attempts:
        if not attempt.ok:
            kind = attempt.error.split(":", 1)[0] or "error"
            errors[kind] = errors.get(kind, 0) + 1
    return {
        "write_unavailable_seconds": round(max(outage), 3) if outage and after else None,
        "first_ack_after_fault_seconds": None if first_after is None else round(first_after - fault_at, 3),
        "max_ack_gap_seconds": round(max(gaps), 3) if gaps else None,
        "writes_attempted": len(log.attempts),
        "writes_acknowledged": len(acked),
        "failed_writes": len(log.attempts) - len(acked),
        "write_errors": errors,
    }


def lost_writes(acknowledged: Iterable[str], present_by_member: Mapping[str, Iterable[str] | None]
                ) -> dict[str, list[str]]:
    """Acknowledged keys missing on each member that answered (None = member did not answer)."""
    wanted = list(acknowledged)
    lost: dict[str, list[str]] = {}
    for member, present in present_by_member.items():
        if present is None:
            continue
        have = set(present)
        lost[member] = [k for k in wanted if k not in have]
    return lost


def summarize(*, system: str, fault: str, old_leader: str, new_leader: str | None, fault_at: float,
              new_leader_at: float | None, log: WriteLog, lost: Mapping[str, list[str]],
              marker_ok: Mapping[str, bool], rejoined_as: str | None, rejoin_seconds: float | None,
              bounds: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The structured result of one run (numbers with units in the key names)."""
    lost_keys = sorted({k for keys in lost.values() for k in keys})
    result: dict[str, Any] = {
        "system": system,
        "fault": fault,
        "old_leader": old_leader,
        "new_leader": new_leader,
        "time_to_new_leader_seconds": None if new_leader_at is None else round(new_leader_at - fault_at, 3),
        **write_unavailability(log, fault_at),
        "lost_acknowledged_writes": len(lost_keys),
        "lost_acknowledged_write_keys": lost_keys[:20],
        "members_checked": sorted(lost),
        "marker_survived": bool(marker_ok) and all(marker_ok.values()),
        "old_leader_rejoined_as": rejoined_as,
        "old_leader_rejoin_seconds": None if rejoin_seconds is None else round(rejoin_seconds, 3),
        "bounds_seconds": dict(bounds or {}),
    }
    return result


def zookeeper_bounds(tick_time_ms: int, sync_limit: int, init_limit: int,
                     session_timeout_ms: int | None = None) -> dict[str, float]:
    """What ZooKeeper's settings imply (see docs/ha-validation.md)."""
    bounds = {
        "follower_detects_dead_leader": tick_time_ms * sync_limit / 1000,
        "new_leader_sync_limit": tick_time_ms * init_limit / 1000,
    }
    if session_timeout_ms:
        bounds["client_session_timeout"] = session_timeout_ms / 1000
    return bounds


def etcd_bounds(election_timeout_ms: int, heartbeat_ms: int) -> dict[str, float]:
    """Raft randomizes a follower's election timeout in [ET, 2*ET): the worst case is ~2*ET."""
    return {
        "election_timeout": election_timeout_ms / 1000,
        "randomized_election_timeout_max": (2 * election_timeout_ms - 1) / 1000,
        "heartbeat_interval": heartbeat_ms / 1000,
    }


# ----- the report ------------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def results_table(results: Iterable[Mapping[str, Any]]) -> str:
    """One line per run (a loop of ha_failover results), failed runs with their message."""
    header = ["system", "fault", "old -> new leader", "new leader s", "writes unavail s", "max gap s",
              "acked", "lost", "rejoined (s)", "passed"]
    lines = [header]
    notes: list[str] = []
    runs = list(results)
    for r in runs:
        if r.get("failed") and "time_to_new_leader_seconds" not in r:
            lines.append([_fmt(r.get("system")), _fmt(r.get("fault")), "-", "-", "-", "-", "-", "-", "-", "no"])
            notes.append(f"{r.get('system')}/{r.get('fault')} FAILED: {r.get('msg')}")
            continue
        lines.append([
            _fmt(r.get("system")), _fmt(r.get("fault")), f"{r.get('old_leader')} -> {r.get('new_leader') or '-'}",
            _fmt(r.get("time_to_new_leader_seconds")), _fmt(r.get("write_unavailable_seconds")),
            _fmt(r.get("max_ack_gap_seconds")), _fmt(r.get("writes_acknowledged")),
            _fmt(r.get("lost_acknowledged_writes")),
            f"{_fmt(r.get('old_leader_rejoined_as'))} ({_fmt(r.get('old_leader_rejoin_seconds'))})",
            _fmt(r.get("passed")),
        ])
        notes += [f"{r.get('system')}/{r.get('fault')}: {p}" for p in r.get("problems", [])]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    seen: set[str] = set()
    for r in runs:
        bounds = r.get("bounds_seconds")
        if bounds and r.get("system") not in seen:
            seen.add(r.get("system"))
            text.append(f"{r.get('system')} bounds from settings (s): "
                        + ", ".join(f"{k}={v:g}" for k, v in bounds.items()))
    return "\n".join(text + notes)


RESULT_NOISE = ("invocation", "item", "ansible_loop_var", "changed", "_ansible_no_log")


def clean_results(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Loop results without Ansible's bookkeeping keys, for the JSON file."""
    return [{k: v for k, v in r.items() if k not in RESULT_NOISE} for r in results]
