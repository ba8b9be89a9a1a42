"""The lab for real: hosts over SSH, the mirror over HTTP, faults that cut hosts off and heal.

Needs Docker (scripts/setup.sh starts it). One small lab for the whole module.
"""

import json
import subprocess
import uuid

import docker
import pytest

from stackbench.errors import StackbenchError
from stackbench.lab import topology
from stackbench.lab.lab import LABEL, MIRROR_NAME, Lab
from stackbench.paths import mirror_dir

LAB = f"itest{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def lab():
    the_lab = Lab(LAB, log=lambda _msg: None)
    the_lab.up(topology.builtin("plain", nodes=3))
    yield the_lab
    the_lab.down(quiet=True)
    client = docker.from_env()
    assert client.containers.list(all=True, filters={"label": f"{LABEL}={LAB}"}) == []
    assert client.networks.list(names=[the_lab.network_name]) == []
    assert client.volumes.list(filters={"label": f"{LABEL}={LAB}"}) == []
    assert not the_lab.inventory_path.exists()


def ansible_ping(lab, *extra):
    proc = subprocess.run(
        ["ansible", "-i", str(lab.inventory_path), "all", "-m", "ansible.builtin.ping", "-o", "-T", "5", *extra],
        capture_output=True, text=True, timeout=120, check=False)
    return {line.split(" | ")[0]: line.split(" | ")[1].split()[0].rstrip(":")
            for line in proc.stdout.splitlines() if " | " in line}


def sh(lab, host, command):
    return lab.client.containers.get(lab.container_name(host)).exec_run(["sh", "-c", command])


def test_every_host_answers_ansible_ping_over_ssh(lab):
    assert ansible_ping(lab) == {"node1": "SUCCESS", "node2": "SUCCESS", "node3": "SUCCESS"}


def test_paramiko_connection_works_too(lab):
    assert ansible_ping(lab, "-c", "paramiko") == {"node1": "SUCCESS", "node2": "SUCCESS", "node3": "SUCCESS"}


def test_hosts_run_systemd_and_resolve_each_other(lab):
    assert sh(lab, "node1", "systemctl is-system-running --wait").output.decode().strip() in ("running", "degraded")
    assert sh(lab, "node1", "ping -c1 -W2 node2").exit_code == 0


def test_mirror_serves_over_http_to_another_lab_host(lab):
    probe = mirror_dir() / f"probe-{LAB}.txt"
    probe.write_text(LAB)
    try:
        fetch = sh(lab, "node2", f"python3 -c \"import urllib.request;print(urllib.request.urlopen("
                                 f"'http://{MIRROR_NAME}/{probe.name}').read().decode())\"")
        assert fetch.exit_code == 0 and fetch.output.decode().strip() == LAB
    finally:
        probe.unlink()


def test_kill_makes_a_host_unreachable_and_start_brings_it_back(lab):
    lab.kill("node3")
    assert ansible_ping(lab)["node3"] == "UNREACHABLE!"
    lab.start("node3")
    assert ansible_ping(lab)["node3"] == "SUCCESS"


def test_partition_cuts_a_host_off_and_heal_restores_it(lab):
    lab.partition("node2")
    try:
        assert sh(lab, "node1", "ping -c1 -W1 node2").exit_code != 0
        assert ansible_ping(lab)["node2"] == "UNREACHABLE!"
        status = {row.name: row for row in lab.status()}
        assert status["node2"].connected is False and status["node2"].state == "running"
    finally:
        lab.heal("node2")
    assert sh(lab, "node1", "ping -c1 -W2 node2").exit_code == 0
    assert ansible_ping(lab)["node2"] == "SUCCESS"


def test_faults_on_unknown_hosts_are_refused(lab):
    with pytest.raises(StackbenchError, match="unknown host 'node9'"):
        lab.kill("node9")


def test_status_json_lists_every_host(lab):
    from stackbench.lab.lab import status_json

    rows = json.loads(status_json(lab))
    assert sorted(r["name"] for r in rows) == ["node1", "node2", "node3"]


def test_failed_up_leaves_nothing_behind():
    broken = Lab(f"{LAB}x", log=lambda _msg: None)
    with pytest.raises(StackbenchError, match="clashes"):
        broken.up(topology.builtin("plain", nodes=1), subnet="0.0.0.0/0")
    client = docker.from_env()
    assert client.containers.list(all=True, filters={"label": f"{LABEL}={LAB}x"}) == []
    assert client.networks.list(names=[broken.network_name]) == []


def test_second_lab_with_the_same_name_is_refused(lab):
    with pytest.raises(StackbenchError, match="already exists"):
        Lab(LAB, log=lambda _msg: None).up(topology.builtin("plain", nodes=1))
