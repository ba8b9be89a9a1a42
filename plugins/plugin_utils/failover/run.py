"""One failover run, for any System: find the leader, refuse a fault that would lose quorum, write
a marker, start the writer, inject the fault on the leader, measure the time to a new leader and
the write outage, always heal, wait for the old leader to rejoin, read every acknowledged write
back from every member, and judge the run (results.verdict)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ansible import context
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import (
    Failure,
    System,
    Writer,
    fault_decision,
    wait_for,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.faults import Fault
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.results import (
    lost_writes,
    reported_settings,
    summarize,
    verdict,
    without_writes,
)

MARKER = "marker"


def find_leader(system: System, hosts: list[str], wait: float) -> tuple[str, dict[str, str | None]]:
    """The leader and every member's mode; Failure when nobody answers or there is no single leader."""
    modes = system.modes(hosts)
    if not any(m is not None for m in modes.values()):
        members = system.members
        raise Failure(f"no {system.name} member answered ({', '.join(f'{h}={members[h]}' for h in hosts)}): "
                      "unreachable endpoints or the service is down")
    leader = system.leader(hosts)
    if (leader is None or None in modes.values()) and wait > 0:
        # Still recovering from an earlier fault (a Marathon restarting after its ZooKeeper session
        # expired): wait for a leader and, within the same time, for every member to answer.
        def settled() -> str | None:
            current = system.leader(hosts)
            return current if current is not None and None not in system.modes(hosts).values() else None

        settled_leader, _ = wait_for(settled, wait, interval=0.5)
        leader = settled_leader or system.leader(hosts)
        modes = system.modes(hosts)
    if leader is None:
        raise Failure(f"{system.name}: no single leader to begin with (modes: {modes})")
    return leader, modes


def write_marker(system: System, seconds: float = 15.0) -> None:
    """The marker, before any fault; retried, since a member that answered a moment ago may
    still go down from an earlier fault (a partitioned Marathon exits once it sees its ZooKeeper
    session expired, seconds after the heal). Writes rotate over the survivors."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            system.write(MARKER, b"stackbench ha marker")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def partition_lab(system: System, leader: str, method: str) -> str | None:
    """The lab to partition the leader through, or None for iptables."""
    lab = system.cluster.hostvars[leader].get("stackbench_lab")
    if method == "iptables":
        return None
    if method == "lab" and not lab:
        raise Failure(f"partition_method=lab but {leader} has no stackbench_lab variable")
    return lab


def run_failover(system: System, fault_kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The structured result of one fault on `system`'s leader (args: the validated task arguments)."""
    hosts, timeout, writes = list(system.members), system.timeout, system.supports_writes
    try:
        # 1. who leads, is it safe to take it down?
        leader, modes = find_leader(system, hosts, float(args["leader_wait_seconds"]))
        healthy = sum(1 for m in modes.values() if m in system.healthy_modes)
        ok, why = fault_decision(system.name, len(hosts), healthy, 1, bool(args["force"]), system.majority)
        if not ok:
            raise Failure(why)
        # Clients write only to members that answer (one still down after an earlier fault would
        # refuse the marker and fail the run before any fault).
        survivors = [h for h in hosts if h != leader and modes.get(h) is not None]
        system.read_settings(leader)

        # 2. marker and the writer
        system.connect(survivors)
        system.write_timeout = float(args["write_timeout_seconds"])
        if writes:
            write_marker(system)
        interval = args["write_interval_seconds"]
        writer = Writer(system, float(system.write_interval if interval is None else interval))
        if writes:
            writer.start()
        time.sleep(float(args["baseline_seconds"]))
        lab = partition_lab(system, leader, args["partition_method"])
        fault = Fault(fault_kind, leader, system.service, system.cluster.runner, lab, leader)
        system.fault_kind, system.faulted_host = fault_kind, leader
        new_leader = new_leader_at = rejoined = rejoin_seconds = None
        extra: dict[str, Any] = {}
        heal_error = fault_error = None
        healed_at: float | None = None
        fault_at = time.time()
        try:
            # 3. the fault
            fault_at = fault.inject()
            system.after_fault(fault_at)
            # 4. a new leader among the survivors, and writes again
            new_leader, new_leader_at = system.wait_new_leader(survivors, leader, fault_at, writer, timeout)
            if new_leader:
                extra = system.after_new_leader(new_leader, fault_at, timeout)
            if writes:
                wait_for(lambda: writer.acked_since(fault_at), timeout)
            settle = args["settle_seconds"]
            time.sleep(float(system.default_settle_seconds if settle is None else settle))
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
            rejoined, rejoin_seconds = _rejoin(system, leader, healed_at, timeout)

        # 5. the marker and every acknowledged write, on every member that answers
        present = {h: system.keys_on(h) for h in hosts} if writes else {}
        lost = lost_writes(writer.log.acknowledged_keys(), present)
        marker_ok = {h: MARKER in keys for h, keys in present.items() if keys is not None}
    finally:
        system.cleanup()
    summary = summarize(system=system.name, fault=fault_kind, old_leader=leader, new_leader=new_leader,
                        fault_at=fault_at, new_leader_at=new_leader_at, log=writer.log, lost=lost,
                        marker_ok=marker_ok, rejoined_as=rejoined, rejoin_seconds=rejoin_seconds,
                        bounds=system.bounds())
    summary.update(extra)
    summary.update(system.figures)
    if not writes:
        without_writes(summary, system.name)
    summary["members_unreadable"] = sorted(h for h, keys in present.items() if keys is None)
    summary["decision"] = why
    summary["fault_command_seconds"] = None if fault.command_seconds is None else round(fault.command_seconds, 3)
    summary["fault_time_source"] = fault.time_source
    summary["host_connection"] = context.CLIARGS.get("connection") or "default"
    summary["settings"] = reported_settings(system.settings)
    summary["problems"] = verdict(summary, survivors=survivors, timeout=timeout, writes=writes,
                                  rejoined_modes=system.rejoined_modes, heal_error=heal_error)
    summary["passed"] = not summary["problems"]
    return summary


def _rejoin(system: System, leader: str, healed_at: float, timeout: float) -> tuple[str | None, float | None]:
    """The old leader's mode after the heal, and how long until it was a follower again.

    Wait for "follower": a partitioned old leader may still claim leadership for a while after the
    heal (a stale leader), which is worth reporting, not accepting.
    """
    last_mode: list[str | None] = [None]

    def rejoined_as_follower() -> bool:
        last_mode[0] = system.rejoin_mode(leader)
        return last_mode[0] in system.rejoined_modes

    _, seen_at = wait_for(rejoined_as_follower, timeout, interval=0.25)
    return last_mode[0], None if seen_at is None else seen_at - healed_at
