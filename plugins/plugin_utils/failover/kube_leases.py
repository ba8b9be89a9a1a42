"""kube-controller-manager and kube-scheduler: the leader holds Lease kube-system/<component>.

holderIdentity is `<hostname>_<uuid>`: a takeover is a valid lease with another identity (a
process that systemd restarted on the old host is a new identity too, and is reported so).
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.kubernetes import (
    leader_election_settings,
    lease_holder,
    lease_valid,
    new_lease_holder,
    pod_scheduled,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import (
    Cluster,
    Failure,
    Writer,
    wait_for,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.kube import KUBE_NAMESPACE, KubeSystem

# client-go's leader elector retries every retryPeriod with wait.JitterUntil(jitter 1.2): the
# pause between two attempts of a candidate is in [retryPeriod, 2.2 x retryPeriod).
LEADER_ELECTION_JITTER = 1.2


def lease_bounds(lease_duration: float, retry_period: float, renew_deadline: float) -> dict[str, float]:
    """Takeover after a leader dies silently, from the lease settings.

    A candidate judges expiry on its own clock from when it last *saw* the record change (it
    polls every retry period, jittered), so the takeover lands between about leaseDuration -
    retryPeriod after the fault (last renewal just before it, seen at once) and leaseDuration
    plus two jittered retry periods (seen late, then one more attempt).
    """
    jittered = retry_period * (1 + LEADER_ELECTION_JITTER)
    return {
        "lease_duration": lease_duration,
        "lease_duration_plus_retry": lease_duration + retry_period,
        "takeover_worst_case": round(lease_duration + 2 * jittered, 3),
        "old_leader_gives_up_after_renew_deadline": renew_deadline,
    }


def holder_inventory_host(holder_host: str | None, members: Mapping[str, str]) -> str | None:
    """The inventory host of a Lease holder's hostname: by name, short name or address."""
    if not holder_host:
        return None
    for host, address in members.items():
        if holder_host in (host, address) or host.split(".", 1)[0] == holder_host.split(".", 1)[0]:
            return host
    return None


class KubeLeaseSystem(KubeSystem):
    """A leader-elected component; subclasses name the Lease and the unit."""

    lease_name: ClassVar[str]
    rejoined_modes = ("follower", "leader (restarted on the same host)")

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{self.lease_name}"
        self.pod_image: str | None = None  # the scheduler checks a Pod gets bound after the fault
        self.old_holder: str | None = None
        self.new_holder: str | None = None
        self.pod_path: str | None = None

    def lease(self) -> dict[str, Any] | None:
        status, body = self.api_any(self.lease_path)
        if status != 200 or not isinstance(body, dict):
            return None
        return lease_holder(body)

    def holder_host(self, lease: dict[str, Any] | None) -> str | None:
        return holder_inventory_host(lease["holder_host"], self.members) if lease else None

    def modes(self, hosts: list[str]) -> dict[str, str | None]:
        lease = self.lease()
        holder = self.holder_host(lease) if lease and lease_valid(lease, datetime.now(UTC)) else None
        return {h: "leader" if h == holder else "follower" if self.service_active(h, self.service) else None
                for h in hosts}

    def leader(self, hosts: list[str]) -> str | None:
        lease = self.lease()
        if not lease or not lease_valid(lease, datetime.now(UTC)):
            return None
        self.old_holder = lease["holder"]
        self.settings["lease-duration"] = float(lease["lease_duration_seconds"])
        host = self.holder_host(lease)
        return host if host in hosts else None

    def read_settings(self, host: str) -> None:
        rc, out = 1, ""
        if self.runner is not None:
            rc, out, _ = self.runner.shell(host, f"systemctl show -p ExecStart --value {shlex.quote(self.service)}")
        try:
            flags = leader_election_settings(out if rc == 0 else "")
        except ParseError as exc:
            raise Failure(f"{self.service} on {host}: {exc}") from None
        if "lease-duration" in self.settings:  # what the holder wrote into the lease wins
            flags["lease-duration"] = self.settings["lease-duration"]
        self.settings.update(flags)

    def bounds(self) -> dict[str, float]:
        s = self.settings
        return {**lease_bounds(s["lease-duration"], s["retry-period"], s["renew-deadline"]), **self.lb_bounds()} \
            if "retry-period" in s else self.lb_bounds()

    def connect(self, hosts: list[str]) -> None:
        super().connect(hosts)
        if self.pod_image:  # the Pod needs the namespace's default ServiceAccount (admission)
            self.setup_call(f"/api/v1/namespaces/{KUBE_NAMESPACE}/serviceaccounts", {"metadata": {"name": "default"}},
                            (201, 409), "the default ServiceAccount")

    def after_fault(self, fault_at: float) -> None:
        """Scheduler: a Pod created right after the fault waits for the new leader to bind it."""
        if not self.pod_image:
            return
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"ha-sched-{self.run}", "labels": {"stackbench-ha": self.run}},
               "spec": {"containers": [{"name": "pause", "image": self.pod_image, "imagePullPolicy": "IfNotPresent"}],
                        "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                        "tolerations": [{"operator": "Exists"}]}}
        path = f"/api/v1/namespaces/{KUBE_NAMESPACE}/pods"
        status = 0
        for _ in range(20):
            status, _ = self.api(self.endpoints[0], path, "POST", pod, 2.0)
            if status in (201, 409):
                self.pod_path = f"{path}/{pod['metadata']['name']}"
                self.figures["pod_created_after_fault_seconds"] = round(time.time() - fault_at, 3)
                return
            time.sleep(0.25)
        self.figures["pod_create_error"] = f"HTTP {status}"

    def wait_new_leader(self, survivors: list[str], old: str, fault_at: float, writer: Writer | None,
                        timeout: float) -> tuple[str | None, float | None]:
        def taken_over() -> dict[str, Any] | None:
            lease = self.lease()
            return lease if lease and new_lease_holder(lease, self.old_holder, datetime.now(UTC)) else None

        lease, seen = wait_for(taken_over, timeout, interval=0.2)
        if lease is None:
            return None, None
        self.new_holder = lease["holder"]
        acquired = lease["acquire_time"].timestamp() if lease["acquire_time"] else None
        self.figures.update(old_holder_identity=self.old_holder, new_holder_identity=self.new_holder,
                            lease_acquired_after_fault_seconds=None if acquired is None
                            else round(acquired - fault_at, 3),
                            lease_transitions=lease["lease_transitions"])
        return self.holder_host(lease) or lease["holder_host"], seen

    def after_new_leader(self, leader: str, fault_at: float, timeout: float) -> dict[str, Any]:
        if not self.pod_path:
            return {}

        def bound_node() -> str | None:
            status, pod = self.api_any(self.pod_path or "")
            return pod_scheduled(pod) if status == 200 and isinstance(pod, dict) else None

        node, seen = wait_for(bound_node, timeout, interval=0.2)
        return {"pod_scheduled_on": node,
                "time_to_pod_scheduled_seconds": None if seen is None else round(seen - fault_at, 3)}

    def rejoin_mode(self, host: str) -> str | None:
        if not self.service_active(host, self.service):
            return "inactive"
        lease = self.lease()
        if not lease or lease["holder"] != self.new_holder:
            return f"lease moved on to {lease['holder'] if lease else None}"
        return "follower" if self.holder_host(lease) != host else "leader (restarted on the same host)"

    def cleanup(self) -> None:
        if self.pod_path:
            with contextlib.suppress(Exception):
                self.api_any(self.pod_path + "?gracePeriodSeconds=0", "DELETE", timeout=5.0)
        super().cleanup()


class KubeControllerManagerSystem(KubeLeaseSystem):
    name = "kube_controller_manager"
    lease_name = "kube-controller-manager"


class KubeSchedulerSystem(KubeLeaseSystem):
    name = "kube_scheduler"
    lease_name = "kube-scheduler"

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.pod_image = cluster.args["kube_pod_image"] or None  # "" skips the Pod
