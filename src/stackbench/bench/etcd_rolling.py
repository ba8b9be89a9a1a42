"""Roll a configuration change through an etcd cluster while a client writes once a second.

    scripts/bench-etcd-rolling.py [-i inventories/lab/etcdbench.yml] [-e VAR=VALUE ...] [--revert]

The client is this program: it PUTs a key through the etcd gRPC gateway (`/v3/kv/put`) over TLS
with a client certificate from the cluster CA (the controller's copy in .stackbench/pki), once
a second. Like etcd's own client it knows every member's endpoint and moves to the next one when
one fails; a write counts as failed only when no member accepted it. Meanwhile
`ansible-playbook playbooks/etcd.yml -e ...` changes the configuration, which makes the role
restart the members one at a time (leader last). With --revert the playbook runs a second time
without the extra vars (a second roll back to the defaults).

Prints, and writes as JSON to results/etcd-rolling-<time>.json: writes attempted, failed writes,
failovers (a member refused or timed out and the next one took the write), the longest gap
between two successful writes and the restarts the playbook made.
"""

from __future__ import annotations

import argparse
import base64
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from stackbench import catalog
from stackbench.bench.rolling import every, inventory_members, longest_gap, run_playbook, save
from stackbench.paths import REPO_ROOT

STACK = catalog.get("etcd")


@dataclass
class WriteLog:
    attempted: int = 0
    failed: int = 0
    failovers: int = 0
    success_times: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def put(session: requests.Session, endpoint: str, key: str, value: str, timeout: float) -> None:
    body = {"key": base64.b64encode(key.encode()).decode(), "value": base64.b64encode(value.encode()).decode()}
    response = session.post(f"https://{endpoint}/v3/kv/put", json=body, timeout=timeout)
    response.raise_for_status()
    if "header" not in response.json():
        raise RuntimeError(f"unexpected answer {response.text[:200]}")


def leader(endpoints: dict[str, str], session: requests.Session) -> str | None:
    """Name of the member whose status says it leads (gateway ids are strings)."""
    for name, endpoint in endpoints.items():
        try:
            status = session.post(f"https://{endpoint}/v3/maintenance/status", json={}, timeout=2).json()
        except (requests.RequestException, ValueError):
            continue
        if status.get("leader") and status["leader"] == status.get("header", {}).get("member_id"):
            return name
    return None


def writer(
    endpoints: list[str],
    session: requests.Session,
    log: WriteLog,
    stop: threading.Event,
    interval: float = 1.0,
    timeout: float = 0.9,
) -> None:
    current = 0

    def write_once() -> None:
        nonlocal current
        log.attempted += 1
        for attempt in range(len(endpoints)):
            endpoint = endpoints[(current + attempt) % len(endpoints)]
            try:
                put(session, endpoint, "/bench/rolling", f"write-{log.attempted}", timeout)
            except (requests.RequestException, RuntimeError) as exc:
                log.errors.append(f"{time.strftime('%H:%M:%S')} {endpoint}: {type(exc).__name__}")
                continue
            if attempt:
                log.failovers += 1
                current = (current + attempt) % len(endpoints)
            log.success_times.append(time.monotonic())
            return
        log.failed += 1

    every(interval, stop, write_once)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", type=Path, default=REPO_ROOT / "inventories/lab/etcdbench.yml")
    parser.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=None,
        help="change to roll (default: heartbeat 150 ms, election 1500 ms)",
    )
    parser.add_argument("--revert", action="store_true", help="then roll back to the defaults")
    parser.add_argument("--pki-dir", type=Path, default=REPO_ROOT / ".stackbench/pki/stackbench-etcd")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of writes before and after")
    args = parser.parse_args(argv)
    extra = args.extra_vars or ["etcd_heartbeat_interval=150", "etcd_election_timeout=1500"]

    members = inventory_members(args.inventory, STACK.groups[0])
    if not members:
        print(f"no hosts in group {STACK.groups[0]} of {args.inventory}", file=sys.stderr)
        return 2
    port = STACK.port("etcd_client")
    endpoints = {name: f"{address}:{port}" for name, address in members.items()}
    first = next(iter(members))
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE/proxies from the environment must not override the cluster CA
    session.verify = str(args.pki_dir / "ca.crt")
    session.cert = (str(args.pki_dir / f"issued/{first}/member.crt"), str(args.pki_dir / f"issued/{first}/member.key"))

    log, stop = WriteLog(), threading.Event()
    thread = threading.Thread(target=writer, args=(list(endpoints.values()), session, log, stop), daemon=True)
    thread.start()
    time.sleep(args.warmup)
    runs = []
    for label, vars_ in [("apply", extra)] + ([("revert", [])] if args.revert else []):
        leader_before = leader(endpoints, session)
        played = run_playbook(args.inventory, STACK.playbook("up"), vars_)
        if played.rc != 0:
            sys.stderr.write(played.stdout[-4000:] + played.stderr[-2000:])
        restarts = played.restarted("Restart etcd on")
        leader_after = leader(endpoints, session)
        runs.append(
            {
                "run": label,
                "extra_vars": vars_,
                "rc": played.rc,
                "playbook_seconds": round(played.seconds, 1),
                "leader_before": leader_before,
                "restarts_in_order": restarts,
                "leader_after": leader_after,
            }
        )
        print(
            f"playbook ({label} {' '.join(vars_) or 'defaults'}): rc={played.rc} in {played.seconds:.1f} s, "
            f"leader before {leader_before}, restarted {restarts}, leader after {leader_after}",
            flush=True,
        )
    time.sleep(args.warmup)
    stop.set()
    thread.join()

    result = {
        "members": members,
        "runs": runs,
        "writes_attempted": log.attempted,
        "writes_failed": log.failed,
        "failovers": log.failovers,
        "longest_gap_seconds": round(longest_gap(log.success_times), 3),
        "endpoint_errors": log.errors,
    }
    print(
        f"writes: {log.attempted} attempted, {log.failed} failed, {log.failovers} failovers; "
        f"longest gap between successful writes: {result['longest_gap_seconds']} s"
    )
    print(f"written {save('etcd-rolling', result)}")
    return 0 if all(r["rc"] == 0 for r in runs) else 1
