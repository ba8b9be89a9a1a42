"""ZooKeeper layouts of the real daemons, and the kazoo plumbing.

Mesos masters: EPHEMERAL|SEQUENTIAL `json.info_<10-digit seq>` children of the `--zk` path
holding `JSON::protobuf(MasterInfo)`; the leader is the smallest sequence number.
Marathon: Curator LeaderLatch under `<zk path>/leader-curator`, children
`_c_<uuid>-latch-<seq>` holding the participant id `host:port`; the lowest sequence wins.
"""

from __future__ import annotations

import json
import re
import socket
import struct
from dataclasses import dataclass

MASTER_INFO_LABEL = "json.info"
LATCH_LOCK_NAME = "latch-"


@dataclass(frozen=True)
class ZkUrl:
    hosts: str  # "h1:2181,h2:2181"
    path: str  # "/mesos"
    auth: str | None = None  # "user:pass"


def parse_zk_url(url: str) -> ZkUrl:
    """`zk://[user:pass@]h1:p1,h2:p2/path` (the form `--zk`/`--master` take)."""
    if url.startswith("file://"):
        with open(url[len("file://") :], encoding="utf-8") as handle:
            url = handle.read().strip()
    match = re.fullmatch(r"zk://(?:([^@/]+)@)?([^/]+)(/.*)", url)
    if not match or match.group(3) in ("", "/"):
        raise ValueError(f"Failed to parse '{url}': expected zk://host1:port1,host2:port2,.../path")
    return ZkUrl(hosts=match.group(2), path=match.group(3).rstrip("/"), auth=match.group(1))


def sequence_of(child: str) -> int:
    """The 10-digit sequence suffix ZooKeeper appends to sequential nodes."""
    match = re.search(r"(\d{10})$", child)
    return int(match.group(1)) if match else -1


def mesos_leader_child(children: list[str]) -> str | None:
    """The leading master's znode: the smallest-sequence `json.info_*` child."""
    members = [c for c in children if c.startswith(MASTER_INFO_LABEL + "_")]
    return min(members, key=sequence_of) if members else None


def latch_leader_child(children: list[str]) -> str | None:
    """The Curator LeaderLatch leader: the lowest-sequence `*latch-<seq>` child."""
    members = [c for c in children if LATCH_LOCK_NAME in c]
    return min(members, key=sequence_of) if members else None


def ip_to_uint32(ip: str) -> int:
    """MasterInfo.ip: the IPv4 address as the uint32 of its network-order bytes read natively."""
    return struct.unpack("=I", socket.inet_aton(ip))[0]


def master_info(master_id: str, ip: str, port: int, hostname: str, version: str) -> dict[str, object]:
    """MasterInfo as `JSON::protobuf` writes it."""
    return {
        "id": master_id,
        "ip": ip_to_uint32(ip),
        "port": port,
        "pid": f"master@{ip}:{port}",
        "hostname": hostname,
        "version": version,
        "address": {"hostname": hostname, "ip": ip, "port": port},
        "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}, {"type": "QUOTA_V2"}],
    }


def parse_master_info(data: bytes) -> dict[str, object]:
    return json.loads(data.decode("utf-8"))


def client(url: ZkUrl, session_timeout: float):  # noqa: ANN201  (kazoo is optional at import time)
    from kazoo.client import KazooClient  # vendored into the emulator archive

    auth = [("digest", url.auth)] if url.auth else None
    return KazooClient(
        hosts=url.hosts,
        timeout=session_timeout,
        auth_data=auth,
        connection_retry={"max_tries": -1, "delay": 0.5, "max_delay": 2},
    )
