"""Build etcd, etcdctl and etcdutl from Go modules into the etcd GitHub release layout.

Nothing reachable here ships etcd 3.5 or 3.6 binaries (GitHub releases are out of reach, Debian's
etcd-server is 3.4), so we build them from the published Go modules with a small wrapper
module that requires the three `main` modules at one version:

    go.etcd.io/etcd/server/v3   (package main -> etcd)
    go.etcd.io/etcd/etcdctl/v3  (package main -> etcdctl)
    go.etcd.io/etcd/etcdutl/v3  (package main -> etcdutl)

The version string etcd prints comes from the constant `Version` in
`go.etcd.io/etcd/api/v3/version`, so it is right as soon as the module versions are; only
`GitSHA` (set by upstream's ./build script) is stamped with `-X`, to say where the build
came from. The result lands in the mirror as

    <mirror>/etcd-io/etcd/releases/download/vV/etcd-vV-linux-amd64.tar.gz
    <mirror>/etcd-io/etcd/releases/download/vV/SHA256SUMS

with `etcd-vV-linux-amd64/{etcd,etcdctl,etcdutl}` inside the archive, like upstream.

The version is the role's `etcd_version` default (one place declares it), and
`UPGRADE_FROM_VERSION` (the minor before, for the lab's rolling-upgrade test) is built first;
the environment variable STACKBENCH_ETCD_VERSION names one other version to build alone
(`latest` = newest patch of the default's minor on the Go module proxy).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from stackbench import roles
from stackbench.artifacts import goversions, steps
from stackbench.artifacts.goversions import parse_version
from stackbench.errors import StackbenchError
from stackbench.paths import build_dir

NAME = "etcd"
DESCRIPTION = "etcd, etcdctl, etcdutl built from Go modules (etcd GitHub release layout)"
VERSION_ENV = "STACKBENCH_ETCD_VERSION"
# The release before the role default's minor, also built, so that the lab can test a rolling
# upgrade (3.5 -> 3.6; etcd 3.6 requires 3.5.20 or newer before the upgrade).
UPGRADE_FROM_VERSION = "3.5.35"

RELEASE_PATH = "etcd-io/etcd/releases/download"
MAIN_MODULES: dict[str, str] = {
    "etcd": "go.etcd.io/etcd/server/v3",
    "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
    "etcdutl": "go.etcd.io/etcd/etcdutl/v3",
}
VERSION_PACKAGE = "go.etcd.io/etcd/api/v3/version"
ROLE_DEFAULTS = roles.defaults_file("etcd")
run_step = partial(steps.run_step, what=NAME)

Log = Callable[[str], None]


def latest_patch(versions: Iterable[str], minor: str = "3.6") -> str:
    """The newest release `minor`.N among `versions` (as `go list -m -versions` prints them)."""
    return goversions.latest_patch(versions, minor)


def role_default_version(defaults_file: Path = ROLE_DEFAULTS) -> str:
    """`etcd_version` from the role defaults (a plain release, `etcd_version: "3.6.N"`)."""
    version = roles.release_in(defaults_file, "etcd_version")
    if not version:
        raise StackbenchError(f"no etcd_version in {defaults_file}")
    return version


def release_dir(mirror: Path, version: str) -> Path:
    return mirror / RELEASE_PATH / f"v{version}"


def archive_name(version: str, arch: str = "amd64") -> str:
    return f"etcd-v{version}-linux-{arch}.tar.gz"


def wrapper_go_mod(version: str) -> str:
    """go.mod of the wrapper module: the three main modules at one version."""
    lines = ["module stackbench.local/etcdbuild", "", "go 1.23", "", "require ("]
    lines += [f"\t{module} v{version}" for module in sorted(set(MAIN_MODULES.values()))]
    lines += [")", ""]
    return "\n".join(lines)


def wrapper_tools_go() -> str:
    """A file importing the main packages so `go mod tidy` keeps their dependencies."""
    imports = "\n".join(f'\t_ "{module}"' for module in sorted(set(MAIN_MODULES.values())))
    return f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n"


def ldflags(version: str) -> str:
    return f"-s -w -X {VERSION_PACKAGE}.GitSHA=gomod-v{version}"


def sha256sums_line(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{digest}  {path.name}\n"


def make_archive(binaries: dict[str, Path], version: str, dest: Path) -> None:
    """A reproducible tar.gz (fixed mtimes/owners, sorted) like upstream's release archive."""
    top = f"etcd-v{version}-linux-amd64"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(top)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(info)
        for name in sorted(binaries):
            data = binaries[name].read_bytes()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
    tmp = dest.with_suffix(".tmp")
    with tmp.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue())
    tmp.replace(dest)


def resolve_version(log: Log) -> str:
    wanted = os.environ.get(VERSION_ENV) or role_default_version()
    if wanted != "latest":
        return ".".join(str(p) for p in parse_version(wanted))
    major, minor, _ = parse_version(role_default_version())
    out = run_step(["go", "list", "-m", "-versions", MAIN_MODULES["etcd"]], Path.cwd(), log)
    return latest_patch(out.split()[1:], f"{major}.{minor}")


def versions_to_build(log: Log) -> list[str]:
    """The resolved version, after UPGRADE_FROM_VERSION unless the environment names one version."""
    version = resolve_version(log)
    if os.environ.get(VERSION_ENV) or version == UPGRADE_FROM_VERSION:
        return [version]
    return [UPGRADE_FROM_VERSION, version]


def is_cached(mirror: Path, version: str) -> bool:
    folder = release_dir(mirror, version)
    archive, sums = folder / archive_name(version), folder / "SHA256SUMS"
    if not (archive.is_file() and sums.is_file()):
        return False
    return sums.read_text() == sha256sums_line(archive)


def build(mirror: Path, force: bool = False, log: Log = print) -> list[Path]:
    """The release archive and SHA256SUMS of every version to build (versions_to_build)."""
    return [path for version in versions_to_build(log) for path in build_version(mirror, version, force, log)]


def build_version(mirror: Path, version: str, force: bool = False, log: Log = print) -> list[Path]:
    folder = release_dir(mirror, version)
    archive, sums = folder / archive_name(version), folder / "SHA256SUMS"
    if not force and is_cached(mirror, version):
        log(f"etcd v{version}: cached in {folder}")
        return [archive, sums]

    work = build_dir(NAME) / f"v{version}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(wrapper_go_mod(version))
    (work / "tools.go").write_text(wrapper_tools_go())
    env = dict(
        os.environ, CGO_ENABLED="0", GOOS="linux", GOARCH="amd64", GOFLAGS="-mod=mod", GOTOOLCHAIN="local"
    )
    started = time.monotonic()
    log(f"etcd v{version}: resolving modules in {work}")
    run_step(["go", "mod", "tidy"], work, log, env)
    out_dir = work / "bin"
    out_dir.mkdir(exist_ok=True)
    binaries: dict[str, Path] = {}
    for binary, module in MAIN_MODULES.items():
        log(f"etcd v{version}: building {binary}")
        target = out_dir / binary
        run_step(
            [
                "nice",
                "-n",
                "10",
                "go",
                "build",
                "-trimpath",
                "-ldflags",
                ldflags(version),
                "-o",
                str(target),
                module,
            ],
            work,
            log,
            env,
        )
        binaries[binary] = target
    printed = run_step([str(binaries["etcd"]), "--version"], work, log)
    if f"etcd Version: {version}" not in printed:
        raise StackbenchError(f"built etcd does not report version {version}", printed.strip())
    folder.mkdir(parents=True, exist_ok=True)
    make_archive(binaries, version, archive)
    sums.write_text(sha256sums_line(archive))
    log(f"etcd v{version}: built in {time.monotonic() - started:.1f} s -> {archive}")
    return [archive, sums]
