"""Pure logic of the Marathon status checks (unit-tested in tests/unit/test_mesos_status.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def summarize_instances(answers: dict[str, dict], ids: dict[str, str]) -> dict:
    """Cluster view from each instance's `/ping` and `/v2/leader`.

    `answers` maps an inventory name to {"ping": bool, "leader": "host:port" | None};
    `ids` maps inventory names to election ids (hostname:http_port). Healthy: every instance
    answers /ping, and all report the same leader, which is one of the instances.
    """
    leaders = sorted({a["leader"] for a in answers.values() if a.get("leader")})
    leader = leaders[0] if len(leaders) == 1 else None
    leader_host = next((name for name, eid in ids.items() if eid == leader), None)
    all_ping = all(a.get("ping") for a in answers.values())
    agreed = leader is not None and all(a.get("leader") == leader for a in answers.values())
    return {
        "leader": leader,
        "leader_host": leader_host,
        "leaders": leaders,
        "not_answering": sorted(n for n, a in answers.items() if not a.get("ping")),
        "healthy": all_ping and agreed and leader_host is not None,
    }


def query(address: str, timeout: float = 3.0) -> dict:
    """{"ping": bool, "leader": str | None} for one instance."""
    out: dict = {"ping": False, "leader": None}
    try:
        with urllib.request.urlopen(f"http://{address}/ping", timeout=timeout) as response:
            out["ping"] = response.status == 200
        with urllib.request.urlopen(f"http://{address}/v2/leader", timeout=timeout) as response:
            out["leader"] = json.loads(response.read()).get("leader")
    except (OSError, ValueError, urllib.error.URLError):
        pass
    return out
