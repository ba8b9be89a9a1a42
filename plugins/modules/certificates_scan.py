#!/usr/bin/python
"""Ansible module: every X.509 certificate under some paths of a host, with its subject, issuer and expiry."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: certificates_scan
version_added: "1.3.0"
short_description: List the X.509 certificates under some paths, with subject, issuer, serial and expiry
description:
  - Walks I(paths) (files, or directories searched recursively) for certificate files (C(*.crt), C(*.pem),
    C(*.cert), C(*.cer); one entry per C(CERTIFICATE) block) and kubeconfigs (C(kubeconfig), C(*.kubeconfig),
    C(*.conf), C(config)), whose embedded C(client-certificate-data) and C(certificate-authority-data) are read too.
  - Reads each certificate with a small DER reader of the standard library, so the host needs no crypto
    library. Key material is never read or returned (only CERTIFICATE blocks are decoded; files named like keys
    are skipped). Paths that do not exist are skipped.
  - "Runs on managed hosts and on the controller alike (C(delegate_to: localhost) for the cluster CA); changes nothing."
options:
  paths:
    description: Files and directories to look in.
    type: list
    elements: path
    required: true
notes:
  - Supports check mode (it only reads).
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: List the certificates the pki role installed on this host
  stackbench.cluster.certificates_scan:
    paths: [/etc/etcd/pki, /etc/kubernetes, /var/lib/kubelet/pki]
  become: true
  register: certs

- name: And the cluster CA and issued certificates on the controller
  stackbench.cluster.certificates_scan:
    paths: ["{{ ansible_inventory_sources | stackbench.cluster.inventory_state_dir }}"]
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
certificates:
  description: One entry per certificate, sorted by path.
  type: list
  elements: dict
  returned: always
  sample:
    - path: /etc/kubernetes/pki/apiserver.crt
      subject: CN=kube-apiserver
      issuer: CN=stackbench-kubernetes cluster CA
      serial: 5d1f0c...
      not_before: "2026-12-02T06:30:00Z"
      not_after: "2027-12-02T06:30:00Z"
      days_left: 364
      source: file
errors:
  description: Files that looked like certificates or kubeconfigs but could not be read or parsed.
  type: list
  elements: dict
  returned: always
  sample: [{"path": "/etc/kubernetes/pki/broken.crt", "error": "truncated value"}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.x509_report import scan

ARGUMENT_SPEC = {"paths": {"type": "list", "elements": "path", "required": True}}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    found, errors = scan(module.params["paths"])
    module.exit_json(changed=False, certificates=[c.as_dict() for c in sorted(found, key=lambda c: c.path)],
                     errors=errors)


if __name__ == "__main__":
    main()
