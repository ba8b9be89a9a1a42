"""The faults: `systemctl stop`, `kill -9` of the main PID, and a partition (the lab's, or iptables
chains that keep SSH open so the controller can heal), each injected once and healed idempotently."""

from __future__ import annotations

import shlex
import time

from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import Failure
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.hosts import (
    HostRunner,
    run_local,
    stackbench_cli,
)

FAULTS = ("stop", "kill", "partition")
PARTITION_CHAIN = "STACKBENCH-PART"


def partition_commands(chain: str = PARTITION_CHAIN) -> tuple[str, str]:
    """iptables commands that cut a host off except SSH (so it can be healed), and undo them."""
    cut = " && ".join([
        f"(iptables -N {chain}-IN 2>/dev/null || iptables -F {chain}-IN)",
        f"(iptables -N {chain}-OUT 2>/dev/null || iptables -F {chain}-OUT)",
        f"iptables -A {chain}-IN -i lo -j ACCEPT",
        f"iptables -A {chain}-IN -p tcp --dport 22 -j ACCEPT",
        f"iptables -A {chain}-IN -j DROP",
        f"iptables -A {chain}-OUT -o lo -j ACCEPT",
        f"iptables -A {chain}-OUT -p tcp --sport 22 -j ACCEPT",
        f"iptables -A {chain}-OUT -j DROP",
        "date +%s.%N",
        f"iptables -I INPUT 1 -j {chain}-IN",
        f"iptables -I OUTPUT 1 -j {chain}-OUT",
    ])
    heal = "; ".join([
        f"while iptables -D INPUT -j {chain}-IN 2>/dev/null; do :; done",
        f"while iptables -D OUTPUT -j {chain}-OUT 2>/dev/null; do :; done",
        f"iptables -F {chain}-IN 2>/dev/null", f"iptables -X {chain}-IN 2>/dev/null",
        f"iptables -F {chain}-OUT 2>/dev/null", f"iptables -X {chain}-OUT 2>/dev/null", "true",
    ])
    return cut, heal


def fault_command(fault: str, service: str) -> str:
    """The host command for stop/kill; it prints the host's time right before the fault."""
    unit = shlex.quote(service)
    if fault == "stop":
        return f"systemctl is-active --quiet {unit} && date +%s.%N && systemctl stop {unit}"
    if fault == "kill":
        return (f"pid=$(systemctl show -p MainPID --value {unit}) && [ \"$pid\" -gt 0 ] "
                f"&& date +%s.%N && kill -9 \"$pid\"")
    raise ValueError(fault)


class Fault:
    """Injects one fault on one host and heals it (idempotently)."""

    def __init__(self, kind: str, host: str, service: str, runner: HostRunner | None, lab: str | None,
                 lab_host: str) -> None:
        self.kind, self.host, self.service, self.runner, self.lab, self.lab_host = \
            kind, host, service, runner, lab, lab_host
        self.injected = False
        self.command_seconds: float | None = None
        self.time_source = "controller clock when the fault command returned"
        self.log: list[str] = []

    def _shell(self, command: str) -> tuple[int, str, str]:
        if self.runner is None:
            raise Failure(f"no way to run commands on {self.host}")
        return self.runner.shell(self.host, command)

    def inject(self) -> float:
        before = time.time()
        if self.kind == "partition" and self.lab:
            rc, out = run_local([stackbench_cli(), "lab", "partition", self.lab_host, "--lab", self.lab])
            after = time.time()
            self.command_seconds = after - before
            self.injected = True
            if rc != 0:
                raise Failure(f"lab partition of {self.host} failed: {out}")
            # The disconnect is complete when the command returns: measuring from then gives
            # lower bounds (fault_command_seconds says by how much they may be short).
            return after
        command = partition_commands()[0] if self.kind == "partition" else fault_command(self.kind, self.service)
        rc, out, err = self._shell(command)
        after = time.time()
        self.command_seconds = after - before
        self.injected = True  # even a failed command may have done part of its work: always heal
        if rc != 0:
            raise Failure(f"{self.kind} on {self.host} failed (rc={rc}): {err or out}")
        try:
            stamp = float(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            stamp = after
        # Trust the host's clock only when it agrees with ours (lab containers share it).
        if before - 1 <= stamp <= after + 1:
            self.time_source = "host clock before the fault"
            return stamp
        return after

    def heal(self) -> None:
        if not self.injected:
            return
        if self.kind == "partition" and self.lab:
            rc, out = run_local([stackbench_cli(), "lab", "heal", self.lab_host, "--lab", self.lab])
            self.log.append(f"lab heal {self.lab_host}: rc={rc} {out[-200:]}")
            if rc != 0:
                raise Failure(f"could not heal the lab partition of {self.host}: {out}")
        elif self.kind == "partition":
            rc, out, err = self._shell(partition_commands()[1])
            if rc != 0:
                raise Failure(f"could not remove the iptables partition on {self.host}: {err or out}")
        else:
            rc, out, err = self._shell(f"systemctl start {shlex.quote(self.service)}")
            if rc != 0:
                raise Failure(f"could not start {self.service} again on {self.host}: {err or out}")
        self.injected = False
