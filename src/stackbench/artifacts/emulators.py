"""The Mesos and Marathon emulators (tests/emulators) packaged as the archives the roles install.

Real Mesos and Marathon cannot be obtained (see docs/mesos-artifacts.md), so the lab mirror
serves the emulators in the same archive shapes a user makes from real builds:

- `<mirror>/mesos-emulator/<V>/mesos-<V>-emulator.tar.gz`: a Mesos install tree with one top
  directory `mesos-<V>/` holding `sbin/mesos-master`, `sbin/mesos-agent` and
  `lib/mesos-emulator/` (the emulator package plus kazoo, vendored from the controller's
  environment; both pure Python, so the hosts only need python3);
- `<mirror>/marathon-emulator/v<V>/marathon-<V>-emulator.tgz`: like the upstream Marathon
  tarball, one top directory `marathon-<V>/` holding `bin/marathon` (plus `lib/mesos-emulator/`).

The programs (tests/emulators/bin/*) lie in `lib/mesos-emulator/` beside the packages they
import, and `sbin/...` / `bin/marathon` are symbolic links to them: Python imports from the
directory of the program it runs (symbolic links resolved), so nothing edits the import path,
and a process still shows as `python3 .../sbin/mesos-master` (what the control-plane cost
sampler looks for).

Every version in MESOS_VERSIONS / MARATHON_VERSIONS is built (a rolling upgrade in the lab moves
from one to the next); each archive holds `lib/mesos-emulator/mesos_emulator/VERSION.json`, so the
daemons report the version they were packaged as (`/version`, `/v2/info`, GET_VERSION, `--version`).
Each with a `.sha256` file in sha256sum form. The archives are reproducible (sorted members,
fixed mtimes and owners, gzip mtime 0); a rebuild happens only when the emulator sources or
kazoo change.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path

from stackbench.errors import StackbenchError
from stackbench.paths import REPO_ROOT

NAME = "emulators"
DESCRIPTION = ("Mesos 1.10/1.11 master/agent and Marathon 1.9/1.10 emulators (lab only), as install-tree "
               "archives")

# the default (what the roles install unless told otherwise) is the last of each
MESOS_VERSIONS = ("1.10.0", "1.11.0")
MARATHON_VERSIONS = ("1.9.109", "1.10.26")
MESOS_VERSION = MESOS_VERSIONS[-1]
MARATHON_VERSION = MARATHON_VERSIONS[-1]
SOURCE_DATE_EPOCH = 1767225600
EMULATOR_ROOT = REPO_ROOT / "tests" / "emulators"

Log = Callable[[str], object]


def mesos_relpath(version: str = MESOS_VERSION) -> Path:
    return Path("mesos-emulator", version, f"mesos-{version}-emulator.tar.gz")


def marathon_relpath(version: str = MARATHON_VERSION) -> Path:
    return Path("marathon-emulator", f"v{version}", f"marathon-{version}-emulator.tgz")


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def kazoo_dir() -> Path:
    spec = importlib.util.find_spec("kazoo")
    if spec is None or not spec.submodule_search_locations:
        raise StackbenchError("kazoo is not installed in this environment", "pip install -r requirements.lock")
    return Path(next(iter(spec.submodule_search_locations)))


def members(
    top: str,
    scripts: dict[str, str],
    emulator_root: Path = EMULATOR_ROOT,
    kazoo: Path | None = None,
    versions: dict[str, str] | None = None,
) -> list[tuple[str, bytes, int]]:
    """(path in archive, content, mode) for one archive, sorted by path; `scripts` maps where each
    program is run from (a link) to its name in tests/emulators/bin. A link's content is its target.
    `versions` ({"mesos": V} or {"marathon": V}) is what the packaged daemons report."""
    kazoo = kazoo or kazoo_dir()
    out: list[tuple[str, bytes, int]] = []
    lib = f"{top}/lib/mesos-emulator"
    for target, script in scripts.items():
        program = f"{lib}/{script}"
        out.append((program, (emulator_root / "bin" / script).read_bytes(), 0o755))
        link = posixpath.relpath(program, posixpath.dirname(f"{top}/{target}"))
        out.append((f"{top}/{target}", link.encode(), stat.S_IFLNK | 0o755))
    package = emulator_root / "mesos_emulator"
    for path in _python_files(package):
        if path.name == "VERSION.json":
            continue  # only the builder writes it
        out.append((f"{lib}/mesos_emulator/{path.relative_to(package)}", path.read_bytes(), 0o644))
    if versions:
        out.append((f"{lib}/mesos_emulator/VERSION.json", json.dumps(versions, sort_keys=True).encode() + b"\n", 0o644))
    for path in _python_files(kazoo):
        if {"tests", "testing"} & set(path.relative_to(kazoo).parts):
            continue
        out.append((f"{lib}/kazoo/{path.relative_to(kazoo)}", path.read_bytes(), 0o644))
    out.append((f"{top}/EMULATOR", b"stackbench emulator: not the real software (lab use only)\n", 0o644))
    return sorted(out)


def archive_bytes(entries: Iterable[tuple[str, bytes, int]]) -> bytes:
    """A reproducible .tar.gz of `entries` (directories implied and added, all owned by root); an entry
    whose mode says symbolic link (stat.S_IFLNK) is one, to the path its content names."""
    entries = list(entries)
    dirs = sorted({"/".join(name.split("/")[:i]) for name, _, _ in entries for i in range(1, name.count("/") + 1)})
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in dirs:
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, SOURCE_DATE_EPOCH
            tar.addfile(info)
        for name, content, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = stat.S_IMODE(mode), SOURCE_DATE_EPOCH
            if stat.S_ISLNK(mode):
                info.type, info.linkname = tarfile.SYMTYPE, content.decode()
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def sha256_line(digest: str, file_name: str) -> str:
    return f"{digest}  {file_name}\n"


def _write(mirror: Path, relpath: Path, data: bytes, force: bool, log: Log) -> list[Path]:
    target = mirror / relpath
    checksum = target.with_name(target.name + ".sha256")
    digest = hashlib.sha256(data).hexdigest()
    if not force and target.exists() and checksum.exists() and checksum.read_text().split()[0] == digest:
        log(f"emulators: {relpath} is up to date")
        return [target, checksum]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    checksum.write_text(sha256_line(digest, target.name))
    log(f"emulators: wrote {relpath} ({len(data) / 1e3:.0f} kB, sha256 {digest[:12]})")
    return [target, checksum]


def mesos_archive(version: str = MESOS_VERSION, kazoo: Path | None = None) -> bytes:
    scripts = {"sbin/mesos-master": "mesos-master", "sbin/mesos-agent": "mesos-agent"}
    return archive_bytes(members(f"mesos-{version}", scripts, kazoo=kazoo, versions={"mesos": version}))


def marathon_archive(version: str = MARATHON_VERSION, kazoo: Path | None = None) -> bytes:
    scripts = {"bin/marathon": "marathon"}
    return archive_bytes(members(f"marathon-{version}", scripts, kazoo=kazoo, versions={"marathon": version}))


def build(mirror: Path, force: bool = False, log: Log = print) -> list[Path]:
    kazoo = kazoo_dir()
    written: list[Path] = []
    for version in MESOS_VERSIONS:
        written += _write(mirror, mesos_relpath(version), mesos_archive(version, kazoo), force, log)
    for version in MARATHON_VERSIONS:
        written += _write(mirror, marathon_relpath(version), marathon_archive(version, kazoo), force, log)
    return written
