"""Removing the iptables chains and rules a component left behind (kube-proxy's KUBE-*, the CNI
plugins' CNI-*, a script's commented rule), read from `iptables-save` and removed with one
`iptables-restore --noflush` per table, so nothing else on the host is touched.

Runs on managed hosts (the netfilter_cleanup module); standard library only.

What goes, per table: every chain whose name starts with one of the prefixes (flushed, then
deleted), every rule of another chain that jumps (`-j`/`-g`) to one of those chains, and every rule
carrying one of the given comments. Built-in chains are never deleted, only their matching rules.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

BUILTIN_CHAINS = frozenset({"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"})


@dataclass
class TablePlan:
    """What to remove from one table of one iptables command."""

    table: str
    chains: list[str] = field(default_factory=list)  # user chains to flush and delete
    rules: list[str] = field(default_factory=list)  # `-A CHAIN ...` lines (as iptables-save wrote them) to delete

    @property
    def empty(self) -> bool:
        return not self.chains and not self.rules

    def restore_input(self) -> str:
        """The `iptables-restore --noflush` input that removes it: rules first, then flush, then delete."""
        lines = [f"*{self.table}"]
        lines += ["-D " + rule[len("-A "):] for rule in self.rules]
        lines += [f"-F {chain}" for chain in self.chains]
        lines += [f"-X {chain}" for chain in self.chains]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"


def _words(rule: str) -> list[str]:
    try:
        return shlex.split(rule)
    except ValueError:  # an unbalanced quote: fall back to plain words
        return rule.split()


def _target(words: list[str]) -> str | None:
    for flag in ("-j", "--jump", "-g", "--goto"):
        if flag in words:
            index = words.index(flag)
            if index + 1 < len(words):
                return words[index + 1]
    return None


def _comment(words: list[str]) -> str | None:
    if "--comment" in words:
        index = words.index("--comment")
        if index + 1 < len(words):
            return words[index + 1]
    return None


def plan(save_output: str, prefixes: Iterable[str], comments: Iterable[str] = ()) -> list[TablePlan]:
    """The tables of an `iptables-save` dump with something to remove, in dump order."""
    prefixes, comments = tuple(prefixes), set(comments)
    plans: list[TablePlan] = []
    current: TablePlan | None = None
    doomed: set[str] = set()
    rules: list[tuple[str, list[str]]] = []

    def finish() -> None:
        if current is None:
            return
        for line, words in rules:
            chain = words[1] if len(words) > 1 else ""
            if chain in doomed:
                continue  # goes with the flush of its chain
            if _target(words) in doomed or (comments and _comment(words) in comments):
                current.rules.append(line)
        if not current.empty:
            plans.append(current)

    for raw in save_output.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            finish()
            current, doomed, rules = TablePlan(table=line[1:]), set(), []
        elif current is None or not line or line.startswith("#"):
            continue
        elif line.startswith(":"):
            chain = line[1:].split()[0]
            if chain not in BUILTIN_CHAINS and chain.startswith(prefixes):
                doomed.add(chain)
                current.chains.append(chain)
        elif line.startswith("-A "):
            rules.append((line, _words(line)))
        elif line == "COMMIT":
            finish()
            current = None
    finish()
    return plans


def describe(command: str, plans: Iterable[TablePlan]) -> dict[str, list[str]]:
    """{"chains": ["iptables-nft nat KUBE-SERVICES", ...], "rules": ["iptables-nft nat -A ...", ...]}."""
    chains, rules = [], []
    for table in plans:
        chains += [f"{command} {table.table} {chain}" for chain in table.chains]
        rules += [f"{command} {table.table} {rule}" for rule in table.rules]
    return {"chains": chains, "rules": rules}


def nft_tables_present(list_output: str, wanted: Iterable[str]) -> list[str]:
    """Which of `wanted` ("ip kube-proxy", ...) `nft list tables` lists (lines "table ip kube-proxy")."""
    listed = {" ".join(line.split()[1:]) for line in list_output.splitlines() if line.startswith("table ")}
    return [name for name in wanted if " ".join(name.split()) in listed]
