"""`stackbench up|down|capacity|validate-ha STACK -i INV [ansible-playbook options]`, without running ansible."""

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from stackbench import cli, stacks
from stackbench.errors import StackbenchError
from stackbench.paths import collection_root
from stackbench.runner import PlaybookResult

INVENTORY = "all:\n  children:\n    zookeeper:\n      hosts: {zk1: {}, zk2: {}, zk3: {}}\n"


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "inv.yml"
    path.write_text(INVENTORY)
    return path


class Calls(list):
    outcome: dict


@pytest.fixture
def runs(monkeypatch, tmp_path):
    """run_playbook replaced: records each call, answers with `result` (rc 0 unless changed)."""
    calls = Calls()
    outcome = {"rc": 0, "changed": 0, "failures": []}

    def fake(playbook, inventory, extra_vars=None, cmdline=None, label="run", out=sys.stdout, options=None,
             timeout=None):
        calls.append({"playbook": playbook, "inventory": inventory, "extra_vars": extra_vars, "label": label,
                      "options": options})
        run_dir = tmp_path / "results" / "runs" / f"20261201T000000Z-{label}"
        run_dir.mkdir(parents=True, exist_ok=True)
        return PlaybookResult(rc=outcome["rc"], status="failed" if outcome["rc"] else "successful", seconds=3.0,
                              changed=outcome["changed"], failures=outcome["failures"], timings_file=None,
                              run_dir=run_dir, check=bool(options and options.check),
                              args=["-e", "zookeeper_client_port=notaport", "-v"])

    monkeypatch.setattr("stackbench.runner.run_playbook", fake)
    calls.outcome = outcome
    return calls


@pytest.fixture(autouse=True)
def _no_lab(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the lab was touched")

    monkeypatch.setattr(stacks, "lab_inventory", refuse)


def test_options_reach_run_playbook_as_given(inventory, groups_checked, runs, capsys):
    code = cli.main(["up", "zookeeper", "-i", str(inventory), "-C", "-D", "-l", "zk1", "-t", "config",
                     "--skip-tags", "java", "-e", "a=1 b=2", "-e", '{"c": 1}', "-vvv", "-b", "--become-user", "zk",
                     "-u", "admin", "-f", "7"])
    assert code == 0
    (call,) = runs
    options = call["options"]
    assert call["playbook"] == "zookeeper.yml" and call["inventory"] == inventory and call["label"] == "up-zookeeper"
    assert (options.check, options.diff, options.limit, options.tags, options.skip_tags) == (
        True, True, "zk1", ["config"], ["java"])
    assert options.extra_vars == ["a=1 b=2", '{"c": 1}'] and options.verbosity == 3
    assert (options.become, options.become_user, options.user, options.forks) == (True, "zk", "admin", 7)
    assert not options.mitogen
    assert groups_checked == [("read", inventory), ("require", "zookeeper")]
    out = capsys.readouterr().out
    assert "check mode: nothing changed" in out and "run log:" in out


def test_mitogen_reaches_run_playbook(inventory, groups_checked, runs):
    assert cli.main(["up", "zookeeper", "-i", str(inventory), "--mitogen"]) == 0
    (call,) = runs
    assert call["options"].mitogen


def test_check_mode_counts_what_would_change(inventory, groups_checked, runs, capsys):
    runs.outcome["changed"] = 4
    assert cli.main(["up", "zookeeper", "-i", str(inventory), "--check"]) == 0
    out = capsys.readouterr().out
    assert "check mode: would change 4" in out and "nothing changed" not in out


def test_a_failed_run_prints_where_the_full_log_is(inventory, groups_checked, runs, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = "zk1: Check the client port: zookeeper_client_port must be a port number, got " + "n" * 400
    runs.outcome.update(rc=2, failures=[first])
    assert cli.main(["up", "zookeeper", "-i", str(inventory)]) == 1
    captured = capsys.readouterr()
    assert "stackbench: full log: results/runs/20261201T000000Z-up-zookeeper/" in captured.out
    err = captured.err.splitlines()
    assert err[0] == f"stackbench: error: zookeeper: playbook failed: {first}"  # whole, not cut
    assert "results/runs/20261201T000000Z-up-zookeeper/events.log" in err[1]
    assert err[1].endswith(f"ansible-playbook -i inv.yml {collection_root() / 'playbooks' / 'zookeeper.yml'} "
                           "-e zookeeper_client_port=notaport -vvv")


def test_passwords_are_asked_once_and_go_to_the_runner_only(inventory, groups_checked, runs, monkeypatch, capsys):
    asked = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or {"SSH password: ": "sshpw"}.get(
        prompt, ""))
    assert cli.main(["up", "zookeeper", "-i", str(inventory), "-k", "-K"]) == 0
    options = runs[0]["options"]
    assert asked == ["SSH password: ", "BECOME password[defaults to SSH password]: "]
    assert options.ssh_password == "sshpw" and options.become_password == "sshpw"  # ansible's default
    assert set(options.passwords().values()) == {"sshpw"}
    assert "sshpw" not in capsys.readouterr().out


def test_a_missing_extra_vars_file_stops_before_anything_runs(inventory, groups_checked, runs, capsys, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt: pytest.fail("asked for a password"))
    assert cli.main(["up", "zookeeper", "-i", str(inventory), "-e", "@/nonexistent/v.yml", "-K"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "stackbench: error: -e @/nonexistent/v.yml: no such file /nonexistent/v.yml"
    assert err[1].startswith("  hint:") and len(err) == 2
    assert runs == [] and groups_checked == []


def test_unknown_option_is_a_usage_error(inventory):
    with pytest.raises(SystemExit) as exc:
        cli.main(["up", "zookeeper", "-i", str(inventory), "--frobnicate"])
    assert exc.value.code == 2


@pytest.mark.parametrize("make", ["missing", "empty_dir", "vars_only_dir"])
def test_an_inventory_that_is_not_one_is_a_usage_error(make, tmp_path, runs, capsys):
    path = tmp_path / "inv"
    if make != "missing":
        (path / "group_vars" / "all").mkdir(parents=True)
        if make == "vars_only_dir":
            (path / "group_vars" / "all" / "main.yml").write_text("a: 1\n")
            (path / "README.md").write_text("not an inventory\n")
    assert cli.main(["up", "zookeeper", "-i", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("stackbench: error: ") and f"inventory {path}" in err[0], err
    assert err[1].startswith("  hint:")
    assert runs == []


def test_an_inventory_directory_with_a_source_is_read(tmp_path, groups_checked, runs):
    (tmp_path / "inv" / "group_vars").mkdir(parents=True)
    (tmp_path / "inv" / "hosts.yml").write_text(INVENTORY)
    assert cli.main(["up", "zookeeper", "-i", str(tmp_path / "inv")]) == 0
    assert groups_checked[0] == ("read", tmp_path / "inv")


def test_an_unreadable_inventory_is_a_usage_error(inventory, runs, capsys, monkeypatch):
    real_access = os.access  # root reads every file: what is asserted is how a refused read is reported
    monkeypatch.setattr(os, "access",
                        lambda path, mode: False if str(path) == str(inventory) else real_access(path, mode))
    assert cli.main(["up", "zookeeper", "-i", str(inventory)]) == 2
    assert "is not readable" in capsys.readouterr().err
    assert runs == []


def test_missing_groups_stop_the_run(inventory, monkeypatch, runs):
    stub = types.ModuleType("stackbench.inventory")
    stub.read_inventory = lambda source: None

    def require_groups(inv, spec):
        raise StackbenchError("inventory lacks group(s): zookeeper", "add them", exit_code=2)

    stub.require_groups = require_groups
    monkeypatch.setitem(sys.modules, "stackbench.inventory", stub)
    assert cli.main(["up", "zookeeper", "-i", str(inventory)]) == 2
    assert runs == []


def test_capacity_and_validate_ha_run_their_playbooks(inventory, groups_checked, runs):
    assert cli.main(["capacity", "mesos", "-i", str(inventory), "-l", "master1"]) == 0
    assert cli.main(["validate-ha", "mesos", "-i", str(inventory), "-e", "ha_faults=[kill]"]) == 0
    capacity, validate = runs
    assert (capacity["playbook"], capacity["label"], capacity["options"].limit) == ("capacity.yml", "capacity-mesos",
                                                                                    "master1")
    assert validate["playbook"] == "validate-ha.yml" and validate["label"] == "validate-ha-mesos"
    assert validate["extra_vars"] == {"ha_systems": ["zookeeper", "mesos_masters", "marathon"]}
    assert validate["options"].extra_vars == ["ha_faults=[kill]"]
    assert ("require", "mesos") in groups_checked


def test_capacity_without_inventory_or_lab_says_what_to_do(monkeypatch, tmp_path, runs, capsys):
    from stackbench.lab import lab

    monkeypatch.setattr(lab, "INVENTORY_DIR", tmp_path)
    assert cli.main(["capacity", "etcd"]) == 2
    err = capsys.readouterr().err
    assert "no inventory given and no lab for etcd" in err and "stackbench up etcd" in err


def test_up_with_an_inventory_never_imports_the_lab_or_docker(inventory, tmp_path):
    """In a fresh interpreter: `stackbench up zookeeper -i INV` (ansible stubbed) and then sys.modules."""
    script = f"""
import sys, types
from pathlib import Path
if "stackbench.inventory" not in sys.modules:
    try:
        import stackbench.inventory
    except ModuleNotFoundError:  # written by another change: a stub then
        stub = types.ModuleType("stackbench.inventory")
        stub.read_inventory = lambda source: None
        stub.require_groups = lambda inv, spec: None
        sys.modules["stackbench.inventory"] = stub
import stackbench.runner as runner
def fake(playbook, inventory, extra_vars=None, cmdline=None, label="run", out=None, options=None, timeout=None):
    return runner.PlaybookResult(0, "successful", 1.0, 0, [], None, None)
runner.run_playbook = fake
from stackbench import cli
code = cli.main(["up", "zookeeper", "-i", {str(inventory)!r}, "-e", "a=1"])
bad = sorted(m for m in sys.modules if m == "docker" or m.startswith(("docker.", "stackbench.lab",
                                                                   "stackbench.artifacts")))
print("RESULT", code, ",".join(bad))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env={**os.environ, "STACKBENCH_RESULTS": str(tmp_path / "results")})
    assert result.returncode == 0, result.stderr
    line = [x for x in result.stdout.splitlines() if x.startswith("RESULT")][0]
    assert line == "RESULT 0 ", f"imported on the -i path: {line}"


def test_up_without_inventory_uses_the_lab(monkeypatch, runs, capsys):
    made = []
    monkeypatch.setattr(stacks, "lab_inventory", lambda stack, nodes: made.append((stack, nodes)) or Path("lab.yml"))
    assert cli.main(["up", "etcd", "--nodes", "3"]) == 0
    assert made == [("etcd", 3)] and runs[0]["inventory"] == Path("lab.yml")


def test_down_with_an_inventory_runs_the_reset_playbook_once_confirmed(inventory, groups_checked, runs, capsys):
    assert cli.main(["down", "zookeeper", "-i", str(inventory), "--yes"]) == 0
    (call,) = runs
    assert Path(call["playbook"]).name == "zookeeper-reset.yml"
    assert call["options"].extra_vars == ["reset_confirmed=true"]


def test_down_asks_and_anything_but_yes_changes_nothing(inventory, groups_checked, runs):
    asked = []
    with pytest.raises(StackbenchError, match="not confirmed: nothing was changed"):
        stacks.down("mesos", inventory=str(inventory), ask=lambda q: asked.append(q) or "y")
    assert runs == [] and "Type yes" in asked[0]
    assert stacks.down("mesos", inventory=str(inventory), ask=lambda q: "yes") == 0
    assert Path(runs[0]["playbook"]).name == "mesos-reset.yml"


@pytest.mark.parametrize("stack", ["mesos", "kubernetes"])
def test_down_without_a_terminal_or_yes_is_refused_with_exit_2(stack, inventory, groups_checked, runs, capsys,
                                                               monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert cli.main(["down", stack, "-i", str(inventory)]) == 2
    assert runs == [] and "pass --yes" in capsys.readouterr().err


@pytest.mark.parametrize("stack", ["zookeeper", "kubernetes"])
def test_down_in_check_mode_needs_no_confirmation(stack, inventory, groups_checked, runs, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert cli.main(["down", stack, "-i", str(inventory), "--check"]) == 0
    assert runs[0]["options"].check and runs[0]["options"].extra_vars == ["reset_confirmed=true"]
