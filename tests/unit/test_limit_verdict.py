"""Tests for plugins/filter/stackbench_limit.py: when a --limit'ed play may change a quorum group."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.filter.stackbench_limit import FilterModule, limit_verdict
from hypothesis import given
from hypothesis import strategies as st

GROUP = ["zk1", "zk2", "zk3"]


def test_whole_group_proceeds():
    verdict = limit_verdict(GROUP, ["zk3", "zk1", "zk2", "other"])
    assert verdict == {"in_play": GROUP, "limited_out": [], "partial": False, "proceed": True,
                       "reason": "whole group"}


def test_no_member_in_the_play_proceeds():
    # `--limit worker3`: the quorum group's play gets no hosts, nothing of it changes
    verdict = limit_verdict(GROUP, ["worker3"])
    assert verdict["proceed"] and not verdict["partial"] and verdict["reason"] == "no member"
    assert verdict["limited_out"] == GROUP


def test_partial_limit_is_refused_outside_check_mode():
    verdict = limit_verdict(GROUP, ["zk2"])
    assert verdict == {"in_play": ["zk2"], "limited_out": ["zk1", "zk3"], "partial": True, "proceed": False,
                       "reason": "refused"}


def test_partial_limit_proceeds_in_check_mode():
    verdict = limit_verdict(GROUP, ["zk1"], True)
    assert verdict["proceed"] and verdict["partial"] and verdict["reason"] == "check mode"


def test_partial_limit_proceeds_when_allowed():
    verdict = limit_verdict(GROUP, ["zk1", "zk2"], False, True)
    assert verdict["proceed"] and verdict["reason"] == "allowed" and verdict["limited_out"] == ["zk3"]


@pytest.mark.parametrize(("check_mode", "allow", "proceed"), [
    ("false", "no", False), ("True", "false", True), ("0", "yes", True), (0, 0, False),
])
def test_flags_as_inventory_strings(check_mode, allow, proceed):
    assert limit_verdict(GROUP, ["zk1"], check_mode, allow)["proceed"] is proceed


def test_empty_group_proceeds():
    assert limit_verdict([], ["a"]) == {"in_play": [], "limited_out": [], "partial": False, "proceed": True,
                                        "reason": "whole group"}


@pytest.mark.parametrize(("members", "play", "check_mode", "allow", "message"), [
    ("zk1", ["zk1"], False, False, "group_members must be a list of hosts"),
    (GROUP, "zk1", False, False, "play_hosts must be a list of hosts"),
    (GROUP, ["zk1"], "maybe", False, "check_mode must be a boolean"),
    (GROUP, ["zk1"], False, None, "allow must be a boolean"),
])
def test_bad_input(members, play, check_mode, allow, message):
    with pytest.raises(AnsibleFilterError, match=message):
        limit_verdict(members, play, check_mode, allow)


@given(st.lists(st.sampled_from("abcdefg"), unique=True), st.sets(st.sampled_from("abcdefgxyz")),
       st.booleans(), st.booleans())
def test_properties(members, play, check_mode, allow):
    verdict = limit_verdict(members, sorted(play), check_mode, allow)
    # every member lands on exactly one side, in group order
    assert verdict["in_play"] == [m for m in members if m in play]
    assert verdict["limited_out"] == [m for m in members if m not in play]
    assert verdict["partial"] == (0 < len(verdict["in_play"]) < len(members))
    # refused exactly when partial, outside check mode and without the override
    assert verdict["proceed"] == (not verdict["partial"] or check_mode or allow)


def test_registered():
    assert FilterModule().filters()["limit_verdict"] is limit_verdict
