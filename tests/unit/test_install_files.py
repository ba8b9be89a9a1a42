"""install_files: many files in one module call; only what differs is written (module_utils and action)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from ansible_collections.stackbench.cluster.plugins.action import install_files as action
from ansible_collections.stackbench.cluster.plugins.module_utils import install_files as inst
from ansible_collections.stackbench.cluster.plugins.modules import install_files as module

OTHER_UID, OTHER_GID = 1, 1  # daemon (the tests run as root in the lab; see the skip below)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def files_for(tmp_path, **overrides):
    base = [
        {"dest": str(tmp_path / "pki" / "ca.crt"), "content": b"CA\n", "mode": "0644"},
        {"dest": str(tmp_path / "pki" / "member.crt"), "content": b"CERT\n", "mode": "0644"},
        {"dest": str(tmp_path / "pki" / "member.key"), "content": b"KEY\n", "mode": "0600"},
    ]
    for item in base:
        item.update(overrides)
    return base


def dirs_for(tmp_path):
    return [{"path": str(tmp_path / "pki"), "mode": "0750"}]


def test_first_install_creates_everything(tmp_path):
    result = inst.install(files_for(tmp_path), dirs_for(tmp_path))
    assert result["changed"]
    assert result["changed_directories"] == [str(tmp_path / "pki")]
    assert result["changed_dests"] == [f["dest"] for f in files_for(tmp_path)]
    assert (tmp_path / "pki" / "member.key").read_bytes() == b"KEY\n"
    assert mode_of(tmp_path / "pki") == 0o750
    assert mode_of(tmp_path / "pki" / "member.key") == 0o600
    assert mode_of(tmp_path / "pki" / "ca.crt") == 0o644


def test_unchanged_is_a_no_op(tmp_path, monkeypatch):
    inst.install(files_for(tmp_path), dirs_for(tmp_path))
    stats = {p: os.stat(p) for p in (f["dest"] for f in files_for(tmp_path))}
    monkeypatch.setattr(inst, "write_atomic", lambda *a, **k: pytest.fail("rewrote an unchanged file"))
    monkeypatch.setattr(inst.os, "chmod", lambda *a, **k: pytest.fail("chmod on an unchanged file"))
    monkeypatch.setattr(inst.os, "chown", lambda *a, **k: pytest.fail("chown on an unchanged file"))
    result = inst.install(files_for(tmp_path), dirs_for(tmp_path))
    assert result == {"changed": False, "changed_dests": [], "changed_directories": [], "changes": {}}
    assert {p: os.stat(p).st_ino for p in stats} == {p: s.st_ino for p, s in stats.items()}


def test_content_change_rewrites_only_that_file(tmp_path):
    inst.install(files_for(tmp_path), dirs_for(tmp_path))
    inode_ca = os.stat(tmp_path / "pki" / "ca.crt").st_ino
    files = files_for(tmp_path)
    files[1]["content"] = b"NEW CERT\n"
    result = inst.install(files, dirs_for(tmp_path))
    assert result["changed_dests"] == [files[1]["dest"]]
    assert result["changes"] == {files[1]["dest"]: ["content"]}
    assert (tmp_path / "pki" / "member.crt").read_bytes() == b"NEW CERT\n"
    assert mode_of(tmp_path / "pki" / "member.crt") == 0o644
    assert os.stat(tmp_path / "pki" / "ca.crt").st_ino == inode_ca


def test_same_size_content_change_is_seen(tmp_path):
    inst.install(files_for(tmp_path), dirs_for(tmp_path))
    files = files_for(tmp_path)
    files[2]["content"] = b"KEZ\n"
    assert inst.install(files, dirs_for(tmp_path))["changes"] == {files[2]["dest"]: ["content"]}


def test_mode_change_is_a_chmod_not_a_rewrite(tmp_path):
    inst.install(files_for(tmp_path), dirs_for(tmp_path))
    key = tmp_path / "pki" / "member.key"
    os.chmod(key, 0o644)
    os.chmod(tmp_path / "pki", 0o755)
    inode = os.stat(key).st_ino
    result = inst.install(files_for(tmp_path), dirs_for(tmp_path))
    assert result["changes"] == {str(key): ["mode"], str(tmp_path / "pki"): ["mode"]}
    assert mode_of(key) == 0o600 and mode_of(tmp_path / "pki") == 0o750
    assert os.stat(key).st_ino == inode


@needs_root
def test_owner_and_group_changes(tmp_path):
    inst.install(files_for(tmp_path), dirs_for(tmp_path))
    files = files_for(tmp_path)
    files[2].update(owner=str(OTHER_UID), group="daemon")
    result = inst.install(files, dirs_for(tmp_path))
    assert result["changes"] == {files[2]["dest"]: ["owner", "group"]}
    st = os.stat(files[2]["dest"])
    assert (st.st_uid, st.st_gid) == (OTHER_UID, OTHER_GID)
    assert not inst.install(files, dirs_for(tmp_path))["changed"]
    # content rewritten: the new file gets the asked owner before it is renamed into place
    files[2]["content"] = b"KEY2\n"
    assert inst.install(files, dirs_for(tmp_path))["changes"] == {files[2]["dest"]: ["content"]}
    st = os.stat(files[2]["dest"])
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (OTHER_UID, OTHER_GID, 0o600)


def test_unset_attributes_are_kept(tmp_path):
    dest = tmp_path / "a.conf"
    dest.write_bytes(b"old")
    os.chmod(dest, 0o640)
    result = inst.install([{"dest": str(dest), "content": b"new"}])
    assert result["changes"] == {str(dest): ["content"]}
    assert mode_of(dest) == 0o640
    assert not inst.install([{"dest": str(dest), "content": b"new"}])["changed"]


def test_check_mode_writes_nothing(tmp_path):
    result = inst.install(files_for(tmp_path), dirs_for(tmp_path), check_mode=True)
    assert result["changed"] and len(result["changed_dests"]) == 3
    assert not (tmp_path / "pki").exists()

    inst.install(files_for(tmp_path), dirs_for(tmp_path))
    key = tmp_path / "pki" / "member.key"
    os.chmod(key, 0o644)
    files = files_for(tmp_path)
    files[1]["content"] = b"other\n"
    result = inst.install(files, dirs_for(tmp_path), check_mode=True)
    assert result["changes"] == {files[1]["dest"]: ["content"], str(key): ["mode"]}
    assert (tmp_path / "pki" / "member.crt").read_bytes() == b"CERT\n"
    assert mode_of(key) == 0o644


def test_writes_are_atomic(tmp_path, monkeypatch):
    inst.install(files_for(tmp_path), dirs_for(tmp_path))
    files = files_for(tmp_path)
    files[2]["content"] = b"NEW KEY\n"
    seen = []
    real_replace = os.replace

    def spy(src, dst):  # the temp file right before the rename: same directory, full content, final mode
        seen.append((os.path.dirname(src), Path(src).read_bytes(), mode_of(src), Path(dst).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(inst.os, "replace", spy)
    inst.install(files, dirs_for(tmp_path))
    assert seen == [(str(tmp_path / "pki"), b"NEW KEY\n", 0o600, b"KEY\n")]
    assert sorted(os.listdir(tmp_path / "pki")) == ["ca.crt", "member.crt", "member.key"]


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    inst.install(files_for(tmp_path), dirs_for(tmp_path))
    files = files_for(tmp_path)
    files[1]["content"] = b"NEW\n"

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(inst.os, "fsync", boom)
    with pytest.raises(OSError):
        inst.install(files, dirs_for(tmp_path))
    assert (tmp_path / "pki" / "member.crt").read_bytes() == b"CERT\n"
    assert sorted(os.listdir(tmp_path / "pki")) == ["ca.crt", "member.crt", "member.key"]


def test_missing_parents_fail_unless_parents_mode(tmp_path):
    files = [{"dest": str(tmp_path / "a" / "b" / "c.conf"), "content": b"x"}]
    with pytest.raises(inst.InstallError, match="parents_mode"):
        inst.install(files)
    inst.install(files, parents_mode="0711")
    assert mode_of(tmp_path / "a") == 0o711 and mode_of(tmp_path / "a" / "b") == 0o711


def test_diff_shows_content_unless_told_not_to(tmp_path):
    inst.install(files_for(tmp_path), dirs_for(tmp_path))
    files = files_for(tmp_path)
    files[1]["content"] = b"NEW\n"
    result = inst.install(files, dirs_for(tmp_path), check_mode=True, want_diff=True)
    assert result["diff"] == [{"before_header": files[1]["dest"], "after_header": files[1]["dest"],
                               "before": "CERT\n", "after": "NEW\n"}]
    hidden = inst.install(files, dirs_for(tmp_path), check_mode=True, want_diff=True, diff_content=False)
    assert "CERT" not in repr(hidden["diff"]) and "NEW" not in repr(hidden["diff"])


@pytest.mark.parametrize(("mode", "wanted"), [("0644", 0o644), ("600", 0o600), (0o640, 0o640), (None, None)])
def test_parse_mode(mode, wanted):
    assert inst.parse_mode(mode) == wanted


def test_symbolic_mode_is_refused():
    with pytest.raises(inst.InstallError, match="octal"):
        inst.parse_mode("u=rw")


def test_module_decodes_base64_and_refuses_src():
    assert module._content({"dest": "/x", "src": None, "content": base64.b64encode(b"\x00\x01").decode(),
                            "encoding": "base64"}) == b"\x00\x01"
    assert module._content({"dest": "/x", "src": None, "content": "text", "encoding": "text"}) == b"text"
    with pytest.raises(inst.InstallError, match="action plugin"):
        module._content({"dest": "/x", "src": "/y", "content": None, "encoding": "text"})


def _plugin(args, no_log=False):
    task = SimpleNamespace(args=args, async_val=0, check_mode=False, no_log=no_log,
                           action="stackbench.cluster.install_files", get_search_path=lambda: [])
    loader = SimpleNamespace(
        path_dwim_relative_stack=lambda stack, dirname, needle: needle,
        get_real_file=lambda path, decrypt=True: path,
        cleanup_tmp_file=lambda path: None,
    )
    return action.ActionModule(task, SimpleNamespace(_shell=SimpleNamespace(tmpdir=None)), None, loader, None)


def test_action_reads_src_on_the_controller(tmp_path):
    src = tmp_path / "ca.crt"
    src.write_bytes(b"\x00binary CA")
    args = _plugin({}).module_args({"files": [{"src": str(src), "dest": "/etc/pki/ca.crt", "mode": "0644"},
                                              {"content": "text", "dest": "/etc/a"}]})
    assert args["files"] == [
        {"dest": "/etc/pki/ca.crt", "mode": "0644", "encoding": "base64",
         "content": base64.b64encode(b"\x00binary CA").decode()},
        {"content": "text", "dest": "/etc/a"},
    ]
    assert "diff_content" not in args
    assert _plugin({}, no_log=True).module_args({"files": []})["diff_content"] is False


def test_action_refuses_src_with_content():
    with pytest.raises(action.AnsibleError, match="not both"):
        _plugin({}).module_args({"files": [{"src": "/a", "content": "x", "dest": "/b"}]})


def test_listed_directory_parents_get_its_attributes(tmp_path):
    path = tmp_path / "etc" / "etcd" / "pki"
    result = inst.install([], [{"path": str(path), "mode": "0750"}])
    assert result["changed_directories"] == [str(path)]
    assert mode_of(tmp_path / "etc") == 0o750 and mode_of(tmp_path / "etc" / "etcd") == 0o750
    assert mode_of(path) == 0o750


def test_owner_and_group_names_numbers_and_unknown_names():
    assert inst.resolve_uid("root") == 0 and inst.resolve_gid("root") == 0
    assert inst.resolve_uid("4242") == 4242 and inst.resolve_gid(None) is None
    for resolve, kind in ((inst.resolve_uid, "user"), (inst.resolve_gid, "group")):
        with pytest.raises(inst.InstallError, match=f"no {kind} 'nosuch-stackbench'"):
            resolve("nosuch-stackbench")


def test_links_are_made_kept_and_repointed(tmp_path):
    (tmp_path / "v1").write_text("one")
    (tmp_path / "v2").write_text("two")
    link = str(tmp_path / "bin" / "tool")
    (tmp_path / "bin").mkdir()
    first = inst.install([], links=[{"dest": link, "src": str(tmp_path / "v1")}])
    assert first["changed"] and first["changed_dests"] == [link] and first["changes"][link] == ["created"]
    assert os.readlink(link) == str(tmp_path / "v1")
    again = inst.install([], links=[{"dest": link, "src": str(tmp_path / "v1")}])
    assert again == {"changed": False, "changed_dests": [], "changed_directories": [], "changes": {}}
    check = inst.install([], links=[{"dest": link, "src": str(tmp_path / "v2")}], check_mode=True, want_diff=True)
    assert check["changes"][link] == ["target"] and os.readlink(link) == str(tmp_path / "v1")
    assert check["diff"][0]["after"] == f"-> {tmp_path / 'v2'}\n"
    moved = inst.install([], links=[{"dest": link, "src": str(tmp_path / "v2")}])
    assert moved["changed_dests"] == [link] and os.readlink(link) == str(tmp_path / "v2")
    assert sorted(os.listdir(tmp_path / "bin")) == ["tool"]  # no temp link left behind


def test_links_refuse_a_missing_target_and_a_file_in_the_way(tmp_path):
    (tmp_path / "target").write_text("x")
    with pytest.raises(inst.InstallError, match="does not exist"):
        inst.install([], links=[{"dest": str(tmp_path / "tool"), "src": str(tmp_path / "missing")}])
    # check mode does not ask for the target (a check run before the archive is unpacked)
    assert inst.install([], links=[{"dest": str(tmp_path / "tool"), "src": str(tmp_path / "missing")}],
                        check_mode=True)["changed"]
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(inst.InstallError, match="not a symbolic link"):
        inst.install([], links=[{"dest": str(tmp_path / "file"), "src": str(tmp_path / "target")}])
