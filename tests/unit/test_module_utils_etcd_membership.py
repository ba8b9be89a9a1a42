"""etcd membership decisions (module_utils.etcd_membership): member lists and health as etcdctl
prints them, joins as learners, removals that keep quorum, the upgrade policy and its filter."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.filter.etcd import etcd_version_errors
from ansible_collections.stackbench.cluster.plugins.module_utils import etcd_membership as m
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError

# ids above 2**53 as etcdctl prints them (JSON numbers): a float round trip would change them
IDS = {"etcd1": 10501334649042878790, "etcd2": 13257736837322153539, "etcd3": 17920287612367843061}


def member_list(*names, learner="", unstarted="") -> str:
    members = []
    for index, name in enumerate(names, start=1):
        item = {"ID": IDS.get(name, 1000 + index), "name": name, "peerURLs": [f"https://10.0.0.{index}:2380"],
                "clientURLs": [f"https://10.0.0.{index}:2379"]}
        if name == learner:
            item["isLearner"] = True
        if name == unstarted:
            del item["name"], item["clientURLs"]
        members.append(item)
    return json.dumps({"header": {"cluster_id": 1, "member_id": IDS["etcd1"], "raft_term": 3}, "members": members})


def health(*healthy: int, of: int = 3) -> dict[str, bool]:
    return {f"https://10.0.0.{i}:2379": i in healthy for i in range(1, of + 1)}


def test_member_list_keeps_uint64_ids_exact_and_marks_learners_and_unstarted_members():
    members = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3", learner="etcd3", unstarted="etcd2"))
    assert [x["id"] for x in members] == [IDS["etcd1"], IDS["etcd2"], IDS["etcd3"]]
    assert members[0]["hex_id"] == format(IDS["etcd1"], "x")
    assert [x["is_learner"] for x in members] == [False, False, True]
    assert [x["started"] for x in members] == [True, False, True]
    assert members[1]["name"] == "" and members[1]["client_urls"] == []


@pytest.mark.parametrize("text", ["not json", "[]", '{"members": {}}', '{"members": [{"name": "x"}]}'])
def test_a_member_list_that_is_not_one_is_a_parse_error(text):
    with pytest.raises(ParseError):
        m.parse_member_list(text)


def test_endpoint_health_as_etcdctl_prints_it_with_one_member_down():
    text = json.dumps([
        {"endpoint": "https://10.0.0.1:2379", "health": True, "took": "2ms"},
        {"endpoint": "https://10.0.0.2:2379", "health": False, "took": "5s", "error": "context deadline exceeded"},
    ])
    assert m.parse_endpoint_health(text) == {"https://10.0.0.1:2379": True, "https://10.0.0.2:2379": False}


def test_join_initial_cluster_lists_exactly_the_members_and_the_new_one_under_its_name():
    members = m.parse_member_list(member_list("etcd1", "etcd2", "etcd4", unstarted="etcd4"))
    # etcd4 was added (no name until it starts): it appears once, under its own name
    assert m.join_initial_cluster(members, "etcd4", "https://10.0.0.3:2380") == (
        "etcd1=https://10.0.0.1:2380,etcd2=https://10.0.0.2:2380,etcd4=https://10.0.0.3:2380")
    # not yet added: appended
    two = m.parse_member_list(member_list("etcd1", "etcd2"))
    assert m.join_initial_cluster(two, "etcd3", "https://10.0.0.3:2380").endswith(",etcd3=https://10.0.0.3:2380")


def test_join_initial_cluster_refuses_another_member_added_but_never_started():
    members = m.parse_member_list(member_list("etcd1", "etcd2", unstarted="etcd2"))
    with pytest.raises(ParseError, match="never started"):
        m.join_initial_cluster(members, "etcd3", "https://10.0.0.3:2380")


def test_a_new_member_can_join_and_a_re_run_finds_it_added():
    members = m.parse_member_list(member_list("etcd1", "etcd2"))
    assert m.join_errors(members, "etcd3", "https://10.0.0.3:2380") == []
    added = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3", learner="etcd3", unstarted="etcd3"))
    assert m.join_errors(added, "etcd3", "https://10.0.0.3:2380") == []


def test_a_join_under_the_name_of_a_dead_member_is_refused_and_points_at_recovery():
    members = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3"))
    (error,) = m.join_errors(members, "etcd3", "https://10.0.0.9:2380")
    assert "already exists" in error and "etcd-recover.yml" in error


def test_a_second_learner_waits_for_the_first():
    members = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3", learner="etcd3"))
    (error,) = m.join_errors(members, "etcd4", "https://10.0.0.4:2380")
    assert "etcd3 is still a learner" in error


@pytest.mark.parametrize(("name", "healthy"), [
    ("etcd3", (1, 2, 3)),   # 3 healthy -> 2 remain, both healthy
    ("etcd3", (1, 2)),      # the dead member itself
    ("etcd1", (1, 2, 3)),
])
def test_removals_that_keep_quorum(name, healthy):
    members = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3"))
    assert m.removal_errors(members, health(*healthy), name) == []


def test_removing_a_healthy_member_while_another_is_down_is_refused_naming_the_unhealthy_one():
    members = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3"))
    (error,) = m.removal_errors(members, health(1, 3), "etcd1")
    assert "would lose quorum" in error and "1 of the 2 remaining" in error and "unhealthy: etcd2" in error


def test_a_cluster_without_quorum_cannot_remove_anyone_and_is_pointed_at_a_snapshot():
    members = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3"))
    errors = m.removal_errors(members, health(1), "etcd2")
    assert any("no quorum now" in e and "etcd_restore_snapshot" in e for e in errors)


def test_learners_do_not_count_and_can_always_go():
    members = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3", learner="etcd3"))
    assert m.removal_errors(members, health(1, 2), "etcd3") == []
    # 2 voters: removing one healthy voter leaves 1 of 1
    assert m.removal_errors(members, health(1, 2), "etcd1") == []


def test_the_last_voter_and_strangers_are_refused():
    one = m.parse_member_list(member_list("etcd1"))
    assert "last voting member" in m.removal_errors(one, health(1, of=1), "etcd1")[0]
    three = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3"))
    assert "not a member" in m.removal_errors(three, health(1, 2, 3), "etcd9")[0]


def test_leadership_goes_to_a_healthy_voter():
    members = m.parse_member_list(member_list("etcd1", "etcd2", "etcd3", learner="etcd2"))
    assert m.leader_successor(members, health(1, 2, 3), IDS["etcd1"]) == IDS["etcd3"]
    assert m.leader_successor(members, health(1, 2), IDS["etcd1"]) is None


@pytest.mark.parametrize(("target", "installed"), [
    ("3.6.16", []),                                  # a new cluster
    ("3.6.16", ["3.6.16"] * 3),                      # a re-run
    ("3.6.16", ["3.5.35"] * 3),                      # the next minor from a new enough patch
    ("3.6.16", ["3.6.16", "3.5.35", "3.5.35"]),      # an upgrade that stopped halfway, resumed
    ("3.5.35", ["3.5.30"]),                          # a patch upgrade
    ("v3.6.16", ["3.6.10"]),
])
def test_allowed_release_changes(target, installed):
    assert m.version_errors(target, installed) == []


def test_a_skipped_minor_is_refused():
    (error,) = m.version_errors("3.6.16", ["3.4.30", "3.4.30"])
    assert "3.4.30 -> 3.6.16 skips a minor release" in error and "3.5.x" in error


def test_a_minor_upgrade_from_an_old_patch_is_refused_as_etcds_guide_asks():
    (error,) = m.version_errors("3.6.16", ["3.5.35", "3.5.21"])
    assert "3.5.21 must first move to 3.5.32" in error


def test_a_minor_downgrade_is_refused_even_when_forced_and_a_patch_downgrade_unless_forced():
    (error,) = m.version_errors("3.5.35", ["3.6.16"], allow_downgrade=True)
    assert "etcdctl downgrade" in error
    (error,) = m.version_errors("3.6.10", ["3.6.16"])
    assert "etcd_allow_downgrade" in error
    assert m.version_errors("3.6.10", ["3.6.16"], allow_downgrade=True) == []


def test_the_filter_wraps_the_check_and_turns_bad_releases_into_filter_errors():
    assert etcd_version_errors("3.6.16", ["3.5.35"]) == []
    with pytest.raises(AnsibleFilterError, match="not an etcd release"):
        etcd_version_errors("3.6", ["3.5.35"])
