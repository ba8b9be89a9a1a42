#!/usr/bin/env python3
"""Sample the CPU ticks and RSS of processes whose command line matches a pattern, twice, INTERVAL apart.

Usage: proc_sample.py INTERVAL REGEX. Prints JSON {clk_tck, interval, processes: [{pid, cmdline,
ticks_before, ticks_after, rss_kb}]}. Run on managed hosts by playbooks/control-plane-cost.yml (stdlib only).
"""

import json
import os
import re
import sys
import time


def ticks(pid: str) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kb(pid: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cmdline(pid: str) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()


def shorten(line: str) -> str:
    """Head and tail of a long command line (a JVM's main class comes after a long classpath)."""
    return line if len(line) <= 400 else f"{line[:200]} ... {line[-200:]}"


def main() -> None:
    interval, pattern = float(sys.argv[1]), re.compile(sys.argv[2])
    procs = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            line = cmdline(pid)
            if "proc_sample.py" in line or "BECOME-SUCCESS" in line:
                continue  # this sampler and the commands that started it
            if line and pattern.search(line):
                procs[pid] = {"pid": int(pid), "cmdline": shorten(line), "ticks_before": ticks(pid)}
        except OSError:
            continue
    time.sleep(interval)
    for pid, proc in list(procs.items()):
        try:
            proc["ticks_after"] = ticks(pid)
            proc["rss_kb"] = rss_kb(pid)
        except OSError:
            del procs[pid]
    print(json.dumps({"clk_tck": os.sysconf("SC_CLK_TCK"), "interval": interval, "processes": list(procs.values())}))


if __name__ == "__main__":
    main()
