#!/usr/bin/python
"""Ansible module: Marathon's leader as every instance reports it."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: marathon_cluster_status
version_added: "1.0.0"
short_description: Report Marathon's leader and whether all instances agree on it
description:
  - Asks every instance for C(/ping) and C(GET /v2/leader) (a standby proxies both to the leader).
  - Healthy when every instance answers and all report the same leader, which is one of the instances.
options:
  instances:
    description: Instances as a mapping of inventory name to C(address:http_port).
    type: dict
    required: true
  ids:
    description: Election ids (C(hostname:http_port)) by inventory name, to name the leader's host.
    type: dict
    required: true
extends_documentation_fragment: [stackbench.cluster.status]
author: stackbench contributors
"""

EXAMPLES = r"""
- name: Wait for one agreed Marathon leader
  stackbench.cluster.marathon_cluster_status:
    instances: {m1: "10.0.0.1:8080", m2: "10.0.0.2:8080"}
    ids: {m1: "m1:8080", m2: "m2:8080"}
  register: marathon_status
  until: marathon_status.healthy
  retries: 30
  delay: 2
"""

RETURN = r"""
leader:
  description: The leader's election id (hostname:http_port), or null when not agreed.
  type: str
  returned: always
leader_host:
  description: Inventory name of the leader, or null.
  type: str
  returned: always
leaders:
  description: Every distinct leader reported.
  type: list
  returned: always
not_answering:
  description: Instances whose /ping failed.
  type: list
  returned: always
healthy:
  description: All instances answer and agree on a leader among them.
  type: bool
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.marathon import query, summarize_instances

ARGUMENT_SPEC = {
    "instances": {"type": "dict", "required": True},
    "ids": {"type": "dict", "required": True},
    "timeout": {"type": "float", "default": 3},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    answers = {name: query(address, module.params["timeout"]) for name, address in module.params["instances"].items()}
    module.exit_json(changed=False, **summarize_instances(answers, module.params["ids"]))


if __name__ == "__main__":
    main()
