"""Filters for values derived from cluster membership (quorums, connect strings, URLs).

Roles call these instead of building the strings in inline Jinja, so the arithmetic and
formats have one definition and unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def _member_count(members: int | str | Iterable[Any], caller: str) -> int:
    """A member count from a count or a list of members.

    A string is a count when it holds digits (inventory values are often strings), never a
    list of one-letter members; a boolean is a mistake, not 0 or 1.
    """
    if isinstance(members, bool):
        raise AnsibleFilterError(f"{caller}: expected a member count or a list of members, got {members!r}")
    if isinstance(members, int):
        return members
    if isinstance(members, str):
        if members.strip().lstrip("-").isdigit():
            return int(members)
        raise AnsibleFilterError(f"{caller}: expected a member count or a list of members, got {members!r}")
    try:
        return len(list(members))
    except TypeError:
        raise AnsibleFilterError(
            f"{caller}: expected a member count or a list of members, got {members!r}"
        ) from None


def quorum_size(members: int | str | Iterable[Any]) -> int:
    """Strict majority of a cluster of `members` (a count or a list of members)."""
    count = _member_count(members, "quorum_size")
    if count < 1:
        raise AnsibleFilterError(f"quorum_size: a cluster needs at least one member, got {count}")
    return count // 2 + 1


def tolerated_failures(members: int | str | Iterable[Any]) -> int:
    """How many members may fail while a majority remains."""
    count = _member_count(members, "tolerated_failures")
    return count - quorum_size(count)


def _host_port(address: str, port: int | str) -> str:
    return f"[{address}]:{port}" if ":" in address and not address.startswith("[") else f"{address}:{port}"


def _addresses(addresses: str | Iterable[str]) -> list[str]:
    """A list of addresses; a single string is one address, not a list of characters."""
    if isinstance(addresses, str):
        return [a.strip() for a in addresses.split(",") if a.strip()]
    return [str(a) for a in addresses]


def zk_connect_string(addresses: str | Iterable[str], port: int | str = 2181, chroot: str = "") -> str:
    """`h1:2181,h2:2181,h3:2181[/chroot]`, the form ZooKeeper clients take."""
    hosts = _addresses(addresses)
    if not hosts:
        raise AnsibleFilterError("zk_connect_string: no ZooKeeper addresses (is the group empty?)")
    if chroot and not chroot.startswith("/"):
        raise AnsibleFilterError(f"zk_connect_string: chroot must start with '/', got {chroot!r}")
    return ",".join(_host_port(h, port) for h in hosts) + (chroot.rstrip("/") if chroot != "/" else "")


def zk_url(addresses: str | Iterable[str], path: str, port: int | str = 2181) -> str:
    """`zk://h1:2181,h2:2181/path`, the form Mesos (`--zk`, `--master`) and Marathon take."""
    if not path.startswith("/") or path == "/":
        raise AnsibleFilterError(f"zk_url: path must be a znode path like /mesos, got {path!r}")
    return "zk://" + zk_connect_string(addresses, port, path)


def etcd_initial_cluster(members: Mapping[str, str] | Iterable[Mapping[str, str]], port: int | str = 2380,
                         scheme: str = "https") -> str:
    """`name1=https://addr1:2380,...` from {name: address} or [{name:, address:}]."""
    pairs = list(members.items()) if isinstance(members, Mapping) else [(m["name"], m["address"]) for m in members]
    if not pairs:
        raise AnsibleFilterError("etcd_initial_cluster: no members")
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise AnsibleFilterError(f"etcd_initial_cluster: duplicate member names in {names}")
    return ",".join(f"{name}={scheme}://{_host_port(addr, port)}" for name, addr in pairs)


def url_list(addresses: str | Iterable[str], port: int | str, scheme: str = "https") -> str:
    """`https://a:2379,https://b:2379`, e.g. for --etcd-servers or --endpoints."""
    hosts = _addresses(addresses)
    if not hosts:
        raise AnsibleFilterError("url_list: no addresses (is the group empty?)")
    return ",".join(f"{scheme}://{_host_port(a, port)}" for a in hosts)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "quorum_size": quorum_size,
            "tolerated_failures": tolerated_failures,
            "zk_connect_string": zk_connect_string,
            "zk_url": zk_url,
            "etcd_initial_cluster": etcd_initial_cluster,
            "url_list": url_list,
        }
