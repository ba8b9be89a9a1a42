#!/usr/bin/python
"""Ansible module: remove many paths (and the parents left empty) from a host in one call."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: remove_paths
version_added: "1.3.0"
short_description: Remove many files and directories in one round trip
description:
  - One module call for what a reset takes off a host, instead of a check and an C(ansible.builtin.file)
    C(state=absent) call per path. Each path in I(paths) goes with everything under it, as C(ansible.builtin.file)
    C(state=absent) removes it (a link is removed, never followed); paths that are not there are skipped.
  - Each directory in I(contents_of) loses its entries and stays (a mount point of its own, for example).
  - Each directory in I(empty_parents) goes only when nothing is left in it after the rest, so a directory
    other software also uses stays.
  - Every path must be absolute, normalized and below a top-level directory (C(/etc) is refused, C(/etc/cni) is
    not); a refused path fails the task before anything is removed.
  - Supports check mode (reports what would go) and diff mode (the removed paths).
options:
  paths:
    description: Files, links and directories to remove, with everything under them.
    type: list
    elements: path
    default: []
  contents_of:
    description: Directories to empty; they stay.
    type: list
    elements: path
    default: []
  empty_parents:
    description: Directories to remove when empty once I(paths) and I(contents_of) are gone, in the order given
      (list a directory before its parent).
    type: list
    elements: path
    default: []
notes:
  - Supports check mode and diff mode.
  - Mounts are not unmounted; unmount what lies under a path first.
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Remove containerd's configuration and state, then /etc/cni if nothing else uses it
  stackbench.cluster.remove_paths:
    paths: [/etc/containerd, /run/containerd, /etc/cni/net.d]
    contents_of: [/var/lib/containerd]
    empty_parents: [/etc/cni]
"""

RETURN = r"""
removed:
  description: The paths removed (or in check mode that would be), parents last.
  type: list
  elements: str
  returned: always
  sample: ["/etc/containerd", "/etc/cni/net.d", "/etc/cni"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.remove_paths import RemoveError, remove

ARGUMENT_SPEC = {
    "paths": {"type": "list", "elements": "path", "default": []},
    "contents_of": {"type": "list", "elements": "path", "default": []},
    "empty_parents": {"type": "list", "elements": "path", "default": []},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        result = remove(p["paths"], p["contents_of"], p["empty_parents"], check_mode=module.check_mode)
    except (RemoveError, OSError) as exc:
        module.fail_json(msg=f"remove_paths: {exc}")
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
