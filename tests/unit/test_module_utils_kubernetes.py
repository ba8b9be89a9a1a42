"""plugins/module_utils/kubernetes.py: Leases, Go durations and leader-election flags, readiness,
ConfigMaps, Pods, kubeconfigs read as kubectl reads them (Node lists and quantities: test_node_capacity.py)."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
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
    read_kubeconfig,
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


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _kubeconfig(**user: str) -> dict:
    """Two clusters and users, as a kubeconfig with a second context (kubectl config use-context) has."""
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "admin@stackbench",
        "clusters": [{"name": "other", "cluster": {"server": "https://other:6443", "insecure-skip-tls-verify": True}},
                     {"name": "stackbench", "cluster": {"server": "https://172.29.0.11:6443",
                                                         "certificate-authority": "pki/ca.crt"}}],
        "users": [{"name": "viewer", "user": {"tokenFile": "tokens/viewer"}},
                  {"name": "kubernetes-admin", "user": user or {"client-certificate": "pki/admin.crt",
                                                                "client-key-data": _b64("KEY")}}],
        "contexts": [{"name": "admin@stackbench", "context": {"cluster": "stackbench", "user": "kubernetes-admin"}},
                     {"name": "viewer@other", "context": {"cluster": "other", "user": "viewer",
                                                           "namespace": "apps"}}],
    }


@pytest.fixture()
def kubeconfig_dir(tmp_path):
    """A kubeconfig in conf/ whose files are relative to it, as `kubectl config set-credentials` writes them."""
    conf = tmp_path / "conf"
    (conf / "pki").mkdir(parents=True)
    (conf / "tokens").mkdir()
    (conf / "pki" / "ca.crt").write_bytes(b"CA")
    (conf / "pki" / "admin.crt").write_bytes(b"CERT")
    (conf / "tokens" / "viewer").write_text("s3cret\n")
    (conf / "admin.conf").write_text(yaml.safe_dump(_kubeconfig()))
    return conf


def test_read_kubeconfig_resolves_relative_paths_against_its_directory_not_the_cwd(kubeconfig_dir, tmp_path,
                                                                                    monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    credentials = read_kubeconfig(str(kubeconfig_dir / "admin.conf"), loads=yaml.safe_load)
    assert credentials == {"server": "https://172.29.0.11:6443", "ca": b"CA", "cert": b"CERT", "key": b"KEY",
                           "token": None, "insecure": False, "tls_server_name": None, "namespace": "default"}
    # the decoded document alone knows no directory: a relative path is then the cwd's, and absent here
    with pytest.raises(ParseError, match="cannot read pki/ca.crt"):
        kubeconfig_credentials(yaml.safe_load((kubeconfig_dir / "admin.conf").read_text()))


def test_an_explicit_context_switches_cluster_user_and_namespace(kubeconfig_dir):
    path = str(kubeconfig_dir / "admin.conf")
    with pytest.raises(ParseError, match="client certificates only"):
        read_kubeconfig(path, "viewer@other", loads=yaml.safe_load)
    viewer = read_kubeconfig(path, "viewer@other", require_client_certificate=False, loads=yaml.safe_load)
    assert viewer["server"] == "https://other:6443" and viewer["token"] == "s3cret"  # the file's, stripped
    assert viewer["insecure"] is True and viewer["ca"] is None and viewer["namespace"] == "apps"
    with pytest.raises(ParseError, match="no context named 'nope'"):
        read_kubeconfig(path, "nope", loads=yaml.safe_load)


def test_current_context_decides_when_no_context_is_given(kubeconfig_dir):
    config = _kubeconfig()
    config["current-context"] = "viewer@other"
    credentials = kubeconfig_credentials(config, base_dir=str(kubeconfig_dir), require_client_certificate=False)
    assert credentials["server"] == "https://other:6443"
    del config["current-context"]
    with pytest.raises(ParseError, match="no current-context"):
        kubeconfig_credentials(config)


def test_data_fields_override_files_and_tokenfile_overrides_token(kubeconfig_dir):
    config = _kubeconfig(**{"client-certificate": "missing.crt", "client-certificate-data": _b64("CERT-DATA"),
                            "client-key-data": _b64("KEY")})
    config["clusters"][1]["cluster"]["certificate-authority-data"] = _b64("CA-DATA")
    credentials = kubeconfig_credentials(config, base_dir=str(kubeconfig_dir))
    assert (credentials["ca"], credentials["cert"]) == (b"CA-DATA", b"CERT-DATA")
    config["users"][0]["user"]["token"] = "inline"
    assert kubeconfig_credentials(config, "viewer@other", str(kubeconfig_dir),
                                  require_client_certificate=False)["token"] == "s3cret"
    del config["users"][0]["user"]["tokenFile"]
    assert kubeconfig_credentials(config, "viewer@other", require_client_certificate=False)["token"] == "inline"


def test_bad_kubeconfigs_are_refused_with_the_reason():
    config = _kubeconfig(**{"client-certificate-data": "not base64!", "client-key-data": _b64("KEY")})
    config["clusters"][1]["cluster"]["certificate-authority-data"] = _b64("CA")
    with pytest.raises(ParseError, match="client-certificate-data is not base64"):
        kubeconfig_credentials(config)
    config["clusters"][1]["cluster"]["insecure-skip-tls-verify"] = True
    with pytest.raises(ParseError, match="insecure-skip-tls-verify with a certificate-authority"):
        kubeconfig_credentials(config)
    config = _kubeconfig(token="abc")
    config["clusters"][1]["cluster"] = {"server": "https://x"}
    with pytest.raises(ParseError, match="lacks cert, key"):
        kubeconfig_credentials(config)
    config["clusters"][1]["cluster"] = {}
    with pytest.raises(ParseError, match=r"lacks server \(a client certificate and key, or a token\)"):
        kubeconfig_credentials(config, require_client_certificate=False)


def test_read_kubeconfig_reads_json_alone_and_refuses_what_is_not_one(tmp_path):
    config = _kubeconfig(**{"client-certificate-data": _b64("CERT"), "client-key-data": _b64("KEY")})
    config["clusters"][1]["cluster"] = {"server": "https://x"}
    (tmp_path / "kubeconfig.json").write_text(json.dumps(config))
    assert read_kubeconfig(str(tmp_path / "kubeconfig.json"))["cert"] == b"CERT"
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(ParseError, match="not a kubeconfig"):
        read_kubeconfig(str(tmp_path / "list.yaml"), loads=yaml.safe_load)
    with pytest.raises(ParseError, match="list.yaml is not a kubeconfig: "):  # YAML without a YAML parser
        read_kubeconfig(str(tmp_path / "list.yaml"))


def test_kube_ssl_context_writes_the_key_private(tmp_path, monkeypatch):
    class Context:
        def load_cert_chain(self, cert, key):
            self.chain = (Path(cert).read_bytes(), Path(key).read_bytes())

    made = Context()
    monkeypatch.setattr("ssl.create_default_context", lambda cadata=None: made)
    assert kube_ssl_context({"ca": None, "cert": b"CERT", "key": b"KEY"}, str(tmp_path)) is made
    assert made.chain == (b"CERT", b"KEY")
    assert stat.S_IMODE((tmp_path / "kube-client.key").stat().st_mode) == 0o600


def test_kube_ssl_context_skips_verification_only_when_the_kubeconfig_says_so(tmp_path):
    import ssl

    assert kube_ssl_context({"ca": None, "insecure": False}, str(tmp_path)).verify_mode == ssl.CERT_REQUIRED
    insecure = kube_ssl_context({"ca": None, "insecure": True}, str(tmp_path))
    assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
    assert not list(tmp_path.iterdir())  # no client certificate: nothing written


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
