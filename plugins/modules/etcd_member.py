#!/usr/bin/python
"""Ansible module: add an etcd member as a learner, promote it, or remove a member without losing quorum."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_member
version_added: "1.2.0"
short_description: Change an etcd cluster's membership through etcdctl (learner, voting, absent)
description:
  - Runs C(etcdctl) on a host holding client certificates of the cluster, against O(endpoints).
  - V(learner) adds the member as a learner (C(member add --learner)) unless its peer URL is already a
    member, and returns the C(ETCD_INITIAL_CLUSTER) the new member must start with.
  - V(voting) promotes the learner once it has caught up with the leader, retrying until O(timeout).
  - V(absent) removes the member after checking that the cluster keeps quorum (healthy voting members
    before and after), handing leadership away first if the member leads.
  - Check mode reports the change without making it.
options:
  name:
    description: The member's name (C(ETCD_NAME)).
    type: str
    required: true
  peer_url:
    description: The member's peer URL; required for V(learner), matched first for the others.
    type: str
    default: ""
  state:
    description: What the member should be.
    type: str
    choices: [learner, voting, absent]
    required: true
  endpoints:
    description: Client URLs of current members to send the requests to.
    type: list
    elements: str
    required: true
  cacert:
    description: CA bundle of the cluster.
    type: path
    required: true
  cert:
    description: Client certificate.
    type: path
    required: true
  key:
    description: Client key.
    type: path
    required: true
  etcdctl:
    description: Path of etcdctl.
    type: path
    default: /usr/local/bin/etcdctl
  timeout:
    description: Seconds to wait for a learner to catch up before its promotion fails.
    type: int
    default: 120
  refuse_healthy:
    description: For V(absent), refuse to remove a member that answers healthy (a recovery replaces dead members only).
    type: bool
    default: false
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Add etcd4 as a learner
  stackbench.cluster.etcd_member:
    name: etcd4
    peer_url: https://10.0.0.4:2380
    state: learner
    endpoints: [https://10.0.0.1:2379]
    cacert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/member.crt
    key: /etc/etcd/pki/member.key
  register: etcd_join
"""

RETURN = r"""
member:
  description: The member after the change (C(id), C(hex_id), C(name), C(peer_urls), C(client_urls),
    C(is_learner), C(started)); empty once removed.
  type: dict
  returned: always
members:
  description: The cluster's members after the change.
  type: list
  elements: dict
  returned: always
initial_cluster:
  description: For V(learner), the C(ETCD_INITIAL_CLUSTER) the joining member starts with.
  type: str
  returned: when state is learner
health:
  description: Endpoint health by client URL, as measured before a removal.
  type: dict
  returned: when state is absent
leader_moved_to:
  description: Hex id of the member that took over leadership before the removal, "" when none moved.
  type: str
  returned: when state is absent
"""

import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils import etcd_membership as membership
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.etcd import parse_etcd_endpoint_status

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "peer_url": {"type": "str", "default": ""},
    "state": {"type": "str", "required": True, "choices": ["learner", "voting", "absent"]},
    "endpoints": {"type": "list", "elements": "str", "required": True},
    "cacert": {"type": "path", "required": True},
    "cert": {"type": "path", "required": True},
    "key": {"type": "path", "required": True},
    "etcdctl": {"type": "path", "default": "/usr/local/bin/etcdctl"},
    "timeout": {"type": "int", "default": 120},
    "refuse_healthy": {"type": "bool", "default": False},
}
NOT_IN_SYNC = "can only promote a learner member which is in sync with leader"


class Etcdctl:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        params = module.params
        self.base = [params["etcdctl"], f"--cacert={params['cacert']}", f"--cert={params['cert']}",
                     f"--key={params['key']}", "--command-timeout=5s"]

    def run(self, *args: str, endpoints: list[str] | None = None, check: bool = True) -> tuple[int, str, str]:
        urls = endpoints or self.module.params["endpoints"]
        rc, out, err = self.module.run_command([*self.base, f"--endpoints={','.join(urls)}", *args])
        if check and rc != 0:
            self.module.fail_json(msg=f"etcdctl {' '.join(args)} failed: {err.strip() or out.strip()}", rc=rc)
        return rc, out, err

    def members(self) -> list[dict[str, Any]]:
        return membership.parse_member_list(self.run("member", "list", "-w", "json")[1])

    def health(self, members: list[dict[str, Any]]) -> dict[str, bool]:
        urls = [url for m in members for url in m["client_urls"]]
        if not urls:
            return {}
        _, out, _ = self.run("endpoint", "health", "-w", "json", endpoints=urls, check=False)
        try:
            return membership.parse_endpoint_health(out)
        except ParseError:
            return {url: False for url in urls}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[("state", "learner", ["peer_url"])])
    params = module.params
    name, peer_url, state = params["name"], params["peer_url"], params["state"]
    etcdctl = Etcdctl(module)
    try:
        members = etcdctl.members()
        member = membership.find_member(members, name=name, peer_url=peer_url)
        if state == "learner":
            errors = membership.join_errors(members, name, peer_url)
            if errors:
                module.fail_json(msg=f"etcd: {name} cannot join: " + "; ".join(errors), members=members)
            changed = member is None
            if changed and not module.check_mode:
                etcdctl.run("member", "add", name, f"--peer-urls={peer_url}", "--learner")
                members = etcdctl.members()
                member = membership.find_member(members, name=name, peer_url=peer_url)
            module.exit_json(changed=changed, member=member or {}, members=members,
                             initial_cluster=membership.join_initial_cluster(members, name, peer_url))
        if state == "voting":
            if member is None:
                module.fail_json(msg=f"etcd: {name} is not a member; add it as a learner first", members=members)
            if not member["is_learner"]:
                module.exit_json(changed=False, member=member, members=members)
            if not module.check_mode:
                deadline = time.monotonic() + params["timeout"]
                while True:
                    rc, out, err = etcdctl.run("member", "promote", member["hex_id"], check=False)
                    if rc == 0:
                        break
                    if NOT_IN_SYNC not in err + out or time.monotonic() > deadline:
                        module.fail_json(msg=f"etcd: promoting {name} failed: {err.strip() or out.strip()}",
                                         rc=rc, members=members)
                    time.sleep(1)
                members = etcdctl.members()
                member = membership.find_member(members, name=name, peer_url=peer_url)
            module.exit_json(changed=True, member=member or {}, members=members)
        # absent
        if member is None:
            module.exit_json(changed=False, member={}, members=members, health={}, leader_moved_to="")
        health = etcdctl.health(members)
        errors = membership.removal_errors(members, health, member["name"] or name)
        if params["refuse_healthy"] and membership.healthy_member(member, health):
            errors.insert(0, f"{name} answers healthy: there is nothing to recover (playbooks/etcd-remove-member.yml "
                             "removes a live member)")
        if errors:
            module.fail_json(msg=f"etcd: removing {name} refused: " + "; ".join(errors), members=members,
                             health=health)
        moved = ""
        if not module.check_mode:
            if member["client_urls"] and health.get(member["client_urls"][0]):
                _, out, _ = etcdctl.run("endpoint", "status", "-w", "json", endpoints=member["client_urls"][:1])
                status = parse_etcd_endpoint_status(out)[0]
                successor = membership.leader_successor(members, health, member["id"])
                if status["is_leader"] and successor is not None:
                    others = [u for m in members if m["id"] == successor for u in m["client_urls"]]
                    etcdctl.run("move-leader", format(successor, "x"), endpoints=member["client_urls"][:1] + others)
                    moved = format(successor, "x")
            remaining = [u for m in members if m["id"] != member["id"] for u in m["client_urls"] if health.get(u)]
            etcdctl.run("member", "remove", member["hex_id"], endpoints=remaining or None)
            members = etcdctl.members() if not remaining else membership.parse_member_list(
                etcdctl.run("member", "list", "-w", "json", endpoints=remaining)[1])
        else:
            members = [m for m in members if m["id"] != member["id"]]
        module.exit_json(changed=True, member={}, members=members, health=health, leader_moved_to=moved)
    except ParseError as exc:
        module.fail_json(msg=f"etcd: could not read etcdctl's answer: {exc}")


if __name__ == "__main__":
    main()
