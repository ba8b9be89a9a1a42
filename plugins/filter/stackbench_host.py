"""Filters that read facts about a host from /proc text (capabilities)."""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

# Bit numbers from linux/capability.h; only those roles ask about.
CAPABILITY_BITS = {
    "CAP_NET_ADMIN": 12,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_RESOURCE": 24,
}


def has_capability(proc_status: str, capability: str, field: str = "CapBnd") -> bool:
    """Whether `field` (CapBnd, CapEff, ...) of a /proc/<pid>/status text holds `capability`."""
    if capability not in CAPABILITY_BITS:
        raise AnsibleFilterError(f"has_capability: unknown capability {capability!r}; "
                                 f"known: {', '.join(CAPABILITY_BITS)}")
    match = re.search(rf"^{re.escape(field)}:\s*([0-9a-fA-F]+)\s*$", proc_status, re.M)
    if not match:
        raise AnsibleFilterError(f"has_capability: no {field} line in the given /proc status text")
    return bool(int(match.group(1), 16) >> CAPABILITY_BITS[capability] & 1)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"has_capability": has_capability}
