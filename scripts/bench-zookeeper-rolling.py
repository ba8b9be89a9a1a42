#!/usr/bin/env python3
"""Roll a ZooKeeper config change through a running ensemble while a client writes.

A kazoo client (on the controller, connected to every member's client port) writes a znode
once per interval for the whole run; meanwhile `playbooks/zookeeper.yml` runs with a new
tickTime, which makes the role restart the members one at a time (followers first, the
leader last). Prints and saves (results/zookeeper-rolling-<time>.json):

- writes attempted / succeeded / failed (a write fails when it cannot complete within
  --write-deadline seconds, kazoo retrying on connection loss meanwhile),
- writes that needed a retry, the longest gap between two successful writes,
- each member's tickTime and mode before and after, and the playbook's time and recap,
- members sampled every 0.5 s: how many were down (no answer) at once, and how many were
  down or not serving (e.g. during the election after the leader's restart) at once.

    scripts/bench-zookeeper-rolling.py -i inventories/lab/zk.yml [--tick-time 3000]

Without --tick-time it toggles between 2000 and 3000 based on what the ensemble runs now.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.retry import KazooRetry, RetryFailedError

REPO = Path(__file__).resolve().parents[1]


@dataclass
class WriteStats:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    longest_gap_seconds: float = 0.0
    slowest_write_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def inventory_addresses(inventory: Path, group: str) -> dict[str, str]:
    """{host: address} of the group's hosts, as ansible-inventory resolves them."""
    out = subprocess.run(["ansible-inventory", "-i", str(inventory), "--list"], check=True,
                         capture_output=True, text=True, cwd=REPO).stdout
    data = json.loads(out)
    hosts = data.get(group, {}).get("hosts", [])
    hostvars = data.get("_meta", {}).get("hostvars", {})
    return {h: hostvars.get(h, {}).get("ansible_host", h) for h in hosts}


def four_letter(address: str, command: str, port: int = 2181, timeout: float = 3.0) -> str:
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.sendall(command.encode())
            chunks = []
            while data := conn.recv(65536):
                chunks.append(data)
        return b"".join(chunks).decode(errors="replace")
    except OSError as exc:
        return f"error: {exc}"


def member_view(addresses: dict[str, str]) -> dict[str, dict[str, str]]:
    view = {}
    for host, address in addresses.items():
        conf = four_letter(address, "conf")
        mode = re.search(r"^Mode: (\S+)", four_letter(address, "srvr"), re.M)
        tick = re.search(r"^tickTime=(\d+)", conf, re.M)
        view[host] = {"mode": mode.group(1) if mode else "unknown", "tick_time": tick.group(1) if tick else "?"}
    return view


def longest_gap(times: list[float], start: float, end: float) -> float:
    """Longest interval without a successful write, counting from start to end."""
    points = [start, *sorted(times), end]
    return max(b - a for a, b in zip(points, points[1:], strict=False))


def monitor(addresses: dict[str, str], period: float, stop: threading.Event, samples: list[dict]) -> None:
    """Sample every member: down (no answer on the client port) or not serving (no quorum)."""
    while not stop.is_set():
        down, not_serving = [], []
        for host, address in addresses.items():
            reply = four_letter(address, "ruok", timeout=1.0)
            if reply.strip() != "imok":
                down.append(host)
            elif "Mode:" not in four_letter(address, "srvr", timeout=1.0):
                not_serving.append(host)
        samples.append({"t": time.monotonic(), "down": down, "not_serving": not_serving})
        stop.wait(period)


def writer(client: KazooClient, path: str, interval: float, deadline: float, stop: threading.Event,
           stats: WriteStats, done_times: list[float]) -> None:
    tick = time.monotonic()
    while not stop.is_set():
        stats.attempted += 1
        attempts = 0

        def write(payload: bytes) -> None:
            nonlocal attempts
            attempts += 1
            client.set(path, payload)

        began = time.monotonic()
        retry = KazooRetry(max_tries=-1, delay=0.1, backoff=1.5, max_delay=1.0, deadline=deadline,
                           ignore_expire=False)
        try:
            retry(write, f"{time.time():.3f}".encode())
            stats.succeeded += 1
            done_times.append(time.monotonic())
        except (RetryFailedError, KazooException) as exc:
            stats.failed += 1
            stats.failures.append(f"{time.strftime('%H:%M:%S')} {type(exc).__name__}: {exc}")
        stats.retried += attempts > 1
        stats.slowest_write_seconds = max(stats.slowest_write_seconds, time.monotonic() - began)
        tick += interval
        stop.wait(max(0.0, tick - time.monotonic()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-i", "--inventory", type=Path, default=REPO / "inventories/lab/zk.yml")
    parser.add_argument("--group", default="zookeeper")
    parser.add_argument("--tick-time", type=int, help="new tickTime (default: toggle 2000/3000)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between writes")
    parser.add_argument("--write-deadline", type=float, default=10.0, help="seconds a write may retry")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of writes before and after")
    parser.add_argument("--znode", default="/stackbench/bench-rolling")
    args = parser.parse_args(argv)

    addresses = inventory_addresses(args.inventory, args.group)
    if not addresses:
        print(f"no hosts in group {args.group} of {args.inventory}", file=sys.stderr)
        return 2
    before = member_view(addresses)
    current = {v["tick_time"] for v in before.values()}
    tick_time = args.tick_time or (3000 if current == {"2000"} else 2000)
    print(f"members: {addresses}\nbefore: {before}\nnew tickTime: {tick_time}", flush=True)

    hosts = ",".join(f"{a}:2181" for a in addresses.values())
    client = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": -1, "max_delay": 1})
    client.start(timeout=30)
    client.ensure_path(args.znode)

    stats, done_times, stop = WriteStats(), [], threading.Event()
    thread = threading.Thread(target=writer, args=(client, args.znode, args.interval, args.write_deadline,
                                                    stop, stats, done_times), daemon=True)
    samples: list[dict] = []
    watcher = threading.Thread(target=monitor, args=(addresses, 0.5, stop, samples), daemon=True)
    started = time.monotonic()
    thread.start()
    watcher.start()
    time.sleep(args.settle)

    playbook_started = time.monotonic()
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(args.inventory), "playbooks/zookeeper.yml",
         "-e", f"zookeeper_tick_time={tick_time}"],
        cwd=REPO, capture_output=True, text=True, check=False)
    playbook_seconds = time.monotonic() - playbook_started
    time.sleep(args.settle)
    stop.set()
    thread.join()
    watcher.join()
    ended = time.monotonic()
    client.stop()
    client.close()

    stats.longest_gap_seconds = round(longest_gap(done_times, started, ended), 3)
    stats.slowest_write_seconds = round(stats.slowest_write_seconds, 3)
    after = member_view(addresses)
    recap = [line for line in proc.stdout.splitlines() if re.match(r"^\S+\s+: ok=", line)]
    restarts = [line for line in proc.stdout.splitlines() if line.startswith("TASK [zookeeper : Restart ZooKeeper on")]
    result = {
        "tick_time_new": tick_time,
        "before": before,
        "after": after,
        "playbook_rc": proc.returncode,
        "playbook_seconds": round(playbook_seconds, 1),
        "restart_order": [m.group(1) for line in restarts
                          if (m := re.search(r"Restart ZooKeeper on ([^\]\s]+)", line))],
        "recap": recap,
        "writes": asdict(stats),
        "members": {
            "samples": len(samples),
            "max_down_at_once": max((len(s["down"]) for s in samples), default=0),
            "max_not_serving_at_once": max((len(s["down"]) + len(s["not_serving"]) for s in samples), default=0),
        },
    }
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    from stackbench.paths import results_dir

    out = results_dir() / f"zookeeper-rolling-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"after: {after}")
    print(f"restart order: {' -> '.join(result['restart_order']) or 'none'}")
    print(f"playbook: rc={proc.returncode} in {playbook_seconds:.1f} s")
    for line in recap:
        print(f"  {line}")
    print(f"writes: {stats.attempted} attempted, {stats.succeeded} ok, {stats.failed} failed, "
          f"{stats.retried} needed a retry; longest gap between writes {stats.longest_gap_seconds:.2f} s, "
          f"slowest write {stats.slowest_write_seconds:.2f} s")
    members = result["members"]
    print(f"members (sampled every 0.5 s, {members['samples']} samples): at most {members['max_down_at_once']} "
          f"down at once; at most {members['max_not_serving_at_once']} down or not serving at once")
    for failure in stats.failures:
        print(f"  failed: {failure}")
    print(f"saved {out}")
    ok = (proc.returncode == 0 and stats.failed == 0 and members["max_down_at_once"] <= 1
          and all(v["tick_time"] == str(tick_time) for v in after.values()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
