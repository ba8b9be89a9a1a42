"""Filters deciding whether a play limited with --limit may change a quorum group.

A rolling restart of a quorum group (ZooKeeper, etcd, Mesos masters) restarts one member at a
time with the whole group's health checked in between; a play holding only some members would
restart them without that order and write member lists the others do not have. The decision is
a filter so every role takes it the same way and it has unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean


def _hosts(value: Any, name: str) -> list[str]:
    # A string would be iterated as characters: a host name where a list was meant.
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise AnsibleFilterError(f"limit_verdict: {name} must be a list of hosts, got {value!r}")
    return [str(h) for h in value]


def _flag(value: Any, name: str) -> bool:
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise AnsibleFilterError(f"limit_verdict: {name} must be a boolean, got {value!r}") from None


def limit_verdict(group_members: Iterable[str], play_hosts: Iterable[str], check_mode: Any = False,
                  allow: Any = False) -> dict[str, Any]:
    """Whether a play over `play_hosts` may go on changing the quorum group `group_members`.

    `partial` is true when the play holds some but not all members. Such a play proceeds only in
    check mode (nothing restarts) or when the operator allowed it (`allow`). A play with every
    member, or with none (the group's play gets no hosts), always proceeds.
    """
    members = _hosts(group_members, "group_members")
    in_play_set = set(_hosts(play_hosts, "play_hosts"))
    checking, allowed = _flag(check_mode, "check_mode"), _flag(allow, "allow")
    in_play = [m for m in members if m in in_play_set]
    limited_out = [m for m in members if m not in in_play_set]
    partial = bool(in_play) and bool(limited_out)
    if not partial:
        reason = "whole group" if in_play or not members else "no member"
    elif checking:
        reason = "check mode"
    elif allowed:
        reason = "allowed"
    else:
        reason = "refused"
    return {
        "in_play": in_play,
        "limited_out": limited_out,
        "partial": partial,
        "proceed": reason != "refused",
        "reason": reason,
    }


class FilterModule:
    """stackbench limit filters."""

    def filters(self) -> dict[str, Any]:
        return {"limit_verdict": limit_verdict}
