"""plugins/module_utils/marathon.py: /v2/leader, /ping, /v2/info and the cluster judged from every instance."""

from __future__ import annotations

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.marathon import (
    marathon_leader,
    query,
    summarize_instances,
    zookeeper_settings,
)
from conftest import serve_http


def test_marathon_leader():
    assert marathon_leader(200, '{"leader":"master1:8080"}') == "master1:8080"
    assert marathon_leader(200, {"leader": "master1:8080"}) == "master1:8080"  # decoded JSON too
    assert marathon_leader(404, '{"message":"There is no leader"}') is None
    with pytest.raises(ParseError):
        marathon_leader(502, "Could not determine the current leader")


def test_zookeeper_settings():
    info = {"name": "marathon", "zookeeper_config": {"zk": "zk://zk1:2181/marathon", "zk_session_timeout": 10000,
                                                     "zk_timeout": 10000}}
    assert zookeeper_settings(info) == {"zk_session_timeout": "10000", "zk_timeout": "10000"}
    assert zookeeper_settings({}) == {}


IDS = {"a": "a:8080", "b": "b:8080"}


def test_marathon_agreed_leader():
    out = summarize_instances({"a": {"ping": True, "leader": "b:8080"}, "b": {"ping": True, "leader": "b:8080"}}, IDS)
    assert (out["leader"], out["leader_host"], out["healthy"]) == ("b:8080", "b", True)


def test_marathon_disagreement_silence_or_foreign_leader_is_not_healthy():
    split = {"a": {"ping": True, "leader": "a:8080"}, "b": {"ping": True, "leader": "b:8080"}}
    assert not summarize_instances(split, IDS)["healthy"]
    down = {"a": {"ping": True, "leader": "a:8080"}, "b": {"ping": False, "leader": None}}
    assert summarize_instances(down, IDS)["not_answering"] == ["b"]
    assert not summarize_instances(down, IDS)["healthy"]
    foreign = {"a": {"ping": True, "leader": "x:8080"}, "b": {"ping": True, "leader": "x:8080"}}
    assert summarize_instances(foreign, IDS)["leader_host"] is None
    assert not summarize_instances(foreign, IDS)["healthy"]


def test_query_over_http():
    with serve_http({"/ping": (200, "pong"), "/v2/leader": (200, {"leader": "b:8080"})}) as address:
        assert query(address, 2) == {"ping": True, "leader": "b:8080"}
    with serve_http({"/ping": (200, "pong"), "/v2/leader": (404, {"message": "There is no leader"})}) as address:
        assert query(address, 2) == {"ping": True, "leader": None}
    with serve_http({"/ping": (503, "starting")}) as address:
        assert query(address, 2) == {"ping": False, "leader": None}
    assert query(address, 1) == {"ping": False, "leader": None}  # nobody listens any more
