#!/usr/bin/python
"""Ansible module: the certificate report (text table, JSON, CSV) of every host's certificates."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: certificates_report
version_added: "1.3.0"
short_description: Write the certificate report of every host (text table, JSON and CSV)
description:
  - Joins what M(stackbench.cluster.certificates_scan) found on each host into one row per certificate (host,
    path, subject, issuer, not after, days left; the JSON and CSV also have the serial, not before and source),
    sorted by host and path, and writes them as C(DEST.txt), C(DEST.json) and C(DEST.csv).
  - "Runs on the controller (C(delegate_to: localhost) or a localhost play). Writes in check mode too (a report,
    like playbooks/capacity.yml's); the files are new each run (DEST carries a timestamp), so it reports changed."
options:
  certificates:
    description: A mapping of host to the certificates found there, each as certificates_scan returns it.
    type: dict
    required: true
  dest:
    description: Path of the report without its extension; the directory is created (0755).
    type: path
    required: true
  warn_days:
    description: Certificates with this many days left or fewer are listed in RV(summary.expiring).
    type: int
    default: 30
  unreachable:
    description: Hosts that could not be scanned, recorded in the JSON report.
    type: list
    elements: str
    default: []
notes:
  - Supports check mode (writes the report anyway, as it changes no host).
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Write the certificate report
  stackbench.cluster.certificates_report:
    certificates: "{{ dict(hosts | zip(hosts | map('extract', hostvars, ['certs', 'certificates']))) }}"
    dest: "{{ playbook_dir }}/../results/kubernetes-certs-{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}"
  delegate_to: localhost
"""

RETURN = r"""
rows:
  description: One row per certificate, sorted by host and path.
  type: list
  elements: dict
  returned: always
  sample: [{"host": "cp1", "path": "/etc/etcd/pki/member.crt", "subject": "CN=cp1",
            "issuer": "CN=stackbench-etcd cluster CA", "not_after": "2027-12-02T06:30:00Z", "days_left": 364}]
table:
  description: The text table, a line each (as written to DEST.txt).
  type: list
  elements: str
  returned: always
files:
  description: The files written.
  type: list
  elements: str
  returned: always
  sample: [results/kubernetes-certs-20261202T063000Z.txt]
summary:
  description: Counts, the soonest expiry and the certificates within I(warn_days).
  type: dict
  returned: always
  sample:
    certificates: 42
    hosts: 5
    soonest: {host: cp1, path: /etc/etcd/pki/member.crt, not_after: "2027-12-02T06:30:00Z", days_left: 364}
    expiring: []
"""

import datetime
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.install_files import write_atomic
from ansible_collections.stackbench.cluster.plugins.module_utils.x509_report import csv_text, rows, summary, table

ARGUMENT_SPEC = {
    "certificates": {"type": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "warn_days": {"type": "int", "default": 30},
    "unreachable": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    by_host = {host: list(certs or []) for host, certs in p["certificates"].items()}
    report_rows = rows(by_host)
    text = table(report_rows)
    report = {"collected_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "summary": summary(report_rows, p["warn_days"]), "unreachable_hosts": sorted(p["unreachable"]),
              "certificates": report_rows}
    dest = p["dest"]
    try:
        os.makedirs(os.path.dirname(dest) or ".", mode=0o755, exist_ok=True)
        files = []
        for ext, content in (("txt", text), ("json", json.dumps(report, indent=2) + "\n"),
                             ("csv", csv_text(report_rows))):
            write_atomic(f"{dest}.{ext}", content.encode(), mode=0o644)
            files.append(f"{dest}.{ext}")
    except OSError as exc:
        module.fail_json(msg=f"certificates_report: {exc}")
    module.exit_json(changed=True, rows=report_rows, table=text.splitlines(), files=files,
                     summary=report["summary"])


if __name__ == "__main__":
    main()
