"""The version-skew check of a Kubernetes upgrade (module_utils.kubernetes.version_skew_errors and
its filter kubernetes_version_errors)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.filter.kubernetes import kubernetes_version_errors
from ansible_collections.stackbench.cluster.plugins.module_utils.kubernetes import version_skew_errors
from local_playbook import assert_stopped_early, run_local_playbook


@pytest.mark.parametrize(("target", "apiservers", "kubelets"), [
    ("1.35.4", [], []),                                   # a new cluster
    ("1.35.4", ["1.35.4"] * 3, ["1.35.4"] * 5),           # a re-run
    ("1.35.4", ["1.34.4"] * 3, ["1.34.4"] * 5),           # the next minor
    ("1.35.4", ["1.35.4", "1.34.4"], ["1.34.4"]),         # an upgrade that stopped halfway, resumed
    ("1.35.4", ["1.35.2"], ["1.33.1"]),                   # a patch release; kubelets two minors behind
    ("1.35.4", ["v1.34.0"], []),                          # the v prefix kubectl prints
])
def test_allowed_changes(target, apiservers, kubelets):
    assert version_skew_errors(target, apiservers, kubelets) == []


def test_a_skipped_minor_release_is_refused_and_says_which_comes_first():
    (error,) = version_skew_errors("1.35.4", ["1.33.9", "1.33.9"], ["1.33.9"])
    assert "1.33.9 -> 1.35.4 skips a minor release of kube-apiserver" in error and "first to 1.34.x" in error


def test_a_half_upgraded_control_plane_counts_its_oldest_apiserver():
    (error,) = version_skew_errors("1.36.0", ["1.35.4", "1.34.4"], [])
    assert "1.34.4 -> 1.36.0 skips a minor release" in error


def test_a_downgrade_is_refused_unless_forced():
    errors = version_skew_errors("1.34.4", ["1.35.4"], ["1.35.4"])
    assert len(errors) == 2 and all("does not support a downgrade" in e for e in errors)
    assert "kubernetes_allow_downgrade=true" in errors[0]
    assert version_skew_errors("1.34.4", ["1.35.4"], ["1.35.4"], allow_downgrade=True) == []
    assert version_skew_errors("1.35.3", ["1.35.4"], [])  # a patch back is a downgrade too


def test_kubelets_more_than_three_minors_behind_are_refused():
    (error,) = version_skew_errors("1.35.4", ["1.35.0"], ["1.31.9", "1.35.0"])
    assert "kubelet 1.31.9 would be more than three minor releases behind 1.35.4" in error
    assert version_skew_errors("1.35.4", ["1.35.0"], ["1.32.0"]) == []


def test_a_new_major_release_counts_as_skipping():
    assert version_skew_errors("2.0.0", ["1.35.4"], [])


def test_the_filter_reports_a_malformed_version_as_a_filter_error():
    assert kubernetes_version_errors("1.35.4", ["1.34.4"], []) == []
    with pytest.raises(AnsibleFilterError, match="not a Kubernetes release X.Y.Z: '1.35'"):
        kubernetes_version_errors("1.35", [], [])


# ----- the check in playbooks/kubernetes-upgrade.yml, on local hosts with stand-in binaries ------------

LAYOUT = {"etcd": ["c1"], "kube_control_plane": ["c1"], "kube_nodes": ["c1", "w1"]}


def installed(tmp_path, version: str):
    """A bin dir whose kube-apiserver and kubelet print `Kubernetes vVERSION`, as the real ones do."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for binary in ("kube-apiserver", "kubelet"):
        (bin_dir / binary).write_text(f"#!/bin/sh\necho 'Kubernetes v{version}'\n")
        (bin_dir / binary).chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(("version", "target", "message"), [
    ("1.33.9", "1.35.4", "1.33.9 -> 1.35.4 skips a minor release of kube-apiserver"),
    ("1.35.4", "1.34.4", "1.34.4 is older than the installed kube-apiserver 1.35.4"),
    (None, "1.35.4", "no control-plane host of the inventory has a kube-apiserver installed"),
])
def test_the_upgrade_playbook_refuses_before_the_snapshot(tmp_path, version, target, message):
    bin_dir = installed(tmp_path, version) if version else tmp_path / "nothing"
    result = run_local_playbook(tmp_path, "kubernetes-upgrade.yml", LAYOUT,
                                {"kubernetes_version": target, "kubernetes_bin_dir": str(bin_dir)})
    assert_stopped_early(result, message, "Take an etcd snapshot to the controller")
