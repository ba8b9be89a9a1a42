"""Filters of the zookeeper role: checksum files, heap sizing, ensemble checks, restart order."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.module_utils import zookeeper_reconfig as reconfig

_HEX512 = re.compile(r"^[0-9a-fA-F]{128}$")


def zookeeper_sha512(text: str, file_name: str = "") -> str:
    """The SHA-512 (lower-case hex) for `file_name` from an Apache `.sha512` file.

    Accepts the forms Apache projects publish:
    - `sha512sum`: `<hex>  <name>` or `<hex> *<name>` (one or more lines), or a bare `<hex>`;
    - BSD: `SHA512 (<name>) = <hex>`;
    - `gpg --print-md SHA512`: `<name>: 1234ABCD 5678...` wrapped over several lines.
    """
    text = text.strip()
    if not text:
        raise AnsibleFilterError("zookeeper_sha512: the checksum file is empty")
    bsd = re.findall(r"^SHA512 \((.+)\) = ([0-9a-fA-F]{128})\s*$", text, re.M)
    if bsd:
        return _pick([(name, digest) for name, digest in bsd], file_name)
    gpg = re.match(r"^(\S+?):\s*((?:[0-9a-fA-F]{4,}\s*)+)$", text, re.S)
    if gpg:
        digest = re.sub(r"\s+", "", gpg.group(2))
        if _HEX512.match(digest):
            return _pick([(gpg.group(1), digest)], file_name)
    pairs = []
    for line in text.splitlines():
        fields = line.split(None, 1)
        if not fields:
            continue
        if not _HEX512.match(fields[0]):
            raise AnsibleFilterError(f"zookeeper_sha512: not a SHA-512 checksum line: {line!r}")
        name = fields[1].strip().lstrip("*") if len(fields) > 1 else ""
        pairs.append((name, fields[0]))
    return _pick(pairs, file_name)


def _pick(pairs: list[tuple[str, str]], file_name: str) -> str:
    if len(pairs) == 1 and (not file_name or not pairs[0][0] or pairs[0][0].endswith(file_name)):
        return pairs[0][1].lower()
    for name, digest in pairs:
        if file_name and (name == file_name or name.rsplit("/", 1)[-1] == file_name):
            return digest.lower()
    raise AnsibleFilterError(
        f"zookeeper_sha512: no checksum for {file_name!r} in the file (it lists {[n for n, _ in pairs]})")


def zookeeper_heap_mb(memtotal_mb: int | str, fraction: float | str = 0.25, min_mb: int | str = 256,
                      max_mb: int | str = 1024) -> int:
    """JVM heap in MiB: `fraction` of host memory, clamped to [min_mb, max_mb]."""
    memory, share, low, high = int(memtotal_mb), float(fraction), int(min_mb), int(max_mb)
    if memory <= 0 or not 0 < share <= 1 or low <= 0 or high < low:
        raise AnsibleFilterError(
            f"zookeeper_heap_mb: bad input memory={memory} fraction={share} min={low} max={high}")
    return max(low, min(high, int(memory * share)))


def zookeeper_ensemble_errors(members: Iterable[Mapping[str, Any]]) -> list[str]:
    """What is wrong with an ensemble [{name, id}, ...]: even size, bad or duplicate ids."""
    members = list(members)
    errors = []
    count = len(members)
    if count == 0:
        errors.append("the ensemble has no members")
    elif count % 2 == 0:
        errors.append(f"the ensemble has {count} members: use an odd number (1 for standalone, 3, 5, ...); "
                      f"{count} members tolerate no more failures than {count - 1}")
    seen: dict[int, str] = {}
    for member in members:
        name, raw = member.get("name"), member.get("id")
        try:
            ident = int(raw)
        except (TypeError, ValueError):
            errors.append(f"{name}: zookeeper_id {raw!r} is not an integer")
            continue
        if str(raw).strip() != str(ident) or not 1 <= ident <= 255:
            errors.append(f"{name}: zookeeper_id {raw!r} is out of range (1-255)")
            continue
        if ident in seen:
            errors.append(f"{name}: zookeeper_id {ident} is already used by {seen[ident]}")
        else:
            seen[ident] = name
    return errors


def zookeeper_restart_order(members: Iterable[str], pending: Iterable[str], leader: str | None) -> list[str]:
    """Members to restart, in group order, followers first and the leader last."""
    pending_set = set(pending)
    wanted = [m for m in members if m in pending_set]
    return [m for m in wanted if m != leader] + [m for m in wanted if m == leader]


def zookeeper_super_digest(password: str) -> str:
    """The `DigestAuthenticationProvider.superDigest` value for the superuser password."""
    if not password:
        raise AnsibleFilterError("zookeeper_super_digest: the password is empty")
    return reconfig.super_digest(password)


def zookeeper_server_line(member: Mapping[str, Any], quorum_port: int, election_port: int, client_port: int) -> str:
    """The dynamic config line of a member ({id, address})."""
    return reconfig.server_line(member, int(quorum_port), int(election_port), int(client_port))


def zookeeper_membership_plan(live: Iterable[Mapping[str, Any]],
                              members: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What the group adds to the live membership; live ids the group lacks; changed addresses."""
    return reconfig.membership_plan(live, members)


def zookeeper_removal_errors(members: Iterable[Mapping[str, Any]], remove: Any, live_ids: Iterable[int],
                             serving: Iterable[str], dynamic: bool) -> list[str]:
    """Why removing members is refused ([] when the ensemble keeps its quorum)."""
    names = [n.strip() for n in remove.split(",")] if isinstance(remove, str) else [str(n) for n in remove]
    return reconfig.removal_errors(members, names, live_ids, serving, bool(dynamic))


def zookeeper_version_error(installed: str, wanted: str, allow_downgrade: bool = False) -> str:
    """Why moving the installed release to `wanted` is refused ("" when allowed)."""
    return reconfig.version_change_error(installed or "", str(wanted), bool(allow_downgrade))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "zookeeper_sha512": zookeeper_sha512,
            "zookeeper_heap_mb": zookeeper_heap_mb,
            "zookeeper_ensemble_errors": zookeeper_ensemble_errors,
            "zookeeper_restart_order": zookeeper_restart_order,
            "zookeeper_super_digest": zookeeper_super_digest,
            "zookeeper_server_line": zookeeper_server_line,
            "zookeeper_membership_plan": zookeeper_membership_plan,
            "zookeeper_removal_errors": zookeeper_removal_errors,
            "zookeeper_version_error": zookeeper_version_error,
        }
