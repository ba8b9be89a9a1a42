"""Parsers, quorum decisions and bookkeeping of plugins/module_utils/stackbench_failover.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import fixture_text
from hypothesis import given
from hypothesis import strategies as st
from stackbench_failover import (
    ParseError,
    WriteLog,
    apiserver_lb_bounds,
    apiserver_ready,
    choose_endpoint_host,
    clean_results,
    configmap_keys,
    etcd_agreed_leader,
    etcd_bounds,
    etcd_status,
    fault_decision,
    go_duration_seconds,
    haproxy_settings,
    holder_inventory_host,
    kubeconfig_credentials,
    leader_election_settings,
    lease_bounds,
    lease_holder,
    lease_valid,
    lost_writes,
    marathon_leader,
    mesos_master_state,
    mesos_zk_leader,
    new_lease_holder,
    parse_etcd_endpoint_status,
    parse_mntr,
    parse_srvr,
    pod_scheduled,
    results_table,
    single_leader,
    summarize,
    write_unavailability,
    zk_mode,
    zookeeper_bounds,
)

# ----- ZooKeeper


def test_mntr_leader():
    mntr = parse_mntr(fixture_text("zk-mntr-leader.txt"))
    assert zk_mode(mntr) == "leader"
    assert mntr["zk_synced_followers"] == "2"
    assert mntr["zk_version"].startswith("3.8.6")


def test_mntr_follower():
    assert zk_mode(parse_mntr(fixture_text("zk-mntr-follower.txt"))) == "follower"


def test_mntr_not_serving_during_election():
    assert parse_mntr(fixture_text("zk-not-serving.txt")) is None
    assert zk_mode(None) is None


def test_mntr_not_whitelisted_is_an_error():
    with pytest.raises(ParseError, match="whitelist"):
        parse_mntr(fixture_text("zk-mntr-not-whitelisted.txt"))


def test_mntr_garbage():
    with pytest.raises(ParseError):
        parse_mntr("imok")


def test_srvr():
    assert parse_srvr(fixture_text("zk-srvr-follower.txt")) == "follower"
    assert parse_srvr(fixture_text("zk-not-serving.txt")) is None
    with pytest.raises(ParseError):
        parse_srvr("imok")


@pytest.mark.parametrize(("modes", "expected"), [
    ({"a": "follower", "b": "leader", "c": "follower"}, "b"),
    ({"a": "follower", "b": None, "c": "follower"}, None),
    ({"a": "leader", "b": "leader"}, None),  # split brain is not "a leader"
    ({}, None),
])
def test_single_leader(modes, expected):
    assert single_leader(modes) == expected


# ----- etcd


def test_etcdctl_endpoint_status_keeps_big_ids_exact():
    statuses = parse_etcd_endpoint_status(fixture_text("etcdctl-endpoint-status.json"))
    assert [s["is_leader"] for s in statuses] == [False, True, False]
    assert statuses[1]["member_id"] == 13847567121247652255  # > 2**63, exact
    assert statuses[0]["leader_id"] == 13847567121247652255
    assert statuses[0]["endpoint"] == "https://172.30.7.11:2379"
    assert etcd_agreed_leader(statuses) == 13847567121247652255


def test_gateway_status_ids_are_strings():
    status = etcd_status(json.loads(fixture_text("etcd-gateway-status.json")), "e2")
    assert status["member_id"] == 13847567121247652255 and status["is_leader"]
    assert status["raft_term"] == 3


def test_gateway_status_without_leader():
    status = etcd_status(json.loads(fixture_text("etcd-gateway-status-no-leader.json")))
    assert status["leader_id"] == 0 and not status["is_leader"]
    assert status["errors"] == ["etcdserver: no leader"]


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


# ----- Mesos, Marathon, Kubernetes


def test_mesos_metrics():
    assert mesos_master_state(json.loads(fixture_text("mesos-metrics-snapshot-leader.json"))) == \
        {"elected": True, "ready": True}
    assert mesos_master_state(json.loads(fixture_text("mesos-metrics-snapshot-recovering.json"))) == \
        {"elected": True, "ready": False}
    assert mesos_master_state(json.loads(fixture_text("mesos-metrics-snapshot-standby.json"))) == \
        {"elected": False, "ready": False}
    with pytest.raises(ParseError):
        mesos_master_state({"slave/registered": 1})


def test_mesos_zk_leader_is_smallest_sequence():
    doc = json.loads(fixture_text("mesos-zk-json-info.json"))
    leader = mesos_zk_leader(doc["children"], doc["data"])
    assert leader["znode"] == "json.info_0000000131"
    assert leader["hostname"] == "master2" and leader["ip"] == "172.30.6.12" and leader["port"] == 5050
    data = {k: v.encode() for k, v in doc["data"].items()}
    assert mesos_zk_leader(["json.info_0000000133"], data)["hostname"] == "master3"
    assert mesos_zk_leader(["log_replicas", "info_0000000001"], {}) is None


def test_marathon_leader():
    assert marathon_leader(200, '{"leader":"master1:8080"}') == "master1:8080"
    assert marathon_leader(404, '{"message":"There is no leader"}') is None
    with pytest.raises(ParseError):
        marathon_leader(502, "Could not determine the current leader")


def test_lease():
    lease = lease_holder(json.loads(fixture_text("kube-lease-scheduler.json")))
    assert lease["holder_host"] == "cp2"
    assert lease["lease_duration_seconds"] == 15 and lease["lease_transitions"] == 2
    renewed = datetime(2026, 11, 22, 2, 0, 1, 123456, tzinfo=UTC)
    assert lease["renew_time"] == renewed
    assert lease_valid(lease, datetime(2026, 11, 22, 2, 0, 10, tzinfo=UTC))
    assert not lease_valid(lease, datetime(2026, 11, 22, 2, 0, 17, tzinfo=UTC))
    empty = lease_holder({"kind": "Lease", "spec": {}})
    assert empty["holder"] is None and not lease_valid(empty, renewed)
    with pytest.raises(ParseError):
        lease_holder({"kind": "ConfigMap"})


def test_real_controller_manager_lease_and_takeover():
    lease = lease_holder(json.loads(fixture_text("kube-lease-controller-manager.json")))  # from the lab
    assert lease["holder"] == "cp3_e47d0649-b7d2-457f-85be-d94afca09d6c" and lease["holder_host"] == "cp3"
    assert lease["acquire_time"] == datetime(2026, 11, 22, 5, 38, 0, 627193, tzinfo=UTC)
    in_time = datetime(2026, 11, 22, 5, 40, 30, tzinfo=UTC)
    assert new_lease_holder(lease, "cp1_0465c115", in_time) == lease["holder"]
    assert new_lease_holder(lease, lease["holder"], in_time) is None  # the same holder is no takeover
    assert new_lease_holder(lease, "cp1_0465c115", datetime(2026, 11, 22, 5, 40, 39, tzinfo=UTC)) is None  # expired


def test_holder_inventory_host():
    members = {"cp1": "172.29.0.11", "cp2.example.org": "172.29.0.12", "c3": "cp3"}
    assert holder_inventory_host("cp1", members) == "cp1"
    assert holder_inventory_host("cp2", members) == "cp2.example.org"
    assert holder_inventory_host("cp3", members) == "c3"
    assert holder_inventory_host("other", members) is None and holder_inventory_host(None, members) is None


@pytest.mark.parametrize(("text", "seconds"), [("15s", 15.0), ("1m0s", 60.0), ("500ms", 0.5), ("1h2m3.5s", 3723.5),
                                              ("2s", 2.0)])
def test_go_durations(text, seconds):
    assert go_duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["15", "s", "15 s", "-2s", "15sx"])
def test_go_durations_refused(text):
    with pytest.raises(ParseError):
        go_duration_seconds(text)


def test_leader_election_settings_and_bounds():
    unit = ("{ path=/usr/local/bin/kube-scheduler ; argv[]=/usr/local/bin/kube-scheduler "
            "--kubeconfig=/etc/kubernetes/scheduler.kubeconfig --bind-address=127.0.0.1 --leader-elect=true "
            "--profiling=false ; ignore_errors=no ; start_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }")
    assert leader_election_settings(unit) == {"lease-duration": 15.0, "renew-deadline": 10.0, "retry-period": 2.0}
    tuned = unit.replace("--profiling=false", "--leader-elect-lease-duration=8s --leader-elect-retry-period=500ms")
    assert leader_election_settings(tuned) == {"lease-duration": 8.0, "renew-deadline": 10.0, "retry-period": 0.5}
    assert lease_bounds(15, 2, 10) == {"lease_duration": 15, "lease_duration_plus_retry": 17,
                                       "takeover_worst_case": 23.8, "old_leader_gives_up_after_renew_deadline": 10}


def test_haproxy_settings_and_bounds():
    settings = haproxy_settings(fixture_text("haproxy-kube-apiserver.cfg"))  # roles/kube_apiserver_lb on the lab
    assert settings == {"retries": 2.0, "timeout_connect": 5.0, "timeout_check": 5.0, "inter": 2.0, "fall": 2.0,
                        "rise": 2.0}
    assert apiserver_lb_bounds(settings) == {"lb_check_interval": 2.0, "lb_backend_down_refused_max": 4.0,
                                             "lb_backend_down_silent_max": 14.0, "lb_connect_timeout": 5.0}
    assert haproxy_settings("    default-server check inter 500 fall 3\n")["inter"] == 0.5  # bare number = ms
    with pytest.raises(ParseError):
        haproxy_settings("    default-server inter fast fall 3\n")


def test_kubeconfig_credentials(tmp_path):
    import base64

    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    key = tmp_path / "admin.key"
    key.write_bytes(b"KEY")
    config = {"current-context": "admin@stackbench",
              "clusters": [{"name": "other", "cluster": {"server": "https://other"}},
                           {"name": "stackbench", "cluster": {"server": "https://172.29.0.11:6443",
                                                               "certificate-authority-data": b64("CA")}}],
              "users": [{"name": "kubernetes-admin", "user": {"client-certificate-data": b64("CERT"),
                                                              "client-key": str(key)}}],
              "contexts": [{"name": "admin@stackbench", "context": {"cluster": "stackbench",
                                                                     "user": "kubernetes-admin"}}]}
    assert kubeconfig_credentials(config) == {"server": "https://172.29.0.11:6443", "ca": b"CA", "cert": b"CERT",
                                              "key": b"KEY"}
    with pytest.raises(ParseError, match="no context named 'nope'"):
        kubeconfig_credentials(config, "nope")
    config["users"][0]["user"] = {"token": "abc"}
    with pytest.raises(ParseError, match="lacks cert, key"):
        kubeconfig_credentials(config)


def test_configmap_keys_and_pod_scheduled():
    configmap = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "ha-1", "namespace": "stackbench-ha"},
                 "data": {"w0000002": "2", "marker": "m", "w0000001": "1"}}
    assert configmap_keys(configmap) == ["marker", "w0000001", "w0000002"]
    assert configmap_keys({"kind": "ConfigMap", "metadata": {}}) == []
    with pytest.raises(ParseError):
        configmap_keys({"kind": "Lease"})
    assert pod_scheduled({"kind": "Pod", "spec": {"containers": []}}) is None
    assert pod_scheduled({"kind": "Pod", "spec": {"nodeName": "worker1"}}) == "worker1"


def test_choose_endpoint_host():
    nodes, control_plane = ["cp1", "cp2", "cp3", "worker1"], ["cp1", "cp2", "cp3"]
    assert choose_endpoint_host(nodes, control_plane, ["cp1"]) == "worker1"
    assert choose_endpoint_host(nodes[:3], control_plane, ["cp1"]) == "cp2"
    assert choose_endpoint_host(["cp1"], control_plane, ["cp1"]) is None


def test_apiserver_ready_only_on_200():
    assert apiserver_ready(200, "ok")
    assert not apiserver_ready(500, "[-]etcd failed")
    assert not apiserver_ready(503, "ok")


# ----- quorum safety


def test_fault_decision_three_members():
    ok, why = fault_decision("zookeeper", 3, 3)
    assert ok and "2 of 3" in why
    ok, why = fault_decision("etcd", 3, 2)
    assert not ok and "quorum of 2" in why and "force" in why
    ok, why = fault_decision("etcd", 3, 2, force=True)
    assert ok and "forced" in why


def test_fault_decision_single_member():
    ok, why = fault_decision("zookeeper", 1, 1)
    assert not ok and "below the quorum of 1" in why


def test_fault_decision_standby_systems():
    assert fault_decision("marathon", 3, 3)[0]
    ok, why = fault_decision("kube_scheduler", 1, 1)
    assert not ok and "take over" in why


@given(st.integers(min_value=1, max_value=99), st.data())
def test_fault_decision_never_allows_quorum_loss(members, data):
    healthy = data.draw(st.integers(min_value=1, max_value=members))
    faulted = data.draw(st.integers(min_value=1, max_value=healthy))
    ok, _ = fault_decision("etcd", members, healthy, faulted)
    assert ok == (healthy - faulted >= members // 2 + 1)
    assert fault_decision("etcd", members, healthy, faulted, force=True)[0]


# ----- bookkeeping


def _log():
    log = WriteLog()
    log.record(1, "w1", 10.0, 10.01, True)
    log.record(2, "w2", 10.05, 10.06, True)
    log.record(3, "w3", 10.10, 12.10, False, "KazooTimeoutError: timeout")  # started before the fault
    log.record(4, "w4", 12.20, 12.30, False, "ConnectionLoss: ")
    log.record(5, "w5", 12.40, 13.90, True)  # queued during the election, acknowledged later
    log.record(6, "w6", 13.95, 13.96, True)
    return log


def test_write_unavailability():
    figures = write_unavailability(_log(), fault_at=11.0)
    assert figures["write_unavailable_seconds"] == 3.84  # last ack before the fault 10.06 -> 13.90
    assert figures["first_ack_after_fault_seconds"] == 2.9  # 13.90 - 11.0
    assert figures["max_ack_gap_seconds"] == 3.84  # 10.06 -> 13.90
    assert figures["writes_attempted"] == 6 and figures["writes_acknowledged"] == 4
    assert figures["failed_writes"] == 2
    assert figures["last_failed_write_seconds"] == 1.3  # w4 ended at 12.30; w3 (12.10) too, earlier
    assert figures["write_errors"] == {"KazooTimeoutError": 1, "ConnectionLoss": 1}


def test_graceful_stop_outage_starts_after_the_fault():
    log = WriteLog()
    for i, t in enumerate([0.0, 0.1, 0.2, 0.3, 1.5, 1.6]):  # leader goes at ~0.3, fault at 0.15
        log.record(i, f"w{i}", t - 0.01, t, True)
    figures = write_unavailability(log, fault_at=0.15)
    assert figures["first_ack_after_fault_seconds"] == 0.05
    assert figures["write_unavailable_seconds"] == 1.2


def test_write_unavailability_without_recovery():
    log = WriteLog()
    log.record(1, "w1", 1.0, 1.1, True)
    log.record(2, "w2", 2.0, 4.0, False, "timeout")
    figures = write_unavailability(log, fault_at=1.5)
    assert figures["write_unavailable_seconds"] is None and figures["max_ack_gap_seconds"] is None


def test_lost_writes():
    lost = lost_writes(["w1", "w2", "w5"], {"a": ["w1", "w2", "w5", "w3"], "b": ["w1", "w5"], "c": None})
    assert lost == {"a": [], "b": ["w2"]}


def test_summarize_and_table():
    log = _log()
    result = summarize(system="zookeeper", fault="kill", old_leader="zo2", new_leader="zo3", fault_at=11.0,
                       new_leader_at=11.4, log=log, lost={"zo1": [], "zo3": ["w2"]},
                       marker_ok={"zo1": True, "zo3": True}, rejoined_as="follower", rejoin_seconds=1.23456,
                       bounds=zookeeper_bounds(2000, 5, 10, 40000))
    assert result["time_to_new_leader_seconds"] == 0.4
    assert result["lost_acknowledged_writes"] == 1 and result["lost_acknowledged_write_keys"] == ["w2"]
    assert result["marker_survived"] is True
    assert result["old_leader_rejoin_seconds"] == 1.235
    assert result["bounds_seconds"] == {"follower_detects_dead_leader": 10.0, "new_leader_sync_limit": 20.0,
                                        "client_session_timeout": 40.0}
    result["passed"] = False
    result["problems"] = ["1 acknowledged writes were lost"]
    failed = {"system": "etcd", "fault": "stop", "failed": True, "msg": "no single leader to begin with"}
    table = results_table([result, failed]).splitlines()
    assert table[0].startswith("system") and set(table[1]) <= {"-", " "}
    assert "zo2 -> zo3" in table[2] and "0.40" in table[2] and "follower (1.24)" in table[2]
    assert table[3].split()[:2] == ["etcd", "stop"]
    assert any(line.startswith("zookeeper bounds from settings") for line in table)
    assert any("FAILED: no single leader" in line for line in table)
    assert any("acknowledged writes were lost" in line for line in table)


def test_marker_missing_anywhere_fails():
    result = summarize(system="etcd", fault="kill", old_leader="a", new_leader=None, fault_at=0, new_leader_at=None,
                       log=WriteLog(), lost={}, marker_ok={"a": True, "b": False}, rejoined_as=None,
                       rejoin_seconds=None)
    assert result["marker_survived"] is False and result["time_to_new_leader_seconds"] is None


def test_bounds():
    assert etcd_bounds(1000, 100) == {"election_timeout": 1.0, "randomized_election_timeout_max": 1.999,
                                      "heartbeat_interval": 0.1}
    assert "client_session_timeout" not in zookeeper_bounds(2000, 2, 5)


def test_clean_results():
    assert clean_results([{"invocation": {}, "item": "kill", "changed": False, "passed": True}]) == \
        [{"passed": True}]
