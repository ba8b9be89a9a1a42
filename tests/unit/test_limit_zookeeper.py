"""playbooks/zookeeper.yml under --limit: a partial run is refused before any change, check mode
and the override go on, and members outside the play are read (facts, zoo.cfg entries).

Hosts are local connections and the runs stop at the preflight (`--skip-tags install,config,service`, or its
refusal), so nothing is installed; a member with an unreachable connection stands for a dead host.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from local_playbook import ROOT

MEMBERS = ["z1", "z2", "z3"]
PREFLIGHT_ONLY = ("--skip-tags", "install,config,service")


def run(tmp_path: Path, *args: str, broken: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`ansible-playbook playbooks/zookeeper.yml ARGS`; hosts in `broken` cannot be reached."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    dead = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_user": "nobody"}
    hosts = {h: dict(dead if h in broken else local) for h in MEMBERS}
    inventory = {"all": {"children": {"zookeeper": {"hosts": hosts}}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "default",
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_GATHER_SUBSET": "!all,network"}
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    # package: no tarball, so no checksum check of another role to satisfy (the install is skipped anyway)
    return subprocess.run([playbook, "-i", str(path), str(ROOT / "playbooks" / "zookeeper.yml"),
                           "-e", "zookeeper_install_method=package", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_partial_limit_is_refused_before_any_change(tmp_path):
    result = run(tmp_path, "--limit", "z1,localhost")
    assert result.returncode != 0, result.stdout
    assert ("zookeeper: ZooKeeper members z2, z3 are limited out of this play; the rolling restart needs the whole "
            "ensemble") in result.stdout
    assert "-e zookeeper_allow_partial_limit=true" in result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout
    assert "Install ZooKeeper" not in result.stdout


def test_check_mode_with_a_partial_limit_reads_the_members_outside(tmp_path):
    result = run(tmp_path, "--check", "--limit", "z1,localhost", *PREFLIGHT_ONLY)
    assert result.returncode == 0, result.stdout
    # z2 and z3 were not in the play: their facts were read and they are in the ensemble
    assert "Gather the network facts of the members outside the play" in result.stdout
    assert "3 member(s): z1=1, z2=2, z3=3" in result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout


def test_override_lets_a_partial_limit_through(tmp_path):
    result = run(tmp_path, "--limit", "z2,localhost", *PREFLIGHT_ONLY, "-e", "zookeeper_allow_partial_limit=true")
    assert result.returncode == 0, result.stdout
    assert "3 member(s): z1=1, z2=2, z3=3" in result.stdout


def test_unreachable_member_outside_the_play_is_named(tmp_path):
    result = run(tmp_path, "--check", "--limit", "z1,localhost", *PREFLIGHT_ONLY, broken=("z3",))
    assert result.returncode != 0, result.stdout
    assert "zookeeper: members z3 (outside this play) are unreachable or failed" in result.stdout
    assert "3 member(s)" not in result.stdout
