"""Address arithmetic for cluster networks (pod and service CIDRs), without netaddr.

Used by the kubernetes roles: the first service address (the apiserver's in-cluster IP, the DNS
service's) and overlap checks for the preflight. cidr_subnet (the n-th subnet of a network) is no
longer used by the roles: the controller-manager allocates each node's pod subnet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from ansible.errors import AnsibleFilterError


def _network(cidr: str, caller: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(cidr), strict=False)
    except ValueError as exc:
        raise AnsibleFilterError(f"{caller}: {cidr!r} is not a network in CIDR form: {exc}") from exc


def cidr_subnet(cidr: str, prefix: int | str, index: int | str) -> str:
    """The index-th subnet of length prefix inside cidr ('10.244.0.0/16', 24, 2 -> '10.244.2.0/24')."""
    network = _network(cidr, "cidr_subnet")
    prefix, index = int(prefix), int(index)
    if prefix < network.prefixlen or prefix > network.max_prefixlen:
        raise AnsibleFilterError(f"cidr_subnet: /{prefix} does not fit inside {network}")
    count = 2 ** (prefix - network.prefixlen)
    if not 0 <= index < count:
        raise AnsibleFilterError(f"cidr_subnet: {network} holds {count} /{prefix} subnets, index {index} is outside")
    size = 2 ** (network.max_prefixlen - prefix)
    base = int(network.network_address) + index * size
    return str(ipaddress.ip_network((base, prefix)))


def cidr_address(cidr: str, index: int | str) -> str:
    """The index-th address of cidr ('10.96.0.0/12', 1 -> '10.96.0.1')."""
    network = _network(cidr, "cidr_address")
    index = int(index)
    if not 0 <= index < network.num_addresses:
        raise AnsibleFilterError(f"cidr_address: {network} has no address number {index}")
    return str(network.network_address + index)


def cidr_overlaps(cidr: str, others: str | Iterable[str]) -> list[str]:
    """The networks among others (CIDRs or address/prefix strings) that overlap cidr; [] if none."""
    network = _network(cidr, "cidr_overlaps")
    candidates = [others] if isinstance(others, str) else list(others)
    found = []
    for other in candidates:
        other_net = _network(other, "cidr_overlaps")
        if other_net.version == network.version and network.overlaps(other_net):
            found.append(str(other))
    return found


def cidr_contains(cidr: str, address: str) -> bool:
    """Whether address (or a network) lies inside cidr."""
    network = _network(cidr, "cidr_contains")
    other = _network(address, "cidr_contains")
    return other.version == network.version and other.subnet_of(network)  # type: ignore[arg-type]


def addresses_outside(addresses: Iterable[str], networks: str | Iterable[str]) -> list[str]:
    """The addresses that lie in none of networks (order kept), e.g. host addresses minus pod gateways."""
    nets = [_network(n, "addresses_outside") for n in ([networks] if isinstance(networks, str) else networks)]
    kept = []
    for address in addresses:
        ip = _network(address, "addresses_outside")
        if not any(ip.version == net.version and ip.subnet_of(net) for net in nets):  # type: ignore[arg-type]
            kept.append(address)
    return kept


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "cidr_subnet": cidr_subnet,
            "cidr_address": cidr_address,
            "cidr_overlaps": cidr_overlaps,
            "cidr_contains": cidr_contains,
            "addresses_outside": addresses_outside,
        }
