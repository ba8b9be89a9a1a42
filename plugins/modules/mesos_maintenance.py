#!/usr/bin/python
"""Ansible module: put a machine of a Mesos cluster into maintenance (scheduled, drained, down), or bring it up."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mesos_maintenance
version_added: "1.1.0"
short_description: Drain a Mesos agent's machine the way Mesos does it, or bring it back
description:
  - Talks to the leading master (found from every master's C(/metrics/snapshot)).
  - C(state=scheduled) adds the machine to the maintenance schedule (C(POST /maintenance/schedule), the other
    windows kept). Frameworks that honour it (Marathon) place no new tasks there.
  - C(state=drained) also drains its agent (v1 C(DRAIN_AGENT)) and waits until the master reports it C(DRAINED)
    (every task on it terminal); C(state=down) then marks the machine down (C(POST /machine/down)), which shuts
    the agent down.
  - C(state=gone) marks the agent gone (v1 C(MARK_AGENT_GONE)) and waits until the master has dropped it for good,
    to remove a host. Drain it and stop its process first, or a restarted agent registers again as a new one.
  - C(state=up) brings the machine up, takes it out of the schedule and reactivates its agent.
  - Idempotent: each step runs only when the cluster is not in that state yet.
options:
  masters:
    description: Every master as C(address:port).
    type: list
    elements: str
    required: true
  hostname:
    description: The agent's hostname, as it registered (its C(--hostname)).
    type: str
    required: true
  ip:
    description: The agent's IP address.
    type: str
    required: true
  state:
    description: Where the machine should end.
    type: str
    choices: [scheduled, drained, down, gone, up]
    default: down
  window_seconds:
    description: Length of the maintenance window posted to the schedule.
    type: float
    default: 3600
  grace_period_seconds:
    description: C(max_grace_period) for the tasks the drain kills; unset, each task keeps its own.
    type: float
  wait_seconds:
    description: How long to wait for the drain to finish.
    type: float
    default: 300
  min_other_agents:
    description: Refuse to drain when fewer other active agents would be left (for the tasks to move to).
    type: int
    default: 1
  timeout:
    description: Seconds per HTTP request.
    type: float
    default: 5
notes:
  - Supports check mode (it reports the steps it would take).
author: stackbench contributors
"""

EXAMPLES = r"""
- name: Drain agent1 and take its machine down
  stackbench.cluster.mesos_maintenance:
    masters: ["10.0.0.1:5050", "10.0.0.2:5050", "10.0.0.3:5050"]
    hostname: agent1
    ip: 10.0.0.11
    state: down
"""

RETURN = r"""
actions:
  description: >-
    The steps taken (scheduled, drain, marked gone, machine down, machine up, unscheduled, reactivated).
  type: list
  returned: always
leader:
  description: The master the calls went to.
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.mesos_maintenance import (
    Maintenance,
    MaintenanceError,
    leading_master,
    machine_id,
)

ARGUMENT_SPEC = {
    "masters": {"type": "list", "elements": "str", "required": True},
    "hostname": {"type": "str", "required": True},
    "ip": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["scheduled", "drained", "down", "gone", "up"], "default": "down"},
    "window_seconds": {"type": "float", "default": 3600},
    "grace_period_seconds": {"type": "float"},
    "wait_seconds": {"type": "float", "default": 300},
    "min_other_agents": {"type": "int", "default": 1},
    "timeout": {"type": "float", "default": 5},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p, check = module.params, module.check_mode
    try:
        leader = leading_master(p["masters"], p["timeout"])
        job = Maintenance(leader, machine_id(p["hostname"], p["ip"]), p["timeout"])
        if p["state"] == "up":
            job.ensure_up(check)
        elif p["state"] == "gone":
            job.ensure_gone(p["wait_seconds"], check)
        else:
            job.require_agent(p["min_other_agents"])
            job.ensure_scheduled(p["window_seconds"], check)
            if p["state"] in ("drained", "down"):
                job.ensure_drained(False, p["grace_period_seconds"], p["wait_seconds"], check)
            if p["state"] == "down":
                job.ensure_down(check)
    except MaintenanceError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(job.actions), actions=job.actions, leader=leader)


if __name__ == "__main__":
    main()
