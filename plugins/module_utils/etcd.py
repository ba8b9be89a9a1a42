"""etcd maintenance status: etcdctl's `-w json endpoint status` and the gRPC gateway's
`/v3/maintenance/status`, parsed with their uint64 ids exact, and the leader the members agree on.

Standard library only (runs on hosts and on the controller).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError


def _uint64(value: Any) -> int:
    """etcdctl prints uint64 ids as JSON numbers, the gRPC gateway as strings: both → int."""
    if isinstance(value, bool):
        raise ParseError(f"not an id: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, float):  # a parser that went through float has lost precision
        raise ParseError(f"id {value!r} was decoded as a float: ids are uint64, parse them as integers")
    raise ParseError(f"not an id: {value!r}")


def etcd_status(status: Mapping[str, Any], endpoint: str = "") -> dict[str, Any]:
    """One StatusResponse (etcdctl `Status` object or a gateway reply) → member_id, leader, term.

    Zero-valued fields are omitted by the encoders (omitempty), so a missing `leader` is 0 (no
    leader known) and a missing `isLearner` is false.
    """
    header = status.get("header") or {}
    if "member_id" not in header:
        raise ParseError("status has no header.member_id")
    member_id = _uint64(header["member_id"])
    leader = _uint64(status.get("leader", 0))
    term = status.get("raftTerm", status.get("raft_term", header.get("raft_term", 0)))
    return {
        "endpoint": endpoint,
        "member_id": member_id,
        "leader_id": leader,
        "is_leader": leader != 0 and leader == member_id,
        "raft_term": int(term),
        "is_learner": bool(status.get("isLearner", status.get("is_learner", False))),
        "version": status.get("version"),
        "errors": list(status.get("errors", [])),
    }


def etcd_mode(status: Mapping[str, Any]) -> str:
    """A parsed status as a member mode: leader, follower (knows a leader) or candidate (knows none)."""
    return "leader" if status["is_leader"] else "follower" if status["leader_id"] else "candidate"


def parse_etcd_endpoint_status(text: str) -> list[dict[str, Any]]:
    """`etcdctl -w json endpoint status [--cluster]` → one status per endpoint (ids exact)."""
    try:
        document = json.loads(text)  # Python's json keeps big integers exact
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if isinstance(document, dict):
        document = [document]
    return [etcd_status(item["Status"], item.get("Endpoint", "")) for item in document]


def etcd_agreed_leader(statuses: Iterable[Mapping[str, Any]]) -> int | None:
    """The leader id every answering member agrees on (same leader and term), or None."""
    seen = {(s["leader_id"], s["raft_term"]) for s in statuses}
    if len(seen) != 1:
        return None
    leader, _ = seen.pop()
    return leader or None
