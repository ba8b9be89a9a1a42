"""etcd: the leader from every member's maintenance status through the gRPC gateway (the one all
answering members agree on, with a majority answering), writes as keys under a run prefix, read
back with a linearizable range through each member."""

from __future__ import annotations

import base64
import json
import shlex
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.etcd import etcd_agreed_leader, etcd_mode, etcd_status
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import (
    Cluster,
    Failure,
    System,
    quorum_size,
)


def etcd_bounds(election_timeout_ms: int, heartbeat_ms: int) -> dict[str, float]:
    """Raft randomizes a follower's election timeout in [ET, 2*ET): the worst case is ~2*ET."""
    return {
        "election_timeout": election_timeout_ms / 1000,
        "randomized_election_timeout_max": (2 * election_timeout_ms - 1) / 1000,
        "heartbeat_interval": heartbeat_ms / 1000,
    }


class EtcdSystem(System):
    name = "etcd"
    default_port = 2379

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        args = cluster.args
        ca, cert, key = args.get("etcd_ca_cert"), args.get("etcd_client_cert"), args.get("etcd_client_key")
        if not (ca and cert and key):  # the member certificate of the first member, in the run's private dir
            ca, cert, key = self._fetch_certs(next(iter(self.members)), args["etcd_pki_dir"])
        self.context = ssl.create_default_context(cafile=ca)
        self.context.load_cert_chain(cert, key)
        self.prefix = f"/stackbench-ha/{uuid.uuid4().hex[:12]}/"
        self.ids: dict[int, str] = {}
        self.current = 0
        self.writers: list[str] = []

    def _fetch_certs(self, host: str, pki_dir: str) -> tuple[str, str, str]:
        runner, target = self.cluster.runner, self.cluster.tmp
        if runner is None or target is None:
            raise Failure("etcd: no client certificate given and no way to read one from a member")
        paths = []
        for name in ("ca.crt", "member.crt", "member.key"):
            rc, out, err = runner.shell(host, f"base64 -w0 {shlex.quote(pki_dir + '/' + name)}")
            if rc != 0:
                raise Failure(f"cannot read {pki_dir}/{name} on {host} for the etcd client: {err or out}")
            path = Path(target) / name
            path.write_bytes(base64.b64decode(out.strip()))
            path.chmod(0o600)
            paths.append(str(path))
        return paths[0], paths[1], paths[2]

    def _post(self, host: str, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        request = urllib.request.Request(f"https://{self.members[host]}:{self.port}{path}",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout, context=self.context) as response:
            return json.loads(response.read())

    def status(self, host: str) -> dict[str, Any] | None:
        try:
            status = etcd_status(self._post(host, "/v3/maintenance/status", {}, 1.0), host)
        except (OSError, ValueError, urllib.error.URLError):
            return None
        self.ids[status["member_id"]] = host
        return status

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        return {h: None if (status := self.status(h)) is None else etcd_mode(status) for h in hosts}

    def leader(self, hosts: list[str]) -> str | None:
        statuses = [s for s in (self.status(h) for h in hosts) if s is not None]
        if len(statuses) < quorum_size(len(hosts)):
            return None
        agreed = etcd_agreed_leader(statuses)
        return self.ids.get(agreed) if agreed else None

    def read_settings(self, host: str) -> None:
        """The election timeout and heartbeat from the member's environment file (etcd has no API for them)."""
        runner = self.cluster.runner
        if runner is None:
            return
        _, out, _ = runner.shell(host, "grep -h -E '^ETCD_(ELECTION_TIMEOUT|HEARTBEAT_INTERVAL)=' "
                                       "/etc/etcd/*.env /etc/default/etcd 2>/dev/null; true")
        self.settings = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def bounds(self) -> dict[str, float]:
        s = self.settings
        return etcd_bounds(int(s.get("ETCD_ELECTION_TIMEOUT", 1000)), int(s.get("ETCD_HEARTBEAT_INTERVAL", 100)))

    def connect(self, hosts: list[str]) -> None:
        self.writers = list(hosts)

    def write(self, key: str, value: bytes) -> None:
        host = self.writers[self.current % len(self.writers)]
        try:
            self._post(host, "/v3/kv/put", {"key": base64.b64encode((self.prefix + key).encode()).decode(),
                                            "value": base64.b64encode(value).decode()}, self.write_timeout)
        except Exception:
            self.current += 1  # try another member next time
            raise

    def _prefix_end(self) -> str:
        raw = bytearray(self.prefix.encode())
        raw[-1] += 1
        return base64.b64encode(bytes(raw)).decode()

    def keys_on(self, host: str) -> list[str] | None:
        body = {"key": base64.b64encode(self.prefix.encode()).decode(), "range_end": self._prefix_end(),
                "keys_only": True}
        try:  # a linearizable read through this member: it answers once it has caught up
            reply = self._post(host, "/v3/kv/range", body, 5.0)
        except (OSError, ValueError, urllib.error.URLError):
            return None
        return [base64.b64decode(kv["key"]).decode()[len(self.prefix):] for kv in reply.get("kvs", [])]

    def cleanup(self) -> None:
        body = {"key": base64.b64encode(self.prefix.encode()).decode(), "range_end": self._prefix_end()}
        for host in self.writers:
            try:
                self._post(host, "/v3/kv/deleterange", body, 5.0)
                return
            except (OSError, ValueError, urllib.error.URLError):
                continue
