#!/usr/bin/python
"""Ansible module: the state of a Mesos master cluster, read from each master's /metrics/snapshot."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mesos_cluster_status
version_added: "1.0.0"
short_description: Report the leading Mesos master and whether the cluster is healthy
description:
  - Reads C(/metrics/snapshot) from every master and reports the leader (C(master/elected) = 1).
  - The cluster is healthy when every master answers, exactly one is elected, and it has
    recovered its registrar (C(registrar/log/recovered) = 1).
options:
  masters:
    description: Masters as a mapping of inventory name to C(host:port).
    type: dict
    required: true
extends_documentation_fragment: [stackbench.cluster.status]
author: stackbench contributors
"""

EXAMPLES = r"""
- name: Wait for one elected, recovered master
  stackbench.cluster.mesos_cluster_status:
    masters: {m1: "10.0.0.1:5050", m2: "10.0.0.2:5050", m3: "10.0.0.3:5050"}
  register: mesos_status
  until: mesos_status.healthy
  retries: 30
  delay: 2
"""

RETURN = r"""
leader:
  description: Inventory name of the leading master, or null.
  type: str
  returned: always
leaders:
  description: Every master that says it is elected (more than one means split brain).
  type: list
  returned: always
reachable:
  description: Masters that answered.
  type: list
  returned: always
unreachable:
  description: Masters that did not answer.
  type: list
  returned: always
recovered:
  description: Whether the leader has recovered its registrar.
  type: bool
  returned: always
agents_active:
  description: Active agents as the leader counts them.
  type: int
  returned: always
healthy:
  description: All masters answer and one elected master has recovered.
  type: bool
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.mesos import metrics_snapshot, summarize_masters

ARGUMENT_SPEC = {"masters": {"type": "dict", "required": True}, "timeout": {"type": "float", "default": 3}}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    timeout = module.params["timeout"]
    snapshots = {name: metrics_snapshot(address, timeout) for name, address in module.params["masters"].items()}
    module.exit_json(changed=False, **summarize_masters(snapshots))


if __name__ == "__main__":
    main()
