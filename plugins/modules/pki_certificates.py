#!/usr/bin/python
"""Ansible module: every TLS key and certificate of one host, issued by the cluster CA, in one call."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pki_certificates
version_added: "1.2.0"
short_description: Keep one host's keys and certificates from the cluster CA right, in one call
description:
  - "Runs on the controller (C(delegate_to: localhost)) for one host. For every requested certificate it
    makes sure C(<ca_dir>/issued/<host>/<name>.key) exists (mode 0600, of the asked key type, curve or
    size; a key of another kind is replaced) and that C(<name>.crt) is still right, else (re)issues it
    signed by C(<ca_dir>/ca.crt) and C(ca.key)."
  - A certificate is still right when it parses, is issued by the current CA (issuer and signature), holds
    the key's public key, has the asked subject CN and O, SAN set and extended key usages, and is valid
    beyond now plus I(renew_before_days). A changed SAN list therefore re-issues it.
  - Issued certificates carry subject O (optional) and CN, the SANs, serverAuth/clientAuth from the usages,
    basicConstraints CA:FALSE, keyUsage digitalSignature and keyEncipherment (critical), subject and authority
    key identifiers, and are valid I(validity_days) from now.
  - Files are written atomically (temporary file and rename in the same directory); keys are 0600 from
    their creation. The result never holds key material. Needs the C(cryptography) library on the controller.
  - The CA itself is not made here (the pki role's ca.yml makes it); in check mode a missing CA reports
    every certificate as to be issued.
options:
  ca_dir:
    description: The CA directory on the controller (C(ca.crt), C(ca.key), C(issued/)).
    type: path
    required: true
  host:
    description: The host the certificates are for (its directory under C(issued/)), usually C(inventory_hostname).
    type: str
    required: true
  certificates:
    description: The certificates of the host, as the pki role's I(pki_certificates) lists them.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: File stem (C(NAME.key), C(NAME.crt)).
        type: str
        required: true
      common_name:
        description: Subject CN.
        type: str
        required: true
      organization:
        description: Subject O.
        type: str
      usages:
        description: C(server), C(client) or C(peer) (both); serverAuth and clientAuth follow.
        type: list
        elements: str
        required: true
      sans:
        description: Extra SANs, C(DNS:name) or C(IP:address).
        type: list
        elements: str
      host_sans:
        description: Whether I(host_sans) go into the certificate too (default true).
        type: bool
      dest_dir:
        description: Ignored here (where the pki role installs the files).
        type: raw
      owner:
        description: Ignored here (the owner on the host).
        type: raw
      group:
        description: Ignored here (the group on the host).
        type: raw
  host_sans:
    description: The SANs of the host (the role's I(pki_host_sans)); each certificate gets these plus its own
      I(sans), unique and sorted, unless its I(host_sans) is false.
    type: list
    elements: str
    default: []
  key_type:
    description: Type of the keys.
    type: str
    choices: [ECC, RSA]
    default: ECC
  key_curve:
    description: Curve of ECC keys.
    type: str
    default: secp256r1
  key_size:
    description: Size of RSA keys.
    type: int
    default: 2048
  validity_days:
    description: Validity of issued certificates in days.
    type: int
    default: 365
  renew_before_days:
    description: Re-issue a certificate that expires within this many days.
    type: int
    default: 30
  renew_issued_before:
    description:
      - Re-issue every certificate issued before this time (ISO 8601, e.g. C(2026-12-03T19:00:00Z)), whatever
        its expiry (a renewal asked for now). Empty for none.
    type: str
    default: ""
notes:
  - Supports check mode (reports what would change, writes nothing).
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Issue this host's certificates on the controller
  stackbench.cluster.pki_certificates:
    ca_dir: "{{ pki_ca_dir }}"
    host: "{{ inventory_hostname }}"
    host_sans: "{{ pki_host_sans }}"
    certificates:
      - name: member
        common_name: "{{ inventory_hostname }}"
        usages: [peer]
  delegate_to: localhost
  become: false
"""

RETURN = r"""
certificates:
  description: What each certificate needed, in the order asked. C(key) is unchanged, created, replaced or
    mode fixed; C(action) is unchanged, issued or mode fixed; C(reason) says why it was issued (missing,
    unreadable, issued by another CA, key differs, key created, key replaced, subject differs, sans differ,
    usages differ, expires within the renewal window, no CA yet).
  type: list
  elements: dict
  returned: always
  sample: [{"name": "apiserver", "key": "unchanged", "action": "issued", "reason": "sans differ"}]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.stackbench.cluster.plugins.module_utils.pki import KeySpec, PkiError, ensure_certificates
except ImportError:
    CRYPTOGRAPHY_ERROR: str | None = traceback.format_exc()
else:
    CRYPTOGRAPHY_ERROR = None

ARGUMENT_SPEC = {
    "ca_dir": {"type": "path", "required": True},
    "host": {"type": "str", "required": True},
    "certificates": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "name": {"type": "str", "required": True},
            "common_name": {"type": "str", "required": True},
            "organization": {"type": "str"},
            "usages": {"type": "list", "elements": "str", "required": True},
            "sans": {"type": "list", "elements": "str"},
            "host_sans": {"type": "bool"},
            # the role hands its whole pki_certificates items over; these are for install, not issue
            "dest_dir": {"type": "raw"},
            "owner": {"type": "raw"},
            "group": {"type": "raw"},
        },
    },
    "host_sans": {"type": "list", "elements": "str", "default": []},
    "key_type": {"type": "str", "choices": ["ECC", "RSA"], "default": "ECC"},
    "key_curve": {"type": "str", "default": "secp256r1"},
    "key_size": {"type": "int", "default": 2048},
    "validity_days": {"type": "int", "default": 365},
    "renew_before_days": {"type": "int", "default": 30},
    "renew_issued_before": {"type": "str", "default": ""},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if CRYPTOGRAPHY_ERROR is not None:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_ERROR)
    p = module.params
    certificates = [{k: v for k, v in c.items() if v is not None} for c in p["certificates"]]
    try:
        spec = KeySpec(type=p["key_type"], curve=p["key_curve"], size=p["key_size"])
        changed, outcomes = ensure_certificates(
            p["ca_dir"], p["host"], certificates, host_sans=p["host_sans"], spec=spec,
            validity_days=p["validity_days"], renew_before_days=p["renew_before_days"], check_mode=module.check_mode,
            renew_issued_before=p["renew_issued_before"])
    except (PkiError, OSError) as exc:
        module.fail_json(msg=f"pki_certificates: {exc}")
    module.exit_json(changed=changed, certificates=outcomes)


if __name__ == "__main__":
    main()
