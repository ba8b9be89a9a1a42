"""A 3-member ZooKeeper ensemble built by playbooks/zookeeper.yml, checked on the hosts."""

from __future__ import annotations

import json
import os
import re
import uuid

import testinfra

ZKCLI = "/opt/zookeeper/current/bin/zkCli.sh"

# mntr from the host itself, for each address given; prints {address: {key: value}} as JSON.
MNTR = r"""
import json, socket, sys
out = {}
for address in sys.argv[1:]:
    try:
        with socket.create_connection((address, 2181), timeout=5) as c:
            c.sendall(b"mntr")
            data = b""
            while chunk := c.recv(65536):
                data += chunk
        out[address] = dict(l.split("\t", 1) for l in data.decode().splitlines() if "\t" in l)
    except OSError as e:
        out[address] = {"error": str(e)}
print(json.dumps(out))
"""


def _mntr(host, *addresses: str) -> dict[str, dict[str, str]]:
    targets = " ".join(addresses)
    result = host.run(f"python3 - {targets} <<'EOF'\n{MNTR}\nEOF")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def _servers(host) -> dict[int, str]:
    cfg = host.file("/etc/zookeeper/conf/zoo.cfg").content_string
    return {int(i): addr for i, addr in re.findall(r"^server\.(\d+)=([^:]+):2888:3888$", cfg, re.M)}


def _address(host) -> str:
    name = host.backend.get_hostname()
    if name not in _ADDRESSES:  # a setup run costs seconds: once per host, for every test that asks
        facts = host.ansible("setup", "gather_subset=network")["ansible_facts"]
        _ADDRESSES[name] = facts["ansible_default_ipv4"]["address"]
    return _ADDRESSES[name]


_ADDRESSES: dict[str, str] = {}


def test_service_is_running_as_zookeeper_and_enabled(host) -> None:
    service = host.service("zookeeper")
    assert service.is_running
    assert service.is_enabled
    java = host.process.filter(comm="java")
    assert java and all(p.user == "zookeeper" for p in java)


def test_listens_on_client_quorum_election_and_admin_ports(host) -> None:
    address = _address(host)
    assert host.socket("tcp://0.0.0.0:2181").is_listening
    assert host.socket(f"tcp://{address}:3888").is_listening
    assert host.socket("tcp://127.0.0.1:8081").is_listening
    listening = host.check_output("ss -ltnH")
    assert not re.search(r":8080\s", listening), listening  # left free for Marathon


def test_files_and_modes(host) -> None:
    cfg = host.file("/etc/zookeeper/conf/zoo.cfg")
    assert (cfg.user, cfg.group, cfg.mode) == ("root", "zookeeper", 0o640)
    data = host.file("/var/lib/zookeeper/data")
    assert (data.user, data.mode) == ("zookeeper", 0o750)
    myid = host.file("/var/lib/zookeeper/data/myid")
    assert myid.user == "zookeeper"
    my_id = int(myid.content_string.strip())
    assert _servers(host)[my_id] == _address(host)
    assert re.search(r"^4lw\.commands\.whitelist=.*\bmntr\b", cfg.content_string, re.M)
    assert re.search(r"^autopurge\.purgeInterval=[1-9]", cfg.content_string, re.M)


def test_heap_is_bounded(host) -> None:
    args = " ".join(p.args for p in host.process.filter(comm="java"))
    heap = re.findall(r"-Xmx(\d+)m", args)
    assert heap and 256 <= int(heap[-1]) <= 1024


def test_mntr_answers_and_member_is_in_the_quorum(host) -> None:
    mine = _mntr(host, "127.0.0.1")["127.0.0.1"]
    assert mine.get("zk_version", "").startswith("3.8.6")
    assert mine.get("zk_server_state") in ("leader", "follower")


def test_exactly_one_leader_with_two_synced_followers(host) -> None:
    states = _mntr(host, *_servers(host).values())
    roles = sorted(s.get("zk_server_state", "down") for s in states.values())
    assert roles == ["follower", "follower", "leader"], states
    leader = next(s for s in states.values() if s.get("zk_server_state") == "leader")
    assert leader["zk_synced_followers"] == "2"


def _members() -> list:
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_hosts(["ansible://zookeeper"], ansible_inventory=inventory, sudo=True)


def test_znode_written_through_one_member_is_read_through_the_others() -> None:
    members = _members()
    assert len(members) == 3
    znode, value = f"/molecule-verify-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    writer = members[0]
    created = writer.run(f"{ZKCLI} -server 127.0.0.1:2181 create {znode} {value}")
    assert created.rc == 0 and f"Created {znode}" in created.stdout + created.stderr, created.stdout
    for reader in members[1:]:
        got = reader.run(f"{ZKCLI} -server 127.0.0.1:2181 get {znode}")
        assert got.rc == 0
        assert value in got.stdout.splitlines(), got.stdout
    writer.run(f"{ZKCLI} -server 127.0.0.1:2181 delete {znode}")
