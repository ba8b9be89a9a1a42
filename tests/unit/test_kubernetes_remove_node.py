"""Bad input to playbooks/kubernetes-remove-node.yml stops it in its first (read-only) play, before
the play that drains and cleans the node: no node given, a name that is no node, a control-plane host
or etcd member, the cluster's last node. The hosts are local connections; the first play only reads
the inventory and the variables."""

from __future__ import annotations

import pytest
from local_playbook import assert_stopped_early, run_local_playbook

LAYOUT = {
    "etcd": ["cp1"],
    "kube_control_plane": ["cp1"],
    "kube_nodes": ["cp1", "worker1"],
}
REFUSED = "a host of the kube_nodes group (cp1, worker1) that is neither a control-plane host nor an etcd member"


@pytest.mark.parametrize(("groups", "extra"), [
    (LAYOUT, {}),
    (LAYOUT, {"node": "worker9"}),
    (LAYOUT, {"node": "cp1"}),
    ({**LAYOUT, "etcd": ["cp1", "worker1", "cp2"], "kube_nodes": ["cp1", "worker1"]}, {"node": "worker1"}),
], ids=["no-node-given", "not-a-node", "control-plane-host", "etcd-member"])
def test_a_removal_that_names_no_worker_is_refused_before_any_host_changes(tmp_path, groups, extra):
    result = run_local_playbook(tmp_path, "kubernetes-remove-node.yml", groups, extra)
    expected = REFUSED if groups is LAYOUT else "that is neither a control-plane host nor an etcd member"
    assert_stopped_early(result, expected, "Remove a Kubernetes node")


def test_the_last_node_is_refused(tmp_path):
    groups = {"etcd": ["cp1"], "kube_control_plane": ["cp1"], "kube_nodes": ["worker1"]}
    result = run_local_playbook(tmp_path, "kubernetes-remove-node.yml", groups, {"node": "worker1"})
    assert_stopped_early(result, "and not the cluster's last node", "Remove a Kubernetes node")
