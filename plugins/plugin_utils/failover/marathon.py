"""Marathon: `GET /v2/leader` on each member (standbys proxy it to the leader); each write creates
an app with zero instances (nothing is launched), all deleted afterwards."""

from __future__ import annotations

import uuid

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.json_http import http_json
from ansible_collections.stackbench.cluster.plugins.module_utils.marathon import marathon_leader, zookeeper_settings
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import Cluster, System


class MarathonSystem(System):
    """The leader is the instance every answering member names in `/v2/leader`; writes are apps."""

    name = "marathon"
    default_port = 8080
    majority = False  # standbys: one other instance is enough to take over
    write_interval = 0.1  # each write is an app

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.run = uuid.uuid4().hex[:10]
        self.prefix = f"/stackbench-ha-{self.run}-"
        self.writers: list[str] = []
        self.current = 0
        self.created: list[str] = []

    def _url(self, host: str, path: str) -> str:
        return f"http://{self.members[host]}:{self.port}{path}"

    def _leader_of(self, host: str) -> str | None | bool:
        """The member `host` names as leader; False when it does not answer; None when it knows none."""
        status, body = http_json(self._url(host, "/v2/leader"), 1.0)
        if status == 0:
            return False
        try:
            named = marathon_leader(status, body if isinstance(body, dict) else str(body))
        except (ParseError, ValueError, KeyError):
            return None
        if named is None:
            return None
        name = named.rsplit(":", 1)[0]
        for member, address in self.members.items():
            if name in (member, address):
                return member
        return None

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for host in hosts:
            named = self._leader_of(host)
            out[host] = None if named is False else "not serving" if named is None else \
                "leader" if named == host else "follower"
        return out

    def leader(self, hosts: list[str]) -> str | None:
        named = {self._leader_of(h) for h in hosts} - {False}
        if len(named) != 1:
            return None
        (leader,) = named
        return leader if leader in hosts else None

    def read_settings(self, host: str) -> None:
        status, body = http_json(self._url(host, "/v2/info"), 2.0)
        if status == 200 and isinstance(body, dict):
            self.settings = zookeeper_settings(body)

    def bounds(self) -> dict[str, float]:
        out = {}
        if "zk_session_timeout" in self.settings:
            out["zk_session_timeout"] = int(self.settings["zk_session_timeout"]) / 1000
        return out

    def connect(self, hosts: list[str]) -> None:
        self.writers = list(hosts)

    def write(self, key: str, value: bytes) -> None:
        host = self.writers[self.current % len(self.writers)]
        app = {"id": self.prefix + key, "cmd": "sleep 3600", "instances": 0, "cpus": 0.01, "mem": 16,
               "labels": {"stackbench-ha": self.run}}
        status, body = http_json(self._url(host, "/v2/apps"), self.write_timeout, "POST", app)
        if status in (200, 201):
            self.created.append(app["id"])
            return
        self.current += 1
        raise ConnectionError(f"HTTP {status}: {str(body)[:120]}")

    def keys_on(self, host: str) -> list[str] | None:
        status, body = http_json(self._url(host, "/v2/apps"), 10.0)
        if status != 200 or not isinstance(body, dict):
            return None
        return [a["id"][len(self.prefix):] for a in body.get("apps", []) if a.get("id", "").startswith(self.prefix)]

    def cleanup(self) -> None:
        for app_id in list(self.created):
            for host in self.writers:
                status, _ = http_json(self._url(host, f"/v2/apps{app_id}?force=true"), 5.0, "DELETE")
                if status in (200, 202, 404):
                    break
