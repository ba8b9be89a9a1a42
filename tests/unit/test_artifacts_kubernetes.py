"""Tests for the pure logic of src/stackbench/artifacts/kubernetes.py (no Go, no network).

The fixture is the real go.mod of k8s.io/kubernetes v1.35.4 as the module proxy serves it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import fixture_text

from stackbench.artifacts import kubernetes as k8s

UPSTREAM = fixture_text("kubernetes-v1.35.4.go.mod")


def test_parse_version_accepts_both_spellings_and_rejects_prereleases():
    assert k8s.parse_version("v1.35.4") == (1, 35, 4)
    assert k8s.parse_version("1.35.4") == (1, 35, 4)
    for bad in ("v1.35.4-rc.0", "1.35", "latest", ""):
        with pytest.raises(ValueError):
            k8s.parse_version(bad)


def test_latest_patch_picks_newest_of_the_minor_numerically():
    listed = ["v1.34.4", "v1.35.2", "v1.35.10", "v1.35.9", "v1.35.11-rc.0", "v1.36.3", "junk"]
    assert k8s.latest_patch(listed) == "1.35.10"
    assert k8s.latest_patch(listed, minor="1.36") == "1.36.3"
    with pytest.raises(ValueError, match="no 1.37.x"):
        k8s.latest_patch(listed, minor="1.37")


def test_staging_version_maps_minor_and_patch():
    assert k8s.staging_version("1.35.4") == "v0.35.4"
    assert k8s.staging_version("v1.36.12") == "v0.36.12"
    with pytest.raises(ValueError):
        k8s.staging_version("2.0.1")


def test_staging_modules_of_the_real_go_mod():
    staging = k8s.staging_modules(UPSTREAM)
    assert len(staging) == 29
    for module in ("k8s.io/api", "k8s.io/client-go", "k8s.io/component-base", "k8s.io/kubelet",
                   "k8s.io/sample-apiserver", "k8s.io/kubectl"):
        assert module in staging
    # pinned real versions and pseudo-versions are not staging placeholders
    for module in ("k8s.io/klog/v2", "k8s.io/utils", "k8s.io/kube-openapi", "k8s.io/system-validators"):
        assert module not in staging
    # replaced in upstream's go.mod but not required: nothing to replace
    assert "k8s.io/sample-controller" not in staging
    assert staging == sorted(staging)


def test_staging_modules_reads_single_line_requires_and_ignores_comments():
    text = (
        "module x\n\ngo 1.25\n\n"
        "require k8s.io/api v0.0.0\n"
        "require k8s.io/utils v0.0.0-20251002143259-bc988d571ff4\n"
        "require (\n\tk8s.io/kubelet v0.0.0 // indirect\n\tgithub.com/x/y v0.0.0\n)\n"
        "replace k8s.io/metrics => ./staging/src/k8s.io/metrics\n"
        "// require k8s.io/commented v0.0.0\n"
    )
    assert k8s.staging_modules(text) == ["k8s.io/api", "k8s.io/kubelet"]


def test_wrapper_go_mod_replaces_every_staging_module_and_keeps_go_and_godebug():
    text = k8s.wrapper_go_mod("1.35.4", UPSTREAM)
    lines = text.splitlines()
    assert f"module {k8s.WRAPPER_MODULE}" in lines
    assert "go 1.25.0" in lines
    assert "godebug default=go1.25" in lines
    assert "require k8s.io/kubernetes v1.35.4" in lines
    replaces = [line.strip() for line in lines if "=>" in line]
    assert len(replaces) == 29
    assert "k8s.io/client-go v0.0.0 => k8s.io/client-go v0.35.4" in replaces
    assert all(line.endswith(" v0.35.4") and " v0.0.0 => " in line for line in replaces)
    assert "./staging" not in text


def test_wrapper_go_mod_copies_a_godebug_block():
    upstream = "module k8s.io/kubernetes\n\ngo 1.26.0\n\ngodebug (\n\tdefault=go1.26\n\tx509sha1=1\n)\n\n" \
               "require k8s.io/api v0.0.0\n"
    text = k8s.wrapper_go_mod("1.36.1", upstream)
    assert "go 1.26.0" in text
    assert "godebug (\n\tdefault=go1.26\n\tx509sha1=1\n)" in text
    assert "k8s.io/api v0.0.0 => k8s.io/api v0.36.1" in text


def test_wrapper_go_mod_refuses_a_go_mod_without_staging_modules():
    with pytest.raises(ValueError, match="no k8s.io"):
        k8s.wrapper_go_mod("1.35.4", "module k8s.io/kubernetes\n\ngo 1.25.0\n")


def test_ldflags_stamp_both_version_packages():
    flags = k8s.ldflags("1.35.4", "2026-04-15T18:01:22Z")
    assert flags.startswith("-s -w ")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion=v1.35.4" in flags
        assert f"-X {package}.gitMajor=1" in flags
        assert f"-X {package}.gitMinor=35" in flags
        assert f"-X {package}.gitTreeState=clean" in flags
        assert f"-X {package}.buildDate=2026-04-15T18:01:22Z" in flags


def test_go_build_command_is_niced_static_and_tagged(tmp_path):
    out = tmp_path / "kubelet"
    cmd = k8s.go_build_command("kubelet", "1.35.4", "2026-04-15T18:01:22Z", out)
    assert cmd[:4] == ["nice", "-n", "19", "go"]
    assert cmd[-1] == "k8s.io/kubernetes/cmd/kubelet"
    assert cmd[cmd.index("-tags") + 1] == "selinux,notest"
    assert cmd[cmd.index("-o") + 1] == str(out)
    assert "-trimpath" in cmd
    assert "-p" not in cmd
    limited = k8s.go_build_command("kubelet", "1.35.4", "x", out, parallel=1)
    assert limited[limited.index("-p") + 1] == "1"


def test_reports_version_matches_exactly():
    assert k8s.reports_version("kubelet", "Kubernetes v1.35.4\n", "1.35.4")
    assert not k8s.reports_version("kubelet", "Kubernetes v1.35.40\n", "1.35.4")
    assert not k8s.reports_version("kubelet", "Kubernetes v0.0.0-master+$Format:%H$\n", "1.35.4")
    kubectl = "Client Version: v1.35.4\nKustomize Version: v5.7.1\n"
    assert k8s.reports_version("kubectl", kubectl, "1.35.4")
    assert not k8s.reports_version("kubectl", "Kubernetes v1.35.4", "1.35.4")
    assert k8s.version_command("kubectl") == ["version", "--client"]
    assert k8s.version_command("kube-proxy") == ["--version"]


def test_release_dir_follows_dl_k8s_io_layout(tmp_path):
    assert k8s.release_dir(tmp_path, "1.35.4") == (
        tmp_path / "kubernetes-release" / "release" / "v1.35.4" / "bin" / "linux" / "amd64"
    )
    paths = k8s.outputs(tmp_path, "1.35.4")
    assert len(paths) == 2 * len(k8s.BINARIES)
    assert paths[1].name == "kube-apiserver.sha256"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fill(mirror: Path, version: str) -> Path:
    folder = k8s.release_dir(mirror, version)
    folder.mkdir(parents=True)
    for binary in k8s.BINARIES:
        path = folder / binary
        path.write_bytes(f"fake {binary}".encode())
        k8s.checksum_path(path).write_text(k8s.checksum_text(_sha256(path)))
    return folder


def test_is_cached_needs_every_binary_with_a_matching_checksum(tmp_path):
    assert not k8s.is_cached(tmp_path, "1.35.4", _sha256)
    folder = _fill(tmp_path, "1.35.4")
    assert k8s.is_cached(tmp_path, "1.35.4", _sha256)
    assert not k8s.is_cached(tmp_path, "1.35.5", _sha256)
    (folder / "kubelet").write_bytes(b"truncated")
    assert not k8s.is_cached(tmp_path, "1.35.4", _sha256)
    (folder / "kubelet").write_bytes(b"fake kubelet")
    (folder / "kubectl.sha256").unlink()
    assert not k8s.is_cached(tmp_path, "1.35.4", _sha256)


def test_checksum_file_is_the_bare_digest_like_upstream(tmp_path):
    digest = "ab" * 32
    assert k8s.checksum_text(digest) == digest


def test_role_default_version(tmp_path):
    assert k8s.role_default_version(tmp_path / "missing.yml") is None
    defaults = tmp_path / "main.yml"
    defaults.write_text('---\nkubernetes_version: "1.35.4"\nkubernetes_other: 1\n')
    assert k8s.role_default_version(defaults) == "1.35.4"
    defaults.write_text("---\nkubernetes_version: v1.35.2\n")
    assert k8s.role_default_version(defaults) == "1.35.2"


def test_resolve_version_prefers_the_environment(monkeypatch):
    monkeypatch.setenv(k8s.VERSION_ENV, "v1.35.3")
    assert k8s.resolve_version(lambda _: None) == "1.35.3"
    monkeypatch.setenv(k8s.VERSION_ENV, "1.35")
    with pytest.raises(ValueError):
        k8s.resolve_version(lambda _: None)


def test_the_release_before_is_built_first_unless_the_environment_names_one(monkeypatch):
    monkeypatch.delenv(k8s.VERSION_ENV, raising=False)
    assert k8s.versions_to_build(lambda _: None) == [k8s.UPGRADE_FROM_VERSION, k8s.role_default_version()]
    assert k8s.UPGRADE_FROM_VERSION.split(".")[1] == str(int(k8s.PINNED_MINOR.split(".")[1]) - 1)
    monkeypatch.setenv(k8s.VERSION_ENV, "1.35.2")
    assert k8s.versions_to_build(lambda _: None) == ["1.35.2"]
    monkeypatch.setenv(k8s.VERSION_ENV, k8s.UPGRADE_FROM_VERSION)
    assert k8s.versions_to_build(lambda _: None) == [k8s.UPGRADE_FROM_VERSION]


def test_human_bytes():
    assert k8s.human_bytes(512) == "512 B"
    assert k8s.human_bytes(3 * 1024 * 1024) == "3.0 MiB"
    assert k8s.human_bytes(5 * 1024**4) == "5120.0 GiB"
