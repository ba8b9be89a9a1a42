"""The pinned checksums of the upstream artifacts, read from the very file the roles read
(roles/checksums/vars/main.yml, `checksums_pinned`: component -> version -> arch -> file ->
"<algorithm>:<hex>"), and what a mirror file is in that table's terms.

The one parser of the table on the controller: `stackbench artifacts list` and the unit tests
use it; the roles read the same YAML through their role dependency.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from stackbench import roles
from stackbench.errors import StackbenchError
from stackbench.paths import collection_root

TABLE_VARIABLE = "checksums_pinned"
# The key of a file that is the same on every architecture (the ZooKeeper tarball is Java).
ARCH_INDEPENDENT = "all"
# The architectures the roles map host facts to (x86_64 -> amd64, aarch64 -> arm64).
ARCHS = ("amd64", "arm64")
CHECKSUM = re.compile(r"(?P<algorithm>sha256|sha512):(?P<hex>[0-9a-f]+)")
HEX_LENGTH = {"sha256": 64, "sha512": 128}

Table = dict[str, dict[str, dict[str, dict[str, str]]]]


@dataclass(frozen=True)
class Artifact:
    """One upstream file, as the table keys it."""

    component: str
    version: str
    arch: str
    file: str

    def __str__(self) -> str:
        return f"{self.component} {self.version} {self.arch} {self.file}"


def _bad(path: Path, what: str) -> StackbenchError:
    shape = f'{TABLE_VARIABLE}: component -> "version" -> arch -> file -> "sha256:<hex>"'
    return StackbenchError(f"{path}: {what}", f"the shape is {shape} (quote versions; see docs/checksums.md)")


def table_file() -> Path:
    return collection_root() / "roles" / "checksums" / "vars" / "main.yml"


def load(path: Path | None = None) -> Table:
    """The table, checked for its shape and for every value being algorithm:hex of the right length."""
    path = path or table_file()
    data = yaml.safe_load(path.read_text()) or {}
    table = data.get(TABLE_VARIABLE)
    if not isinstance(table, dict):
        raise _bad(path, f"no mapping {TABLE_VARIABLE}")
    for component, versions in table.items():
        for version, archs in (versions or {}).items():
            if not isinstance(version, str):
                raise _bad(path, f"{component} version {version!r} is not a string")
            for arch, files in (archs or {}).items():
                for name, value in (files or {}).items():
                    match = CHECKSUM.fullmatch(str(value))
                    if not match or len(match["hex"]) != HEX_LENGTH[match["algorithm"]]:
                        raise _bad(path, f"{component} {version} {arch} {name}: {value!r} is not sha256:<64 hex> "
                                         "or sha512:<128 hex>")
    return table


def pinned(table: Table, artifact: Artifact) -> str | None:
    """The pinned "<algorithm>:<hex>" of an artifact, None when the table has none."""
    return (table.get(artifact.component, {}).get(artifact.version, {}) or {}).get(artifact.arch, {}).get(artifact.file)


# --- what the roles download -------------------------------------------------------------------


def _role_var(role: str, variable: str) -> Any:
    """A variable of roles/<role>/vars/main.yml (the computed, not-to-be-set ones)."""
    return roles.default_in(collection_root() / "roles" / role / "vars" / "main.yml", variable)


def kubernetes_binaries() -> list[str]:
    """Every binary the control-plane and node roles download, in their own lists' order."""
    names = _role_var("kubernetes_control_plane", "kubernetes_control_plane_binaries") or []
    names += _role_var("kubernetes_node", "kubernetes_node_binaries") or []
    return list(dict.fromkeys(names))


def required(component: str, version: str) -> list[Artifact]:
    """The files the roles download for a release of a component, on every architecture."""
    if component == "zookeeper":
        return [Artifact(component, version, ARCH_INDEPENDENT, f"apache-zookeeper-{version}-bin.tar.gz")]
    if component == "etcd":
        return [Artifact(component, version, arch, f"etcd-v{version}-linux-{arch}.tar.gz") for arch in ARCHS]
    if component == "kubernetes":
        return [Artifact(component, version, arch, binary) for arch in ARCHS for binary in kubernetes_binaries()]
    raise StackbenchError(f"no download layout for {component!r}", "use zookeeper, etcd or kubernetes")


# component -> (role, variable) declaring the release the roles install by default.
DEFAULT_VERSIONS: dict[str, tuple[str, str]] = {
    "zookeeper": ("zookeeper", "zookeeper_version"),
    "etcd": ("etcd", "etcd_version"),
    "kubernetes": ("kubernetes", "kubernetes_version"),
}


def default_requirements() -> list[Artifact]:
    """What the roles download with their default versions, on every architecture."""
    return [a for component, (role, variable) in DEFAULT_VERSIONS.items()
            for a in required(component, str(roles.default(role, variable)))]


# --- mirror files ------------------------------------------------------------------------------

# The upstream layouts below any base (archive.apache.org/dist, github.com/etcd-io/etcd/releases/
# download, dl.k8s.io/release), as the artifact builders lay out the mirror.
_LAYOUTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("zookeeper", re.compile(r"(?:^|/)zookeeper/zookeeper-(?P<version>[^/]+)/"
                             r"(?P<file>apache-zookeeper-(?P=version)-bin\.tar\.gz)")),
    ("etcd", re.compile(r"(?:^|/)v(?P<version>[^/]+)/(?P<file>etcd-v(?P=version)-linux-(?P<arch>[a-z0-9]+)\.tar\.gz)")),
    ("kubernetes", re.compile(r"(?:^|/)v(?P<version>[^/]+)/bin/linux/(?P<arch>[a-z0-9]+)/(?P<file>[a-z-]+)")),
)


def identify(relpath: PurePosixPath | str) -> Artifact | None:
    """The table's key of a file at this path of a mirror tree; None when it is no upstream artifact."""
    text = str(PurePosixPath(relpath))
    for component, layout in _LAYOUTS:
        match = layout.search(text)
        if not match or not text.endswith(match["file"]):
            continue
        if component == "kubernetes" and match["file"] not in kubernetes_binaries():
            return None
        arch = match.groupdict().get("arch") or ARCH_INDEPENDENT
        return Artifact(component, match["version"], arch, match["file"])
    return None


def digest(path: Path, algorithm: str) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def status(path: Path, relpath: PurePosixPath | str, table: Table) -> str | None:
    """`pinned: matches`, `pinned: DIFFERS (built here)` or `not pinned` for an upstream artifact of
    the mirror; None for a file of no upstream layout the table covers (images, emulators, wheels)."""
    artifact = identify(relpath)
    if artifact is None:
        return None
    expected = pinned(table, artifact)
    if expected is None:
        return "not pinned"
    algorithm, _, value = expected.partition(":")
    return "pinned: matches" if digest(path, algorithm) == value else "pinned: DIFFERS (built here)"
