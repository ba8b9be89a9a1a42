"""The collection as users get it: built, installed into an empty path, run by its full name.

`ansible-galaxy collection build` makes the tarball; it is installed into an empty collections
path; `ansible-playbook stackbench.cluster.zookeeper` runs from a directory outside the
checkout, with no ansible.cfg and no scan of the Python path (which would also find this
checkout's development link), against a lab inventory: ZooKeeper converges, its ensemble
checks pass, and a second run changes nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import uuid
from pathlib import Path

import pytest
import yaml

from stackbench.artifacts import registry
from stackbench.lab import topology
from stackbench.lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAB = f"icoll{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The collections path holding only the installed tarball."""
    build = tmp_path_factory.mktemp("build")
    subprocess.run([BIN / "ansible-galaxy", "collection", "build", "--output-path", build, str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=120)
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    tarball = build / f"stackbench-cluster-{version}.tar.gz"
    assert tarball.exists(), list(build.iterdir())
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "MANIFEST.json" in names and "roles/zookeeper/tasks/main.yml" in names
    assert "plugins/modules/zookeeper_ensemble_status.py" in names
    assert not [n for n in names if n.startswith(("tests/", "molecule/", "src/", ".venv/", "collections/"))]
    path = tmp_path_factory.mktemp("collections")
    # --force: ansible-galaxy otherwise finds this checkout's development link and installs nothing.
    subprocess.run([BIN / "ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", path,
                    tarball], check=True, capture_output=True, text=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def lab():
    registry.build("zookeeper")
    the_lab = Lab(LAB, log=lambda _msg: None)
    the_lab.up(topology.builtin("zookeeper", None))
    yield the_lab
    the_lab.down(quiet=True)


def run_installed(installed: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    bundled = sysconfig.get_paths()["purelib"]  # the PyPI "ansible" package's collections (ansible.posix, ...)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": f"{installed}:{bundled}",
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
    })
    return subprocess.run([BIN / args[0], *args[1:]], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=900, check=False)


def test_collection_resolves_to_the_installed_copy(installed, tmp_path):
    listing = run_installed(installed, tmp_path, "ansible-galaxy", "collection", "list", "stackbench.cluster")
    assert listing.returncode == 0, listing.stderr
    assert str(installed) in listing.stdout and str(ROOT) not in listing.stdout


def test_zookeeper_playbook_by_name_converges_then_changes_nothing(installed, lab, tmp_path):
    assert not (tmp_path / "ansible.cfg").exists()
    command = ("ansible-playbook", "-i", str(lab.inventory_path), "stackbench.cluster.zookeeper")
    first = run_installed(installed, tmp_path, *command)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert str(ROOT / "roles") not in first.stdout
    # The role's own check ran (it retries until every member serves and every follower is synced).
    assert "TASK [stackbench.cluster.zookeeper : Wait until every member serves" in first.stdout
    second = run_installed(installed, tmp_path, *command)
    assert second.returncode == 0, second.stdout[-3000:]
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", second.stdout, flags=re.M)
    assert recap and all(changed == "0" for _, changed in recap), second.stdout[-2000:]
