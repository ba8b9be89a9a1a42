"""The compare evaluator's API client reads the admin kubeconfig through the collection's
module_utils/kubernetes.py kubeconfig_credentials() and kube_ssl_context() (one parser for ha_failover
and compare)."""

from __future__ import annotations

import base64
import stat
import subprocess

import pytest
import yaml
from ansible_collections.stackbench.cluster.plugins.module_utils.kubernetes import (
    kube_ssl_context,
    kubeconfig_credentials,
)

from stackbench.compare.kubernetes_eval import KubeAPI
from stackbench.compare.workload import StepError


def _self_signed(tmp_path, name: str) -> tuple[bytes, bytes]:
    key, cert = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}", "-days", "1"],
                   check=True, capture_output=True)
    return cert.read_bytes(), key.read_bytes()


def _kubeconfig(tmp_path) -> dict:
    ca, _ = _self_signed(tmp_path, "ca")
    cert, key = _self_signed(tmp_path, "admin")
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "admin@lab",
        "clusters": [{"name": "other", "cluster": {"server": "https://other:6443"}},
                     {"name": "lab", "cluster": {"server": "https://lab:6443", "certificate-authority-data": b64(ca)}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}],
        "contexts": [{"name": "admin@lab", "context": {"cluster": "lab", "user": "admin"}}],
    }


def test_the_current_context_picks_the_server_not_the_first_cluster(tmp_path):
    path = tmp_path / "admin.kubeconfig"
    path.write_text(yaml.safe_dump(_kubeconfig(tmp_path)))
    api = KubeAPI(path, extra_servers=["https://cp2:6443", "https://lab:6443"])
    assert api.servers == ["https://lab:6443", "https://cp2:6443"]
    assert api.context.verify_mode.name == "CERT_REQUIRED"


def test_the_client_key_is_written_private(tmp_path):
    credentials = kubeconfig_credentials(_kubeconfig(tmp_path))
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    kube_ssl_context(credentials, str(key_dir))
    assert stat.S_IMODE((key_dir / "kube-client.key").stat().st_mode) == 0o600


def test_a_kubeconfig_without_client_certificate_is_a_clear_step_error(tmp_path):
    config = _kubeconfig(tmp_path)
    config["users"][0]["user"] = {"token": "abc"}
    path = tmp_path / "token.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(StepError, match="client certificates only"):
        KubeAPI(path)
