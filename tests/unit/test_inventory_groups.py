"""A playbook whose groups the inventory lacks stops in its first play, naming the group.

Ansible alone only warns "Could not match supplied host pattern" and exits 0 having done nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from local_playbook import ROOT, assert_stopped_early, run_local_playbook


@pytest.mark.parametrize(
    ("playbook", "groups", "message", "first_changing_play"),
    [
        ("zookeeper.yml", {"zoo_keeper": ["z1"]},
         "inventory group 'zookeeper' is missing: this playbook needs hosts in zookeeper. "
         "Groups in this inventory: zoo_keeper", "ZooKeeper ensemble"),
        ("zookeeper.yml", {"zookeeper": []}, "inventory group 'zookeeper' is empty", "ZooKeeper ensemble"),
        ("etcd.yml", {"etcd_servers": ["e1"]}, "inventory group 'etcd' is missing", "Stand up the etcd cluster"),
        ("mesos.yml", {"zookeeper": ["z1"], "mesos_masters": ["m1"], "mesos_agent": ["a1"], "marathon": ["m1"]},
         "inventory group 'mesos_agents' is missing", "ZooKeeper ensemble"),
    ],
)
def test_missing_group_is_refused(tmp_path, playbook, groups, message, first_changing_play):
    result = run_local_playbook(tmp_path, playbook, groups, {}, ungrouped=("spare",), timeout=120)
    assert_stopped_early(result, message, first_changing_play)


def test_a_missing_group_names_its_alias(tmp_path):
    groups = {"etcd": ["c1"], "kube_control_plane": ["c1"], "kube_workers": ["w1"]}
    result = run_local_playbook(tmp_path, "kubernetes.yml", groups, {}, timeout=120)
    assert_stopped_early(result, "inventory group 'kube_nodes' is missing: this playbook needs hosts in etcd, "
                                 "kube_control_plane, kube_nodes (kube_nodes may also be named kube_node). "
                                 "Groups in this inventory: etcd, kube_control_plane, kube_workers",
                         "Check the inventory and every role's input before any host changes")


def test_limit_keeps_the_check(tmp_path):
    """--limit leaves localhost out: a localhost-only first play would be skipped, and the run succeed."""
    hosts = {"z1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"zoo_keeper": {"hosts": hosts}}}}))
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                             "--limit", "z1", str(ROOT / "playbooks" / "zookeeper.yml")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                                 "ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_NOCOLOR": "1"})
    assert_stopped_early(result, "inventory group 'zookeeper' is missing", "ZooKeeper ensemble")


def test_a_group_with_hosts_is_not_filled_from_its_alias(tmp_path):
    groups = {"kube_nodes": ["n1"], "kube_node": ["other1"], "spare": ["s1"]}
    playbook = tmp_path / "probe.yml"
    playbook.write_text(yaml.safe_dump([
        {"name": "Groups", "hosts": "localhost:all", "gather_facts": False,
         "roles": [{"role": "stackbench.cluster.inventory_groups", "inventory_groups_required": ["kube_nodes"]}]},
        {"name": "Probe", "hosts": "localhost", "gather_facts": False,
         "tasks": [{"ansible.builtin.debug": {"msg": "kube_nodes={{ groups['kube_nodes'] | join(',') }}"}}]},
    ]))
    result = run_local_playbook(tmp_path, str(playbook), groups, {}, timeout=120)
    assert result.returncode == 0, result.stdout
    assert '"msg": "kube_nodes=n1"' in result.stdout
