"""plugins/module_utils/zookeeper_reconfig.py and its filters: dynamic membership, zoo.cfg rewrite, plans, checks."""

from __future__ import annotations

import base64
import hashlib

import pytest
from ansible_collections.stackbench.cluster.plugins.filter import zookeeper as filters
from ansible_collections.stackbench.cluster.plugins.module_utils import zookeeper_reconfig as rc
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError

# `conf` of a 3.8.6 member with reconfigEnabled=true, as the lab printed it (trimmed).
CONF = """clientPort=2181
dataDir=/var/lib/zookeeper/data/version-2
tickTime=2000
serverId=1
membership:
server.1=172.29.0.11:2888:3888:participant;0.0.0.0:2181
server.2=172.29.0.12:2888:3888:participant;0.0.0.0:2181
server.3=172.29.0.13:2888:3888:participant;0.0.0.0:2181
version=100000000"""

OURS = """# Ansible managed
# ZooKeeper ensemble member 1 of 3
tickTime=2000
dataDir=/var/lib/zookeeper/data
clientPort=2181
reconfigEnabled=true
"""

# What QuorumPeerConfig.editStaticConfig writes back: no comments, other order, clientPort gone, new pointer.
REWRITTEN = """reconfigEnabled=true
dataDir=/var/lib/zookeeper/data
tickTime=2000
dynamicConfigFile=/etc/zookeeper/conf/zoo.cfg.dynamic.200000003
"""

MEMBERS = [{"name": f"zk{i}", "id": i, "address": f"10.0.0.{i}"} for i in range(1, 6)]


def test_parse_membership_reads_conf_lines_and_version() -> None:
    config = rc.parse_membership(CONF)
    assert config["version"] == "100000000"
    assert [s["id"] for s in config["servers"]] == [1, 2, 3]
    assert config["servers"][0] == {
        "id": 1, "address": "172.29.0.11", "quorum_port": 2888, "election_port": 3888, "role": "participant",
        "client": "0.0.0.0:2181", "line": "server.1=172.29.0.11:2888:3888:participant;0.0.0.0:2181"}


def test_parse_membership_without_server_lines_is_an_error() -> None:
    with pytest.raises(ParseError, match="reconfigEnabled"):
        rc.parse_membership("clientPort=2181\ntickTime=2000\n")


def test_observer_and_no_client_part_parse() -> None:
    server = rc.parse_server_line("server.7=zk7:2888:3888:observer")
    assert server is not None and server["role"] == "observer" and server["client"] == ""
    assert rc.parse_server_line("server.x=zk:1:2") is None


def test_version_number_orders_hex_versions() -> None:
    assert rc.version_number("2000006d3") > rc.version_number("100000000") > rc.version_number("")


def test_zookeeper_rewrite_of_zoo_cfg_is_in_sync() -> None:
    assert rc.static_config_in_sync(REWRITTEN, OURS)


def test_a_changed_setting_is_not_in_sync() -> None:
    assert not rc.static_config_in_sync(REWRITTEN.replace("tickTime=2000", "tickTime=3000"), OURS)
    assert not rc.static_config_in_sync(REWRITTEN, OURS + "maxClientCnxns=60\n")


def test_static_config_appends_the_pointer() -> None:
    text = rc.static_config(OURS, "/c/zoo.cfg.dynamic")
    assert text.endswith("reconfigEnabled=true\ndynamicConfigFile=/c/zoo.cfg.dynamic\n")
    assert rc.parse_properties(text)["dynamicConfigFile"] == "/c/zoo.cfg.dynamic"


def test_server_line_is_a_participant_with_its_client_port() -> None:
    assert filters.zookeeper_server_line({"id": "4", "address": "10.0.0.4"}, 2888, "3888", 2181) == \
        "server.4=10.0.0.4:2888:3888:participant;2181"


def test_super_digest_is_zookeepers_scheme() -> None:
    expected = base64.b64encode(hashlib.sha1(b"super:secret").digest()).decode()
    assert filters.zookeeper_super_digest("secret") == f"super:{expected}"


def test_membership_plan_adds_the_new_hosts_and_names_the_live_ones() -> None:
    live = rc.parse_membership(CONF.replace("172.29.0.1", "10.0.0."))["servers"]
    plan = rc.membership_plan(live, MEMBERS)
    assert [m["name"] for m in plan["add"]] == ["zk4", "zk5"]
    assert plan["live"] == ["zk1", "zk2", "zk3"]
    assert plan["unknown"] == [] and plan["mismatched"] == []


def test_membership_plan_finds_live_ids_the_group_lacks_and_moved_addresses() -> None:
    live = [{"id": 1, "address": "10.0.0.1"}, {"id": 2, "address": "10.9.9.9"}, {"id": 9, "address": "10.0.0.9"}]
    plan = rc.membership_plan(live, MEMBERS[:3])
    assert plan["unknown"] == [9]
    assert plan["mismatched"] == ["zk2 (id 2): inventory address 10.0.0.2, ensemble has 10.9.9.9"]


SERVING = [m["name"] for m in MEMBERS]


def test_removal_keeping_a_serving_majority_is_allowed() -> None:
    assert filters.zookeeper_removal_errors(MEMBERS, "zk4, zk5", [1, 2, 3, 4, 5], SERVING, True) == []


def test_removal_refusals_one_message_each() -> None:
    live = [1, 2, 3, 4, 5]
    assert "dynamic" in rc.removal_errors(MEMBERS, ["zk5"], live, SERVING, False)[0]
    assert "empty" in rc.removal_errors(MEMBERS, [], live, SERVING, True)[0]
    assert "not in the inventory group" in rc.removal_errors(MEMBERS, ["zk9"], live, SERVING, True)[0]
    assert "not a live member" in rc.removal_errors(MEMBERS, ["zk5"], [1, 2, 3], SERVING, True)[0]
    assert "every member" in rc.removal_errors(MEMBERS, SERVING, live, SERVING, True)[0]


def test_removal_that_loses_quorum_is_refused() -> None:
    # keep zk1-zk3, but zk3 is down: 2 of 3 serve, a majority -> allowed
    assert rc.removal_errors(MEMBERS, ["zk4", "zk5"], [1, 2, 3, 4, 5], ["zk1", "zk2", "zk4", "zk5"], True) == []
    # keep zk1-zk3 with zk2 and zk3 down: 1 of 3 -> refused
    errors = rc.removal_errors(MEMBERS, ["zk4", "zk5"], [1, 2, 3, 4, 5], ["zk1", "zk4", "zk5"], True)
    assert errors and "quorum would be lost" in errors[0]
    # keep zk1-zk4 (even): 2 of 4 serve is not a strict majority
    errors = rc.removal_errors(MEMBERS, ["zk5"], [1, 2, 3, 4, 5], ["zk1", "zk2", "zk5"], True)
    assert errors and "2 serve" in errors[0]


@pytest.mark.parametrize(("installed", "wanted", "allow", "expect"), [
    ("", "3.8.6", False, ""),
    ("3.8.6", "3.8.6", False, ""),
    ("3.8.5", "3.8.6", False, ""),
    ("3.8.6", "3.9.3", False, ""),
    ("3.8.6", "3.8.5", False, "older"),
    ("3.8.6", "3.8.5", True, ""),
    ("3.8.6", "3.10.0", False, "skips a minor"),
    ("3.8.6", "4.0.0", False, "skips a minor"),
    ("3.8.x", "3.8.6", False, "cannot compare"),
])
def test_version_change_rules(installed: str, wanted: str, allow: bool, expect: str) -> None:
    error = filters.zookeeper_version_error(installed, wanted, allow)
    assert (expect in error and error) if expect else error == ""


def test_lab_artifacts_build_the_upgrade_source_release_with_its_own_jline() -> None:
    from stackbench.artifacts import zookeeper as artifact

    assert artifact.VERSIONS == ("3.8.5", "3.8.6") and artifact.VERSION == "3.8.6"
    old = {(g, a) for g, a, _ in artifact.assembly_dependencies("3.8.5")}
    new = {(g, a) for g, a, _ in artifact.assembly_dependencies("3.8.6")}
    assert ("jline", "jline") in old and ("org.jline", "jline") not in old
    assert ("org.jline", "jline") in new and ("jline", "jline") not in new
    assert "<groupId>jline</groupId>" in artifact.assembly_pom("3.8.5")
