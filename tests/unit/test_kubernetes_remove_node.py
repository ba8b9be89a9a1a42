"""Bad input to playbooks/kubernetes-remove-node.yml (kubernetes-recover.yml: at the end) stops it in
its first (read-only) play, before any play that reaches a cluster host: no host given, a name outside
the stack, an etcd member in no other group of the stack, the first control-plane host, the cluster's
last node. The hosts are
local connections; the first play only reads the inventory and the variables. (An etcd member whose
removal would lose quorum is refused by the etcd_member module, in check mode, before the drain:
test_etcd_member_module.py, and live in molecule/etcd.)"""

from __future__ import annotations

import pytest
from local_playbook import assert_stopped_early, run_local_playbook

LAYOUT = {
    "etcd": ["cp1", "cp2", "cp3"],
    "kube_control_plane": ["cp1", "cp2", "cp3"],
    "kube_nodes": ["cp1", "cp2", "cp3", "worker1"],
}
REFUSED = "a host of the kube_nodes or kube_control_plane group (cp1, cp2, cp3, worker1) that is neither the first"
FIRST_CHANGING_PLAY = "Drop the control-plane host from every other node's API balancer"


@pytest.mark.parametrize(("groups", "extra"), [
    (LAYOUT, {}),
    (LAYOUT, {"node": "worker9"}),
    (LAYOUT, {"node": "cp1"}),
    ({**LAYOUT, "etcd": ["cp1", "cp2", "etcd4"]}, {"node": "etcd4"}),
], ids=["no-node-given", "not-a-host-of-the-stack", "first-control-plane-host", "etcd-only-member"])
def test_a_removal_of_no_removable_host_is_refused_before_any_host_changes(tmp_path, groups, extra):
    result = run_local_playbook(tmp_path, "kubernetes-remove-node.yml", groups, extra)
    assert_stopped_early(result, "that is neither the first control-plane host", FIRST_CHANGING_PLAY)
    assert "PLAY [Check that etcd keeps quorum" not in result.stdout  # no cluster host reached at all
    if groups is LAYOUT:
        assert REFUSED in result.stdout


def test_the_last_node_is_refused(tmp_path):
    groups = {"etcd": ["cp1"], "kube_control_plane": ["cp1"], "kube_nodes": ["worker1"]}
    result = run_local_playbook(tmp_path, "kubernetes-remove-node.yml", groups, {"node": "worker1"})
    assert_stopped_early(result, "nor the cluster's last node", FIRST_CHANGING_PLAY)


RECOVER_REFUSED = "kubernetes-recover: pass -e member=NAME, a dead host of the etcd group (cp1, cp2, cp3)"


@pytest.mark.parametrize("extra", [{}, {"member": "worker1"}, {"member": "cp3", "etcd_restore_snapshot": "/x.db"}],
                         ids=["neither", "a-worker", "both"])
def test_a_recovery_without_one_dead_etcd_member_or_one_snapshot_is_refused_before_any_host_changes(tmp_path, extra):
    result = run_local_playbook(tmp_path, "kubernetes-recover.yml", LAYOUT, extra)
    assert_stopped_early(result, RECOVER_REFUSED,
                         "Remove the dead member from the cluster (through the remaining members)")
    assert "PLAY [Wipe etcd off the replacement host]" not in result.stdout
