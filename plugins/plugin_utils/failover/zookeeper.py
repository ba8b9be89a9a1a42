"""ZooKeeper: the leader from `mntr` on every member, settings from `conf`, writes as znodes through
a kazoo client connected to the survivors only (so the figures measure the ensemble, not a client
noticing a dead server)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.zookeeper import (
    ask_or_none,
    parse_conf,
    parse_mntr,
    zk_mode,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import Cluster, Failure, System


def zookeeper_bounds(tick_time_ms: int, sync_limit: int, init_limit: int,
                     session_timeout_ms: int | None = None) -> dict[str, float]:
    """What ZooKeeper's settings imply (see docs/ha-validation.md)."""
    bounds = {
        "follower_detects_dead_leader": tick_time_ms * sync_limit / 1000,
        "new_leader_sync_limit": tick_time_ms * init_limit / 1000,
    }
    if session_timeout_ms:
        bounds["client_session_timeout"] = session_timeout_ms / 1000
    return bounds


class ZooKeeperSystem(System):
    """The leader is the member whose `mntr` says `zk_server_state leader`; writes are znodes."""

    name = "zookeeper"
    default_port = 2181

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        from kazoo.client import KazooClient  # controller-side dependency (requirements.lock)

        logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # reconnects during a fault are expected
        self._kazoo = KazooClient
        self.base = f"/stackbench-ha/{uuid.uuid4().hex[:12]}"
        self.client: Any = None

    def mode(self, host: str) -> str | None:
        text = ask_or_none(self.members[host], self.port, "mntr")
        if text is None:
            return None
        try:
            return zk_mode(parse_mntr(text)) or "not serving"  # answers, but no quorum / electing
        except ParseError as exc:
            raise Failure(f"zookeeper on {host}: {exc}") from None

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        return {h: self.mode(h) for h in hosts}

    def read_settings(self, host: str) -> None:
        self.settings.update(parse_conf(ask_or_none(self.members[host], self.port, "conf") or ""))

    def bounds(self) -> dict[str, float]:
        s = self.settings
        if "tickTime" not in s:
            return {}
        return zookeeper_bounds(int(s["tickTime"]), int(s.get("syncLimit", 0)), int(s.get("initLimit", 0)),
                                int(s["maxSessionTimeout"]) if "maxSessionTimeout" in s else None)

    def connect(self, hosts: list[str]) -> None:
        connect = ",".join(f"{self.members[h]}:{self.port}" for h in hosts)
        self.client = self._kazoo(hosts=connect, timeout=10.0,
                                  connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
        self.client.start(timeout=self.timeout)
        self.client.ensure_path(self.base)

    def write(self, key: str, value: bytes) -> None:
        self.client.create_async(f"{self.base}/{key}", value).get(timeout=self.write_timeout)

    def keys_on(self, host: str) -> list[str] | None:
        client = self._kazoo(hosts=f"{self.members[host]}:{self.port}", timeout=10.0,
                             connection_retry={"max_tries": 3, "delay": 0.2})
        try:
            client.start(timeout=10)
            client.sync(self.base)  # catch up with the leader before reading
            return client.get_children(self.base)
        except Exception:  # noqa: BLE001 - a member that cannot be read is reported as unread
            return None
        finally:
            client.stop()
            client.close()

    def cleanup(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):  # cleanup is best effort
                self.client.delete(self.base, recursive=True)
            with contextlib.suppress(Exception):  # the parent too, unless another run uses it
                self.client.delete(self.base.rsplit("/", 1)[0])
            self.client.stop()
            self.client.close()
