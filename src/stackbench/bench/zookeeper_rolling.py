"""Roll a ZooKeeper config change through a running ensemble while a client writes.

A kazoo client (on the controller, connected to every member's client port) creates a znode
once per interval (stackbench.bench.zookeeper_writes, which checks afterwards that none it was told
was written is gone) for the whole run; meanwhile `playbooks/zookeeper.yml` runs with a new
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
import re
import socket
import sys
import threading
import time
from pathlib import Path

from stackbench import catalog
from stackbench.bench.rolling import every, inventory_members, run_playbook, save
from stackbench.bench.zookeeper_writes import ZooKeeperWrites
from stackbench.paths import REPO_ROOT

STACK = catalog.get("zookeeper")


def four_letter(address: str, command: str, port: int, timeout: float = 3.0) -> str:
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.sendall(command.encode())
            chunks = []
            while data := conn.recv(65536):
                chunks.append(data)
        return b"".join(chunks).decode(errors="replace")
    except OSError as exc:
        return f"error: {exc}"


def member_view(addresses: dict[str, str], port: int) -> dict[str, dict[str, str]]:
    view = {}
    for host, address in addresses.items():
        conf = four_letter(address, "conf", port)
        mode = re.search(r"^Mode: (\S+)", four_letter(address, "srvr", port), re.M)
        tick = re.search(r"^tickTime=(\d+)", conf, re.M)
        view[host] = {"mode": mode.group(1) if mode else "unknown", "tick_time": tick.group(1) if tick else "?"}
    return view


def monitor(addresses: dict[str, str], port: int, period: float, stop: threading.Event, samples: list[dict]) -> None:
    """Sample every member: down (no answer on the client port) or not serving (no quorum)."""

    def sample() -> None:
        down, not_serving = [], []
        for host, address in addresses.items():
            reply = four_letter(address, "ruok", port, timeout=1.0)
            if reply.strip() != "imok":
                down.append(host)
            elif "Mode:" not in four_letter(address, "srvr", port, timeout=1.0):
                not_serving.append(host)
        samples.append({"t": time.monotonic(), "down": down, "not_serving": not_serving})

    every(period, stop, sample)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-i", "--inventory", type=Path, default=REPO_ROOT / "inventories/lab/zk.yml")
    parser.add_argument("--group", default=STACK.groups[0])
    parser.add_argument("--tick-time", type=int, help="new tickTime (default: toggle 2000/3000)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between writes")
    parser.add_argument("--write-deadline", type=float, default=10.0, help="seconds a write may retry")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of writes before and after")
    parser.add_argument("--znode", default="/stackbench/bench-rolling")
    args = parser.parse_args(argv)

    addresses = inventory_members(args.inventory, args.group)
    if not addresses:
        print(f"no hosts in group {args.group} of {args.inventory}", file=sys.stderr)
        return 2
    port = STACK.port("zookeeper_client")
    before = member_view(addresses, port)
    current = {v["tick_time"] for v in before.values()}
    tick_time = args.tick_time or (3000 if current == {"2000"} else 2000)
    print(f"members: {addresses}\nbefore: {before}\nnew tickTime: {tick_time}", flush=True)

    hosts = ",".join(f"{a}:{port}" for a in addresses.values())
    samples: list[dict] = []
    stop = threading.Event()
    watcher = threading.Thread(target=monitor, args=(addresses, port, 0.5, stop, samples), daemon=True)
    watcher.start()
    with ZooKeeperWrites(hosts, args.znode, args.interval, args.write_deadline) as probe:
        time.sleep(args.settle)
        played = run_playbook(args.inventory, STACK.playbook("up"), [f"zookeeper_tick_time={tick_time}"])
        time.sleep(args.settle)
    stop.set()
    watcher.join()
    stats = probe.figures

    after = member_view(addresses, port)
    recap = played.recap()
    result = {
        "tick_time_new": tick_time,
        "before": before,
        "after": after,
        "playbook_rc": played.rc,
        "playbook_seconds": round(played.seconds, 1),
        "restart_order": played.restarted("Restart ZooKeeper on"),
        "recap": recap,
        "writes": probe.result(),
        "members": {
            "samples": len(samples),
            "max_down_at_once": max((len(s["down"]) for s in samples), default=0),
            "max_not_serving_at_once": max((len(s["down"]) + len(s["not_serving"]) for s in samples), default=0),
        },
    }
    if played.rc != 0:
        print(played.stdout[-4000:], played.stderr[-2000:], sep="\n")
    out = save("zookeeper-rolling", result)
    print(f"after: {after}")
    print(f"restart order: {' -> '.join(result['restart_order']) or 'none'}")
    print(f"playbook: rc={played.rc} in {played.seconds:.1f} s")
    for line in recap:
        print(f"  {line}")
    print(f"writes: {stats.attempted} attempted, {stats.succeeded} ok, {stats.failed} failed, "
          f"{stats.retried} needed a retry, {stats.lost_acknowledged} acknowledged and lost; "
          f"longest gap between writes {stats.longest_gap_seconds:.2f} s, "
          f"slowest write {stats.slowest_write_seconds:.2f} s")
    members = result["members"]
    print(f"members (sampled every 0.5 s, {members['samples']} samples): at most {members['max_down_at_once']} "
          f"down at once; at most {members['max_not_serving_at_once']} down or not serving at once")
    for failure in stats.failures:
        print(f"  failed: {failure}")
    print(f"saved {out}")
    ok = (played.rc == 0 and stats.failed == 0 and stats.lost_acknowledged == 0 and members["max_down_at_once"] <= 1
          and all(v["tick_time"] == str(tick_time) for v in after.values()))
    return 0 if ok else 1
