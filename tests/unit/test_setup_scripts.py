"""The setup in two parts: every command gets the controller part, only the lab's get the lab part.

scripts/stackbench decides from its argv; STACKBENCH_SETUP_DRY_RUN=1 prints the decision and runs
nothing, so the table below costs one bash process per row.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
BOTH = "setup: controller lab"
CONTROLLER = "setup: controller"


def parts(*argv: str) -> str:
    result = subprocess.run([str(SCRIPTS / "stackbench"), *argv], env={**os.environ, "STACKBENCH_SETUP_DRY_RUN": "1"},
                            capture_output=True, text=True, timeout=30, check=True)
    return result.stdout.strip()


@pytest.mark.parametrize(("argv", "expected"), [
    (["up", "mesos"], BOTH),
    (["up", "kubernetes", "--nodes", "5", "-t", "coredns"], BOTH),
    (["down", "zookeeper"], BOTH),
    (["compare"], BOTH),
    (["compare", "--stacks", "kubernetes", "--instances", "2"], BOTH),
    (["capacity", "etcd"], BOTH),
    (["validate-ha", "mesos", "-e", "ha_faults=[kill]"], BOTH),
    (["lab", "up", "--lab", "demo", "--stack", "zookeeper"], BOTH),
    (["lab", "images"], BOTH),
    (["lab", "down", "--lab", "demo"], BOTH),
    (["artifacts", "build", "etcd"], BOTH),
    (["artifacts", "build"], BOTH),
    (["up", "mesos", "--", "-i"], BOTH),  # after --, nothing is an option
    (["up", "mesos", "-l", "agent1", "-vv"], BOTH),
    (["up", "mesos", "-i", "inventories/sample/mesos"], CONTROLLER),
    (["up", "mesos", "-iinventories/sample/mesos"], CONTROLLER),
    (["up", "mesos", "--inventory", "inv"], CONTROLLER),
    (["up", "mesos", "--inventory=inv"], CONTROLLER),
    (["up", "mesos", "--inv", "inv"], CONTROLLER),  # argparse takes unambiguous abbreviations
    (["up", "mesos", "-Ci", "inv"], CONTROLLER),  # -C takes no value: the cluster is -C -i
    (["up", "-i", "inv", "mesos"], CONTROLLER),
    (["down", "kubernetes", "-i", "inv"], CONTROLLER),
    (["compare", "-i", "inv", "--stacks", "mesos"], CONTROLLER),
    (["capacity", "kubernetes", "--inventory=inventories/sample/kubespray"], CONTROLLER),
    (["validate-ha", "etcd", "-i", "inv", "-e", "ha_system=etcd"], CONTROLLER),
    (["report"], CONTROLLER),
    (["report", "results/compare/run1", "results/compare/run2"], CONTROLLER),
    (["artifacts", "list"], CONTROLLER),
    (["up", "--help"], CONTROLLER),
    (["lab", "up", "-h"], CONTROLLER),
    (["lab"], CONTROLLER),  # the CLI only prints its usage
    ([], CONTROLLER),
    (["up", "mesos", "--instances", "3"], BOTH),  # --instances is not --inventory
])
def test_the_lab_part_runs_only_for_lab_commands(argv, expected):
    assert parts(*argv) == expected


def test_setup_runs_both_parts_and_the_tests_call_it():
    setup = (SCRIPTS / "setup.sh").read_text()
    assert setup.index("setup-controller.sh") < setup.index("setup-lab.sh")
    assert '"$here/scripts/setup.sh"' in (SCRIPTS / "test.sh").read_text()


@pytest.mark.parametrize("script", ["setup.sh", "setup-controller.sh", "setup-lab.sh", "stackbench"])
def test_scripts_parse_and_pass_shellcheck(script):
    subprocess.run(["bash", "-n", str(SCRIPTS / script)], check=True)
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:  # not in the venv nor on a fresh machine: bash -n is the check then
        return
    result = subprocess.run([shellcheck, str(SCRIPTS / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def run_controller_part(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_FIND_LINKS", "STACKBENCH_"))}
    return subprocess.run([str(SCRIPTS / "setup-controller.sh")], capture_output=True, text=True, timeout=300,
                          env={**base, "STACKBENCH_VENV": str(tmp_path / "venv"), **env})


def test_the_controller_part_names_a_missing_venv_module(tmp_path):
    """Debian's python3 without python3-venv: one line and the package to install, no venv made."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text(
        "#!/bin/sh\n"
        'case "$*" in *ensurepip*) echo "No module named ensurepip" >&2; exit 1 ;; esac\n'
        f'exec {sys.executable} "$@"\n')
    (fake / "python3").chmod(0o755)
    result = run_controller_part(tmp_path, {"PATH": f"{fake}:{os.environ['PATH']}"})
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "error: python3 -m venv is unavailable (no ensurepip module)"
    assert "hint: sudo apt-get install python3-venv" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_a_wheelhouse_is_the_only_source(tmp_path):
    """With STACKBENCH_WHEELHOUSE, pip never asks an index: an empty wheelhouse fails, naming it."""
    asked: list[str] = []

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            asked.append(self.path)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    index = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=index.serve_forever, daemon=True).start()
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    try:
        result = run_controller_part(tmp_path, {"STACKBENCH_WHEELHOUSE": str(wheelhouse),
                                                "PIP_INDEX_URL": f"http://127.0.0.1:{index.server_address[1]}/"})
    finally:
        index.shutdown()
    assert result.returncode == 1
    assert f"from the wheelhouse {wheelhouse}" in result.stdout
    assert "error: could not install requirements.lock" in result.stderr
    assert f"STACKBENCH_WHEELHOUSE={wheelhouse}" in result.stderr
    assert asked == []  # --no-index
    assert not (tmp_path / "venv" / ".stackbench-lock-hash").exists()
