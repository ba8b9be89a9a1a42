"""plugins/module_utils/mesos.py: master metrics, the cluster judged from all masters, the ZooKeeper
leader record and Mesos durations (the agents' resources are tested in test_node_capacity.py)."""

from __future__ import annotations

import json

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.mesos import (
    master_mode,
    mesos_duration_seconds,
    mesos_master_state,
    mesos_zk_leader,
    metrics_snapshot,
    summarize_masters,
)
from conftest import fixture_text, serve_http


def test_mesos_metrics():
    assert mesos_master_state(json.loads(fixture_text("mesos-metrics-snapshot-leader.json"))) == \
        {"elected": True, "ready": True}
    assert mesos_master_state(json.loads(fixture_text("mesos-metrics-snapshot-recovering.json"))) == \
        {"elected": True, "ready": False}
    assert mesos_master_state(json.loads(fixture_text("mesos-metrics-snapshot-standby.json"))) == \
        {"elected": False, "ready": False}
    with pytest.raises(ParseError):
        mesos_master_state({"slave/registered": 1})


@pytest.mark.parametrize(("fixture", "mode"), [("leader", "leader"), ("recovering", "recovering"),
                                               ("standby", "follower")])
def test_master_mode(fixture, mode):
    assert master_mode(json.loads(fixture_text(f"mesos-metrics-snapshot-{fixture}.json"))) == mode


def test_mesos_zk_leader_is_smallest_sequence():
    doc = json.loads(fixture_text("mesos-zk-json-info.json"))
    leader = mesos_zk_leader(doc["children"], doc["data"])
    assert leader["znode"] == "json.info_0000000131"
    assert leader["hostname"] == "master2" and leader["ip"] == "172.30.6.12" and leader["port"] == 5050
    data = {k: v.encode() for k, v in doc["data"].items()}
    assert mesos_zk_leader(["json.info_0000000133"], data)["hostname"] == "master3"
    assert mesos_zk_leader(["log_replicas", "info_0000000001"], {}) is None


@pytest.mark.parametrize(("text", "seconds"), [("10secs", 10.0), ("500ms", 0.5), ("1mins", 60.0), ("10.0", 10.0),
                                              ("x", None)])
def test_mesos_durations(text, seconds):
    assert mesos_duration_seconds(text) == seconds


# ----- the cluster, as mesos_cluster_status judges it


def snap(elected: bool, recovered: bool = True, agents: int = 2) -> dict:
    return {
        "master/elected": float(elected),
        "registrar/log/recovered": float(recovered and elected),
        "master/slaves_active": float(agents if elected else 0),
    }


def test_one_elected_recovered_master_is_healthy():
    out = summarize_masters({"m1": snap(False), "m2": snap(True), "m3": snap(False)})
    assert (out["leader"], out["healthy"], out["agents_active"]) == ("m2", True, 2)


def test_unrecovered_leader_is_not_healthy():
    out = summarize_masters({"m1": snap(True, recovered=False), "m2": snap(False)})
    assert out["leader"] == "m1" and not out["recovered"] and not out["healthy"]


def test_unreachable_master_or_no_leader_or_two_leaders_is_not_healthy():
    assert not summarize_masters({"m1": snap(True), "m2": None})["healthy"]
    assert summarize_masters({"m1": snap(True), "m2": None})["unreachable"] == ["m2"]
    assert summarize_masters({"m1": snap(False), "m2": snap(False)})["leader"] is None
    split = summarize_masters({"m1": snap(True), "m2": snap(True)})
    assert split["leader"] is None and split["leaders"] == ["m1", "m2"] and not split["healthy"]


def test_a_snapshot_that_is_not_a_master_is_reachable_but_not_elected():
    out = summarize_masters({"m1": snap(True), "m2": {"slave/registered": 1.0}})
    assert out["reachable"] == ["m1", "m2"] and out["leader"] == "m1" and out["healthy"]


def test_metrics_snapshot_over_http():
    leader = json.loads(fixture_text("mesos-metrics-snapshot-leader.json"))
    with serve_http({"/metrics/snapshot": (200, leader)}) as address:
        assert metrics_snapshot(address, 2) == leader
    with serve_http({"/metrics/snapshot": (503, "busy")}) as address:
        assert metrics_snapshot(address, 2) is None
    assert metrics_snapshot(address, 1) is None  # nobody listens any more
