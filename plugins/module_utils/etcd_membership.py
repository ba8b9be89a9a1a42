"""etcd membership: etcdctl's `-w json member list` and `endpoint health` parsed, and the decisions
of a membership change (join as learner, promote, remove without losing quorum, version upgrades).

Standard library only (runs on hosts and on the controller).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.common import release as common_release
from ansible_collections.stackbench.cluster.plugins.module_utils.etcd import _uint64

# Before a minor upgrade, every member must run at least this patch of the minor before (etcd's
# upgrade guides: 3.5 members on 3.5.32 or newer before 3.6, else "too many learner member").
MINOR_UPGRADE_PREREQUISITES: dict[tuple[int, int], tuple[int, int, int]] = {(3, 6): (3, 5, 32)}


def _json(text: str) -> Any:
    try:
        return json.loads(text)  # Python's json keeps uint64 ids exact
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc}") from None


def parse_member_list(text: str) -> list[dict[str, Any]]:
    """`etcdctl -w json member list` → members with id, hex_id, name, peer/client URLs, is_learner,
    started. A member added but never started has no name and no client URLs (omitempty)."""
    document = _json(text)
    if not isinstance(document, Mapping) or not isinstance(document.get("members", []), list):
        raise ParseError("member list: expected an object with a members list")
    members = []
    for item in document.get("members", []):
        if "ID" not in item:
            raise ParseError(f"member without ID: {item!r}")
        member_id = _uint64(item["ID"])
        client_urls = list(item.get("clientURLs") or [])
        members.append({
            "id": member_id,
            "hex_id": format(member_id, "x"),
            "name": item.get("name", ""),
            "peer_urls": list(item.get("peerURLs") or []),
            "client_urls": client_urls,
            "is_learner": bool(item.get("isLearner", False)),
            "started": bool(item.get("name")) and bool(client_urls),
        })
    return members


def parse_endpoint_health(text: str) -> dict[str, bool]:
    """`etcdctl -w json endpoint health` → {endpoint: healthy}. etcdctl prints the list and exits
    non-zero when one is unhealthy, so the caller parses stdout whatever the exit code."""
    document = _json(text)
    if isinstance(document, Mapping):
        document = [document]
    if not isinstance(document, list):
        raise ParseError("endpoint health: expected a list")
    return {str(item["endpoint"]): bool(item.get("health")) for item in document if "endpoint" in item}


def find_member(members: Iterable[Mapping[str, Any]], name: str = "", peer_url: str = "") -> dict[str, Any] | None:
    """The member with this peer URL, else the one with this name; None when neither is there."""
    members = list(members)
    for member in members:
        if peer_url and peer_url in member["peer_urls"]:
            return dict(member)
    for member in members:
        if name and member["name"] == name:
            return dict(member)
    return None


def healthy_member(member: Mapping[str, Any], health: Mapping[str, bool]) -> bool:
    return any(health.get(url, False) for url in member["client_urls"])


def quorum(voters: int) -> int:
    return voters // 2 + 1


def join_errors(members: list[Mapping[str, Any]], name: str, peer_url: str) -> list[str]:
    """Why `name` at `peer_url` cannot join as a learner now ([] when it can, or is already added)."""
    errors = []
    same_url = find_member(members, peer_url=peer_url)
    same_name = [m for m in members if m["name"] == name and peer_url not in m["peer_urls"]]
    if same_name:
        errors.append(f"a member named {name} already exists with peer URLs {same_name[0]['peer_urls']}: "
                      f"remove it first (it is a dead or replaced host: playbooks/etcd-recover.yml)")
    if same_url and same_url["started"] and same_url["name"] != name:
        errors.append(f"peer URL {peer_url} belongs to member {same_url['name']}, not {name}")
    other_learners = [m for m in members if m["is_learner"] and peer_url not in m["peer_urls"]]
    if other_learners and not same_url:
        errors.append(f"member {other_learners[0]['name'] or other_learners[0]['hex_id']} is still a learner: "
                      "etcd takes one learner at a time; let it catch up and be promoted (re-run), or remove it")
    return errors


def join_initial_cluster(members: Iterable[Mapping[str, Any]], name: str, peer_url: str) -> str:
    """ETCD_INITIAL_CLUSTER for a member joining an existing cluster: exactly the cluster's members
    (etcd refuses a list whose size differs), with the joining one under its own name."""
    pairs = []
    for member in members:
        if peer_url in member["peer_urls"]:
            continue
        if not member["name"]:
            raise ParseError(f"member {member['hex_id']} was added but never started: start or remove it first")
        pairs += [f"{member['name']}={url}" for url in member["peer_urls"]]
    pairs.append(f"{name}={peer_url}")
    return ",".join(pairs)


def removal_errors(members: list[Mapping[str, Any]], health: Mapping[str, bool], name: str) -> list[str]:
    """Why removing member `name` is refused: not a member, the last voting member, or a cluster
    without quorum before or after the removal (counting healthy voting members)."""
    target = find_member(members, name=name)
    if target is None:
        return [f"{name} is not a member of this etcd cluster (members: "
                f"{', '.join(m['name'] or m['hex_id'] for m in members)})"]
    voters = [m for m in members if not m["is_learner"]]
    healthy = [m for m in voters if healthy_member(m, health)]
    if target["is_learner"]:
        return []
    remaining = [m for m in voters if m["id"] != target["id"]]
    if not remaining:
        return [f"{name} is the last voting member: reset the cluster instead (playbooks/etcd-reset.yml)"]
    errors = []
    if len(healthy) < quorum(len(voters)):
        errors.append(f"the cluster has no quorum now ({len(healthy)} of {len(voters)} voting members healthy, "
                      f"{quorum(len(voters))} needed): a removal cannot be committed; bring members back, or "
                      "rebuild from a snapshot (playbooks/etcd-recover.yml -e etcd_restore_snapshot=...)")
    remaining_healthy = [m for m in remaining if healthy_member(m, health)]
    if len(remaining_healthy) < quorum(len(remaining)):
        unhealthy = [m["name"] or m["hex_id"] for m in remaining if m not in remaining_healthy]
        errors.append(f"removing {name} would lose quorum: {len(remaining_healthy)} of the {len(remaining)} "
                      f"remaining voting members are healthy, {quorum(len(remaining))} needed "
                      f"(unhealthy: {', '.join(unhealthy)}); recover those first")
    return errors


def leader_successor(members: list[Mapping[str, Any]], health: Mapping[str, bool], leaving_id: int) -> int | None:
    """A healthy voting member other than `leaving_id` to hand leadership to, or None."""
    for member in members:
        if member["id"] != leaving_id and not member["is_learner"] and healthy_member(member, health):
            return int(member["id"])
    return None


# ----- versions -----------------------------------------------------------------------------------


def release(version: str) -> tuple[int, int, int]:
    return common_release(version, "an etcd release")


def _text(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def version_errors(target: str, installed: Iterable[str], allow_downgrade: bool = False) -> list[str]:
    """Why moving members running `installed` to `target` breaks etcd's upgrade policy: one minor at
    a time, from a new enough patch, no minor downgrade (etcd's own `etcdctl downgrade` procedure is
    needed), and no patch downgrade unless forced. [] when allowed or nothing is installed."""
    wanted = release(target)
    releases = sorted({release(v) for v in installed})
    if not releases:
        return []
    errors = []
    oldest, newest = releases[0], releases[-1]
    if wanted[:2] < newest[:2]:
        errors.append(f"{target} is an older minor than the installed {_text(newest)}: a rolling downgrade of a "
                      "minor is refused (etcd needs its own procedure: `etcdctl downgrade validate/enable`)")
    elif wanted < newest and not allow_downgrade:
        errors.append(f"{target} is older than the installed {_text(newest)} (-e etcd_allow_downgrade=true forces a "
                      "patch downgrade)")
    if wanted[:2] > oldest[:2]:
        if wanted[0] != oldest[0] or wanted[1] - oldest[1] > 1:
            errors.append(f"{_text(oldest)} -> {target} skips a minor release: upgrade one minor at a time "
                          f"(first to the newest {oldest[0]}.{oldest[1] + 1}.x)")
        else:
            needed = MINOR_UPGRADE_PREREQUISITES.get(wanted[:2])
            behind = [v for v in releases if v[:2] == oldest[:2] and needed and v < needed]
            if needed and behind:
                errors.append(f"members on {', '.join(map(_text, behind))} must first move to {_text(needed)} or newer "
                              f"before {wanted[0]}.{wanted[1]} (etcd's upgrade guide)")
    return errors
