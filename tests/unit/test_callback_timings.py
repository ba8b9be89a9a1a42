"""The timings callback, driven with fake plays, tasks, hosts and results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.stackbench.cluster.plugins.callback.timings import CallbackModule

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class Named:
    def __init__(self, name: str) -> None:
        self._name = name

    def get_name(self) -> str:
        return self._name


class Task(Named):
    def __init__(self, name: str, uuid: str, role: str | None = None,
                 action: str = "ansible.builtin.command"):
        super().__init__(name)
        self._uuid = uuid
        self._role = Named(role) if role else None
        self.action = action


class Result:
    def __init__(self, host: str, task: Task, **result):
        self._host = Named(host)
        self._task = task
        self._result = result


class Display:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.verbosity = 0

    def display(self, msg: str, *args, **kwargs) -> None:
        self.lines.append(msg)


@pytest.fixture
def callback(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(CallbackModule, "clock", staticmethod(clock))
    monkeypatch.setattr(CallbackModule, "wall_clock", staticmethod(lambda: 1_700_000_000.0 + clock.now))
    cb = CallbackModule(display=Display())
    cb.tick = clock.tick
    return cb


def run_two_plays(cb):
    cb.v2_playbook_on_play_start(Named("zookeeper"))
    install = Task("zookeeper : Install", "u1", role="zookeeper")
    cb.v2_playbook_on_task_start(install, False)
    for host in ("zk1", "zk2"):
        cb.v2_runner_on_start(Named(host), install)
    cb.tick(2)
    cb.v2_runner_on_ok(Result("zk1", install, changed=True))
    cb.tick(1)
    cb.v2_runner_on_failed(Result("zk2", install), ignore_errors=False)
    configure = Task("zookeeper : Configure", "u2", role="zookeeper")
    cb.v2_playbook_on_task_start(configure, False)
    cb.v2_runner_on_start(Named("zk1"), configure)
    cb.tick(0.5)
    cb.v2_runner_on_skipped(Result("zk1", configure))
    handler = Task("restart zookeeper", "h1", role="zookeeper", action="ansible.builtin.systemd")
    cb.v2_playbook_on_handler_task_start(handler)
    cb.v2_runner_on_start(Named("zk1"), handler)
    cb.tick(4)
    cb.v2_runner_on_ok(Result("zk1", handler, changed=True))
    cb.tick(1)
    cb.v2_playbook_on_play_start(Named("report"))
    debug = Task("Show", "u3", action="ansible.builtin.debug")
    cb.v2_playbook_on_task_start(debug, False)
    cb.v2_runner_on_start(Named("localhost"), debug)
    cb.tick(0.25)
    cb.v2_runner_on_unreachable(Result("localhost", debug))


def test_document_durations(callback):
    run_two_plays(callback)
    doc = callback.document()
    assert [p["name"] for p in doc["plays"]] == ["zookeeper", "report"]
    assert doc["plays"][0]["duration_seconds"] == 8.5
    assert doc["plays"][0]["tasks"] == 3
    assert doc["plays"][1]["duration_seconds"] == 0.25
    assert doc["duration_seconds"] == 8.75
    install = doc["tasks"][0]
    assert install["duration_seconds"] == 3.0
    assert install["hosts"] == {"zk1": {"duration_seconds": 2.0, "status": "changed"},
                                "zk2": {"duration_seconds": 3.0, "status": "failed"}}
    assert install["role"] == "zookeeper" and install["play"] == "zookeeper"
    assert doc["tasks"][1]["hosts"]["zk1"]["status"] == "skipped"
    assert doc["tasks"][2]["handler"] is True
    assert doc["roles"]["zookeeper"] == {"duration_seconds": 7.5, "tasks": 3,
                                         "hosts": {"zk1": 6.5, "zk2": 3.0}}
    assert doc["hosts"]["zk1"] == {"duration_seconds": 6.5, "tasks": 3,
                                   "statuses": {"changed": 2, "skipped": 1}}
    assert doc["hosts"]["localhost"]["statuses"] == {"unreachable": 1}
    assert doc["tasks"][3]["role"] is None


def test_writes_file_from_option(callback, tmp_path):
    target = tmp_path / "deep" / "t.json"
    callback.output_file = str(target)
    run_two_plays(callback)
    callback.v2_playbook_on_stats(None)
    data = json.loads(target.read_text())
    assert data["tasks"][0]["name"] == "zookeeper : Install"
    assert str(target) in callback._display.lines[-1]


def test_default_file_name(callback, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    callback.v2_playbook_on_stats(None)
    files = list((tmp_path / "results").glob("timings-*.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text())["tasks"] == []


def test_real_run_writes_file_named_by_environment(tmp_path):
    """Through ansible-playbook: the plugin loads by its full name, reads STACKBENCH_TIMINGS_FILE and writes."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- name: Timed\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Pause a little\n      ansible.builtin.pause:\n        seconds: 1\n"
    )
    target = tmp_path / "out.json"
    env = dict(os.environ, STACKBENCH_TIMINGS_FILE=str(target),
               ANSIBLE_CALLBACKS_ENABLED="stackbench.cluster.timings",
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    ansible = Path(sys.executable).with_name("ansible-playbook")
    run = subprocess.run([str(ansible), "-i", "localhost,", "-c", "local", str(playbook)], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads(target.read_text())
    assert data["plays"][0]["name"] == "Timed"
    task = data["tasks"][0]
    assert task["name"] == "Pause a little"
    assert 1.0 <= task["hosts"]["localhost"]["duration_seconds"] < 10
