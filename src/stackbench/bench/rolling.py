"""What the rolling-change benchmarks share: the members of an inventory group, running a stack's
playbook while a client writes, which hosts it restarted in which order, the longest gap between
successful writes, and saving the figures under results/."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackbench.errors import StackbenchError
from stackbench.paths import REPO_ROOT, results_dir


def ansible_program(name: str) -> str:
    """An Ansible command: the one next to this interpreter (the venv) first, then PATH."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if not found:
        raise StackbenchError(f"{name} is not installed", "run scripts/setup.sh (it makes the venv)")
    return found


def inventory_members(inventory: Path, group: str) -> dict[str, str]:
    """{host: address} of the group's hosts, as Ansible resolves the inventory (any format, group_vars)."""
    from stackbench.inventory import read_inventory

    members = read_inventory(inventory)
    return {host: members.address(host) for host in members.groups.get(group, [])}


def longest_gap(times: Iterable[float], start: float | None = None, end: float | None = None) -> float:
    """Longest interval between consecutive successful writes (seconds); with `start` and `end`, the
    stretches before the first and after the last write count too."""
    points = [*([start] if start is not None else []), *sorted(times), *([end] if end is not None else [])]
    return max((b - a for a, b in zip(points, points[1:], strict=False)), default=0.0)


def every(interval: float, stop: threading.Event, action: Callable[[], object]) -> None:
    """Call `action` every `interval` seconds, on a fixed schedule (a slow call delays only the next one),
    until `stop` is set."""
    tick = time.monotonic()
    while not stop.is_set():
        action()
        tick += interval
        stop.wait(max(0.0, tick - time.monotonic()))


@dataclass
class PlaybookRun:
    rc: int
    seconds: float
    stdout: str
    stderr: str

    def restarted(self, task: str) -> list[str]:
        """The hosts of the tasks named `<task> <host>` (e.g. "Restart etcd on"), in the order they ran."""
        pattern = re.compile(rf"^TASK \[(?:[^\]]* : )?{re.escape(task)} ([^\]\s]+)\s*\]")
        return [m.group(1) for line in self.stdout.splitlines() if (m := pattern.match(line))]

    def recap(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if re.match(r"^\S+\s+: ok=", line)]


def run_playbook(inventory: Path, playbook: str, extra_vars: Iterable[str] = ()) -> PlaybookRun:
    """ansible-playbook -i INVENTORY playbooks/PLAYBOOK -e VAR=VALUE ..., its output captured."""
    cmd = [ansible_program("ansible-playbook"), "-i", str(inventory), str(REPO_ROOT / "playbooks" / playbook)]
    for item in extra_vars:
        cmd += ["-e", item]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    return PlaybookRun(proc.returncode, time.monotonic() - started, proc.stdout, proc.stderr)


def save(name: str, result: dict[str, Any]) -> Path:
    """results/<name>-<time>.json."""
    out = results_dir() / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return out
