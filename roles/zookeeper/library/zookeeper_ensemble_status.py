#!/usr/bin/python
"""Ansible module: ask every ZooKeeper member for mntr and judge the ensemble's health."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zookeeper_ensemble_status
short_description: Ask every ZooKeeper ensemble member for C(mntr) and judge the ensemble's health
description:
  - Sends the C(mntr) four-letter word to each member's client port and reports each
    member's state (leader, follower, standalone, not-serving, down), the leader, and the
    leader's C(zk_synced_followers).
  - Healthy means every member serves and there is exactly one leader with every other
    member synced (or, for one member, that it serves in standalone mode).
  - Read-only; never changes anything, so it runs in check mode too.
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
  timeout:
    description: Seconds to wait for each member's answer.
    type: float
    default: 3.0
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Wait until the ensemble has a leader and all followers synced
  zookeeper_ensemble_status:
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

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.zookeeper_fourlw import ask, ensemble_health, member_state


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            members=dict(type="list", elements="dict", required=True),
            port=dict(type="int", default=2181),
            timeout=dict(type="float", default=3.0),
        ),
        supports_check_mode=True,
    )
    states: dict[str, dict] = {}
    for member in module.params["members"]:
        if "name" not in member or "address" not in member:
            module.fail_json(msg=f"each member needs a name and an address, got {member!r}")
        try:
            reply = ask(member["address"], module.params["port"], "mntr", module.params["timeout"])
        except (OSError, ValueError):
            reply = None
        states[member["name"]] = member_state(reply)
    result = ensemble_health(states)
    module.exit_json(changed=False, members=states, **result)


if __name__ == "__main__":
    main()
