"""Mesos masters: the leader is the master whose /metrics/snapshot says elected and recovered.

There is no client write to the masters' registry that this plugin can make through a public
API, so the figures are the failover (new leader ready) and the agents re-registering.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.json_http import http_json
from ansible_collections.stackbench.cluster.plugins.module_utils.mesos import (
    master_mode,
    mesos_duration_seconds,
    metrics_snapshot,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import Cluster, System, wait_for


class MesosMastersSystem(System):
    name = "mesos_masters"
    default_service = "mesos-master"  # one unit per master, the group is named for all of them
    default_port = 5050
    supports_writes = False

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.agents_before: int | None = None

    def _metrics(self, host: str) -> dict[str, Any] | None:
        return metrics_snapshot(f"{self.members[host]}:{self.port}", 1.0)

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        return {h: None if (metrics := self._metrics(h)) is None else master_mode(metrics) for h in hosts}

    def read_settings(self, host: str) -> None:
        status, body = http_json(f"http://{self.members[host]}:{self.port}/master/flags", 2.0)
        if status == 200 and isinstance(body, dict):
            flags = body.get("flags", {})
            self.settings = {k: str(flags[k]) for k in ("zk_session_timeout", "quorum") if k in flags}
        metrics = self._metrics(host) or {}
        self.agents_before = int(metrics.get("master/slaves_active", 0))

    def bounds(self) -> dict[str, float]:
        timeout = mesos_duration_seconds(self.settings.get("zk_session_timeout", ""))
        return {"zk_session_timeout": timeout} if timeout else {}

    def agents_cut_off(self) -> int:
        """Agents the fault itself cut off: the one on a partitioned leader's host."""
        agents = set(self.cluster.groups.get("mesos_agents") or [])
        return int(self.fault_kind == "partition" and self.faulted_host in agents)

    def after_new_leader(self, leader: str, fault_at: float, timeout: float) -> dict[str, Any]:
        """Time until the new leader sees as many active agents as the old one did (less those cut off)."""
        wanted = max((self.agents_before or 0) - self.agents_cut_off(), 0)
        _, seen = wait_for(lambda: int((self._metrics(leader) or {}).get("master/slaves_active", -1)) >= wanted,
                           timeout, interval=0.25)
        return {"agents_active_before": wanted,
                "time_to_agents_reregistered_seconds": None if seen is None else round(seen - fault_at, 3)}
