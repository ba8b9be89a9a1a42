"""Bad input to playbooks/mesos.yml stops it in its first (read-only) plays, before any host changes.

The hosts are local connections: the checks only read inventory and variables, so nothing
runs on a machine; the tests also assert that no task reported a change.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import local_playbook
import pytest
from local_playbook import run_local_playbook

SOURCES = {"mesos_archive_base_url": "http://mirror/mesos", "marathon_archive_base_url": "http://mirror/marathon"}


def run(tmp_path: Path, groups: dict[str, list[str]], extra: dict[str, str]) -> subprocess.CompletedProcess:
    return run_local_playbook(tmp_path, "mesos.yml", groups, extra, timeout=120)


def assert_stopped_early(result: subprocess.CompletedProcess, message: str) -> None:
    local_playbook.assert_stopped_early(result, message, "ZooKeeper ensemble")


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
    assert_stopped_early(run(tmp_path, groups, SOURCES), "inventory group 'zookeeper' is missing")


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
    assert_stopped_early(run(tmp_path, groups, SOURCES), "inventory group 'mesos_masters' is missing")
