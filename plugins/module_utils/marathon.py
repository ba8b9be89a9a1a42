"""Marathon: `GET /v2/leader` (a standby proxies it to the leader), `/ping`, and the ZooKeeper
settings in `/v2/info`; the cluster judged from what every instance reports.

One parser for the marathon_cluster_status module (on hosts) and the failover runs (on the
controller); standard library only.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.json_http import http_json


def marathon_leader(status: int, body: str | Mapping[str, Any]) -> str | None:
    """`GET /v2/leader`: 200 {"leader": "host:port"} → "host:port"; 404 (no leader) → None.

    `body` is the reply's text or its decoded JSON.
    """
    if status == 404:
        return None
    if status != 200:
        raise ParseError(f"/v2/leader answered HTTP {status}")
    document = json.loads(body) if isinstance(body, str) else body
    return document["leader"]


def zookeeper_settings(info: Mapping[str, Any]) -> dict[str, str]:
    """`GET /v2/info` → Marathon's ZooKeeper session settings (milliseconds, as text)."""
    zk = info.get("zookeeper_config") or {}
    return {k: str(zk[k]) for k in ("zk_session_timeout", "zk_timeout") if k in zk}


def query(address: str, timeout: float = 3.0) -> dict[str, Any]:
    """{"ping": bool, "leader": "host:port" | None} for one instance (address is host:http_port)."""
    out: dict[str, Any] = {"ping": False, "leader": None}
    status, _ = http_json(f"http://{address}/ping", timeout)
    out["ping"] = status == 200
    if not out["ping"]:
        return out
    status, body = http_json(f"http://{address}/v2/leader", timeout)
    # No leader named (404, an error page): the instance answers, the cluster has not agreed.
    with contextlib.suppress(ParseError, ValueError, KeyError, TypeError):
        out["leader"] = marathon_leader(status, body if isinstance(body, dict) else str(body))
    return out


def summarize_instances(answers: Mapping[str, Mapping[str, Any]], ids: Mapping[str, str]) -> dict[str, Any]:
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
