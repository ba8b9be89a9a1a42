"""Bad input to playbooks/mesos.yml stops it in its first (read-only) plays, before any host changes.

The hosts are local connections: the checks only read inventory and variables, so nothing
runs on a machine; the tests also assert that no task reported a change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {"mesos_archive_base_url": "http://mirror/mesos", "marathon_archive_base_url": "http://mirror/marathon"}


def run(tmp_path: Path, groups: dict[str, list[str]], extra: dict[str, str]) -> subprocess.CompletedProcess:
    hosts = {h for members in groups.values() for h in members}
    inventory = {
        "all": {
            "hosts": {h: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable} for h in hosts},
            "children": {g: {"hosts": {h: {} for h in members}} for g, members in groups.items()},
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_NOCOLOR": "1",
    }
    args = ["ansible-playbook", "-i", str(path), str(ROOT / "playbooks/mesos.yml")]
    for key, value in extra.items():
        args += ["-e", f"{key}={value}"]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def assert_stopped_early(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0, result.stdout
    assert message in result.stdout, result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout
    assert "PLAY [ZooKeeper ensemble]" not in result.stdout


LAYOUT = {
    "zookeeper": ["z1", "z2", "z3"],
    "mesos_masters": ["m1", "m2", "m3"],
    "mesos_agents": ["a1"],
    "marathon": ["m1"],
}


def test_even_master_count(tmp_path):
    groups = {**LAYOUT, "mesos_masters": ["m1", "m2"]}
    assert_stopped_early(run(tmp_path, groups, SOURCES), "has 2 host(s)")


def test_no_zookeeper_group(tmp_path):
    groups = {k: v for k, v in LAYOUT.items() if k != "zookeeper"}
    assert_stopped_early(run(tmp_path, groups, SOURCES), "ZooKeeper group 'zookeeper' has 0")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"mesos_archive_base_url": ""}, "mesos_archive_base_url is not set"),
        ({"mesos_install_method": "package"}, "mesos_package_repo_url is not set"),
        ({"marathon_archive_base_url": ""}, "marathon_archive_base_url is not set"),
    ],
)
def test_unset_install_source(tmp_path, extra, message):
    assert_stopped_early(run(tmp_path, LAYOUT, {**SOURCES, **extra}), message)


def test_marathon_without_a_mesos_group(tmp_path):
    groups = {"zookeeper": ["z1"], "marathon": ["m1"]}
    assert_stopped_early(run(tmp_path, groups, SOURCES), "Marathon needs Mesos masters")
