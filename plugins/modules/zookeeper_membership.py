#!/usr/bin/python
"""Ansible module: read a ZooKeeper ensemble's live membership (dynamic reconfiguration) from its members."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zookeeper_membership
version_added: "1.1.0"
short_description: Read a ZooKeeper ensemble's live membership from its members (C(conf))
description:
  - Sends the C(conf) and C(mntr) four-letter words to each candidate member and returns the
    membership (C(server.N) lines and config version) of the newest config any member reports,
    which members answered and which serve.
  - Only reads. Needs C(conf) and C(mntr) in C(4lw.commands.whitelist) and C(reconfigEnabled=true)
    (a member without dynamic reconfiguration prints no C(server.N) lines and counts as C(static)).
options:
  members:
    description: Candidate members, each with a C(name) and the C(address) of its client port.
    type: list
    elements: dict
    required: true
  port:
    description: Client port of every member.
    type: int
    default: 2181
  timeout:
    description: Seconds to wait for each reply.
    type: float
    default: 3.0
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Read the live membership
  stackbench.cluster.zookeeper_membership:
    members:
      - {name: zk1, address: 10.0.0.1}
      - {name: zk2, address: 10.0.0.2}
  register: zk_live
"""

RETURN = r"""
found:
  description: Whether any member reported a dynamic membership (false for a new or a static ensemble).
  type: bool
  returned: always
version:
  description: The config version (hex) of the membership returned, "" when none was found.
  type: str
  returned: always
servers:
  description: The members of that config, by id, each with C(id), C(address), C(quorum_port),
    C(election_port), C(role), C(client) and the raw C(line).
  type: list
  elements: dict
  returned: always
ids:
  description: The ids of C(servers).
  type: list
  elements: int
  returned: always
answered:
  description: Names of the candidates that answered C(conf).
  type: list
  elements: str
  returned: always
serving:
  description: Names of the candidates that serve (leader, follower, observer, standalone).
  type: list
  elements: str
  returned: always
static:
  description: Names of the candidates that answered but print no membership (reconfigEnabled=false).
  type: list
  elements: str
  returned: always
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.zookeeper import ask_or_none, member_state
from ansible_collections.stackbench.cluster.plugins.module_utils.zookeeper_reconfig import (
    parse_membership,
    version_number,
)

ARGUMENT_SPEC = {
    "members": {"type": "list", "elements": "dict", "required": True},
    "port": {"type": "int", "default": 2181},
    "timeout": {"type": "float", "default": 3.0},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    port, timeout = module.params["port"], module.params["timeout"]
    best: dict[str, Any] | None = None
    answered: list[str] = []
    serving: list[str] = []
    static: list[str] = []
    for member in module.params["members"]:
        if "name" not in member or "address" not in member:
            module.fail_json(msg=f"each member needs a name and an address, got {member!r}")
        if member_state(ask_or_none(member["address"], port, "mntr", timeout))["serving"]:
            serving.append(member["name"])
        reply = ask_or_none(member["address"], port, "conf", timeout)
        if reply is None:
            continue
        answered.append(member["name"])
        try:
            config = parse_membership(reply)
        except ParseError:
            static.append(member["name"])
            continue
        # The newest config wins: a member that missed a reconfig still prints the old one.
        if best is None or version_number(config["version"]) > version_number(best["version"]):
            best = config
    servers = best["servers"] if best else []
    module.exit_json(changed=False, found=best is not None, version=best["version"] if best else "",
                     servers=servers, ids=[s["id"] for s in servers], answered=answered, serving=serving,
                     static=static)


if __name__ == "__main__":
    main()
