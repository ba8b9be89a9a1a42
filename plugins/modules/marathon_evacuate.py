#!/usr/bin/python
"""Ansible module: move Marathon's tasks off a host that is in the Mesos maintenance schedule."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: marathon_evacuate
version_added: "1.1.0"
short_description: Move Marathon's tasks off a host before it is drained
description:
  - Restarts (C(POST /v2/apps/{id}/restart)) every app with a task on the host and waits until the deployments
    are done and no task of theirs is left there.
  - Put the host's machine in the Mesos maintenance schedule first (M(stackbench.cluster.mesos_maintenance)
    C(state=scheduled)). Marathon then places the new tasks on other agents, and an app's upgrade strategy
    (minimumHealthCapacity) keeps healthy instances serving while the old ones go.
options:
  marathon:
    description: A Marathon instance as C(address:port) (a standby proxies to the leader).
    type: str
    required: true
  host:
    description: The agent's hostname as Marathon reports it in C(/v2/tasks).
    type: str
    required: true
  address:
    description: The agent's IP address, also accepted as the task's host.
    type: str
    default: ""
  wait_seconds:
    description: How long to wait for the tasks to move.
    type: float
    default: 300
notes:
  - Supports check mode (it reports the apps it would restart).
author: stackbench contributors
"""

EXAMPLES = r"""
- name: Move Marathon's tasks off agent1
  stackbench.cluster.marathon_evacuate:
    marathon: 10.0.0.1:8080
    host: agent1
"""

RETURN = r"""
apps:
  description: The apps restarted (that had a task on the host).
  type: list
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.mesos_maintenance import (
    MaintenanceError,
    evacuate_marathon,
)

ARGUMENT_SPEC = {
    "marathon": {"type": "str", "required": True},
    "host": {"type": "str", "required": True},
    "address": {"type": "str", "default": ""},
    "wait_seconds": {"type": "float", "default": 300},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        apps = evacuate_marathon(p["marathon"], p["host"], p["address"], p["wait_seconds"], module.check_mode)
    except MaintenanceError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(apps), apps=apps)


if __name__ == "__main__":
    main()
