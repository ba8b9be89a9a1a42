"""Install many files (and their directories) on a host in one module call: plan, then apply.

Standard library only (runs on managed hosts). A file is compared by the SHA-256 of its content,
its owner, group and mode; only what differs is rewritten, chowned or chmodded. New content goes
to a temp file in the destination's directory that gets owner, group and mode before it is renamed
over the destination, so no reader ever sees a half-written file or one with a wider mode.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any


class InstallError(Exception):
    """A destination that cannot be planned or written."""


def parse_mode(mode: Any) -> int | None:
    """An octal mode given as a string ("0644", "644") or an int (YAML 0644 is 420); None keeps it."""
    if mode is None or mode == "":
        return None
    if isinstance(mode, int):
        value = mode
    else:
        try:
            value = int(str(mode), 8)
        except ValueError:
            raise InstallError(f"mode {mode!r}: give an octal mode such as '0644' (no symbolic modes)") from None
    if not 0 <= value <= 0o7777:
        raise InstallError(f"mode {mode!r} is out of range")
    return value


def _resolve_id(name: Any, lookup: Any, kind: str) -> int | None:
    """The numeric id of a user or group name (a number is taken as it is); None when not given."""
    if name is None or name == "":
        return None
    try:
        return lookup(str(name))
    except KeyError:
        if str(name).isdigit():
            return int(name)
        raise InstallError(f"no {kind} {name!r} on the host") from None


def resolve_uid(owner: Any) -> int | None:
    return _resolve_id(owner, lambda name: pwd.getpwnam(name).pw_uid, "user")


def resolve_gid(group: Any) -> int | None:
    return _resolve_id(group, lambda name: grp.getgrnam(name).gr_gid, "group")


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _attribute_changes(st: os.stat_result, uid: int | None, gid: int | None, mode: int | None) -> list[str]:
    changes = []
    if uid is not None and st.st_uid != uid:
        changes.append("owner")
    if gid is not None and st.st_gid != gid:
        changes.append("group")
    if mode is not None and stat.S_IMODE(st.st_mode) != mode:
        changes.append("mode")
    return changes


def plan_file(dest: str, content: bytes, owner: Any = None, group: Any = None, mode: Any = None) -> list[str]:
    """What differs at `dest`: [] or some of created, content, owner, group, mode."""
    uid, gid, wanted_mode = resolve_uid(owner), resolve_gid(group), parse_mode(mode)
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return ["created"]
    if stat.S_ISDIR(st.st_mode):
        raise InstallError(f"{dest} is a directory")
    changes = []
    if not stat.S_ISREG(st.st_mode) or st.st_size != len(content) \
            or sha256_file(dest) != hashlib.sha256(content).hexdigest():
        changes.append("content")
    return changes + _attribute_changes(st, uid, gid, wanted_mode)


def plan_directory(path: str, owner: Any = None, group: Any = None, mode: Any = None) -> list[str]:
    """What differs at directory `path`: [] or some of created, owner, group, mode."""
    uid, gid, wanted_mode = resolve_uid(owner), resolve_gid(group), parse_mode(mode)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ["created"]
    if not stat.S_ISDIR(st.st_mode):
        raise InstallError(f"{path} exists and is not a directory")
    return _attribute_changes(st, uid, gid, wanted_mode)


def missing_parents(path: str) -> list[str]:
    """The parent directories of `path` that do not exist, outermost first."""
    parent = os.path.dirname(os.path.abspath(path))
    missing = []
    while parent and not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    return list(reversed(missing))


def require_parents(dest: str, parents_mode: Any, planned: set[str]) -> None:
    """Refuse a `dest` whose parent is missing, unless parents_mode creates it or (check mode)
    a listed directory would."""
    if parse_mode(parents_mode) is None:
        missing = [p for p in missing_parents(dest) if p not in planned]
        if missing:
            raise InstallError(f"{missing[0]} does not exist (set parents_mode to create it)")


def make_parents(path: str, mode: Any, uid: int | None = None, gid: int | None = None) -> list[str]:
    """Create the missing parent directories of `path` with `mode` (and owner); they are returned."""
    missing = missing_parents(path)
    wanted_mode = parse_mode(mode)
    if missing and wanted_mode is None:
        raise InstallError(f"{missing[0]} does not exist (set parents_mode to create it)")
    for directory in missing:
        _make_directory(directory, wanted_mode, uid, gid)  # type: ignore[arg-type]
    return missing


def _make_directory(path: str, mode: int, uid: int | None, gid: int | None) -> None:
    os.mkdir(path, 0o700)
    if uid is not None or gid is not None:
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    os.chmod(path, mode)


def apply_directory(path: str, changes: list[str], owner: Any = None, group: Any = None, mode: Any = None) -> None:
    """Carry out `changes` (from plan_directory). A new directory's missing parents get its owner, group
    and mode, as ansible.builtin.file state=directory gives them."""
    uid, gid, wanted_mode = resolve_uid(owner), resolve_gid(group), parse_mode(mode)
    if "created" in changes:
        new_mode = 0o755 if wanted_mode is None else wanted_mode
        make_parents(path, new_mode, uid, gid)
        _make_directory(path, new_mode, uid, gid)
        return
    if "owner" in changes or "group" in changes:
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    if "mode" in changes:
        os.chmod(path, wanted_mode)  # type: ignore[arg-type]


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def apply_file(dest: str, content: bytes, changes: list[str], owner: Any = None, group: Any = None,
               mode: Any = None, parents_mode: Any = None) -> None:
    """Carry out `changes` (from plan_file): content atomically, attributes in place."""
    uid, gid, wanted_mode = resolve_uid(owner), resolve_gid(group), parse_mode(mode)
    if "created" in changes or "content" in changes:
        if "created" in changes:
            make_parents(dest, parents_mode)
            keep_uid, keep_gid, keep_mode = -1, -1, _default_mode()
        else:  # attributes not asked for stay as the old file had them
            st = os.lstat(dest)
            keep_uid, keep_gid, keep_mode = st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)
        write_atomic(dest, content, uid=keep_uid if uid is None else uid, gid=keep_gid if gid is None else gid,
                     mode=keep_mode if wanted_mode is None else wanted_mode)
        return
    if "owner" in changes or "group" in changes:
        os.chown(dest, -1 if uid is None else uid, -1 if gid is None else gid)
    if "mode" in changes:
        os.chmod(dest, wanted_mode)  # type: ignore[arg-type]


def write_atomic(dest: str, content: bytes, uid: int = -1, gid: int = -1, mode: int = 0o644) -> None:
    """Temp file (0600 from its creation) in dest's directory, owner/group/mode set, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(dest)), prefix=f".{os.path.basename(dest)}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            if uid != -1 or gid != -1:
                os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)  # after chown: chown may clear setuid bits
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def plan_link(dest: str, src: str, check_mode: bool = False) -> list[str]:
    """What differs at symbolic link `dest` (to `src`): [] or one of created, target."""
    target = os.path.join(os.path.dirname(os.path.abspath(dest)), src)
    if not check_mode and not os.path.exists(target):
        raise InstallError(f"{dest}: the link target {src} does not exist")
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return ["created"]
    if not stat.S_ISLNK(st.st_mode):
        raise InstallError(f"{dest} exists and is not a symbolic link")
    return [] if os.readlink(dest) == src else ["target"]


def apply_link(dest: str, src: str, parents_mode: Any = None) -> None:
    """Point `dest` at `src`: a new link under a temp name in dest's directory, renamed over dest."""
    make_parents(dest, parents_mode)
    directory = os.path.dirname(os.path.abspath(dest))
    for attempt in range(100):
        tmp = os.path.join(directory, f".{os.path.basename(dest)}.{os.getpid()}.{attempt}.tmp")
        try:
            os.symlink(src, tmp)
            break
        except FileExistsError:
            continue
    else:
        raise InstallError(f"{dest}: no free temporary name for the new link")
    try:
        os.replace(tmp, dest)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _text_or_none(data: bytes, limit: int) -> str | None:
    if len(data) > limit or b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def install(files: Iterable[Mapping[str, Any]], directories: Iterable[Mapping[str, Any]] = (),
            parents_mode: Any = None, check_mode: bool = False, want_diff: bool = False,
            diff_content: bool = True, max_diff_size: int = 104448,
            links: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Plan and (unless check_mode) apply: directories first, then files, then links, in the order given.

    `files` items: dest, content (bytes), owner, group, mode. `directories` items: path, owner, group, mode.
    `links` items: dest, src (the symbolic link's target, as it is written in the link).
    Returns changed, changed_dests (files and links), changed_directories, per-path changes and, when asked,
    diffs.
    """
    result: dict[str, Any] = {"changed": False, "changed_dests": [], "changed_directories": [], "changes": {}}
    diffs: list[dict[str, Any]] = []
    for item in directories:
        path = item["path"]
        changes = plan_directory(path, item.get("owner"), item.get("group"), item.get("mode"))
        if not changes:
            continue
        if not check_mode:
            apply_directory(path, changes, item.get("owner"), item.get("group"), item.get("mode"))
        result["changed_directories"].append(path)
        result["changes"][path] = changes
        if want_diff:
            diffs.append({"before_header": path, "after_header": path,
                          "before": "" if "created" in changes else f"({', '.join(changes)} differ)\n",
                          "after": "directory\n" if "created" in changes else f"({', '.join(changes)} set)\n"})
    planned_dirs = {d["path"] for d in directories}
    for item in files:
        dest, content = item["dest"], item["content"]
        changes = plan_file(dest, content, item.get("owner"), item.get("group"), item.get("mode"))
        if not changes:
            continue
        if "created" in changes:
            require_parents(dest, parents_mode, planned_dirs if check_mode else set())
        if want_diff:
            entry: dict[str, Any] = {"before_header": dest, "after_header": dest}
            if diff_content and ("content" in changes or "created" in changes):
                before = b"" if "created" in changes else _read_limited(dest, max_diff_size + 1)
                before_text, after_text = _text_or_none(before, max_diff_size), _text_or_none(content, max_diff_size)
                if before_text is None or after_text is None:
                    entry["before"], entry["after"] = "", "(binary or large content differs)\n"
                else:
                    entry["before"], entry["after"] = before_text, after_text
            else:
                entry["before"] = "" if "created" in changes else f"({', '.join(changes)} differ)\n"
                entry["after"] = f"({', '.join(changes)} set; content not shown)\n"
            diffs.append(entry)
        if not check_mode:
            apply_file(dest, content, changes, item.get("owner"), item.get("group"), item.get("mode"), parents_mode)
        result["changed_dests"].append(dest)
        result["changes"][dest] = changes
    for item in links:
        dest, src = item["dest"], item["src"]
        changes = plan_link(dest, src, check_mode=check_mode)
        if not changes:
            continue
        if "created" in changes:
            require_parents(dest, parents_mode, planned_dirs if check_mode else set())
        if want_diff:
            before = "" if "created" in changes else f"-> {os.readlink(dest)}\n"
            diffs.append({"before_header": dest, "after_header": dest, "before": before, "after": f"-> {src}\n"})
        if not check_mode:
            apply_link(dest, src, parents_mode)
        result["changed_dests"].append(dest)
        result["changes"][dest] = changes
    result["changed"] = bool(result["changed_dests"] or result["changed_directories"])
    if want_diff:
        result["diff"] = diffs
    return result


def _read_limited(path: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return b""
