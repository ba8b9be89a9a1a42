"""A playbook whose groups the inventory lacks stops in its first play, naming the group.

Ansible alone only warns "Could not match supplied host pattern" and exits 0 having done nothing.
"""

from __future__ import annotations

import pytest
from local_playbook import assert_stopped_early, run_local_playbook


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
