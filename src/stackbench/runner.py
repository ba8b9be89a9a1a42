"""Run playbooks through ansible-runner with a compact progress view.

The user sees the current play and task with the elapsed time, failures as they happen,
and a final recap: never silence, never a wall of JSON.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import ansible_runner

from stackbench.paths import REPO_ROOT, results_dir

# Callbacks every run enables: task timings on the terminal, and as JSON (STACKBENCH_TIMINGS_FILE).
CALLBACKS = ("ansible.posix.profile_tasks", "stackbench.cluster.timings")


@dataclass
class Progress:
    """Turns ansible-runner events into short lines on a terminal (or any stream)."""

    out: TextIO = sys.stdout
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    play: str = ""
    failures: list[str] = field(default_factory=list)
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def _stamp(self) -> str:
        elapsed = int(self.clock() - self.started)
        return f"[{elapsed // 60:02d}:{elapsed % 60:02d}]"

    def handle(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {}) or {}
        if kind == "playbook_on_play_start":
            self.play = data.get("play", "")
            self._line(f"PLAY {self.play}")
        elif kind == "playbook_on_task_start":
            self._line(f"  {data.get('task', '')}")
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            result = data.get("res", {}) or {}
            message = result.get("msg") or result.get("stderr") or result.get("reason") or "failed"
            line = f"{data.get('host', '?')}: {data.get('task', '')}: {str(message).strip().splitlines()[0][:300]}"
            self.failures.append(line)
            self._line(f"    FAILED {line}")
        elif kind == "playbook_on_stats":
            for key in ("ok", "changed", "failures", "unreachable", "skipped"):
                for host, count in (data.get(key) or {}).items():
                    self.recap.setdefault(host, {})[key] = count
        return True

    def _line(self, text: str) -> None:
        print(f"{self._stamp()} {text}", file=self.out, flush=True)

    def print_recap(self) -> None:
        if not self.recap:
            return
        print(f"{self._stamp()} RECAP", file=self.out)
        for host in sorted(self.recap):
            c = self.recap[host]
            print(f"    {host:<16} ok={c.get('ok', 0):<4} changed={c.get('changed', 0):<4} "
                  f"failed={c.get('failures', 0):<3} unreachable={c.get('unreachable', 0)}", file=self.out)


@dataclass
class PlaybookResult:
    rc: int
    status: str
    seconds: float
    changed: int
    failures: list[str]
    timings_file: Path | None


def run_playbook(playbook: str, inventory: Path, extra_vars: dict[str, Any] | None = None,
                 cmdline: list[str] | None = None, label: str = "run", out: TextIO = sys.stdout) -> PlaybookResult:
    """Run `playbooks/<playbook>` against `inventory`; timings land in results/ as JSON."""
    progress = Progress(out=out)
    timings = results_dir() / f"timings-{label}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    private = Path(tempfile.mkdtemp(prefix="stackbench-runner-"))
    envvars = {
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        # Replaces ansible.cfg's callbacks_enabled, so its profile_tasks is named again. The timings callback
        # is found by its collection name (collections_path in ansible.cfg), not by a plugin directory.
        "ANSIBLE_CALLBACKS_ENABLED": ",".join(CALLBACKS),
        "STACKBENCH_TIMINGS_FILE": str(timings),
        "ANSIBLE_FORCE_COLOR": "0",
        # ansible-playbook lives next to this interpreter (the venv), also when the venv is not activated
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    started = time.monotonic()
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(REPO_ROOT),
            playbook=str(REPO_ROOT / "playbooks" / playbook),
            inventory=str(inventory.resolve()),
            extravars=extra_vars or {},
            cmdline=" ".join(cmdline or []) or None,
            envvars=envvars,
            quiet=True,
            event_handler=progress.handle,
        )
    finally:
        shutil.rmtree(private, ignore_errors=True)
    progress.print_recap()
    changed = sum(c.get("changed", 0) for c in progress.recap.values())
    return PlaybookResult(
        rc=runner.rc, status=runner.status, seconds=time.monotonic() - started, changed=changed,
        failures=progress.failures, timings_file=timings if timings.exists() else None,
    )
