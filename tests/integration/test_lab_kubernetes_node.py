"""The kubernetes-node profile: cgroups writable, kubelet sysctls shadowed, machine untouched."""

import uuid
from pathlib import Path

import docker
import pytest

from stackbench.lab.lab import LABEL, Lab
from stackbench.lab.topology import HostSpec, Topology

LAB = f"iknode{uuid.uuid4().hex[:6]}"
SHADOWED = {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}


@pytest.fixture(scope="module")
def node():
    machine_before = {key: Path(f"/proc/sys/{key}").read_text().strip() for key in SHADOWED}
    lab = Lab(LAB, log=lambda _msg: None)
    lab.up(Topology(LAB, [HostSpec("n1", ("kube_nodes",), "kubernetes-node")]))
    yield lab, lab.client.containers.get(lab.container_name("n1"))
    lab.down(quiet=True)
    assert docker.from_env().volumes.list(filters={"label": f"{LABEL}={LAB}"}) == []
    assert {key: Path(f"/proc/sys/{key}").read_text().strip() for key in SHADOWED} == machine_before


def run(container, command):
    result = container.exec_run(["sh", "-c", command])
    return result.exit_code, result.output.decode().strip()


def test_prep_unit_ran_and_cgroups_are_writable(node):
    _, container = node
    assert run(container, "systemctl is-active stackbench-node-prep") == (0, "active")
    assert run(container, "grep -c ' cgroup ro,' /proc/mounts")[1] == "0"
    probe = "/sys/fs/cgroup/memory/kubelet/probe"
    assert run(container, f"mkdir {probe} && rmdir {probe}")[0] == 0


def test_kubelet_sysctls_read_as_wanted_but_cannot_be_written(node):
    _, container = node
    for key, value in SHADOWED.items():
        assert run(container, f"cat /proc/sys/{key}")[1] == value
    assert run(container, "echo 2 > /proc/sys/vm/overcommit_memory")[0] != 0


def test_network_sysctls_are_writable_in_the_node_namespace(node):
    _, container = node
    assert run(container, "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && "
                          "cat /proc/sys/net/ipv4/conf/all/route_localnet") == (0, "1")


def test_containerd_state_lives_on_a_lab_volume(node):
    _, container = node
    assert run(container, "stat -f -c %T /var/lib/containerd")[1] != "overlayfs"


def test_prep_survives_a_kill_and_restart(node):
    lab, container = node
    lab.kill("n1")
    lab.start("n1")
    assert run(container, "systemctl is-active stackbench-node-prep") == (0, "active")
    assert run(container, "cat /proc/sys/vm/overcommit_memory")[1] == "1"
