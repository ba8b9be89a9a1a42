"""plugins/module_utils/kubernetes.py: Leases, Go durations and leader-election flags, readiness,
ConfigMaps, Pods, kubeconfig credentials (Node lists and quantities: test_node_capacity.py)."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.kubernetes import (
    apiserver_ready,
    configmap_keys,
    go_duration_seconds,
    kube_ssl_context,
    kubeconfig_credentials,
    leader_election_settings,
    lease_holder,
    lease_valid,
    new_lease_holder,
    pod_scheduled,
)
from conftest import fixture_text


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


@pytest.mark.parametrize(("text", "seconds"), [("15s", 15.0), ("1m0s", 60.0), ("500ms", 0.5), ("1h2m3.5s", 3723.5),
                                              ("2s", 2.0)])
def test_go_durations(text, seconds):
    assert go_duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["15", "s", "15 s", "-2s", "15sx"])
def test_go_durations_refused(text):
    with pytest.raises(ParseError):
        go_duration_seconds(text)


def test_leader_election_settings():
    unit = ("{ path=/usr/local/bin/kube-scheduler ; argv[]=/usr/local/bin/kube-scheduler "
            "--kubeconfig=/etc/kubernetes/scheduler.kubeconfig --bind-address=127.0.0.1 --leader-elect=true "
            "--profiling=false ; ignore_errors=no ; start_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }")
    assert leader_election_settings(unit) == {"lease-duration": 15.0, "renew-deadline": 10.0, "retry-period": 2.0}
    tuned = unit.replace("--profiling=false", "--leader-elect-lease-duration=8s --leader-elect-retry-period=500ms")
    assert leader_election_settings(tuned) == {"lease-duration": 8.0, "renew-deadline": 10.0, "retry-period": 0.5}


def test_kubeconfig_credentials(tmp_path):
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


def test_kube_ssl_context_writes_the_key_private(tmp_path, monkeypatch):
    class Context:
        def load_cert_chain(self, cert, key):
            self.chain = (Path(cert).read_bytes(), Path(key).read_bytes())

    made = Context()
    monkeypatch.setattr("ssl.create_default_context", lambda cadata=None: made)
    assert kube_ssl_context({"ca": None, "cert": b"CERT", "key": b"KEY"}, str(tmp_path)) is made
    assert made.chain == (b"CERT", b"KEY")
    assert stat.S_IMODE((tmp_path / "kube-client.key").stat().st_mode) == 0o600


def test_configmap_keys_and_pod_scheduled():
    configmap = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "ha-1", "namespace": "stackbench-ha"},
                 "data": {"w0000002": "2", "marker": "m", "w0000001": "1"}}
    assert configmap_keys(configmap) == ["marker", "w0000001", "w0000002"]
    assert configmap_keys({"kind": "ConfigMap", "metadata": {}}) == []
    with pytest.raises(ParseError):
        configmap_keys({"kind": "Lease"})
    assert pod_scheduled({"kind": "Pod", "spec": {"containers": []}}) is None
    assert pod_scheduled({"kind": "Pod", "spec": {"nodeName": "worker1"}}) == "worker1"


def test_apiserver_ready_only_on_200():
    assert apiserver_ready(200, "ok")
    assert not apiserver_ready(500, "[-]etcd failed")
    assert not apiserver_ready(503, "ok")
