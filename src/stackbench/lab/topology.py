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

from stackbench import catalog
from stackbench.errors import StackbenchError

# A lab of plain hosts in one group `lab`, for trying things out (not a stack).
PLAIN = "plain"
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
        for group in catalog.quorum_groups():
            members = self.group(group)
            if members and len(members) % 2 == 0:
                raise StackbenchError(
                    f"topology {self.name!r} puts {len(members)} hosts in group {group!r}: "
                    "a quorum group needs an odd size",
                    f"use {len(members) - 1} or {len(members) + 1} hosts in {group!r}",
                )


def builtin(stack: str, nodes: int | None = None) -> Topology:
    """The lab layout of a stack (catalog.Stack.lab); `nodes` scales it (quorum groups stay at 1 or 3)."""
    if stack == PLAIN:
        return Topology(PLAIN, [HostSpec(f"node{i}", ("lab",)) for i in range(1, (nodes or 3) + 1)])
    spec = catalog.get(stack)
    layout = spec.lab
    count = nodes or layout.default_nodes
    if layout.worker_prefix:
        core = 3 if count >= 3 else 1
    elif count % 2 == 0:
        raise StackbenchError(f"--nodes {count}: a {stack} ensemble needs an odd size",
                              f"use --nodes {count - 1} or {count + 1}")
    else:
        core = count
    core_groups = layout.core_groups if count > core else tuple(dict.fromkeys(layout.core_groups + spec.worker_groups))
    hosts = [HostSpec(f"{layout.core_prefix}{i}", core_groups, layout.profile) for i in range(1, core + 1)]
    hosts += [HostSpec(f"{layout.worker_prefix}{i}", spec.worker_groups, layout.profile)
              for i in range(1, count - core + 1)]
    return Topology(spec.name, hosts)


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
