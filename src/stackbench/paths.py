"""Where stackbench keeps state on the controller.

Expensive things (images, built binaries, the mirror tree) live in a cache outside the
checkout so that a fresh clone on the same machine reuses them.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


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
    path = Path(os.environ.get("STACKBENCH_RESULTS", REPO_ROOT / "results"))
    path.mkdir(parents=True, exist_ok=True)
    return path
