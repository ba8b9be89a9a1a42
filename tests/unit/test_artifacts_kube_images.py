"""Tests for the pure logic of src/stackbench/artifacts/kube_images.py (no docker)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from stackbench.artifacts import kube_images as images


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_recipe_hash_is_stable_and_sensitive_to_every_part_and_its_boundaries():
    assert images.recipe_hash("a", "b") == images.recipe_hash("a", b"b")
    assert len(images.recipe_hash("a")) == 16
    assert images.recipe_hash("a", "b") != images.recipe_hash("b", "a")
    assert images.recipe_hash("ab", "c") != images.recipe_hash("a", "bc")


def test_recipes_change_with_their_inputs(monkeypatch):
    pause = images.pause_recipe()
    monkeypatch.setattr(images, "PAUSE_C", images.PAUSE_C + "\n")
    assert images.pause_recipe() != pause
    assert images.workload_recipe(b"deb one") != images.workload_recipe(b"deb two")


def test_names_and_layout(tmp_path):
    assert images.image_tag("pause", "1.0") == "stackbench.local/pause:1.0"
    archive = images.archive_path(tmp_path, "pause", "1.0")
    assert archive == tmp_path / "images" / "pause-1.0.tar"
    sums, recipe = images.sidecars(archive)
    assert (sums.name, recipe.name) == ("pause-1.0.tar.sha256", "pause-1.0.tar.recipe")


def test_is_cached_needs_matching_recipe_and_checksum(tmp_path):
    archive = images.archive_path(tmp_path, "pause", "1.0")
    assert not images.is_cached(archive, "r1", _sha256)
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"tar bytes")
    archive.chmod(0o600)
    sums, recipe = images.sidecars(archive)
    sums.write_text(_sha256(archive))
    recipe.write_text("r1\n")
    assert not images.is_cached(archive, "r1", _sha256)  # 0600, like docker save writes it
    archive.chmod(0o644)
    assert images.is_cached(archive, "r1", _sha256)
    assert not images.is_cached(archive, "r2", _sha256)
    archive.write_bytes(b"other bytes")
    assert not images.is_cached(archive, "r1", _sha256)


def test_gcc_command_links_statically_with_the_version():
    cmd = images.gcc_command("pause.c", "pause")
    assert cmd[0] == "gcc"
    assert "-static" in cmd
    assert f'-DPAUSE_VERSION="{images.PAUSE_VERSION}"' in cmd


def test_dockerfiles_build_from_scratch_as_unprivileged_users():
    for dockerfile in (images.PAUSE_DOCKERFILE, images.WORKLOAD_DOCKERFILE):
        assert dockerfile.startswith("FROM scratch\n")
        assert "\nUSER 6553" in dockerfile
    assert f'"-p", "{images.WORKLOAD_PORT}"' in images.WORKLOAD_DOCKERFILE
    assert "httpd" in images.WORKLOAD_APPLETS


def test_pause_program_compiles_cleanly_and_reports_its_version(tmp_path):
    (tmp_path / "pause.c").write_text(images.PAUSE_C)
    subprocess.run(images.gcc_command("pause.c", "pause"), cwd=tmp_path, check=True)
    out = subprocess.run(["./pause", "-v"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout == f"stackbench pause {images.PAUSE_VERSION}\n"


def test_pause_program_exits_zero_on_sigterm(tmp_path):
    (tmp_path / "pause.c").write_text(images.PAUSE_C)
    subprocess.run(images.gcc_command("pause.c", "pause"), cwd=tmp_path, check=True)
    proc = subprocess.Popen(["./pause"], cwd=tmp_path, stderr=subprocess.PIPE)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=0.3)  # it sleeps until told otherwise
    proc.terminate()
    assert proc.wait(timeout=5) == 0


def test_a_failing_build_step_is_one_error_naming_the_build_and_command(tmp_path):
    from stackbench.artifacts import etcd, steps
    from stackbench.errors import StackbenchError

    logged: list[str] = []
    assert steps.run_step(["echo", "hi"], tmp_path, logged.append) == "hi\n" and logged == ["  $ echo hi"]
    with pytest.raises(StackbenchError, match=r"^etcd build step failed: sh -c echo boom >&2; exit 3$") as err:
        etcd.run_step(["sh", "-c", "echo boom >&2; exit 3"], tmp_path, lambda _msg: None)
    assert err.value.hint == "boom"
    with pytest.raises(StackbenchError, match=r"^image build step failed: false 1 2 3 4 5 \.\.\.$"):
        images.run_step(["false", "1", "2", "3", "4", "5", "6"], tmp_path, lambda _msg: None)
