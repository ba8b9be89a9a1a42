"""Release versions as the Go module proxy lists them (`go list -m -versions`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def parse_version(text: str) -> tuple[int, int, int]:
    """`v1.35.4` or `1.35.4` -> (1, 35, 4); pre-releases and junk are rejected."""
    match = _SEMVER.match(text.strip())
    if not match:
        raise ValueError(f"not a release version: {text!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def latest_patch(versions: Iterable[str], minor: str) -> str:
    """The newest release `minor`.N among `versions`."""
    want = tuple(int(p) for p in minor.split("."))
    found = []
    for item in versions:
        try:
            parsed = parse_version(item)
        except ValueError:
            continue
        if parsed[:2] == want:
            found.append(parsed)
    if not found:
        raise ValueError(f"no {minor}.x release among the versions given")
    return ".".join(str(part) for part in max(found))
