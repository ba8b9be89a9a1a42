"""Record per-play, per-role and per-task durations (overall and per host) as JSON."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: timings
type: aggregate
short_description: Write per-play, per-role and per-task timings of a run as JSON
description:
  - Records when each play and task starts, when each host finishes each task, and writes
    one JSON document at the end of the run with durations per play, per role, per task
    and per host. The stackbench report reads these files to compare runs.
  - Enable it with C(callbacks_enabled = stackbench.cluster.timings) in ansible.cfg or
    C(ANSIBLE_CALLBACKS_ENABLED=stackbench.cluster.timings).
requirements:
  - enable in configuration
options:
  output_file:
    description:
      - Where to write the JSON. Relative paths are relative to the working directory.
      - The default is C(results/timings-<UTC timestamp>.json).
    type: str
    env:
      - name: STACKBENCH_TIMINGS_FILE
    ini:
      - section: callback_timings
        key: output_file
"""


def _utc(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="milliseconds")


def _round(seconds: float) -> float:
    return round(seconds, 3)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "stackbench.cluster.timings"
    CALLBACK_NEEDS_ENABLED = True

    # Both clocks are attributes so tests can drive them.
    wall_clock = staticmethod(time.time)
    clock = staticmethod(time.monotonic)

    def __init__(self, display: Any = None) -> None:
        super().__init__(display=display)
        self.playbook: str | None = None
        self.started_wall = self.wall_clock()
        self.started = self.clock()
        self.plays: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []
        self._task_index: dict[str, dict[str, Any]] = {}
        self._host_starts: dict[tuple[str, str], float] = {}
        self.output_file: str | None = None

    # ----- options ------------------------------------------------------------------------
    def set_options(self, task_keys: Any = None, var_options: Any = None, direct: Any = None) -> None:
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.output_file = self.get_option("output_file")

    def _target(self) -> str:
        if self.output_file:
            return self.output_file
        stamp = datetime.fromtimestamp(self.started_wall, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
        return os.path.join("results", f"timings-{stamp}.json")

    # ----- events -------------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook: Any) -> None:
        self.playbook = getattr(playbook, "_file_name", None)

    def v2_playbook_on_play_start(self, play: Any) -> None:
        now = self.clock()
        self._close_play(now)
        self.plays.append({"name": play.get_name().strip(), "start": now, "end": None})

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._start_task(task, handler=False)

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._start_task(task, handler=True)

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        self._host_starts[(task._uuid, host.get_name())] = self.clock()

    def v2_runner_on_ok(self, result: Any) -> None:
        self._finish(result, "skipped" if result._result.get("skipped") else
                     "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._finish(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._finish(result, "skipped")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._finish(result, "unreachable")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        document = self.document()
        target = self._target()
        directory = os.path.dirname(target)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        self._display.display(f"{self.CALLBACK_NAME}: wrote {target}")

    # ----- bookkeeping --------------------------------------------------------------------
    def _close_play(self, now: float) -> None:
        if self.plays and self.plays[-1]["end"] is None:
            self.plays[-1]["end"] = now

    def _start_task(self, task: Any, handler: bool) -> None:
        now = self.clock()
        role = task._role.get_name() if getattr(task, "_role", None) else None
        entry = self._task_index.get(task._uuid)
        if entry is None or entry["end"] is not None:
            entry = {
                "uuid": task._uuid,
                "name": task.get_name().strip(),
                "action": getattr(task, "action", None),
                "role": role,
                "play": self.plays[-1]["name"] if self.plays else None,
                "play_index": len(self.plays) - 1,
                "handler": handler,
                "start": now,
                "start_wall": self.wall_clock(),
                "end": None,
                "hosts": {},
            }
            self._task_index[task._uuid] = entry
            self.tasks.append(entry)

    def _finish(self, result: Any, status: str) -> None:
        now = self.clock()
        task = result._task
        host = result._host.get_name()
        entry = self._task_index.get(task._uuid)
        if entry is None:
            self._start_task(task, handler=False)
            entry = self._task_index[task._uuid]
        start = self._host_starts.pop((task._uuid, host), entry["start"])
        previous = entry["hosts"].get(host)
        seconds = now - start + (previous["duration_seconds"] if previous else 0.0)
        entry["hosts"][host] = {"duration_seconds": seconds, "status": status}
        entry["end"] = now if entry["end"] is None else max(entry["end"], now)

    def document(self) -> dict[str, Any]:
        """The JSON document: pure data, so tests can check it without a file."""
        end = self.clock()
        self._close_play(end)
        tasks = []
        roles: dict[str, dict[str, Any]] = {}
        hosts: dict[str, dict[str, Any]] = {}
        for entry in self.tasks:
            task_end = entry["end"] if entry["end"] is not None else entry["start"]
            duration = task_end - entry["start"]
            per_host = {
                name: {"duration_seconds": _round(data["duration_seconds"]), "status": data["status"]}
                for name, data in sorted(entry["hosts"].items())
            }
            tasks.append({
                "name": entry["name"], "action": entry["action"], "role": entry["role"],
                "play": entry["play"], "handler": entry["handler"], "started": _utc(entry["start_wall"]),
                "duration_seconds": _round(duration), "hosts": per_host,
            })
            if entry["role"]:
                role = roles.setdefault(entry["role"], {"duration_seconds": 0.0, "tasks": 0, "hosts": {}})
                role["duration_seconds"] += duration
                role["tasks"] += 1
                for name, data in entry["hosts"].items():
                    role["hosts"][name] = role["hosts"].get(name, 0.0) + data["duration_seconds"]
            for name, data in entry["hosts"].items():
                host = hosts.setdefault(name, {"duration_seconds": 0.0, "tasks": 0, "statuses": {}})
                host["duration_seconds"] += data["duration_seconds"]
                host["tasks"] += 1
                host["statuses"][data["status"]] = host["statuses"].get(data["status"], 0) + 1
        for role in roles.values():
            role["duration_seconds"] = _round(role["duration_seconds"])
            role["hosts"] = {h: _round(s) for h, s in sorted(role["hosts"].items())}
        for host in hosts.values():
            host["duration_seconds"] = _round(host["duration_seconds"])
        plays = [
            {"name": p["name"], "duration_seconds": _round(p["end"] - p["start"]),
             "tasks": sum(1 for t in self.tasks if t["play_index"] == index)}
            for index, p in enumerate(self.plays)
        ]
        return {
            "playbook": self.playbook,
            "started": _utc(self.started_wall),
            "duration_seconds": _round(end - self.started),
            "plays": plays,
            "roles": dict(sorted(roles.items())),
            "tasks": tasks,
            "hosts": dict(sorted(hosts.items())),
        }
