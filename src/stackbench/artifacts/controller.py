"""What a controller that is not this checkout installs from the mirror: Python wheels and collections.

    <mirror>/python/wheels/*.whl                      the stackbench CLI, its dependencies (pinned by
                                                      requirements.lock) and pip itself, for
                                                      `pip install --no-index --find-links <url>`
    <mirror>/collections/stackbench-cluster-V.tar.gz  this collection (`ansible-galaxy collection build`)
    <mirror>/collections/<ns>-<name>-V.tar.gz         the collections it depends on (galaxy.yml), packed
                                                      from the copies the venv's `ansible` package carries

The dependency wheels are cached by the hash of requirements.lock and pyproject.toml; the
stackbench wheel and the collection tarball are rebuilt every time (a few seconds) so the
mirror always holds this checkout.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tarfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml

from stackbench.artifacts import steps
from stackbench.errors import StackbenchError
from stackbench.paths import REPO_ROOT

NAME = "controller"
DESCRIPTION = "wheels and collection tarballs for a controller that is not this checkout"

WHEELS_PATH = "python/wheels"
COLLECTIONS_PATH = "collections"
run_step = partial(steps.run_step, what=NAME)
Log = Callable[[str], object]


def _lock_hash() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.lock", "pyproject.toml"):
        digest.update((REPO_ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def _pip() -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]


def build_wheels(mirror: Path, log: Log, force: bool = False) -> list[Path]:
    wheels = mirror / WHEELS_PATH
    wheels.mkdir(parents=True, exist_ok=True)
    stamp = wheels / ".lock-hash"
    if force or not stamp.exists() or stamp.read_text().strip() != _lock_hash():
        for old in wheels.glob("*.whl"):
            old.unlink()
        log(f"artifacts {NAME}: wheels of the CLI's dependencies (pinned by requirements.lock)")
        run_step(_pip() + ["wheel", "--wheel-dir", str(wheels), "-c", str(REPO_ROOT / "requirements.lock"),
                           str(REPO_ROOT), "pip"], cwd=REPO_ROOT, log=log)
        stamp.write_text(_lock_hash() + "\n")
    for old in wheels.glob("stackbench-*.whl"):
        old.unlink()
    run_step(_pip() + ["wheel", "--no-deps", "--wheel-dir", str(wheels), str(REPO_ROOT)], cwd=REPO_ROOT, log=log)
    shutil.rmtree(REPO_ROOT / "build", ignore_errors=True)  # setuptools' scratch tree
    return sorted(wheels.glob("*.whl"))


def _installed_collection(fqcn: str) -> Path:
    namespace, name = fqcn.split(".")
    for entry in sys.path:
        candidate = Path(entry) / "ansible_collections" / namespace / name
        if (candidate / "MANIFEST.json").exists():
            return candidate
    raise StackbenchError(f"collection {fqcn} is not installed next to this interpreter",
                          "scripts/setup.sh installs the PyPI 'ansible' package, which carries it")


def pack_installed_collection(source: Path, out_dir: Path) -> Path:
    """A galaxy tarball of an installed collection, from its own MANIFEST.json and FILES.json.

    The PyPI `ansible` package leaves some listed files out (CI configs, tests), and ansible-galaxy
    refuses a tarball whose FILES.json names a missing file: the listing is narrowed to what is
    there and MANIFEST.json's checksum of it updated to match.
    """
    manifest = json.loads((source / "MANIFEST.json").read_text())
    info = manifest["collection_info"]
    target = out_dir / f"{info['namespace']}-{info['name']}-{info['version']}.tar.gz"
    if target.exists():
        return target
    files = json.loads((source / "FILES.json").read_text())
    files["files"] = [entry for entry in files["files"]
                      if entry["name"] == "." or (source / entry["name"]).exists()]
    files_json = json.dumps(files, indent=4).encode()
    manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_json).hexdigest()
    manifest_json = json.dumps(manifest, indent=4).encode()
    partial_target = target.with_suffix(".part")
    with tarfile.open(partial_target, "w:gz") as tar:
        for name, data in (("MANIFEST.json", manifest_json), ("FILES.json", files_json)):
            member = tarfile.TarInfo(name)
            member.size, member.mode, member.mtime = len(data), 0o644, int(time.time())
            tar.addfile(member, io.BytesIO(data))
        for entry in files["files"]:
            if entry["name"] != ".":
                tar.add(source / entry["name"], arcname=entry["name"], recursive=False)
    partial_target.rename(target)
    return target


def build_collections(mirror: Path, log: Log) -> list[Path]:
    out = mirror / COLLECTIONS_PATH
    out.mkdir(parents=True, exist_ok=True)
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
    for old in out.glob(f"{galaxy['namespace']}-{galaxy['name']}-*.tar.gz"):
        old.unlink()
    galaxy_bin = Path(sys.executable).parent / "ansible-galaxy"
    run_step([str(galaxy_bin), "collection", "build", "--force", "--output-path", str(out), str(REPO_ROOT)],
             cwd=REPO_ROOT, log=log)
    written = [out / f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"]
    for fqcn in galaxy.get("dependencies") or {}:
        written.append(pack_installed_collection(_installed_collection(fqcn), out))
    return written


def build(mirror: Path, force: bool = False, log: Log = print) -> list[Path]:
    written = build_wheels(mirror, log, force=force) + build_collections(mirror, log)
    log(f"artifacts {NAME}: {len(written)} files under {mirror / WHEELS_PATH} and {mirror / COLLECTIONS_PATH}")
    return written
