"""ZooKeeper four-letter words: ask a member, parse `mntr`/`srvr`/`conf`, judge a member and an ensemble.

One parser for the zookeeper_ensemble_status module (on hosts) and the failover runs (on the
controller); standard library only. Facts used (ZooKeeper 3.8/3.9):
- `mntr` prints `zk_<key>\\t<value>` lines; `zk_server_state` is leader, follower, observer,
  standalone or read-only; only the leader prints `zk_synced_followers`.
- While a member has no quorum it answers `This ZooKeeper instance is not currently serving
  requests`; a word left out of `4lw.commands.whitelist` is answered with a refusal.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError

NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
NOT_WHITELISTED = "is not executed because it is not in the whitelist"
SERVING_STATES = ("leader", "follower", "observer", "standalone")


def ask(address: str, port: int | str, command: str, timeout: float = 3.0) -> str:
    """Send a four-letter word and return the whole reply as text (OSError when nobody answers)."""
    chunks: list[bytes] = []
    with socket.create_connection((address, int(port)), timeout=timeout) as conn:
        conn.settimeout(timeout)
        conn.sendall(command.encode("ascii"))
        while True:
            data = conn.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def ask_or_none(address: str, port: int | str, command: str, timeout: float = 1.0) -> str | None:
    """`ask`, with None for a member that does not answer (down, partitioned, wrong port)."""
    try:
        return ask(address, port, command, timeout)
    except (OSError, ValueError):
        return None


def mntr_values(text: str) -> dict[str, str]:
    """The `zk_key\\tvalue` lines of a reply as text; no judgement of what the reply means."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        key = key.strip()
        if sep and key.startswith("zk_"):
            values[key] = value.strip()
    return values


def parse_mntr(text: str) -> dict[str, str] | None:
    """`mntr` → {key: value}; None while the server is not serving (no quorum, election).

    Raises ParseError when mntr is not whitelisted or the reply is not mntr output.
    """
    if NOT_SERVING in text:
        return None
    if NOT_WHITELISTED in text:
        raise ParseError("mntr is not in 4lw.commands.whitelist on this server")
    values = mntr_values(text)
    if "zk_server_state" not in values:
        raise ParseError(f"not mntr output: {text[:80]!r}")
    return values


def _number(value: str) -> int | float | str:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def mntr_numbers(values: Mapping[str, str]) -> dict[str, Any]:
    """mntr values with numbers as numbers (for a module's result)."""
    return {key: _number(value) for key, value in values.items()}


def parse_srvr(text: str) -> str | None:
    """`srvr`/`stat` → the Mode (leader, follower, observer, standalone, read-only); None if not serving."""
    if NOT_SERVING in text:
        return None
    match = re.search(r"^Mode: (\S+)", text, re.MULTILINE)
    if not match:
        raise ParseError(f"not srvr output: {text[:80]!r}")
    return match.group(1)


def parse_conf(text: str) -> dict[str, str]:
    """`conf` → {setting: value} (tickTime, initLimit, syncLimit, maxSessionTimeout, ...)."""
    settings: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            settings[key.strip()] = value.strip()
    return settings


def zk_mode(mntr: Mapping[str, str] | None) -> str | None:
    return None if mntr is None else mntr.get("zk_server_state")


def member_state(reply: str | None) -> dict[str, Any]:
    """One member's state from its `mntr` reply (None when it did not answer)."""
    if reply is None:
        return {"answered": False, "serving": False, "state": "down", "mntr": {}}
    mntr = mntr_numbers(mntr_values(reply))
    state = str(mntr.get("zk_server_state", "not-serving"))
    if NOT_SERVING in reply or not mntr:
        state = "not-serving"
    return {"answered": True, "serving": state in SERVING_STATES, "state": state, "mntr": mntr}


def ensemble_health(states: dict[str, dict[str, Any]], voters: int | None = None) -> dict[str, Any]:
    """Judge an ensemble from {member name: member_state(...)}.

    Healthy means: every member serves; a single member is standalone; otherwise there is
    exactly one leader and its `zk_synced_followers` counts every other voter.
    """
    names = list(states)
    voters = len(names) if voters is None else int(voters)
    leaders = [n for n in names if states[n]["state"] == "leader"]
    followers = [n for n in names if states[n]["state"] == "follower"]
    not_serving = [n for n in names if not states[n]["serving"]]
    synced = None
    if len(leaders) == 1:
        synced = states[leaders[0]]["mntr"].get("zk_synced_followers")
    if voters == 1:
        healthy = bool(names) and not not_serving and states[names[0]]["state"] == "standalone"
    else:
        healthy = not not_serving and len(leaders) == 1 and synced == voters - 1
    reasons: list[str] = []
    if not_serving:
        reasons.append("not serving: " + ", ".join(f"{n} ({states[n]['state']})" for n in not_serving))
    if voters > 1 and len(leaders) != 1:
        reasons.append(f"leaders: {len(leaders)} (want 1)")
    if voters > 1 and len(leaders) == 1 and synced != voters - 1:
        reasons.append(f"synced followers on the leader: {synced} (want {voters - 1})")
    return {
        "healthy": bool(healthy),
        "leader": leaders[0] if len(leaders) == 1 else None,
        "leaders": leaders,
        "followers": followers,
        "synced_followers": synced,
        "not_serving": not_serving,
        "reason": "; ".join(reasons) or "ok",
    }
