#!/usr/bin/python
"""Ansible module: write zoo.cfg for dynamic reconfiguration, tolerant of ZooKeeper's own rewrite of it."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zookeeper_static_config
version_added: "1.1.0"
short_description: Write a ZooKeeper member's zoo.cfg when dynamic reconfiguration is on
description:
  - With C(reconfigEnabled=true) ZooKeeper rewrites zoo.cfg itself on every config change
    (comments and order lost, C(dynamicConfigFile) pointing at the newest C(zoo.cfg.dynamic.<version>),
    C(clientPort) dropped when the member's dynamic line carries it). A template would undo that
    rewrite on every run and restart a member for nothing.
  - This module compares settings instead of bytes, ignoring C(server.*), C(dynamicConfigFile),
    C(clientPort) and C(clientPortAddress). When they differ (or zoo.cfg is missing) it writes
    I(content) plus C(dynamicConfigFile=), keeping ZooKeeper's current pointer when that file exists
    and using I(dynamic_file) otherwise.
options:
  path:
    description: The zoo.cfg to manage.
    type: path
    required: true
  content:
    description: The settings the role wants (zoo.cfg text without membership or C(dynamicConfigFile)).
    type: str
    required: true
  dynamic_file:
    description: The dynamic config file to point at when zoo.cfg names none that exists.
    type: path
    required: true
  owner:
    description: Owner of zoo.cfg (ZooKeeper rewrites it as its service user, so that user).
    type: str
  group:
    description: Group of zoo.cfg.
    type: str
  mode:
    description: Mode of zoo.cfg, e.g. C("0640") (the service's UMask gives ZooKeeper's rewrite the same).
    type: raw
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Write zoo.cfg
  stackbench.cluster.zookeeper_static_config:
    path: /etc/zookeeper/conf/zoo.cfg
    content: "{{ lookup('ansible.builtin.template', 'zoo.cfg.j2') }}"
    dynamic_file: /etc/zookeeper/conf/zoo.cfg.dynamic
    owner: root
    group: zookeeper
    mode: "0640"
"""

RETURN = r"""
dynamic_file:
  description: The dynamic config file zoo.cfg points at after the run.
  type: str
  returned: always
initialized:
  description: Whether zoo.cfg already pointed at an existing dynamic file before the run
    (false on a new member, or one moving from the static configuration).
  type: bool
  returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.zookeeper_reconfig import (
    parse_properties,
    static_config,
    static_config_in_sync,
)

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True},
    "dynamic_file": {"type": "path", "required": True},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "mode": {"type": "raw"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    path, content = module.params["path"], module.params["content"]
    current = ""
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            current = handle.read()
    pointer = parse_properties(current).get("dynamicConfigFile", "")
    initialized = bool(pointer) and os.path.isfile(pointer)
    dynamic_file = pointer if initialized else module.params["dynamic_file"]
    changed = not (current and initialized and static_config_in_sync(current, content))
    diff = {"before": current, "after": current}
    if changed:
        new_text = static_config(content, dynamic_file)
        diff["after"] = new_text
        if not module.check_mode:
            tmp = f"{path}.ansible-tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(new_text)
            module.atomic_move(tmp, path)
    file_args = module.load_file_common_arguments(module.params, path=path)
    if os.path.exists(path):
        changed = module.set_fs_attributes_if_different(file_args, changed)
    module.exit_json(changed=changed, dynamic_file=dynamic_file, initialized=initialized, diff=diff)


if __name__ == "__main__":
    main()
