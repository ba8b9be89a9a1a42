"""CLI error handling and the progress view, without Docker or hosts."""

import io

import pytest

from stackbench import cli
from stackbench.lab.images import debian_mirror_url
from stackbench.runner import Progress


def test_unknown_stack_is_one_line_and_exit_code_2(capsys):
    assert cli.main(["up", "nomad"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "stackbench: error: unknown stack 'nomad'"
    assert err[1].startswith("  hint: use one of:")


def test_missing_inventory_is_refused(capsys, tmp_path):
    assert cli.main(["up", "zookeeper", "-i", str(tmp_path / "nope.yml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"stackbench: error: inventory {tmp_path / 'nope.yml'} does not exist", err[1]]
    assert err[1].startswith("  hint: give -i with an inventory")


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as exc:
        cli.main(["lab"])
    assert exc.value.code == 2


def test_progress_prints_plays_tasks_failures_and_recap():
    now = [0.0]
    out = io.StringIO()
    progress = Progress(out=out, clock=lambda: now[0])
    progress.handle({"event": "playbook_on_play_start", "event_data": {"play": "zookeeper"}})
    now[0] = 65
    progress.handle({"event": "playbook_on_task_start", "event_data": {"task": "Install Java"}})
    progress.handle({"event": "runner_on_failed", "event_data": {
        "host": "zk1", "task": "Install Java", "res": {"msg": "No package matching 'x'\nmore"}}})
    progress.handle({"event": "runner_on_failed", "event_data": {
        "host": "zk2", "task": "probe", "ignore_errors": True, "res": {"msg": "ignored"}}})
    progress.handle({"event": "playbook_on_stats", "event_data": {"ok": {"zk1": 3}, "changed": {"zk1": 2},
                                                                   "failures": {"zk1": 1}}})
    progress.print_recap()
    text = out.getvalue()
    assert "[00:00] PLAY zookeeper" in text
    assert "[01:05]   Install Java" in text
    assert "FAILED zk1: Install Java: No package matching 'x'" in text
    assert "ignored" not in text
    assert "zk1" in text.split("RECAP")[1] and "changed=2" in text
    assert progress.failures == ["zk1: Install Java: No package matching 'x'"]


def test_debian_mirror_is_read_from_deb822_and_one_line_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n")
    assert debian_mirror_url(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://one.example/debian bookworm main\n")
    assert debian_mirror_url(tmp_path) == "http://one.example/debian"
