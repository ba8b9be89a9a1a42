"""Bad input to the etcd day-two playbooks stops them in their first (read-only) play, before the
plays that change members: etcd-remove-member.yml without a member of the etcd group or with its
only member, etcd-recover.yml with neither or both of a member and a snapshot. The hosts are local
connections; the first play only reads the inventory and the variables."""

from __future__ import annotations

import pytest
from local_playbook import assert_stopped_early, run_local_playbook

GROUPS = {"etcd": ["etcd1", "etcd2", "etcd3"]}


@pytest.mark.parametrize(("groups", "extra"), [
    (GROUPS, {}),
    (GROUPS, {"member": "etcd9"}),
    ({"etcd": ["etcd1"]}, {"member": "etcd1"}),
], ids=["no-member-given", "not-a-member", "only-member"])
def test_a_removal_without_a_removable_member_is_refused(tmp_path, groups, extra):
    result = run_local_playbook(tmp_path, "etcd-remove-member.yml", groups, extra)
    assert_stopped_early(result, "pass -e member=NAME, a host of the etcd group", "Remove the member from the cluster")


@pytest.mark.parametrize("extra", [{}, {"member": "etcd2", "etcd_restore_snapshot": "/tmp/x.db"}],
                         ids=["neither", "both"])
def test_a_recovery_needs_exactly_one_of_a_member_and_a_snapshot(tmp_path, extra):
    result = run_local_playbook(tmp_path, "etcd-recover.yml", GROUPS, extra)
    assert_stopped_early(result, "pass -e member=NAME (a dead member to replace", "Remove the dead member")
