"""kube-apiserver: no leader, every apiserver serves. The "leader" is the apiserver the fault
targets (`target`, default the first control-plane host); "new leader" is the HA endpoint
accepting a write started after the fault; "rejoined" is the old apiserver's /readyz at 200."""

from __future__ import annotations

from typing import Any

from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import (
    Cluster,
    Failure,
    Writer,
    wait_for,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.kube import KubeSystem


class KubeApiserverSystem(KubeSystem):
    name = "kube_apiserver"
    healthy_modes = ("serving",)
    rejoined_modes = ("serving",)

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.target = cluster.args.get("target") or next(iter(self.members))
        if self.target not in self.members:
            raise Failure(f"target {self.target!r} is not in the group ({', '.join(self.members)})")

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        return {h: self.ready(h) for h in hosts}

    def leader(self, hosts: list[str]) -> str | None:
        return self.target if self.target in hosts and self.ready(self.target) == "serving" else None

    def read_settings(self, host: str) -> None:
        pass  # the load balancer's settings are read in connect(), from the node written through

    def bounds(self) -> dict[str, float]:
        return self.lb_bounds()

    @property
    def default_settle_seconds(self) -> float:
        """Keep writing until the load balancer must have taken a silent apiserver out (and 2 s more)."""
        return self.lb_bounds().get("lb_backend_down_silent_max", 1.0) + 2

    def wait_new_leader(self, survivors: list[str], old: str, fault_at: float, writer: Writer,
                        timeout: float) -> tuple[str | None, float | None]:
        """Writable again: the first write started after the fault is acknowledged."""
        ok, seen = wait_for(lambda: writer.acked_since(fault_at), timeout, interval=0.05)
        if not ok:
            return None, None
        first = min(a.ended for a in list(writer.log.attempts) if a.ok and a.started >= fault_at)
        label = f"LB@{self.endpoint_host}" if self.via == "tunnel" else "direct"
        return label, first

    def after_new_leader(self, leader: str, fault_at: float, timeout: float) -> dict[str, Any]:
        """Every surviving apiserver's /readyz right after the API is writable again."""
        return {"readyz_after_fault": {h: self.ready(h) for h in self.members if h != self.target}}

    def rejoin_mode(self, host: str) -> str | None:
        return self.ready(host)
