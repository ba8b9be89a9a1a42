"""The list of artifact builders and the mirror listing.

A builder is a module in this package with `NAME`, `DESCRIPTION` and
`build(mirror: Path, force: bool = False, log=print) -> list[Path]` that writes its files
under `mirror` in the upstream layout (with checksum files) and returns what it wrote.
It must return quickly, doing nothing, when the same version is already there.
Which of them a stack needs is in its catalog entry (stackbench.catalog, `artifacts`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from stackbench.errors import StackbenchError
from stackbench.paths import cache_dir, mirror_dir

# name -> module under stackbench.artifacts
BUILDERS: dict[str, str] = {
    "zookeeper": "zookeeper",
    "etcd": "etcd",
    "emulators": "emulators",
    "images": "kube_images",
    "kubernetes": "kubernetes",
    "coredns": "coredns",
    "controller": "controller",
}
def names() -> list[str]:
    return list(BUILDERS)


def _module(name: str):  # noqa: ANN202
    if name not in BUILDERS:
        raise StackbenchError(f"unknown artifact component {name!r}", f"use one of: {', '.join(BUILDERS)}")
    try:
        return importlib.import_module(f"stackbench.artifacts.{BUILDERS[name]}")
    except ModuleNotFoundError as exc:
        raise StackbenchError(f"no builder for {name!r} yet ({exc.name})") from exc


@contextlib.contextmanager
def build_lock(name: str, log: Callable[[str], None] = print) -> Iterator[None]:
    """One build of a component at a time on this machine: a second process (another
    `stackbench up`, a test running beside it) waits, then finds the artifacts made."""
    path = cache_dir() / "build" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"artifacts {name}: waiting for another build of it to finish ({path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(name: str, force: bool = False, log=print) -> list[Path]:  # noqa: ANN001
    module = _module(name)
    started = time.monotonic()
    with build_lock(name, log):
        written = module.build(mirror_dir(), force=force, log=log)
    log(f"artifacts {name}: ready in {time.monotonic() - started:.1f} s ({len(written)} files)")
    return written


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


CHECKSUM_SUFFIXES = (".sha256", ".sha512", ".asc", "SHA256SUMS")


def listing(root: Path | None = None) -> Iterator[str]:
    """Every artifact of the mirror tree with its sha256 and size; an upstream artifact (ZooKeeper,
    etcd, Kubernetes layouts) also with how it stands against the checksum pinned in the collection
    (roles/checksums): `pinned: matches`, `pinned: DIFFERS (built here)` (the lab's own builds,
    trusted through its *_checksum_url opt-in) or `not pinned`."""
    from stackbench.artifacts import pins

    root = root or mirror_dir()
    table = pins.load()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.endswith(CHECKSUM_SUFFIXES):
            continue
        size = path.stat().st_size
        relpath = path.relative_to(root)
        pin = pins.status(path, relpath.as_posix(), table)
        yield f"{sha256_file(path)}  {size / 1e6:9.1f} MB  {relpath}" + (f"  {pin}" if pin else "")
