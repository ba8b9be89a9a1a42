"""A single ZooKeeper member from Debian's zookeeperd, running standalone under our unit."""

from __future__ import annotations

import re
import uuid

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"


def _four_letter(host, word: str) -> str:
    script = (f"import socket; c = socket.create_connection(('127.0.0.1', 2181), timeout=5); "
              f"c.sendall(b'{word}'); print(c.makefile().read())")
    return host.check_output(f'python3 -c "{script}"')


def test_package_installed_and_service_runs_as_zookeeper(host) -> None:
    assert host.package("zookeeperd").is_installed
    assert host.service("zookeeper").is_running
    assert host.service("zookeeper").is_enabled
    java = host.process.filter(comm="java")
    assert java and all(p.user == "zookeeper" for p in java)
    assert "/etc/systemd/system/zookeeper.service" in host.check_output("systemctl show -p FragmentPath zookeeper")


def test_standalone_mode_without_server_lines(host) -> None:
    cfg = host.file("/etc/zookeeper/conf/zoo.cfg").content_string
    assert not re.search(r"^server\.", cfg, re.M)
    assert "zk_server_state\tstandalone" in _four_letter(host, "mntr")
    assert _four_letter(host, "ruok").strip() == "imok"


def test_config_is_ours(host) -> None:
    conf = _four_letter(host, "conf")
    assert re.search(r"^dataDir=/var/lib/zookeeper/data", conf, re.M), conf
    assert host.file("/var/lib/zookeeper/data/myid").content_string.strip() == "1"


def test_znode_round_trip(host) -> None:
    znode, value = f"/molecule-verify-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    assert host.run(f"{ZKCLI} -server 127.0.0.1:2181 create {znode} {value}").rc == 0
    got = host.run(f"{ZKCLI} -server 127.0.0.1:2181 get {znode}")
    assert value in got.stdout.splitlines(), got.stdout
