"""What every protocol parser here shares: the error for a reply that is not what a system sends,
and the one-leader rule.

Runs on managed hosts (modules) and on the controller (failover); standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class ParseError(ValueError):
    """A reply that is not what the system returns."""


def single_leader(modes: Mapping[str, str | None]) -> str | None:
    """The one member whose mode is `leader`; None when there is none or more than one."""
    leaders = [host for host, mode in modes.items() if mode == "leader"]
    return leaders[0] if len(leaders) == 1 else None


def release(version: str, what: str = "release") -> tuple[int, int, int]:
    """`X.Y.Z` (a leading v allowed, as kubectl and etcd print them) as a tuple of ints."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", str(version).strip())
    if not match:
        raise ParseError(f"not {what} X.Y.Z: {version!r}")
    return int(match[1]), int(match[2]), int(match[3])
