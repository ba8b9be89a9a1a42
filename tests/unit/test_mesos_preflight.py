"""Bad input to playbooks/mesos.yml stops it in its first (read-only) plays, before any host changes.

The hosts are local connections: the checks only read inventory and variables, so nothing
runs on a machine; the tests also assert that no task reported a change.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from unittest import mock

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


def run_limited(tmp_path: Path, groups: dict[str, list[str]], *args: str) -> subprocess.CompletedProcess:
    """`run` with ARGS (--limit ...) appended to local_playbook's ansible-playbook command."""
    real_run = subprocess.run

    def with_args(command, **kwargs):
        return real_run([*command, *args], **kwargs)

    with mock.patch.object(local_playbook.subprocess, "run", with_args):
        return run(tmp_path, groups, SOURCES)


PREFLIGHT_ONLY = ("--skip-tags", "install,config,service")


def test_limit_to_some_masters_is_refused(tmp_path):
    result = run_limited(tmp_path, LAYOUT, "--limit", "m1")
    assert_stopped_early(result, "mesos: masters m2, m3 are limited out of this play")
    assert "-e mesos_allow_partial_limit=true" in result.stdout


def test_limit_to_an_agent_goes_on_and_reads_the_masters(tmp_path):
    # Agents are no quorum: the run goes on, and the masters outside it are read for the health checks.
    result = run_limited(tmp_path, LAYOUT, "--limit", "a1", *PREFLIGHT_ONLY)
    assert result.returncode == 0, result.stdout
    assert "PLAY [Mesos masters and agents]" in result.stdout
    for master in LAYOUT["mesos_masters"]:
        assert f"ok: [a1 -> {master}] => (item={master})" in result.stdout
    assert "limited out" not in result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout


def test_limit_to_one_marathon_instance_goes_on(tmp_path):
    # Marathon keeps no member list (the ZooKeeper election finds the instances): limiting it is safe.
    groups = {**LAYOUT, "marathon": ["k1", "k2"]}
    result = run_limited(tmp_path, groups, "--limit", "k1", *PREFLIGHT_ONLY)
    assert result.returncode == 0, result.stdout
    assert "ok: [k1 -> k2] => (item=k2)" in result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout


def test_marathon_election_ids_cover_instances_outside_the_play(tmp_path):
    # k2 is limited out but shares k1's hostname: the election would abort, so the check still sees it.
    groups = {**LAYOUT, "marathon": ["k1", "k2"]}
    real_run = subprocess.run

    def with_args(command, **kwargs):
        return real_run([*command, "--limit", "k1", "-e", "marathon_hostname=same"], **kwargs)

    with mock.patch.object(local_playbook.subprocess, "run", with_args):
        result = run(tmp_path, groups, SOURCES)
    assert_stopped_early(result, "Marathon instances share hostname:http_port (same:8080, same:8080)")
