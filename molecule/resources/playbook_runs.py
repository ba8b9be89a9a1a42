"""Playbook runs from a scenario's tests (the day-two chains): plain-text output and the recap read."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def plain_env(**extra: str) -> dict[str, str]:
    """The environment of a run whose output a test reads: molecule's forces colour."""
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOST_KEY_CHECKING="False",
                ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", **extra)


def run_playbook(inventory: str | Path, name: str, *args: str, env: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess:
    """`ansible-playbook -i INVENTORY playbooks/NAME ARGS`, timed (`.seconds`) and logged."""
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory),
           str(REPO / "playbooks" / name), *args]
    started = time.monotonic()
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env or plain_env(),
                         stdin=subprocess.DEVNULL, check=False)
    run.seconds = round(time.monotonic() - started, 1)  # type: ignore[attr-defined]
    print(f"$ {' '.join(cmd[1:])}\n  rc={run.returncode} in {run.seconds} s")  # type: ignore[attr-defined]
    return run


def ok(run: subprocess.CompletedProcess) -> None:
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]


def changed(run: subprocess.CompletedProcess) -> dict[str, int]:
    """{host: changed} from the PLAY RECAP."""
    found = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", run.stdout, re.M)}
    assert found, "no PLAY RECAP in the output: " + run.stdout[-2000:]
    return found


def task_seconds(run: subprocess.CompletedProcess) -> list[tuple[str, float]]:
    """[(task name, seconds), ...] in order, from profile_tasks' lines (ansible.cfg enables it): the
    timestamp line under each TASK heading gives the previous task's duration in parentheses."""
    found: list[tuple[str, float]] = []
    task = None
    for line in run.stdout.splitlines():
        if heading := re.match(r"^(?:TASK|RUNNING HANDLER) \[(?:[^\]]* : )?(.*)\]", line):
            task, pending = heading.group(1), True
            continue
        took = re.search(r"\((\d+):(\d\d):(\d\d(?:\.\d+)?)\)\s+\d+:\d\d:\d\d", line)
        if took and task is not None and pending:
            seconds = int(took[1]) * 3600 + int(took[2]) * 60 + float(took[3])
            if found:
                found[-1] = (found[-1][0], seconds)
            found.append((task, 0.0))
            pending = False
    return found


def seconds_per_host(run: subprocess.CompletedProcess, hosts: list[str]) -> dict[str, float]:
    """{host: seconds} of the tasks whose names end with ': HOST' (the rolling steps name their host)."""
    tasks = task_seconds(run)
    return {h: round(sum(s for name, s in tasks if name.endswith(f": {h}")), 1) for h in hosts}


def tasks_running_at(run: subprocess.CompletedProcess, clock: str) -> list[str]:
    """The task running at `clock` (UTC "HH:MM:SS[.fff]", the hosts' clock) and the one before it, from
    profile_tasks' start time under each heading: where a client's failure happened in the run."""
    def seconds(text: str) -> float:
        hours, minutes, rest = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(rest)

    at, starts, task = seconds(clock), [], None
    for line in run.stdout.splitlines():
        if heading := re.match(r"^(?:TASK|RUNNING HANDLER) \[(?:[^\]]* : )?(.*)\]", line):
            task = heading.group(1)
            continue
        started = re.search(r"\s(\d\d:\d\d:\d\d) [+-]\d{4} \(", line)
        if started and task is not None:
            starts.append((seconds(started[1]), task))
            task = None
    before = [name for start, name in starts if start <= at]
    return before[-2:]
