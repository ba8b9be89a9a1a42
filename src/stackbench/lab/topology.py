"""Lab topologies: which hosts, in which inventory groups, with which container profile.

Group names are the ones the roles expect (see each role's README); a topology is only a
way to ask the lab for hosts, the roles never learn they run in containers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stackbench.errors import StackbenchError

TOPOLOGY_DIR = Path(__file__).parent / "topologies"
# Groups whose members form a majority-quorum cluster: an even size adds no fault tolerance.
QUORUM_GROUPS = ("zookeeper", "etcd", "mesos_masters")
PROFILES = ("systemd", "kubernetes-node")
HOST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


@dataclass(frozen=True)
class HostSpec:
    name: str
    groups: tuple[str, ...] = ()
    profile: str = "systemd"


@dataclass
class Topology:
    name: str
    hosts: list[HostSpec] = field(default_factory=list)

    def group(self, name: str) -> list[str]:
        return [h.name for h in self.hosts if name in h.groups]

    def groups(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for host in self.hosts:
            for group in host.groups:
                result.setdefault(group, []).append(host.name)
        return result

    def validate(self) -> None:
        if not self.hosts:
            raise StackbenchError(f"topology {self.name!r} has no hosts", "give --nodes N (N >= 1)")
        seen: set[str] = set()
        for host in self.hosts:
            if not HOST_NAME.match(host.name):
                raise StackbenchError(
                    f"bad host name {host.name!r} in topology {self.name!r}",
                    "use lower-case letters, digits and '-', starting with a letter",
                )
            if host.name in seen:
                raise StackbenchError(f"host {host.name!r} appears twice in topology {self.name!r}")
            if host.profile not in PROFILES:
                raise StackbenchError(f"host {host.name!r} has unknown profile {host.profile!r}",
                                      f"use one of {', '.join(PROFILES)}")
            seen.add(host.name)
        for group in QUORUM_GROUPS:
            members = self.group(group)
            if members and len(members) % 2 == 0:
                raise StackbenchError(
                    f"topology {self.name!r} puts {len(members)} hosts in group {group!r}: "
                    "a quorum group needs an odd size",
                    f"use {len(members) - 1} or {len(members) + 1} hosts in {group!r}",
                )


def _quorum_size(nodes: int) -> int:
    return 3 if nodes >= 3 else 1


def builtin(stack: str, nodes: int | None = None) -> Topology:
    """The lab layout for a stack; `nodes` scales it (quorum groups stay at 1 or 3)."""
    if stack == "plain":
        count = nodes or 3
        return Topology("plain", [HostSpec(f"node{i}", ("lab",)) for i in range(1, count + 1)])
    if stack in ("zookeeper", "etcd"):
        count = nodes or 3
        if count % 2 == 0:
            raise StackbenchError(f"--nodes {count}: a {stack} ensemble needs an odd size",
                                  f"use --nodes {count - 1} or {count + 1}")
        return Topology(stack, [HostSpec(f"{stack[:2]}{i}", (stack,)) for i in range(1, count + 1)])
    if stack == "mesos":
        count = nodes or 5
        masters = _quorum_size(count)
        hosts = []
        for i in range(1, count + 1):
            if i <= masters:
                groups = ("zookeeper", "mesos_masters", "marathon")
                if count <= masters:
                    groups += ("mesos_agents",)
                hosts.append(HostSpec(f"master{i}", groups))
            else:
                hosts.append(HostSpec(f"agent{i - masters}", ("mesos_agents",)))
        return Topology("mesos", hosts)
    if stack == "kubernetes":
        count = nodes or 4
        control = _quorum_size(count)
        hosts = []
        for i in range(1, count + 1):
            if i <= control:
                groups = ("etcd", "kube_control_plane", "kube_nodes")
                hosts.append(HostSpec(f"cp{i}", groups, "kubernetes-node"))
            else:
                hosts.append(HostSpec(f"worker{i - control}", ("kube_nodes",), "kubernetes-node"))
        return Topology("kubernetes", hosts)
    raise StackbenchError(f"unknown stack {stack!r}", "use one of: mesos, kubernetes, zookeeper, etcd, plain")


def from_platforms(name: str, platforms: list[dict[str, Any]]) -> Topology:
    """A topology from molecule `platforms` entries (name, groups, optional profile)."""
    hosts = [
        HostSpec(p["name"], tuple(p.get("groups", [])), p.get("profile", "systemd")) for p in platforms
    ]
    return Topology(name, hosts)


def from_file(path: Path) -> Topology:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), list):
        raise StackbenchError(f"{path}: a topology file needs a 'hosts' list")
    return from_platforms(data.get("name", path.stem), data["hosts"])
