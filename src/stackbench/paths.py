"""Where stackbench keeps state on the controller.

Expensive things (images, built binaries, the mirror tree) live in a cache outside the
checkout so that a fresh clone on the same machine reuses them.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# This checkout when the CLI runs from one (scripts/setup.sh's editable install); None when the CLI
# is an installed wheel, which then finds the collection where Ansible finds it.
CHECKOUT: Path | None = REPO_ROOT if (REPO_ROOT / "galaxy.yml").is_file() else None


@functools.cache
def collection_root() -> Path:
    """The collection stackbench.cluster: this checkout, or the copy installed in a collections path."""
    if CHECKOUT is not None:
        return CHECKOUT
    from ansible import constants

    bases = [*constants.COLLECTIONS_PATHS, *sys.path]
    for base in bases:
        candidate = Path(os.path.expanduser(str(base))) / "ansible_collections" / "stackbench" / "cluster"
        if (candidate / "MANIFEST.json").is_file() or (candidate / "galaxy.yml").is_file():
            return candidate
    from stackbench.errors import StackbenchError

    raise StackbenchError("the Ansible collection stackbench.cluster is not installed",
                          "ansible-galaxy collection install stackbench-cluster-<version>.tar.gz "
                          "(searched: " + ", ".join(str(b) for b in bases[:4]) + ", ...)", exit_code=2)


def cache_dir() -> Path:
    base = os.environ.get("STACKBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "stackbench"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_dir() -> Path:
    """The artifact tree the lab mirror serves, in upstream URL layouts."""
    path = cache_dir() / "mirror"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_dir(component: str) -> Path:
    path = cache_dir() / "build" / component
    path.mkdir(parents=True, exist_ok=True)
    return path


def lab_state_dir(lab: str) -> Path:
    path = cache_dir() / "labs" / lab
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    default = CHECKOUT / "results" if CHECKOUT is not None else Path.cwd() / "results"
    path = Path(os.environ.get("STACKBENCH_RESULTS", default))
    path.mkdir(parents=True, exist_ok=True)
    return path
