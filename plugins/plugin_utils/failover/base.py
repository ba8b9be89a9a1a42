"""What every failover system shares: the cluster it runs against, the System interface (find the
leader, take the fault, be written to, be verified, rejoin), the writing client and the quorum rule.

A system is one class in its own module (zookeeper.py, etcd.py, ...); run.py drives any of them
through these hooks, so a new system is a new subclass, not a new branch in the loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ansible_collections.stackbench.cluster.plugins.module_utils.common import single_leader
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.results import WriteLog

if TYPE_CHECKING:
    from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.hosts import HostRunner


class Failure(Exception):
    """A run that cannot go on; the message is the task's `msg`."""


@dataclass
class Cluster:
    """The members a system runs against, and what a run may need from the inventory and the task."""

    members: dict[str, str]  # inventory host -> address the controller reaches
    port: int
    timeout: float
    args: Mapping[str, Any] = field(default_factory=dict)  # the validated task arguments
    hostvars: Mapping[str, Any] = field(default_factory=dict)
    groups: Mapping[str, list[str]] = field(default_factory=dict)
    runner: HostRunner | None = None
    tmp: Path | None = None  # private directory for client keys, removed after the run


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> tuple[Any, float | None]:
    """Poll until `predicate()` is truthy; (value, time.time() when seen) or (None, None)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value, time.time()
        time.sleep(interval)
    return None, None


def quorum_size(members: int) -> int:
    return members // 2 + 1


def fault_decision(system: str, members: int, healthy: int, faulted: int = 1, force: bool = False,
                   majority: bool = True) -> tuple[bool, str]:
    """May we take `faulted` healthy members down? Refuse when the rest would be below quorum.

    Systems with a quorum (`majority`: ZooKeeper, etcd, Mesos masters' replicated log) lose
    writes, or stop altogether, without a majority; standby-style systems (Marathon, Kubernetes
    control plane components) need at least one other instance to take over.
    """
    remaining = healthy - faulted
    if majority:
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


class System:
    """One clustered system under test. Subclasses set the class attributes and implement `modes`;
    the other hooks have the behaviour most systems want.

    Modes are words per member: "leader", "follower", or what the system says instead (None: the
    member does not answer).
    """

    name: ClassVar[str]
    default_group: ClassVar[str]  # inventory group of the members (default: the name)
    default_service: ClassVar[str]  # systemd unit the fault hits (default: the name, "-" for "_")
    default_port: ClassVar[int]  # client port
    majority: ClassVar[bool] = True  # needs a quorum (False: a standby takes over)
    supports_writes: ClassVar[bool] = True
    write_interval: ClassVar[float] = 0.02  # pause between two writes
    healthy_modes: ClassVar[tuple[str, ...]] = ("leader", "follower")
    rejoined_modes: ClassVar[tuple[str, ...]] = ("follower",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:  # a system: its group and unit are named after it unless it says otherwise
            cls.default_group = getattr(cls, "default_group", None) or cls.name
            cls.default_service = cls.__dict__.get("default_service") or cls.name.replace("_", "-")

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.members, self.port, self.timeout = cluster.members, cluster.port, cluster.timeout
        self.service: str = cluster.args.get("service") or self.default_service
        self.write_timeout = 1.0
        self.settings: dict[str, Any] = {}  # what read_settings() found (reported, and the bounds' input)
        self.figures: dict[str, Any] = {}  # system-specific results merged into the run's result
        self.fault_kind: str | None = None  # set by the run just before the fault
        self.faulted_host: str | None = None

    # -- find the leader
    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        raise NotImplementedError

    def leader(self, hosts: list[str]) -> str | None:
        return single_leader(self.modes(hosts))

    def read_settings(self, host: str) -> None:
        """Read the settings the bounds come from, on the leader before the fault."""

    def bounds(self) -> dict[str, float]:
        """What the settings imply for the failover, in seconds."""
        return {}

    # -- the fault
    @property
    def default_settle_seconds(self) -> float:
        """How long the client keeps writing after writes succeed again."""
        return 3.0

    def after_fault(self, fault_at: float) -> None:
        """Right after the fault (the scheduler creates a Pod the new leader must bind)."""

    def wait_new_leader(self, survivors: list[str], old: str, fault_at: float, writer: Writer,
                        timeout: float) -> tuple[str | None, float | None]:
        """The member that took over and when it was seen, or (None, None)."""
        return wait_for(lambda: (lead if (lead := self.leader(survivors)) and lead != old else None), timeout)

    def after_new_leader(self, leader: str, fault_at: float, timeout: float) -> dict[str, Any]:
        """Figures of what follows the takeover (agents re-registering, the Pod bound)."""
        return {}

    # -- the client
    def connect(self, hosts: list[str]) -> None:
        """Set up the writing client on the survivors (before the marker)."""

    def write(self, key: str, value: bytes) -> None:
        """One acknowledged write, or an exception (every failure is data)."""
        raise NotImplementedError(f"{self.name} takes no client writes")

    # -- verify
    def keys_on(self, host: str) -> list[str] | None:
        """The keys of this run readable through `host`, None when it cannot be read."""
        return None

    # -- rejoin
    def rejoin_mode(self, host: str) -> str | None:
        return self.modes([host])[host]

    def cleanup(self) -> None:
        """Remove what the run wrote (best effort) and close clients."""


class Writer(threading.Thread):
    """Writes sequential keys as fast as acknowledgements come (with a small pause)."""

    def __init__(self, system: Any, interval: float) -> None:
        super().__init__(daemon=True)
        self.system, self.interval = system, interval
        self.log = WriteLog()
        self.stop_event = threading.Event()
        self.seq = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.seq += 1
            key = f"w{self.seq:07d}"
            started = time.time()
            try:
                self.system.write(key, str(started).encode())
                self.log.record(self.seq, key, started, time.time(), True)
            except Exception as exc:  # noqa: BLE001 - every failure is data
                self.log.record(self.seq, key, started, time.time(), False, f"{type(exc).__name__}: {exc}")
                self.stop_event.wait(0.05)
            self.stop_event.wait(self.interval)

    def acked_since(self, moment: float) -> bool:
        return any(a.ok and a.started >= moment for a in list(self.log.attempts))
