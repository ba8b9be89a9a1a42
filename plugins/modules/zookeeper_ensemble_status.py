#!/usr/bin/python
"""Ansible module: ask every ZooKeeper member for mntr and judge the ensemble's health."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zookeeper_ensemble_status
version_added: "1.0.0"
short_description: Ask every ZooKeeper ensemble member for C(mntr) and judge the ensemble's health
description:
  - Sends the C(mntr) four-letter word to each member's client port and reports each
    member's state (leader, follower, standalone, not-serving, down), the leader, and the
    leader's C(zk_synced_followers).
  - Healthy means every member serves and there is exactly one leader with every other
    member synced (or, for one member, that it serves in standalone mode).
  - Needs C(mntr) in C(4lw.commands.whitelist).
options:
  members:
    description: Ensemble members, each with a C(name) and the C(address) of its client port.
    type: list
    elements: dict
    required: true
  port:
    description: Client port of every member.
    type: int
    default: 2181
extends_documentation_fragment: [stackbench.cluster.status]
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Wait until the ensemble has a leader and all followers synced
  stackbench.cluster.zookeeper_ensemble_status:
    members:
      - {name: zk1, address: 10.0.0.1}
      - {name: zk2, address: 10.0.0.2}
      - {name: zk3, address: 10.0.0.3}
  register: zk
  until: zk.healthy
  retries: 30
  delay: 2
"""

RETURN = r"""
healthy:
  description: Whether every member serves and the leader has all followers synced.
  type: bool
  returned: always
leader:
  description: Name of the leader member, or null when there is not exactly one.
  type: str
  returned: always
leaders:
  description: Names of every member that says it leads (more than one means split brain).
  type: list
  elements: str
  returned: always
followers:
  description: Names of the members that are followers.
  type: list
  elements: str
  returned: always
synced_followers:
  description: The leader's C(zk_synced_followers), or null without a single leader.
  type: int
  returned: always
not_serving:
  description: Names of the members that do not answer or do not serve.
  type: list
  elements: str
  returned: always
reason:
  description: Why the ensemble is not healthy (C(ok) when it is).
  type: str
  returned: always
members:
  description: Per member (by name) C(answered), C(serving), C(state) and the parsed C(mntr) keys.
  type: dict
  returned: always
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.zookeeper import (
    ask_or_none,
    ensemble_health,
    member_state,
)

ARGUMENT_SPEC = {
    "members": {"type": "list", "elements": "dict", "required": True},
    "port": {"type": "int", "default": 2181},
    "timeout": {"type": "float", "default": 3.0},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    states: dict[str, dict[str, Any]] = {}
    for member in module.params["members"]:
        if "name" not in member or "address" not in member:
            module.fail_json(msg=f"each member needs a name and an address, got {member!r}")
        # A member that does not answer is "down", not a module failure: the caller retries.
        reply = ask_or_none(member["address"], module.params["port"], "mntr", module.params["timeout"])
        states[member["name"]] = member_state(reply)
    module.exit_json(changed=False, members=states, **ensemble_health(states))


if __name__ == "__main__":
    main()
