"""Controller side of ha_failover (the documentation is in plugins/modules/ha_failover.py).

Validates the task's arguments against one spec, picks the System class of the chosen system,
and hands it to the run loop; the systems, the loop and the results live in plugin_utils/failover.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import Cluster, Failure, System
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.etcd import EtcdSystem
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.faults import FAULTS
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.hosts import HostRunner
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.kube_apiserver import KubeApiserverSystem
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.kube_leases import (
    KubeControllerManagerSystem,
    KubeSchedulerSystem,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.marathon import MarathonSystem
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.mesos_masters import MesosMastersSystem
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.run import run_failover
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.zookeeper import ZooKeeperSystem

SYSTEMS: dict[str, type[System]] = {cls.name: cls for cls in (
    ZooKeeperSystem, EtcdSystem, MesosMastersSystem, MarathonSystem, KubeApiserverSystem,
    KubeControllerManagerSystem, KubeSchedulerSystem)}

# The one argument spec; DOCUMENTATION's options say the same (tests/unit/test_ha_action.py checks).
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "system": {"type": "str", "required": True, "choices": list(SYSTEMS)},
    "fault": {"type": "str", "choices": list(FAULTS), "default": "kill"},
    "group": {"type": "str"},
    "force": {"type": "bool", "default": False},
    "service": {"type": "str"},
    "port": {"type": "int"},
    "target": {"type": "str"},
    "kubeconfig": {"type": "path"},
    "kube_client_via": {"type": "str", "choices": ["tunnel", "direct"], "default": "tunnel"},
    "endpoint_host": {"type": "str"},
    "endpoint_port": {"type": "int", "default": 6543},
    "kube_pod_image": {"type": "str", "default": "registry.k8s.io/pause:3.10"},
    "timeout_seconds": {"type": "float", "default": 90},
    "baseline_seconds": {"type": "float", "default": 2},
    "settle_seconds": {"type": "float"},
    "write_interval_seconds": {"type": "float"},
    "leader_wait_seconds": {"type": "float", "default": 0},
    "partition_method": {"type": "str", "choices": ["auto", "lab", "iptables"], "default": "auto"},
    "write_timeout_seconds": {"type": "float", "default": 1.0},
    "etcd_ca_cert": {"type": "path"},
    "etcd_client_cert": {"type": "path"},
    "etcd_client_key": {"type": "path"},
    "etcd_pki_dir": {"type": "path", "default": "/etc/etcd/pki"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False  # unknown options are refused by the spec, with the others

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        raw = self._task.args
        result.update(changed=False, system=raw.get("system"), fault=raw.get("fault", "kill"))
        try:
            _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
            result.update(self.failover(args, task_vars or {}))
        except AnsibleActionFail as exc:  # a bad argument: a result the report can still list
            result.update(failed=True, msg=exc.message)
        except Failure as exc:
            result.update(failed=True, msg=str(exc))
        return result

    def failover(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """Find the members in the inventory and run one fault on the system's leader."""
        cls = SYSTEMS[args["system"]]
        group = args["group"] or cls.default_group
        groups = dict(task_vars.get("groups", {}))
        hosts = list(groups.get(group) or [])
        if not hosts:
            raise Failure(f"the inventory has no hosts in group {group!r} (needed for {cls.name})")
        hostvars = task_vars["hostvars"]
        members = {h: str(hostvars[h].get("ansible_host") or h) for h in hosts}
        runner = HostRunner(list(task_vars.get("ansible_inventory_sources") or []))
        with tempfile.TemporaryDirectory(prefix="stackbench-ha-") as tmp:
            cluster = Cluster(members, int(args["port"] or cls.default_port), float(args["timeout_seconds"]),
                              args, hostvars, groups, runner, Path(tmp))
            return run_failover(cls(cluster), args["fault"], args)
