"""remove_paths: what a reset takes off a host, in one module call (module_utils and the module's spec)."""

from __future__ import annotations

import os

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils import remove_paths as rp
from ansible_collections.stackbench.cluster.plugins.modules import remove_paths as module


@pytest.fixture
def tree(tmp_path):
    """tmp/etc/containerd/config.toml, tmp/etc/cni/net.d/10.conf, tmp/etc/cni/other (another tool's),
    tmp/var/lib/containerd/{io.containerd.content,.hidden}, tmp/link -> tmp/etc/cni (a link to keep following out)."""
    (tmp_path / "etc/containerd").mkdir(parents=True)
    (tmp_path / "etc/containerd/config.toml").write_text("x")
    (tmp_path / "etc/cni/net.d").mkdir(parents=True)
    (tmp_path / "etc/cni/net.d/10.conf").write_text("{}")
    (tmp_path / "var/lib/containerd/io.containerd.content").mkdir(parents=True)
    (tmp_path / "var/lib/containerd/.hidden").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "etc/cni")
    return tmp_path


def test_paths_go_with_everything_under_them_and_missing_ones_are_skipped(tree):
    result = rp.remove([str(tree / "etc/containerd"), str(tree / "etc/absent")])
    assert result["removed"] == [str(tree / "etc/containerd")] and result["changed"]
    assert not (tree / "etc/containerd").exists() and (tree / "etc/cni/net.d/10.conf").exists()


def test_a_link_is_removed_and_not_followed(tree):
    rp.remove([str(tree / "link")])
    assert not os.path.lexists(tree / "link") and (tree / "etc/cni/net.d/10.conf").exists()


def test_contents_of_empties_a_directory_and_keeps_it(tree):
    root = tree / "var/lib/containerd"
    result = rp.remove([], contents_of=[str(root)])
    assert sorted(result["removed"]) == [str(root / ".hidden"), str(root / "io.containerd.content")]
    assert root.is_dir() and list(root.iterdir()) == []


def test_an_empty_parent_goes_and_one_still_used_stays(tree):
    cni = tree / "etc/cni"
    kept = rp.remove([str(cni / "net.d")], empty_parents=[str(cni)])
    assert kept["removed"] == [str(cni / "net.d"), str(cni)] and not cni.exists()  # nothing else in it: it goes too
    (tree / "opt/cni/bin").mkdir(parents=True)
    (tree / "opt/cni/other").write_text("another tool's")
    stays = rp.remove([str(tree / "opt/cni/bin")], empty_parents=[str(tree / "opt/cni")])
    assert stays["removed"] == [str(tree / "opt/cni/bin")] and (tree / "opt/cni/other").exists()


def test_parents_are_listed_last_and_taken_innermost_first(tree):
    nested = tree / "a/b/c"
    nested.mkdir(parents=True)
    result = rp.remove([str(nested)], empty_parents=[str(tree / "a/b"), str(tree / "a")])
    assert result["removed"] == [str(nested), str(tree / "a/b"), str(tree / "a")]
    assert not (tree / "a").exists()


def test_check_mode_reports_the_same_and_removes_nothing(tree):
    args = ([str(tree / "etc/cni/net.d")], [str(tree / "var/lib/containerd")], [str(tree / "etc/cni")])
    planned = rp.remove(*args, check_mode=True)
    assert (tree / "etc/cni/net.d/10.conf").exists() and (tree / "var/lib/containerd/.hidden").exists()
    done = rp.remove(*args)
    assert planned["removed"] == done["removed"] and str(tree / "etc/cni") in done["removed"]


def test_a_second_run_changes_nothing(tree):
    args = ([str(tree / "etc/containerd")], [str(tree / "var/lib/containerd")], [str(tree / "etc")])
    rp.remove(*args)
    again = rp.remove(*args)
    assert again == {"changed": False, "removed": [], "diff": {"before": "", "after": ""}}


@pytest.mark.parametrize("path", ["/", "/etc", "etc/cni", "/etc/cni/", "/etc/../var/lib", "/var//lib"])
def test_top_level_relative_and_unnormalized_paths_are_refused_before_anything_goes(tree, path):
    victim = tree / "etc/containerd"
    with pytest.raises(rp.RemoveError):
        rp.remove([str(victim), path])
    assert victim.exists()


def test_contents_of_a_file_is_refused(tree):
    with pytest.raises(rp.RemoveError, match="not a directory"):
        rp.remove([], contents_of=[str(tree / "etc/containerd/config.toml")])


def test_the_diff_names_what_goes(tree):
    result = rp.remove([str(tree / "etc/containerd")])
    assert result["diff"] == {"before": f"{tree / 'etc/containerd'}\n", "after": ""}


def test_the_argument_spec_matches_the_documentation():
    import yaml

    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert set(documented) == set(module.ARGUMENT_SPEC)
    for name, spec in module.ARGUMENT_SPEC.items():
        assert documented[name]["type"] == spec["type"] and documented[name]["elements"] == spec["elements"]
