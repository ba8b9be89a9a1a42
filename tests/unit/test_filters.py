"""Tests for plugins/filter/stackbench_cluster.py, with property tests of the quorum arithmetic."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.filter.stackbench_cluster import (
    FilterModule,
    etcd_initial_cluster,
    quorum_size,
    tolerated_failures,
    url_list,
    zk_connect_string,
    zk_url,
)
from hypothesis import given
from hypothesis import strategies as st

sizes = st.integers(min_value=1, max_value=10_000)


@given(sizes)
def test_quorum_is_a_strict_majority(n):
    q = quorum_size(n)
    assert 2 * q > n  # a majority
    assert 2 * (q - 1) <= n  # and the smallest one


@given(sizes)
def test_two_quorums_always_overlap(n):
    # Any two quorums share a member: the property that makes a single leader safe.
    assert 2 * quorum_size(n) - n >= 1


@given(sizes)
def test_failures_plus_quorum_is_the_cluster(n):
    assert tolerated_failures(n) + quorum_size(n) == n
    assert tolerated_failures(n) == (n - 1) // 2


@given(st.integers(min_value=0, max_value=5_000))
def test_an_even_member_adds_no_tolerance(k):
    odd = 2 * k + 1
    assert tolerated_failures(odd + 1) == tolerated_failures(odd)
    assert quorum_size(odd + 1) == quorum_size(odd) + 1


@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=50))
def test_list_and_count_agree(members):
    assert quorum_size(members) == quorum_size(len(members))
    assert tolerated_failures(members) == tolerated_failures(len(members))


@given(sizes)
def test_string_counts_from_inventories(n):
    assert quorum_size(str(n)) == quorum_size(n)


@pytest.mark.parametrize(("n", "quorum", "failures"), [(1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2),
                                                       (7, 4, 3)])
def test_known_values(n, quorum, failures):
    assert quorum_size(n) == quorum
    assert tolerated_failures(n) == failures


@pytest.mark.parametrize("bad", [0, -1, [], "0", True, "zk1", None])
def test_quorum_rejects_bad_input(bad):
    with pytest.raises(AnsibleFilterError):
        quorum_size(bad)


def test_tolerated_failures_rejects_empty():
    with pytest.raises(AnsibleFilterError):
        tolerated_failures([])


def test_zk_connect_string():
    assert zk_connect_string(["10.0.0.1", "10.0.0.2"]) == "10.0.0.1:2181,10.0.0.2:2181"
    assert zk_connect_string(["a"], port=2182, chroot="/mesos/") == "a:2182/mesos"
    assert zk_connect_string(["a"], chroot="/") == "a:2181"
    assert zk_connect_string(["fd00::1"]) == "[fd00::1]:2181"
    assert zk_connect_string(["[fd00::1]"]) == "[fd00::1]:2181"


def test_zk_connect_string_single_string_is_one_host():
    assert zk_connect_string("zk1") == "zk1:2181"
    assert zk_connect_string("zk1,zk2") == "zk1:2181,zk2:2181"


@pytest.mark.parametrize(("addresses", "chroot"), [([], ""), (["a"], "mesos")])
def test_zk_connect_string_errors(addresses, chroot):
    with pytest.raises(AnsibleFilterError):
        zk_connect_string(addresses, chroot=chroot)


def test_zk_url():
    assert zk_url(["h1", "h2", "h3"], "/mesos") == "zk://h1:2181,h2:2181,h3:2181/mesos"
    for bad in ("/", "mesos", ""):
        with pytest.raises(AnsibleFilterError):
            zk_url(["h1"], bad)


@given(st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), min_size=1, max_size=9, unique=True),
       st.integers(min_value=1, max_value=65535))
def test_zk_connect_string_round_trips(hosts, port):
    parsed = [item.rsplit(":", 1) for item in zk_connect_string(hosts, port).split(",")]
    assert [h for h, _ in parsed] == hosts
    assert {int(p) for _, p in parsed} == {port}


def test_etcd_initial_cluster_forms():
    expected = "e1=https://10.0.0.1:2380,e2=https://10.0.0.2:2380"
    assert etcd_initial_cluster({"e1": "10.0.0.1", "e2": "10.0.0.2"}) == expected
    assert etcd_initial_cluster([{"name": "e1", "address": "10.0.0.1"},
                                 {"name": "e2", "address": "10.0.0.2"}]) == expected
    assert etcd_initial_cluster({"e1": "a"}, port=12380, scheme="http") == "e1=http://a:12380"


def test_etcd_initial_cluster_errors():
    with pytest.raises(AnsibleFilterError):
        etcd_initial_cluster({})
    with pytest.raises(AnsibleFilterError):
        etcd_initial_cluster([{"name": "e1", "address": "a"}, {"name": "e1", "address": "b"}])


def test_url_list():
    assert url_list(["a", "b"], 2379) == "https://a:2379,https://b:2379"
    assert url_list(["a"], 2379, "http") == "http://a:2379"
    assert url_list("a", 2379) == "https://a:2379"
    with pytest.raises(AnsibleFilterError):
        url_list([], 2379)


def test_filter_module_exports_everything():
    names = set(FilterModule().filters())
    assert names == {"quorum_size", "tolerated_failures", "zk_connect_string", "zk_url",
                     "etcd_initial_cluster", "url_list"}
