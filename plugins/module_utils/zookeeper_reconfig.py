"""ZooKeeper dynamic reconfiguration (3.5+): membership lines, zoo.cfg as ZooKeeper rewrites it, plans.

Standard library only (runs on managed hosts and on the controller). Facts used (ZooKeeper 3.8):
- A dynamic config line is `server.<id>=<address>:<quorum>:<election>[:<role>][;[<client address>:]<port>]`,
  role `participant` (default) or `observer`; `version=<hex>` names the config's version.
- The 4lw `conf` prints the static settings, then (reconfigEnabled) the membership lines and
  `version=<hex>`; `/zookeeper/config` holds the same membership lines.
- On every config change ZooKeeper writes `zoo.cfg.dynamic.<version>` and rewrites zoo.cfg
  (QuorumPeerConfig.editStaticConfig): key=value lines only (comments and order lost), `server.*`
  dropped, `dynamicConfigFile=` pointing at the new file, `clientPort`/`clientPortAddress` dropped
  when the member's own dynamic line carries its client address. The role compares settings, not
  bytes, so that rewrite is not a change.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError

_SERVER = re.compile(
    r"^server\.(?P<id>\d+)\s*=\s*(?P<address>[^:;\s]+):(?P<quorum>\d+):(?P<election>\d+)"
    r"(?::(?P<role>participant|observer))?(?:;(?P<client>\S+))?\s*$"
)
# What ZooKeeper itself moves or rewrites in zoo.cfg; everything else is the role's to manage.
ZOOKEEPER_OWNED_KEYS = ("dynamicConfigFile", "clientPort", "clientPortAddress")
OWNED_PREFIXES = ("server.", "group.", "weight.")


def parse_properties(text: str) -> dict[str, str]:
    """zoo.cfg as ZooKeeper reads it (java.util.Properties, the simple `key=value` form)."""
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if sep:
            settings[key.strip()] = value.strip()
    return settings


def managed_settings(settings: Mapping[str, str]) -> dict[str, str]:
    """The settings the role owns: without membership and the keys ZooKeeper rewrites."""
    return {k: v for k, v in settings.items()
            if k not in ZOOKEEPER_OWNED_KEYS and not k.startswith(OWNED_PREFIXES)}


def static_config_in_sync(current: str, desired: str) -> bool:
    """Whether zoo.cfg on the host says what the role would write, ignoring ZooKeeper's own rewrite."""
    return managed_settings(parse_properties(current)) == managed_settings(parse_properties(desired))


def static_config(desired: str, dynamic_file: str) -> str:
    """The role's zoo.cfg text plus the pointer to the dynamic file."""
    return desired.rstrip("\n") + f"\ndynamicConfigFile={dynamic_file}\n"


def parse_server_line(line: str) -> dict[str, Any] | None:
    match = _SERVER.match(line.strip())
    if not match:
        return None
    return {
        "id": int(match["id"]),
        "address": match["address"],
        "quorum_port": int(match["quorum"]),
        "election_port": int(match["election"]),
        "role": match["role"] or "participant",
        "client": match["client"] or "",
        "line": line.strip(),
    }


def parse_membership(text: str) -> dict[str, Any]:
    """`conf`, `/zookeeper/config` or a dynamic file → {version, servers: [...] by id}.

    Raises ParseError when the text names no server (reconfig disabled, or not a config).
    """
    servers: dict[int, dict[str, Any]] = {}
    version = ""
    for line in text.splitlines():
        parsed = parse_server_line(line)
        if parsed:
            servers[parsed["id"]] = parsed
        elif line.strip().startswith("version="):
            version = line.strip().partition("=")[2]
    if not servers:
        raise ParseError("no server.N lines (is reconfigEnabled=true on this member?)")
    return {"version": version, "servers": [servers[i] for i in sorted(servers)]}


def version_number(version: str) -> int:
    """A config version (hex zxid, "" for none) as a number to compare."""
    try:
        return int(version, 16)
    except ValueError:
        return -1


def server_line(member: Mapping[str, Any], quorum_port: int, election_port: int, client_port: int) -> str:
    """The dynamic config line the role writes for a member (participant, client port on every address)."""
    return (f"server.{member['id']}={member['address']}:{quorum_port}:{election_port}"
            f":participant;{client_port}")


def super_digest(password: str, user: str = "super") -> str:
    """`DigestAuthenticationProvider.superDigest` value: `user:base64(sha1(user:password))`."""
    digest = hashlib.sha1(f"{user}:{password}".encode()).digest()  # noqa: S324 - ZooKeeper's scheme
    return f"{user}:{base64.b64encode(digest).decode('ascii')}"


def membership_plan(live: Iterable[Mapping[str, Any]], wanted: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Compare the live membership with the inventory's members ({name, id, address}).

    Returns `add` (inventory members the ensemble lacks, by id order), `live` (names of the
    inventory members in the ensemble), `unknown` (live ids no inventory member has: remove them
    first), `mismatched` (same id, another address).
    """
    live_by_id = {int(s["id"]): s for s in live}
    wanted_list = sorted(wanted, key=lambda m: int(m["id"]))
    wanted_ids = {int(m["id"]) for m in wanted_list}
    add = [m for m in wanted_list if int(m["id"]) not in live_by_id]
    mismatched = [
        f"{m['name']} (id {m['id']}): inventory address {m['address']}, "
        f"ensemble has {live_by_id[int(m['id'])]['address']}"
        for m in wanted_list
        if int(m["id"]) in live_by_id and live_by_id[int(m["id"])]["address"] != str(m["address"])
    ]
    unknown = [int(i) for i in sorted(live_by_id) if i not in wanted_ids]
    names = [m["name"] for m in wanted_list if int(m["id"]) in live_by_id]
    return {"add": add, "live": names, "unknown": unknown, "mismatched": mismatched}


def removal_errors(
    members: Iterable[Mapping[str, Any]],
    remove: Iterable[str],
    live_ids: Iterable[int],
    serving: Iterable[str],
    dynamic: bool,
) -> list[str]:
    """Why removing `remove` (inventory names) from the ensemble is refused; [] when it is safe.

    `members`: the inventory's members ({name, id}); `live_ids`: the ids in the ensemble's
    config; `serving`: names of the members that serve now. Quorum rule: the members kept that
    serve must be a strict majority of the new membership.
    """
    members = list(members)
    remove = [r for r in remove if r]
    by_name = {m["name"]: m for m in members}
    live = {int(i) for i in live_ids}
    if not dynamic:
        return ["zookeeper_dynamic_reconfig is false: members can only be removed by reconfig on an ensemble "
                "with dynamic reconfiguration (set zookeeper_dynamic_reconfig: true and run playbooks/zookeeper.yml)"]
    if not remove:
        return ["zookeeper_remove_members is empty: name the members to remove, "
                "e.g. -e zookeeper_remove_members=zk4,zk5"]
    errors: list[str] = []
    for name in remove:
        if name not in by_name:
            errors.append(f"{name} is not in the inventory group (members: {', '.join(by_name) or 'none'})")
        elif int(by_name[name]["id"]) not in live:
            errors.append(f"{name} (id {by_name[name]['id']}) is not a live member of the ensemble "
                          f"(live ids: {', '.join(str(i) for i in sorted(live)) or 'none'})")
    if errors:
        return errors
    removed_ids = {int(by_name[n]["id"]) for n in remove}
    kept = live - removed_ids
    if not kept:
        return ["that would remove every member of the ensemble; keep at least one (playbooks/zookeeper.yml "
                "cannot reset an ensemble)"]
    serving_kept = [m["name"] for m in members if m["name"] in set(serving) and int(m["id"]) in kept]
    if len(serving_kept) * 2 <= len(kept):
        return [f"quorum would be lost: of the {len(kept)} member(s) kept, only {len(serving_kept)} serve "
                f"({', '.join(serving_kept) or 'none'}), not a strict majority; bring members back first"]
    return []


def version_change_error(current: str, wanted: str, allow_downgrade: bool) -> str:
    """Why moving an installed release to `wanted` is refused ("" when it is allowed or nothing is installed)."""
    if not current or current == wanted:
        return ""
    try:
        old = tuple(int(p) for p in current.split("."))
        new = tuple(int(p) for p in wanted.split("."))
    except ValueError:
        return f"cannot compare ZooKeeper versions {current!r} and {wanted!r} (want X.Y.Z)"
    if new < old and not allow_downgrade:
        return (f"{wanted} is older than the installed {current}: a downgrade may not read the newer data "
                "files; pass -e zookeeper_allow_downgrade=true to take that responsibility")
    if new > old and (new[0] != old[0] or new[1] - old[1] > 1):
        return (f"{current} -> {wanted} skips a minor release: upgrade one minor at a time "
                f"(first to the newest {old[0]}.{old[1] + 1}.x)")
    return ""
