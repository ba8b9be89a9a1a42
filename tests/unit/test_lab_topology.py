"""Topology validation and sizing: what the lab accepts and refuses before making anything."""

import ipaddress

import pytest

from stackbench.errors import StackbenchError
from stackbench.lab import topology
from stackbench.lab.lab import pick_subnet
from stackbench.lab.topology import HostSpec, Topology


def test_mesos_default_layout_has_three_masters_and_two_agents():
    topo = topology.builtin("mesos")
    assert topo.group("mesos_masters") == ["master1", "master2", "master3"]
    assert topo.group("zookeeper") == topo.group("mesos_masters")
    assert topo.group("mesos_agents") == ["agent1", "agent2"]
    assert topo.group("marathon") == ["master1", "master2", "master3"]


def test_kubernetes_layout_scales_workers_and_keeps_three_control_plane_hosts():
    topo = topology.builtin("kubernetes", nodes=6)
    assert topo.group("kube_control_plane") == ["cp1", "cp2", "cp3"]
    assert topo.group("etcd") == ["cp1", "cp2", "cp3"]
    assert len(topo.group("kube_nodes")) == 6
    assert all(h.profile == "kubernetes-node" for h in topo.hosts)


def test_single_node_stack_puts_everything_on_one_host():
    topo = topology.builtin("mesos", nodes=1)
    assert [h.groups for h in topo.hosts] == [("zookeeper", "mesos_masters", "marathon", "mesos_agents")]


@pytest.mark.parametrize("stack", ["zookeeper", "etcd"])
def test_even_ensemble_is_refused_with_the_nearest_odd_sizes(stack):
    with pytest.raises(StackbenchError) as err:
        topology.builtin(stack, nodes=4)
    assert "odd" in err.value.message
    assert "3 or 5" in err.value.hint


def test_even_quorum_group_in_a_topology_file_is_refused():
    topo = Topology("t", [HostSpec(f"h{i}", ("etcd",)) for i in range(4)])
    with pytest.raises(StackbenchError, match="quorum group needs an odd size"):
        topo.validate()


def test_duplicate_and_malformed_host_names_are_refused():
    with pytest.raises(StackbenchError, match="appears twice"):
        Topology("t", [HostSpec("a"), HostSpec("a")]).validate()
    with pytest.raises(StackbenchError, match="bad host name"):
        Topology("t", [HostSpec("Bad_Name")]).validate()


def test_unknown_stack_and_profile_are_refused():
    with pytest.raises(StackbenchError, match="unknown stack"):
        topology.builtin("nomad")
    with pytest.raises(StackbenchError, match="unknown profile"):
        Topology("t", [HostSpec("a", (), "vm")]).validate()


def test_platforms_become_a_topology():
    topo = topology.from_platforms("m", [{"name": "zk1", "groups": ["zookeeper"]}, {"name": "w1"}])
    assert topo.groups() == {"zookeeper": ["zk1"]}
    assert topo.hosts[1].profile == "systemd"


def test_subnet_picker_skips_taken_ranges():
    taken = [ipaddress.ip_network("172.29.0.0/24"), ipaddress.ip_network("172.29.1.0/25")]
    assert str(pick_subnet(taken)) == "172.29.2.0/24"


def test_requested_subnet_that_clashes_is_refused_with_the_clash_named():
    taken = [ipaddress.ip_network("10.0.0.0/8")]
    with pytest.raises(StackbenchError) as err:
        pick_subnet(taken, "10.1.2.0/24")
    assert "10.0.0.0/8" in err.value.message


def test_requested_subnet_must_be_a_network_address():
    with pytest.raises(StackbenchError, match="not a network address"):
        pick_subnet([], "10.1.2.3/24")


def test_inotify_instances_counts_inotify_fds_against_the_limit(tmp_path):
    from stackbench.lab.lab import inotify_instances

    (tmp_path / "sys/fs/inotify").mkdir(parents=True)
    (tmp_path / "sys/fs/inotify/max_user_instances").write_text("128\n")
    for pid, targets in {"1": ["anon_inode:inotify", "anon_inode:inotify", "/dev/null"], "42": ["socket:[1]"]}.items():
        fd_dir = tmp_path / pid / "fd"
        fd_dir.mkdir(parents=True)
        for number, target in enumerate(targets):
            (fd_dir / str(number)).symlink_to(target)
    assert inotify_instances(tmp_path) == (2, 128)


def test_inotify_instances_without_proc_reports_nothing(tmp_path):
    from stackbench.lab.lab import inotify_instances

    assert inotify_instances(tmp_path) == (0, 0)
