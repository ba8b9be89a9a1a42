"""Tests for plugins/filter/stackbench_network.py (pod and service CIDR arithmetic)."""

from __future__ import annotations

import ipaddress

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.filter.stackbench_network import (
    FilterModule,
    addresses_outside,
    cidr_address,
    cidr_contains,
    cidr_overlaps,
    cidr_subnet,
)
from hypothesis import given
from hypothesis import strategies as st


def test_node_pod_subnets_are_consecutive():
    assert cidr_subnet("10.244.0.0/16", 24, 0) == "10.244.0.0/24"
    assert cidr_subnet("10.244.0.0/16", "24", "3") == "10.244.3.0/24"


@given(st.integers(min_value=0, max_value=255), st.integers(min_value=0, max_value=255))
def test_distinct_indexes_never_overlap(a, b):
    sa = ipaddress.ip_network(cidr_subnet("10.244.0.0/16", 24, a))
    sb = ipaddress.ip_network(cidr_subnet("10.244.0.0/16", 24, b))
    assert sa.subnet_of(ipaddress.ip_network("10.244.0.0/16"))
    assert (a == b) == sa.overlaps(sb)


def test_subnet_index_out_of_range_is_refused():
    with pytest.raises(AnsibleFilterError, match="holds 256"):
        cidr_subnet("10.244.0.0/16", 24, 256)
    with pytest.raises(AnsibleFilterError, match="does not fit"):
        cidr_subnet("10.244.0.0/16", 8, 0)


def test_service_addresses():
    assert cidr_address("10.96.0.0/12", 1) == "10.96.0.1"
    assert cidr_address("10.96.0.0/12", 10) == "10.96.0.10"
    with pytest.raises(AnsibleFilterError):
        cidr_address("10.96.0.0/30", 4)


def test_overlaps_lists_only_the_overlapping_networks():
    assert cidr_overlaps("10.244.0.0/16", ["10.96.0.0/12", "172.29.3.0/24"]) == []
    assert cidr_overlaps("10.0.0.0/8", ["10.96.0.0/12", "172.29.3.0/24"]) == ["10.96.0.0/12"]
    assert cidr_overlaps("172.29.3.0/24", "172.29.3.11/24") == ["172.29.3.11/24"]
    assert cidr_overlaps("10.0.0.0/8", ["fd00::/64"]) == []


def test_contains_and_bad_input():
    assert cidr_contains("10.96.0.0/12", "10.96.0.10")
    assert not cidr_contains("10.96.0.0/12", "10.244.0.1")
    with pytest.raises(AnsibleFilterError, match="not a network"):
        cidr_overlaps("10.0.0.0/33", [])


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {
        "cidr_subnet", "cidr_address", "cidr_overlaps", "cidr_contains", "addresses_outside"}


def test_addresses_outside_drops_pod_gateways_and_keeps_order():
    found = ["172.29.0.11", "10.244.1.1", "10.244.1.1", "192.168.5.4", "fd00::1"]
    assert addresses_outside(found, ["10.244.0.0/16"]) == ["172.29.0.11", "192.168.5.4", "fd00::1"]
    assert addresses_outside(found, "10.244.0.0/16") == ["172.29.0.11", "192.168.5.4", "fd00::1"]
    assert addresses_outside(found, []) == found
    assert addresses_outside(["fd00::1", "fe80::2"], ["fe80::/10"]) == ["fd00::1"]
    with pytest.raises(AnsibleFilterError):
        addresses_outside(["not-an-address"], ["10.0.0.0/8"])
