#!/usr/bin/python
"""Ansible module: install many files (and their directories) on a host in one call."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: install_files
version_added: "1.2.0"
short_description: Install many files with owner, group and mode in one round trip
description:
  - One module call for a whole list of files, instead of one C(ansible.builtin.copy) call per file. The
    action plugin of the same name reads each I(src) on the controller (like C(ansible.builtin.copy), role
    C(files/) included, vault-encrypted files decrypted) and sends the contents along.
  - On the host each destination's content (SHA-256), owner, group and mode are compared with what is asked;
    only what differs is rewritten, chowned or chmodded. New content is written to a temporary file in the
    destination's directory, given its owner, group and mode, and renamed over the destination (atomic).
  - I(directories) are made sure of first (created with their missing parents, or their owner, group and mode set).
  - Supports check mode and diff mode. A C(no_log) task gets no content in its diff, only which attributes change.
options:
  files:
    description: The files to install, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description: Absolute path on the host.
        type: path
        required: true
      src:
        description: File on the controller whose content is installed (the action plugin reads it; relative
          paths are looked up like C(ansible.builtin.copy)'s). Give I(src) or I(content).
        type: path
      content:
        description: The content itself. Give I(src) or I(content).
        type: str
      encoding:
        description: How I(content) is encoded (the action plugin sends I(src) contents as C(base64)).
        type: str
        choices: [text, base64]
        default: text
      owner:
        description: Owner (name or uid); unset keeps the existing owner (new files get the remote user's).
        type: str
      group:
        description: Group (name or gid); unset keeps the existing group.
        type: str
      mode:
        description: Octal mode such as C("0644"); unset keeps the existing mode (new files get 0666 minus the umask).
        type: raw
  directories:
    description: Directories to make sure of before the files.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path on the host.
        type: path
        required: true
      owner:
        description: Owner (name or uid).
        type: str
      group:
        description: Group (name or gid).
        type: str
      mode:
        description: Octal mode; a new directory without one gets 0755.
        type: raw
  links:
    description:
      - Symbolic links to make sure of after the files, as C(ansible.builtin.file) C(state=link) makes them. A link
        that points elsewhere is replaced atomically (a new link renamed over it); a destination that exists and
        is not a link fails the task, as does (outside check mode) a link target that does not exist.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the link on the host.
        type: path
        required: true
      src:
        description: What the link points to, written into the link as given (relative to the link's directory
          if not absolute).
        type: str
        required: true
  parents_mode:
    description: Mode for missing parent directories of a file in I(files), which are then created (owned by
      the remote user). Unset, a missing parent fails the task. A listed directory's missing parents get its
      own owner, group and mode instead, as C(ansible.builtin.file) C(state=directory) gives them.
    type: raw
  diff_content:
    description: Whether diffs show file contents. The action plugin sets it false for a C(no_log) task.
    type: bool
    default: true
notes:
  - Supports check mode and diff mode.
  - Symbolic modes are not supported. SELinux contexts and file attributes are left alone. Links keep the remote
    user's ownership.
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Install the TLS material of the host in one call
  stackbench.cluster.install_files:
    directories:
      - {path: /etc/etcd/pki, owner: root, group: etcd, mode: "0750"}
    files:
      - {src: "{{ pki_ca_dir }}/ca.crt", dest: /etc/etcd/pki/ca.crt, owner: root, group: etcd, mode: "0644"}
      - {src: "{{ pki_ca_dir }}/issued/{{ inventory_hostname }}/member.key", dest: /etc/etcd/pki/member.key,
         owner: etcd, group: etcd, mode: "0600"}
  no_log: true

- name: Config files from text
  stackbench.cluster.install_files:
    parents_mode: "0755"
    files:
      - dest: /etc/example/a.conf
        content: "{{ lookup('ansible.builtin.template', 'a.conf.j2') }}"
        mode: "0644"
"""

RETURN = r"""
changed_dests:
  description: The files that were (or in check mode would be) written, chowned or chmodded, and the links that
    were (or would be) made or pointed elsewhere.
  type: list
  elements: str
  returned: always
changed_directories:
  description: The listed directories that were (or would be) created or changed.
  type: list
  elements: str
  returned: always
changes:
  description: For each changed path, what differed (created, content, owner, group, mode).
  type: dict
  returned: always
  sample: {"/etc/etcd/pki/member.crt": ["content"], "/etc/etcd/pki/member.key": ["mode"]}
"""

import base64
import binascii

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.install_files import InstallError, install

ARGUMENT_SPEC = {
    "files": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "dest": {"type": "path", "required": True},
            "src": {"type": "path"},
            "content": {"type": "str"},
            "encoding": {"type": "str", "choices": ["text", "base64"], "default": "text"},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "mode": {"type": "raw"},
        },
        "mutually_exclusive": [["src", "content"]],
        "required_one_of": [["src", "content"]],
    },
    "directories": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "path": {"type": "path", "required": True},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "mode": {"type": "raw"},
        },
    },
    "links": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "dest": {"type": "path", "required": True},
            "src": {"type": "str", "required": True},
        },
    },
    "parents_mode": {"type": "raw"},
    "diff_content": {"type": "bool", "default": True},
}


def _content(item: dict) -> bytes:
    if item.get("src") is not None:
        raise InstallError(f"{item['dest']}: src is read on the controller by the action plugin; "
                           "call stackbench.cluster.install_files as a task, not the module alone")
    if item["encoding"] == "base64":
        try:
            return base64.b64decode(item["content"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InstallError(f"{item['dest']}: content is not base64 ({exc})") from None
    return item["content"].encode("utf-8")


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        files = [dict(item, content=_content(item)) for item in p["files"]]
        result = install(files, p["directories"], parents_mode=p["parents_mode"], check_mode=module.check_mode,
                         want_diff=module._diff, diff_content=p["diff_content"], links=p["links"])
    except (InstallError, OSError) as exc:
        module.fail_json(msg=f"install_files: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
