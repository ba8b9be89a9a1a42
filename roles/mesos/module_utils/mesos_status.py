"""Pure logic of the Mesos master status checks (unit-tested in tests/unit/test_mesos_status.py)."""

from __future__ import annotations

import json
import urllib.request


def summarize_masters(snapshots: dict[str, dict | None]) -> dict:
    """Cluster view from each master's `/metrics/snapshot` (None: unreachable).

    Healthy: every master answers, exactly one says `master/elected` = 1, and that one has
    recovered its registrar (`registrar/log/recovered` = 1), as api-surfaces §7.2 advises.
    """
    reachable = sorted(m for m, s in snapshots.items() if s is not None)
    leaders = sorted(m for m, s in snapshots.items() if s and s.get("master/elected") == 1.0)
    leader = leaders[0] if len(leaders) == 1 else None
    recovered = bool(leader and snapshots[leader].get("registrar/log/recovered") == 1.0)
    return {
        "leader": leader,
        "leaders": leaders,
        "reachable": reachable,
        "unreachable": sorted(set(snapshots) - set(reachable)),
        "recovered": recovered,
        "agents_active": int(snapshots[leader].get("master/slaves_active", 0)) if leader else 0,
        "healthy": len(reachable) == len(snapshots) and leader is not None and recovered,
    }


def fetch_snapshot(url: str, timeout: float = 3.0) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None
