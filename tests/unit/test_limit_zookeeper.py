"""playbooks/zookeeper.yml under --limit: a partial run is refused before any change, check mode
and the override go on, and members outside the play are read (facts, zoo.cfg entries).

Hosts are local connections and the runs stop at the preflight (`--skip-tags install,config,service`, or its
refusal), so nothing is installed; a member with an unreachable connection stands for a dead host. Each test's
run is declared with `case` and started by the module fixture `runs`, several at once (see local_playbook.run_cases).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import Future

import local_playbook
import pytest
from local_playbook import Case, case

MEMBERS = ["z1", "z2", "z3"]
PREFLIGHT_ONLY = ("--skip-tags", "install,config,service")
# A member that cannot be reached: ssh to a closed port.
DEAD = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_user": "nobody"}


def zookeeper(*args: str, broken: tuple[str, ...] = ()) -> Case:
    """`ansible-playbook playbooks/zookeeper.yml ARGS`; hosts in `broken` cannot be reached."""
    # package: no tarball, so no checksum check of another role to satisfy (the install is skipped anyway)
    return Case({"zookeeper": MEMBERS}, {"zookeeper_install_method": "package"}, args=args,
                host_vars={h: DEAD for h in broken})


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory) -> Iterator[dict[str, Future]]:
    yield from local_playbook.run_cases(request, tmp_path_factory, "zookeeper.yml", timeout=120,
                                        env={"ANSIBLE_GATHER_SUBSET": "!all,network"})


@pytest.fixture
def result(request, runs) -> subprocess.CompletedProcess:
    """The finished run of this test's `case`."""
    return runs[request.node.nodeid].result()


@case(lambda: zookeeper("--limit", "z1,localhost"))
def test_partial_limit_is_refused_before_any_change(result):
    assert result.returncode != 0, result.stdout
    assert ("zookeeper: ZooKeeper members z2, z3 are limited out of this play; the rolling restart needs the whole "
            "ensemble") in result.stdout
    assert "-e zookeeper_allow_partial_limit=true" in result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout
    assert "Install ZooKeeper" not in result.stdout


@case(lambda: zookeeper("--check", "--limit", "z1,localhost", *PREFLIGHT_ONLY))
def test_check_mode_with_a_partial_limit_reads_the_members_outside(result):
    assert result.returncode == 0, result.stdout
    # z2 and z3 were not in the play: their facts were read and they are in the ensemble
    assert "Gather the network facts of the members outside the play" in result.stdout
    assert "3 member(s): z1=1, z2=2, z3=3" in result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout


@case(lambda: zookeeper("--limit", "z2,localhost", *PREFLIGHT_ONLY, "-e", "zookeeper_allow_partial_limit=true"))
def test_override_lets_a_partial_limit_through(result):
    assert result.returncode == 0, result.stdout
    assert "3 member(s): z1=1, z2=2, z3=3" in result.stdout


@case(lambda: zookeeper("--check", "--limit", "z1,localhost", *PREFLIGHT_ONLY, broken=("z3",)))
def test_unreachable_member_outside_the_play_is_named(result):
    assert result.returncode != 0, result.stdout
    assert "zookeeper: members z3 (outside this play) are unreachable or failed" in result.stdout
    assert "3 member(s)" not in result.stdout
