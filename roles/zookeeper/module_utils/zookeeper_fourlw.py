"""ZooKeeper four-letter words: ask, parse, and judge an ensemble's health.

Pure functions (plus one socket call) shared by the zookeeper_ensemble_status module and
unit-tested without hosts. Facts used (ZooKeeper 3.8/3.9):
- `mntr` prints `zk_<key>\\t<value>` lines; `zk_server_state` is leader, follower,
  observer, standalone or read-only; only the leader prints `zk_synced_followers`.
- While a member has no quorum it answers `This ZooKeeper instance is not currently
  serving requests`.
"""

from __future__ import annotations

import socket
from typing import Any

NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
SERVING_STATES = ("leader", "follower", "observer", "standalone")


def ask(address: str, port: int | str, command: str, timeout: float = 3.0) -> str:
    """Send a four-letter word and return the whole reply as text."""
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


def _number(value: str) -> int | float | str:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def parse_mntr(text: str) -> dict[str, Any]:
    """`zk_key\\tvalue` lines -> {key: value}, numbers as numbers. Empty when not serving."""
    result: dict[str, Any] = {}
    for line in text.splitlines():
        if "\t" not in line:
            continue
        key, _, value = line.partition("\t")
        key = key.strip()
        if key.startswith("zk_"):
            result[key] = _number(value.strip())
    return result


def member_state(reply: str | None) -> dict[str, Any]:
    """One member's state from its `mntr` reply (None when it did not answer)."""
    if reply is None:
        return {"answered": False, "serving": False, "state": "down", "mntr": {}}
    mntr = parse_mntr(reply)
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
