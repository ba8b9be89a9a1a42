"""Bad input to playbooks/mesos.yml stops it in its first (read-only) plays, before any host changes.

The hosts are local connections: the checks only read inventory and variables, so nothing
runs on a machine; the tests also assert that no task reported a change. Each test's run is
declared with `case` and started by the module fixture `runs`, several at once
(see local_playbook.run_cases).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import Future

import local_playbook
import pytest
from local_playbook import Case, case

SOURCES = {"mesos_archive_base_url": "http://mirror/mesos", "marathon_archive_base_url": "http://mirror/marathon"}


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory) -> Iterator[dict[str, Future]]:
    yield from local_playbook.run_cases(request, tmp_path_factory, "mesos.yml", timeout=120)


@pytest.fixture
def result(request, runs) -> subprocess.CompletedProcess:
    """The finished run of this test's `case`."""
    return runs[request.node.nodeid].result()


def assert_stopped_early(result: subprocess.CompletedProcess, message: str) -> None:
    local_playbook.assert_stopped_early(result, message, "ZooKeeper ensemble")


LAYOUT = {
    "zookeeper": ["z1", "z2", "z3"],
    "mesos_masters": ["m1", "m2", "m3"],
    "mesos_agents": ["a1"],
    "marathon": ["m1"],
}


@case(lambda: Case({**LAYOUT, "mesos_masters": ["m1", "m2"]}, SOURCES))
def test_even_master_count(result):
    assert_stopped_early(result, "has 2 host(s)")


@case(lambda: Case({k: v for k, v in LAYOUT.items() if k != "zookeeper"}, SOURCES))
def test_no_zookeeper_group(result):
    assert_stopped_early(result, "inventory group 'zookeeper' is missing")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"mesos_archive_base_url": ""}, "mesos_archive_base_url is not set"),
        ({"mesos_install_method": "package"}, "mesos_package_repo_url is not set"),
        ({"marathon_archive_base_url": ""}, "marathon_archive_base_url is not set"),
    ],
)
@case(lambda extra, message: Case(LAYOUT, {**SOURCES, **extra}))
def test_unset_install_source(result, extra, message):
    assert_stopped_early(result, message)


@case(lambda: Case({"zookeeper": ["z1"], "marathon": ["m1"]}, SOURCES))
def test_marathon_without_a_mesos_group(result):
    assert_stopped_early(result, "inventory group 'mesos_masters' is missing")


PREFLIGHT_ONLY = ("--skip-tags", "install,config,service")


@case(lambda: Case(LAYOUT, SOURCES, args=("--limit", "m1")))
def test_limit_to_some_masters_is_refused(result):
    assert_stopped_early(result, "mesos: masters m2, m3 are limited out of this play")
    assert "-e mesos_allow_partial_limit=true" in result.stdout


# Agents are no quorum: the run goes on, and the masters outside it are read for the health checks.
@case(lambda: Case(LAYOUT, SOURCES, args=("--limit", "a1", *PREFLIGHT_ONLY)))
def test_limit_to_an_agent_goes_on_and_reads_the_masters(result):
    assert result.returncode == 0, result.stdout
    assert "PLAY [Mesos masters and agents]" in result.stdout
    for master in LAYOUT["mesos_masters"]:
        assert f"ok: [a1 -> {master}] => (item={master})" in result.stdout
    assert "limited out" not in result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout


# Marathon keeps no member list (the ZooKeeper election finds the instances): limiting it is safe.
@case(lambda: Case({**LAYOUT, "marathon": ["k1", "k2"]}, SOURCES, args=("--limit", "k1", *PREFLIGHT_ONLY)))
def test_limit_to_one_marathon_instance_goes_on(result):
    assert result.returncode == 0, result.stdout
    assert "ok: [k1 -> k2] => (item=k2)" in result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout


# k2 is limited out but shares k1's hostname: the election would abort, so the check still sees it.
@case(lambda: Case({**LAYOUT, "marathon": ["k1", "k2"]}, SOURCES,
                   args=("--limit", "k1", "-e", "marathon_hostname=same")))
def test_marathon_election_ids_cover_instances_outside_the_play(result):
    assert_stopped_early(result, "Marathon instances share hostname:http_port (same:8080, same:8080)")
