"""The stacks the controller knows, each described once: its inventory groups (and which of them
are majority quorums), its playbooks per operation, the artifacts the lab mirror needs for it,
the systems ha_failover can fail over, its ports, its control-plane daemons, its lab layout and
how `stackbench compare` evaluates it.

Everything in src/stackbench that depends on a stack asks `get(name)`; an unknown name is
refused here, once. Facts the roles own are not repeated: a port is named by its role default
(`roles/<role>/defaults/main.yml`) and read from there.

A stack can run on another (Mesos on ZooKeeper, Kubernetes on etcd): it then has the base's
groups, artifacts, systems, ports and daemons first, then its own.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from stackbench import roles
from stackbench.errors import StackbenchError
from stackbench.paths import collection_root


@dataclass(frozen=True)
class HaSystem:
    """A system ha_failover can take the leader of (`ha_systems` of playbooks/validate-ha.yml)."""

    name: str
    group: str  # the inventory group its members are in
    role: str  # what it does, to pair systems across stacks in the report
    lab_emulated: bool = False  # in the lab it is one of the emulators (tests/emulators)


@dataclass(frozen=True)
class Daemon:
    """A control-plane process, recognised on a host by a regex over its command line."""

    name: str
    pattern: str
    lab_emulated: bool = False

    def matches(self, cmdline: str) -> bool:
        return re.search(self.pattern, cmdline) is not None


def _program(name: str) -> str:
    """A command line that runs the program `name` (by path or not), not `name-something`."""
    return rf"(^|/){re.escape(name)}(\s|$)"


@dataclass(frozen=True)
class Port:
    """A port a role serves on; its number is the role's default."""

    name: str
    role: str
    variable: str

    @property
    def number(self) -> int:
        return int(roles.default(self.role, self.variable))


@dataclass(frozen=True)
class LabLayout:
    """The lab hosts `stackbench lab up --stack NAME` makes.

    Core hosts (`<core_prefix>N`) carry `core_groups`: 1 or 3 of them, or every host when there
    is no `worker_prefix` (then the count must be odd). The other hosts (`<worker_prefix>N`)
    carry the stack's worker groups; with no room for them the core hosts carry those too.
    """

    default_nodes: int
    core_prefix: str
    core_groups: tuple[str, ...]
    worker_prefix: str = ""
    profile: str = "systemd"


@dataclass(frozen=True)
class Comparison:
    """How `stackbench compare` evaluates a stack."""

    evaluator: str  # "module:Class", an Evaluator with a `connect(stack, groups, addresses, lab, log)`
    heading: str  # the stack's column heading in the report
    column: int  # the column's place in the report's tables


@dataclass(frozen=True)
class Stack:
    name: str
    label: str
    groups: tuple[str, ...]
    quorum_groups: tuple[str, ...]
    worker_groups: tuple[str, ...]  # where workloads run
    playbooks: Mapping[str, str]  # operation -> file in playbooks/ ("up" stands the stack up)
    artifacts: tuple[str, ...]  # builders (stackbench.artifacts.registry) the lab mirror needs
    ha_systems: tuple[HaSystem, ...]
    ports: tuple[Port, ...]
    daemons: tuple[Daemon, ...]
    lab: LabLayout
    comparison: Comparison | None = None
    # our group -> other names it may have in an inventory (kubespray's), used when ours is absent or empty
    group_aliases: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def playbook(self, operation: str = "up") -> str:
        """The playbook file (in playbooks/) for `operation`; refused while the stack has none."""
        name = self.playbooks.get(operation, f"{self.name}-{operation}.yml")
        if operation not in self.playbooks or not (collection_root() / "playbooks" / name).is_file():
            raise StackbenchError(f"no {operation} playbook for {self.name} yet (playbooks/{name})",
                                  f"{self.name} has: {', '.join(self.playbooks)}")
        return name

    def port(self, name: str) -> int:
        for port in self.ports:
            if port.name == name:
                return port.number
        raise KeyError(f"stack {self.name} has no port {name!r}")

    @property
    def ha_system_names(self) -> list[str]:
        return [system.name for system in self.ha_systems]

    @property
    def lab_emulated(self) -> tuple[str, ...]:
        """The daemons the lab runs as emulators instead of the real software."""
        return tuple(d.name for d in self.daemons if d.lab_emulated)

    def resolve_groups(self, groups: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
        """`groups` ({group: hosts}) with each of this stack's groups filled from its aliases when absent or empty."""
        resolved = {name: list(hosts or []) for name, hosts in groups.items()}
        for name, aliases in self.group_aliases.items():
            if not resolved.get(name):
                hosts = [h for alias in aliases for h in resolved.get(alias, [])]
                if hosts or name in resolved:
                    resolved[name] = list(dict.fromkeys(hosts))
        return resolved

    def missing_groups(self, groups: Mapping[str, Iterable[str]]) -> list[str]:
        """The groups this stack needs that `groups` ({group: hosts}) lacks or leaves empty, aliases counted."""
        resolved = self.resolve_groups(groups)
        return [g for g in self.groups if not resolved.get(g)]

    def group_label(self, name: str) -> str:
        """A group's name for messages, with the aliases it is also found by: `kube_nodes (or kube_node)`."""
        aliases = self.group_aliases.get(name, ())
        return f"{name} (or {' or '.join(aliases)})" if aliases else name

    def evaluator(self) -> Any:
        """The compare evaluator class of this stack."""
        if self.comparison is None:
            raise _not_compared(self.name)
        module, _, cls = self.comparison.evaluator.partition(":")
        return getattr(importlib.import_module(module), cls)


_MERGED = ("groups", "quorum_groups", "worker_groups", "artifacts", "ha_systems", "ports", "daemons")


def _on(base: Stack, **own: Any) -> Stack:
    """A stack that runs on `base`: the base's groups, artifacts, systems, ports and daemons, then its own."""
    merged = {key: tuple(dict.fromkeys(getattr(base, key) + tuple(own.pop(key, ())))) for key in _MERGED}
    aliases = {**base.group_aliases, **own.pop("group_aliases", {})}
    return _stack(**merged, group_aliases=aliases, **own)


def _stack(playbooks: Mapping[str, str], group_aliases: Mapping[str, tuple[str, ...]] | None = None,
           **fields: Any) -> Stack:
    return Stack(playbooks=MappingProxyType(dict(playbooks)),
                 group_aliases=MappingProxyType(dict(group_aliases or {})), **fields)


ZOOKEEPER = _stack(
    name="zookeeper",
    label="ZooKeeper",
    groups=("zookeeper",),
    quorum_groups=("zookeeper",),
    worker_groups=(),
    playbooks={"up": "zookeeper.yml", "reset": "zookeeper-reset.yml", "remove": "zookeeper-remove.yml"},
    artifacts=("zookeeper",),
    ha_systems=(HaSystem("zookeeper", "zookeeper", "state store"),),
    ports=(Port("zookeeper_client", "zookeeper", "zookeeper_client_port"),),
    daemons=(Daemon("zookeeper", r"org\.apache\.zookeeper\.server\.quorum\.QuorumPeerMain"),),
    lab=LabLayout(3, "zo", ("zookeeper",)),
)

ETCD = _stack(
    name="etcd",
    label="etcd",
    groups=("etcd",),
    quorum_groups=("etcd",),
    worker_groups=(),
    playbooks={"up": "etcd.yml", "reset": "etcd-reset.yml", "backup": "etcd-backup.yml", "restore": "etcd-restore.yml",
               "upgrade": "etcd-upgrade.yml", "remove-member": "etcd-remove-member.yml", "recover": "etcd-recover.yml"},
    artifacts=("etcd",),
    ha_systems=(HaSystem("etcd", "etcd", "state store"),),
    ports=(Port("etcd_client", "etcd", "etcd_client_port"),),
    daemons=(Daemon("etcd", _program("etcd")),),
    lab=LabLayout(3, "et", ("etcd",)),
)

MESOS = _on(
    ZOOKEEPER,
    name="mesos",
    label="ZooKeeper + Mesos + Marathon",
    groups=("mesos_masters", "mesos_agents", "marathon"),
    quorum_groups=("mesos_masters",),
    worker_groups=("mesos_agents",),
    playbooks={"up": "mesos.yml", "reset": "mesos-reset.yml", "maintenance": "mesos-maintenance.yml",
               "remove-agent": "mesos-remove-agent.yml", "remove-masters": "mesos-remove-masters.yml"},
    artifacts=("emulators",),
    ha_systems=(HaSystem("mesos_masters", "mesos_masters", "API / master", lab_emulated=True),
                HaSystem("marathon", "marathon", "scheduler", lab_emulated=True)),
    ports=(Port("mesos_master", "mesos", "mesos_master_port"), Port("mesos_agent", "mesos", "mesos_agent_port"),
           Port("marathon_http", "marathon", "marathon_http_port")),
    daemons=tuple(Daemon(name, _program(name), lab_emulated=True) for name in ("mesos-master", "mesos-agent",
                                                                               "marathon")),
    lab=LabLayout(5, "master", ("zookeeper", "mesos_masters", "marathon"), worker_prefix="agent"),
    comparison=Comparison("stackbench.compare.marathon_eval:MarathonEval", "Mesos+Marathon", column=1),
)

KUBERNETES = _on(
    ETCD,
    name="kubernetes",
    label="etcd + Kubernetes",
    groups=("kube_control_plane", "kube_nodes"),
    # a kubespray inventory names the workers kube_node (its etcd and kube_control_plane are ours)
    group_aliases={"kube_nodes": ("kube_node",)},
    worker_groups=("kube_nodes",),
    playbooks={"up": "kubernetes.yml", "reset": "kubernetes-reset.yml", "certs": "kubernetes-certs.yml",
               "upgrade": "kubernetes-upgrade.yml", "remove-node": "kubernetes-remove-node.yml",
               "recover": "kubernetes-recover.yml"},
    artifacts=("images", "kubernetes", "coredns"),
    ha_systems=tuple(HaSystem(name, "kube_control_plane", role) for name, role in (
        ("kube_apiserver", "API / master"), ("kube_controller_manager", "controllers"),
        ("kube_scheduler", "scheduler"))),
    ports=(Port("kube_apiserver", "kubernetes", "kubernetes_apiserver_port"),
           Port("kube_apiserver_lb", "kube_apiserver_lb", "kube_apiserver_lb_port")),
    daemons=tuple(Daemon(name, _program(name)) for name in (
        "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "containerd",
        "haproxy")),
    lab=LabLayout(4, "cp", ("etcd", "kube_control_plane", "kube_nodes"), worker_prefix="worker",
                  profile="kubernetes-node"),
    comparison=Comparison("stackbench.compare.kubernetes_eval:KubernetesEval", "Kubernetes", column=0),
)

STACKS: Mapping[str, Stack] = MappingProxyType({s.name: s for s in (ZOOKEEPER, ETCD, MESOS, KUBERNETES)})


def get(name: str | Stack) -> Stack:
    """The stack called `name`; the one place an unknown stack is refused."""
    if isinstance(name, Stack):
        return name
    try:
        return STACKS[name]
    except KeyError:
        raise StackbenchError(f"unknown stack {name!r}", f"use one of: {', '.join(STACKS)}", exit_code=2) from None


def names() -> list[str]:
    return list(STACKS)


def compared(selection: Iterable[str] | None = None) -> list[Stack]:
    """The stacks `stackbench compare` evaluates (all it can by default), refusing the others."""
    if selection is None:
        return [s for s in STACKS.values() if s.comparison is not None]
    stacks = [get(name) for name in selection]
    for stack in stacks:
        if stack.comparison is None:
            raise _not_compared(stack.name)
    return stacks


def _not_compared(name: str) -> StackbenchError:
    return StackbenchError(f"stack {name!r} is not compared", f"use: {', '.join(s.name for s in compared())}",
                           exit_code=2)


def report_columns() -> list[Stack]:
    """The compared stacks in the order of the report's columns."""
    return sorted(compared(), key=lambda s: s.comparison.column)  # type: ignore[union-attr]


def quorum_groups() -> tuple[str, ...]:
    """Every group whose members form a majority quorum (an even size adds no fault tolerance)."""
    return tuple(dict.fromkeys(g for s in STACKS.values() for g in s.quorum_groups))


def daemons() -> tuple[Daemon, ...]:
    """Every control-plane daemon of every stack, once each (the first whose pattern matches names a process)."""
    found: dict[str, Daemon] = {}
    for stack in STACKS.values():
        for daemon in stack.daemons:
            found.setdefault(daemon.name, daemon)
    return tuple(found.values())


def ha_system(name: str) -> HaSystem | None:
    for stack in STACKS.values():
        for system in stack.ha_systems:
            if system.name == name:
                return system
    return None
