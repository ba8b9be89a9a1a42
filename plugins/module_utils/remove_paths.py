"""Remove many paths from a host in one module call: plan what is there, then remove it.

Standard library only (runs on managed hosts). A path goes with everything under it, as
ansible.builtin.file state=absent takes it (a link is removed, never followed). A directory
listed in `contents_of` loses its entries but stays (a mount point of its own, say); one listed in
`empty_parents` goes only when nothing is left in it once the rest is removed.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable
from typing import Any


class RemoveError(Exception):
    """A path the module refuses to remove."""


def checked_path(path: str) -> str:
    """`path` as given, refused unless absolute, normalized and below a top-level directory ("/etc" is
    refused, "/etc/cni" is not): a reset never takes a whole system directory."""
    if not os.path.isabs(path) or os.path.normpath(path) != path:
        raise RemoveError(f"{path!r}: give an absolute, normalized path without a trailing slash")
    if len([part for part in path.split("/") if part]) < 2:
        raise RemoveError(f"{path!r}: refusing to remove a top-level directory")
    return path


def exists(path: str) -> bool:
    return os.path.lexists(path)


def entries(directory: str) -> list[str]:
    """The paths directly inside `directory` (hidden ones included); [] when it is not a directory."""
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        return []
    if not stat.S_ISDIR(st.st_mode):
        raise RemoveError(f"{directory} is not a directory, so it has no contents to remove")
    return sorted(os.path.join(directory, name) for name in os.listdir(directory))


def plan(paths: Iterable[str], contents_of: Iterable[str] = (), empty_parents: Iterable[str] = ()) -> dict[str, Any]:
    """What a removal would take: {"removed": [...], "parents": [...]}. A parent counts when everything left in it
    is to be removed (or it is empty already)."""
    remove = [p for p in dict.fromkeys(checked_path(p) for p in paths) if exists(p)]
    for directory in dict.fromkeys(checked_path(d) for d in contents_of):
        remove += [entry for entry in entries(directory) if entry not in remove]
    going = set(remove)
    parents = []
    for parent in dict.fromkeys(checked_path(d) for d in empty_parents):
        if parent in going or not os.path.isdir(parent) or os.path.islink(parent):
            continue
        if all(entry in going for entry in entries(parent)):
            parents.append(parent)
            going.add(parent)
    return {"removed": remove, "parents": parents}


def remove_path(path: str) -> None:
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def remove(paths: Iterable[str], contents_of: Iterable[str] = (), empty_parents: Iterable[str] = (),
           check_mode: bool = False) -> dict[str, Any]:
    """Remove what plan() finds (nothing in check mode); the result names what went (or would go)."""
    planned = plan(paths, contents_of, empty_parents)
    if not check_mode:
        for path in planned["removed"]:
            if exists(path):  # a listed path can lie under another one already gone
                remove_path(path)
        for parent in planned["parents"]:
            if not os.listdir(parent):
                os.rmdir(parent)
    gone = planned["removed"] + planned["parents"]
    return {
        "changed": bool(gone),
        "removed": gone,
        "diff": {"before": "".join(f"{p}\n" for p in gone), "after": ""},
    }
