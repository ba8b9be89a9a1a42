#!/usr/bin/python
"""Ansible module: capacity of a node, or a cluster's view of its nodes."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
module: node_capacity
short_description: What a host has, and what its cluster offers to workloads on it
description:
  - With O(view=host) (the default), reports the host's logical CPUs (and a cgroup CPU limit if
    one applies), memory total and available, and size and free space of the filesystems holding
    O(data_dirs), counted once per filesystem. With O(mesos_agent_url), also the Mesos agent's
    advertised and allocated resources from its own C(/state).
  - With O(view=kubernetes), reads the Node list once (C(GET /api/v1/nodes)) and reports capacity,
    allocatable and the reserved overhead between them for every node. Run it once per cluster
    (C(run_once)), not once per node.
  - With O(view=mesos_master), reads C(/master/slaves) once, from the leading master, and reports
    every agent's advertised and used resources. Give all masters in O(mesos_master_urls); a standby
    answers 307 (to the leader's host name, which the controller may not resolve), so the module
    asks the next one instead of following the redirect.
  - Read-only; supports check mode (it reports the same data).
version_added: "0.1.0"
author: stackbench
options:
  view:
    description: What to report.
    type: str
    choices: [host, kubernetes, mesos_master]
    default: host
  data_dirs:
    description:
      - Service data directories whose filesystems to measure. A directory that does not exist
        yet is measured on its closest existing parent.
    type: list
    elements: path
    default: []
  addresses:
    description: Addresses of this host, echoed so the report can join cluster views to hosts.
    type: list
    elements: str
    default: []
  mesos_agent_url:
    description: The local agent's state URL, for example V(http://127.0.0.1:5051/state).
    type: str
  mesos_master_urls:
    description: Base URLs of the Mesos masters, for example V(http://10.0.0.1:5050). For O(view=mesos_master).
    type: list
    elements: str
    default: []
  kubernetes_api_url:
    description: Base URL of a kube-apiserver, for example V(https://10.0.0.1:6443). For O(view=kubernetes).
    type: str
  kubernetes_ca_path:
    description: CA bundle that signed the apiserver's certificate.
    type: path
  kubernetes_client_cert:
    description: Client certificate (PEM) for the apiserver.
    type: path
  kubernetes_client_key:
    description: Client key (PEM) for the apiserver.
    type: path
  kubernetes_token:
    description: Bearer token for the apiserver (instead of a client certificate).
    type: str
  timeout:
    description: HTTP timeout in seconds.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Measure this host and the filesystems of its data dirs
  stackbench.cluster.node_capacity:
    data_dirs: [/var/lib/zookeeper, /var/lib/etcd]
    addresses: "{{ ansible_facts.all_ipv4_addresses }}"

- name: Kubernetes capacity vs allocatable, one API call for the whole cluster
  stackbench.cluster.node_capacity:
    view: kubernetes
    kubernetes_api_url: "https://{{ hostvars[groups['kube_control_plane'][0]].ansible_host }}:6443"
    kubernetes_ca_path: /etc/kubernetes/admin/ca.crt
    kubernetes_client_cert: /etc/kubernetes/admin/admin.crt
    kubernetes_client_key: /etc/kubernetes/admin/admin.key
  run_once: true
"""

RETURN = r"""
logical_cpus:
  description: Logical CPUs this process may run on.
  returned: view=host
  type: int
cpu_limit_cores:
  description: CPU limit of the host's cgroup (containers), null when there is none.
  returned: view=host
  type: float
memory_total_bytes:
  description: MemTotal.
  returned: view=host
  type: int
memory_available_bytes:
  description: MemAvailable.
  returned: view=host
  type: int
filesystems:
  description: One entry per filesystem holding a data dir (paths, size_bytes, free_bytes, available_bytes).
  returned: view=host
  type: list
  elements: dict
disk_size_bytes:
  description: Sum of the sizes of those filesystems.
  returned: view=host
  type: int
disk_available_bytes:
  description: Sum of the space available to unprivileged users on them.
  returned: view=host
  type: int
mesos_agent:
  description: The agent's mesos_resources_* and mesos_used_* (cpus, gpus, mem_bytes, disk_bytes).
  returned: view=host and mesos_agent_url given
  type: dict
nodes:
  description: >-
    Per node name: kubernetes_capacity_*, kubernetes_allocatable_*, kubernetes_reserved_* (cpu_cores,
    memory_bytes, ephemeral_storage_bytes, pods), kubernetes_ready, addresses; or, for Mesos, per agent
    hostname: mesos_resources_* and mesos_used_*.
  returned: view=kubernetes or view=mesos_master
  type: dict
"""

import json
import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.stackbench.cluster.plugins.module_utils.capacity import (
    cgroup_cpu_limit,
    filesystems,
    parse_meminfo,
)
from ansible_collections.stackbench.cluster.plugins.module_utils.kubernetes import parse_kubernetes_nodes
from ansible_collections.stackbench.cluster.plugins.module_utils.mesos import (
    parse_mesos_agent_state,
    parse_mesos_slaves,
)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _get_json(url: str, module: AnsibleModule, **kwargs: Any) -> Any:
    response = open_url(url, method="GET", timeout=module.params["timeout"], follow_redirects="all",
                        headers={"Accept": "application/json", **kwargs.pop("headers", {})}, **kwargs)
    return json.loads(response.read())


def host_view(module: AnsibleModule) -> dict[str, Any]:
    meminfo = _read("/proc/meminfo")
    if meminfo is None:
        module.fail_json(msg="cannot read /proc/meminfo (node_capacity supports Linux hosts)")
    result: dict[str, Any] = {"logical_cpus": len(os.sched_getaffinity(0))}
    limit = cgroup_cpu_limit(_read("/sys/fs/cgroup/cpu.max"))
    if limit is None:
        limit = cgroup_cpu_limit(_read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                                 _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
    result["cpu_limit_cores"] = limit
    result.update(parse_meminfo(meminfo))
    fs = filesystems(module.params["data_dirs"])
    result["filesystems"] = fs
    result["disk_size_bytes"] = sum(f["size_bytes"] for f in fs)
    result["disk_available_bytes"] = sum(f["available_bytes"] for f in fs)
    result["addresses"] = module.params["addresses"]
    if module.params["mesos_agent_url"]:
        try:
            state = _get_json(module.params["mesos_agent_url"], module)
            result["mesos_agent"] = parse_mesos_agent_state(state)
        except Exception as exc:
            module.fail_json(msg=f"Mesos agent state from {module.params['mesos_agent_url']}: {exc}")
    return result


def kubernetes_view(module: AnsibleModule) -> dict[str, Any]:
    p = module.params
    if not p["kubernetes_api_url"]:
        module.fail_json(msg="view=kubernetes needs kubernetes_api_url")
    headers = {"Authorization": f"Bearer {p['kubernetes_token']}"} if p["kubernetes_token"] else {}
    url = p["kubernetes_api_url"].rstrip("/") + "/api/v1/nodes"
    try:
        document = _get_json(url, module, headers=headers, ca_path=p["kubernetes_ca_path"],
                             client_cert=p["kubernetes_client_cert"], client_key=p["kubernetes_client_key"])
        return {"nodes": parse_kubernetes_nodes(document)}
    except Exception as exc:
        module.fail_json(msg=f"Kubernetes node list from {url}: {exc}")


def mesos_master_view(module: AnsibleModule) -> dict[str, Any]:
    bases = module.params["mesos_master_urls"]
    if not bases:
        module.fail_json(msg="view=mesos_master needs mesos_master_urls")
    tried = []
    for base in bases:
        url = base.rstrip("/") + "/master/slaves"
        try:
            response = open_url(url, method="GET", timeout=module.params["timeout"], follow_redirects="none",
                                headers={"Accept": "application/json"})
            return {"nodes": parse_mesos_slaves(json.loads(response.read())), "mesos_leader_url": base}
        except Exception as exc:
            tried.append(f"{url}: {exc}")
    module.fail_json(msg="no Mesos master answered /master/slaves as leader: " + "; ".join(tried))


ARGUMENT_SPEC = {
    "view": {"type": "str", "choices": ["host", "kubernetes", "mesos_master"], "default": "host"},
    "data_dirs": {"type": "list", "elements": "path", "default": []},
    "addresses": {"type": "list", "elements": "str", "default": []},
    "mesos_agent_url": {"type": "str"},
    "mesos_master_urls": {"type": "list", "elements": "str", "default": []},
    "kubernetes_api_url": {"type": "str"},
    "kubernetes_ca_path": {"type": "path"},
    "kubernetes_client_cert": {"type": "path"},
    "kubernetes_client_key": {"type": "path", "no_log": True},
    "kubernetes_token": {"type": "str", "no_log": True},
    "timeout": {"type": "int", "default": 10},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    views = {"host": host_view, "kubernetes": kubernetes_view, "mesos_master": mesos_master_view}
    module.exit_json(changed=False, **views[module.params["view"]](module))


if __name__ == "__main__":
    main()
