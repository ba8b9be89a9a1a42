"""plugins/module_utils/etcd.py: maintenance status (etcdctl and the gRPC gateway) and the agreed leader."""

from __future__ import annotations

import json

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.etcd import (
    etcd_agreed_leader,
    etcd_mode,
    etcd_status,
    parse_etcd_endpoint_status,
)
from conftest import fixture_text


def test_etcdctl_endpoint_status_keeps_big_ids_exact():
    statuses = parse_etcd_endpoint_status(fixture_text("etcdctl-endpoint-status.json"))
    assert [s["is_leader"] for s in statuses] == [False, True, False]
    assert statuses[1]["member_id"] == 13847567121247652255  # > 2**63, exact
    assert statuses[0]["leader_id"] == 13847567121247652255
    assert statuses[0]["endpoint"] == "https://172.30.7.11:2379"
    assert etcd_agreed_leader(statuses) == 13847567121247652255
    assert [etcd_mode(s) for s in statuses] == ["follower", "leader", "follower"]


def test_gateway_status_ids_are_strings():
    status = etcd_status(json.loads(fixture_text("etcd-gateway-status.json")), "e2")
    assert status["member_id"] == 13847567121247652255 and status["is_leader"]
    assert status["raft_term"] == 3


def test_gateway_status_without_leader():
    status = etcd_status(json.loads(fixture_text("etcd-gateway-status-no-leader.json")))
    assert status["leader_id"] == 0 and not status["is_leader"]
    assert status["errors"] == ["etcdserver: no leader"]
    assert etcd_mode(status) == "candidate"


def test_float_ids_are_refused():
    with pytest.raises(ParseError, match="float"):
        etcd_status({"header": {"member_id": 1.3847567121247652e19}, "leader": 1})


def test_status_without_header():
    with pytest.raises(ParseError):
        etcd_status({"leader": 1})


def test_etcd_disagreement_is_no_leader():
    a = {"leader_id": 1, "raft_term": 3}
    b = {"leader_id": 2, "raft_term": 4}
    assert etcd_agreed_leader([a, b]) is None
    assert etcd_agreed_leader([{"leader_id": 0, "raft_term": 4}]) is None
    assert etcd_agreed_leader([]) is None


def test_etcdctl_not_json():
    with pytest.raises(ParseError):
        parse_etcd_endpoint_status("Error: context deadline exceeded")
