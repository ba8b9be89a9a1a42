#!/usr/bin/python
"""Ansible module: remove the iptables chains and rules a component left behind, nothing else."""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: netfilter_cleanup
version_added: "1.3.0"
short_description: Remove the iptables chains (by name prefix) and rules (by jump or comment) a component made
description:
  - Reads every table with C(iptables-save) and C(ip6tables-save), of each backend the host uses (nf_tables,
    and legacy when C(/proc/net/ip_tables_names) lists tables), and removes in one C(iptables-restore --noflush)
    per table every chain whose name starts with one of I(chain_prefixes) (flushed, then deleted), every rule of
    another chain that jumps to one of them, and every rule carrying one of I(comments).
  - Built-in chains and every other chain and rule stay, so Docker's or a firewall's rules are not touched.
  - Also deletes the nftables tables named in I(nft_tables) (kube-proxy's nftables mode) when C(nft) is there.
  - Idempotent; changed only when something was (or, in check mode, would be) removed.
options:
  chain_prefixes:
    description: Name prefixes of the chains to remove, e.g. C(KUBE-) or C(CNI-).
    type: list
    elements: str
    default: []
  comments:
    description: Remove the rules whose C(-m comment --comment) is one of these.
    type: list
    elements: str
    default: []
  families:
    description: Which of IPv4 (C(iptables)) and IPv6 (C(ip6tables)) to clean.
    type: list
    elements: str
    choices: [ipv4, ipv6]
    default: [ipv4, ipv6]
  nft_tables:
    description: nftables tables to delete when present, as C(FAMILY NAME) (e.g. C(ip kube-proxy)).
    type: list
    elements: str
    default: []
notes:
  - Supports check mode (reports what would be removed, removes nothing).
  - Needs root. A backend whose save command fails (no kernel support) is skipped and named in RV(skipped).
author:
  - stackbench contributors
"""

EXAMPLES = r"""
- name: Remove kube-proxy's and the kubelet's chains and every rule jumping to them
  stackbench.cluster.netfilter_cleanup:
    chain_prefixes: [KUBE-]
    nft_tables: [ip kube-proxy, ip6 kube-proxy]

- name: Remove the CNI plugins' chains and the pod egress masquerade rule
  stackbench.cluster.netfilter_cleanup:
    chain_prefixes: [CNI-]
    comments: [stackbench-pod-egress]
"""

RETURN = r"""
chains:
  description: The chains removed (or to remove, in check mode), as C(COMMAND TABLE CHAIN).
  type: list
  elements: str
  returned: always
  sample: ["iptables-nft nat KUBE-SERVICES"]
rules:
  description: The rules removed from chains that stay, as C(COMMAND TABLE RULE) (RULE as iptables-save writes it).
  type: list
  elements: str
  returned: always
  sample: ["iptables-nft nat -A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"]
nft_tables:
  description: The nftables tables deleted (or to delete).
  type: list
  elements: str
  returned: always
  sample: ["ip kube-proxy"]
skipped:
  description: Commands whose tables could not be read (with the reason).
  type: list
  elements: str
  returned: always
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stackbench.cluster.plugins.module_utils.netfilter import describe, nft_tables_present, plan

ARGUMENT_SPEC = {
    "chain_prefixes": {"type": "list", "elements": "str", "default": []},
    "comments": {"type": "list", "elements": "str", "default": []},
    "families": {"type": "list", "elements": "str", "choices": ["ipv4", "ipv6"], "default": ["ipv4", "ipv6"]},
    "nft_tables": {"type": "list", "elements": "str", "default": []},
}

# family -> (command stem, the /proc file that lists the legacy tables in use)
FAMILIES = {"ipv4": ("iptables", "/proc/net/ip_tables_names"), "ipv6": ("ip6tables", "/proc/net/ip6_tables_names")}


def _legacy_in_use(proc_file: str) -> bool:
    """Legacy tables are read only when the kernel already has some (reading them would load its modules)."""
    try:
        with open(proc_file, encoding="ascii") as handle:
            return bool(handle.read().strip())
    except OSError:
        return False


def commands(module: AnsibleModule, family: str) -> list[str]:
    """The iptables commands of `family` to read: each backend present, or the plain command."""
    stem, proc_file = FAMILIES[family]
    found = []
    if module.get_bin_path(f"{stem}-nft-save") and module.get_bin_path(f"{stem}-nft-restore"):
        found.append(f"{stem}-nft")
    if module.get_bin_path(f"{stem}-legacy-save") and _legacy_in_use(proc_file):
        found.append(f"{stem}-legacy")
    if not found and not module.get_bin_path(f"{stem}-legacy-save") and module.get_bin_path(f"{stem}-save"):
        found.append(stem)
    return found


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    result: dict[str, list[str]] = {"chains": [], "rules": [], "nft_tables": [], "skipped": []}
    for family in p["families"]:
        for command in commands(module, family):
            save = module.get_bin_path(f"{command}-save", required=True)
            rc, out, err = module.run_command([save])
            if rc != 0:
                result["skipped"].append(f"{command}-save: rc={rc} {err.strip()}")
                continue
            plans = plan(out, p["chain_prefixes"], p["comments"])
            found = describe(command, plans)
            result["chains"] += found["chains"]
            result["rules"] += found["rules"]
            if module.check_mode:
                continue
            restore = module.get_bin_path(f"{command}-restore", required=True)
            for table in plans:
                rc, _, err = module.run_command([restore, "--noflush"], data=table.restore_input(),
                                                binary_data=True)
                if rc != 0:
                    module.fail_json(msg=f"{command}-restore --noflush ({table.table}): {err.strip()}",
                                     input=table.restore_input(), **result)
    nft = module.get_bin_path("nft") if p["nft_tables"] else None
    if nft:
        rc, out, err = module.run_command([nft, "list", "tables"])
        if rc != 0:
            result["skipped"].append(f"nft list tables: rc={rc} {err.strip()}")
        else:
            for name in nft_tables_present(out, p["nft_tables"]):
                result["nft_tables"].append(name)
                if not module.check_mode:
                    module.run_command([nft, "delete", "table", *name.split()], check_rc=True)
    changed = bool(result["chains"] or result["rules"] or result["nft_tables"])
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
