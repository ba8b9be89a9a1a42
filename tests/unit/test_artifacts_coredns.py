"""Tests for the pure parts of src/stackbench/artifacts/coredns.py (no Go, no docker)."""

from __future__ import annotations

import re

import pytest
import yaml

from stackbench import catalog
from stackbench.artifacts import coredns, registry
from stackbench.errors import StackbenchError
from stackbench.paths import REPO_ROOT


def test_the_role_default_is_the_one_version_everyone_builds_and_deploys():
    version = coredns.role_default_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    lab_vars = yaml.safe_load((REPO_ROOT / "inventories/lab/group_vars/all/mirror.yml").read_text())
    assert "coredns_version" not in lab_vars  # declared once, in roles/kubernetes/defaults
    preloaded = [image["name"] for image in lab_vars["containerd_preload_images"]]
    assert "stackbench.local/coredns:{{ coredns_version }}" in preloaded
    assert lab_vars["coredns_image"] == "stackbench.local/coredns:{{ coredns_version }}"


def test_role_default_version_reads_the_plain_line_and_refuses_a_missing_one(tmp_path):
    defaults = tmp_path / "main.yml"
    defaults.write_text('---\ncoredns_image: x\ncoredns_version: "1.2.3"\n')
    assert coredns.role_default_version(defaults) == "1.2.3"
    defaults.write_text("---\ncoredns_image: x\n")
    with pytest.raises(StackbenchError, match="no coredns_version"):
        coredns.role_default_version(defaults)


def test_environment_override_must_be_a_release(monkeypatch):
    monkeypatch.setenv("STACKBENCH_COREDNS_VERSION", "v1.14.7")
    assert coredns.resolve_version() == "1.14.7"
    monkeypatch.setenv("STACKBENCH_COREDNS_VERSION", "1.15.0-rc1")
    with pytest.raises(ValueError):
        coredns.resolve_version()


def test_wrapper_module_requires_coredns_at_the_version_and_imports_main():
    assert "require github.com/coredns/coredns v1.15.0\n" in coredns.wrapper_go_mod("1.15.0")
    assert '_ "github.com/coredns/coredns"' in coredns.wrapper_tools_go()
    assert "coremain.GitCommit=gomod-v1.15.0" in coredns.ldflags("1.15.0")


def test_recipe_changes_with_the_version_and_the_image_runs_unprivileged():
    assert coredns.recipe("1.15.0") != coredns.recipe("1.14.7")
    assert coredns.recipe("1.15.0") == coredns.recipe("1.15.0")
    assert "FROM scratch" in coredns.DOCKERFILE
    user = re.search(r"^USER (\d+):(\d+)$", coredns.DOCKERFILE, re.MULTILINE)
    assert user and int(user.group(1)) != 0 and int(user.group(2)) != 0


def test_kubernetes_stack_builds_coredns():
    assert registry.BUILDERS["coredns"] == "coredns"
    assert "coredns" in catalog.get("kubernetes").artifacts
