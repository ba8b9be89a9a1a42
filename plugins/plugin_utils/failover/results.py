"""What one failover run measured, and what a loop of runs reports: the write log and its outage
figures, lost writes, the structured result, its verdict, the text table and the cleaned JSON.

Pure functions and small data classes, no I/O, so every figure is unit-tested without hosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# ----- the write log ---------------------------------------------------------------------------


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
    - last_failed_write_seconds: from the fault to the end of the last failed write (behind a
      load balancer the outage is a share of failed writes rather than a gap);
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
    failed_after = [a.ended for a in log.attempts if not a.ok and a.ended >= fault_at]
    return {
        "write_unavailable_seconds": round(max(outage), 3) if outage and after else None,
        "last_failed_write_seconds": round(max(failed_after) - fault_at, 3) if failed_after else None,
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


# ----- one run's result ------------------------------------------------------------------------

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


# Write figures that mean nothing when the system took no client writes (null, not misleading zeros).
WRITE_FIGURES = ("write_unavailable_seconds", "first_ack_after_fault_seconds", "max_ack_gap_seconds",
                 "lost_acknowledged_writes", "marker_survived")


def without_writes(summary: dict[str, Any], system: str) -> None:
    """Null the write figures of a run that wrote nothing, and say why."""
    for key in WRITE_FIGURES:
        summary[key] = None
    summary["writes_note"] = f"{system}: no client writes (no public write API to its replicated state)"


# The settings a result reports (the rest of what a system read stays out of the JSON).
REPORTED_SETTINGS = ("tickTime", "initLimit", "syncLimit", "minSessionTimeout", "maxSessionTimeout",
                     "ETCD_ELECTION_TIMEOUT", "ETCD_HEARTBEAT_INTERVAL", "zk_session_timeout", "zk_timeout",
                     "quorum", "lease-duration", "renew-deadline", "retry-period", "lb_inter", "lb_fall",
                     "lb_rise", "lb_timeout_connect", "lb_timeout_check", "lb_retries")


def reported_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k in REPORTED_SETTINGS}


def verdict(summary: Mapping[str, Any], *, survivors: Iterable[str], timeout: float, writes: bool,
            rejoined_modes: Iterable[str], heal_error: str | None = None) -> list[str]:
    """What did not go as expected in one run (empty: passed)."""
    problems = []
    if heal_error:
        problems.append(heal_error)
    if summary["new_leader"] is None:
        problems.append(f"no new leader among {', '.join(survivors)} within {timeout:.0f}s")
    if summary["lost_acknowledged_writes"]:
        problems.append(f"{summary['lost_acknowledged_writes']} acknowledged writes were lost")
    if writes and not summary["marker_survived"]:
        problems.append("the marker is missing on some member")
    if summary.get("agents_active_before") and summary.get("time_to_agents_reregistered_seconds") is None:
        problems.append("the agents did not all re-register with the new leader in time")
    rejoined = summary["old_leader_rejoined_as"]
    if rejoined not in tuple(rejoined_modes):
        problems.append(f"old leader {summary['old_leader']} rejoined as {rejoined!r}, not as a follower")
    if "pod_scheduled_on" in summary and not summary["pod_scheduled_on"]:
        problems.append("the Pod created after the fault was not scheduled in time")
    if summary.get("pod_create_error"):
        problems.append(f"could not create the Pod after the fault: {summary['pod_create_error']}")
    if summary.get("members_unreadable"):
        problems.append(f"members not readable after the run: {', '.join(summary['members_unreadable'])}")
    return problems


# ----- the report of a loop of runs --------------------------------------------------------------

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
