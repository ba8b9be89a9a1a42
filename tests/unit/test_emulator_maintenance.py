"""Maintenance, draining and versioned builds of the Mesos/Marathon emulators: the pure pieces
(machine matching, schedule validation, kill grace, Marathon's maintenance windows, versions)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest
from mesos_emulator import agent, marathon, master, packaged_versions
from mesos_emulator.flags import load_marathon_flags

from stackbench.artifacts import emulators

NS = 1_000_000_000
AGENT = {"hostname": "Node-1", "pid": "slave(1)@10.0.0.5:5051"}


def window(machine: dict, start: float, duration: float | None = None) -> dict:
    unavailability: dict = {"start": {"nanoseconds": int(start * NS)}}
    if duration is not None:
        unavailability["duration"] = {"nanoseconds": int(duration * NS)}
    return {"machine_ids": [machine], "unavailability": unavailability}


# ---- machines (Mesos matches hostname, case-insensitive, and IP; omitted fields are "") ----
def test_an_agent_is_on_a_machine_only_when_hostname_and_ip_both_match():
    assert master.agent_machine(AGENT) == {"hostname": "Node-1", "ip": "10.0.0.5"}
    assert master.same_machine({"hostname": "node-1", "ip": "10.0.0.5"}, AGENT)
    assert not master.same_machine({"hostname": "node-1"}, AGENT)  # ip "" is not 10.0.0.5
    assert not master.same_machine({"hostname": "node-2", "ip": "10.0.0.5"}, AGENT)


@pytest.mark.parametrize(
    ("schedule", "down", "error"),
    [
        ({"windows": []}, [], None),
        ({"windows": [window({"hostname": "a", "ip": "10.0.0.1"}, 0)]}, [], None),
        ({"windows": [{"machine_ids": [], "unavailability": {"start": {"nanoseconds": 0}}}]}, [], "is empty"),
        ({"windows": [{"machine_ids": [{"hostname": "a"}]}]}, [], "unavailability"),
        ({"windows": [window({"ip": ""}, 0)]}, [], "are empty"),
        ({"windows": [window({"hostname": "A"}, 0), window({"hostname": "a"}, 5)]}, [], "more than once"),
        ({"windows": []}, [{"hostname": "a"}], "must be present"),
        ([], [], "windows"),
    ],
)
def test_schedule_validation_follows_the_master(schedule, down, error):
    found = master.schedule_error(schedule, down)
    assert (found is None) if error is None else (error in (found or ""))


# ---- kill grace: the task's KillPolicy, capped by the drain's max_grace_period ----------
def test_kill_grace_defaults_and_is_capped_by_a_drain():
    assert agent.kill_grace({}, None) == agent.DEFAULT_KILL_GRACE_SECONDS
    task = {"kill_policy": {"grace_period": {"nanoseconds": 30 * NS}}}
    assert agent.kill_grace(task, None) == 30
    assert agent.kill_grace(task, {"mark_gone": False, "max_grace_period": {"nanoseconds": 2 * NS}}) == 2
    assert agent.kill_grace({}, {"max_grace_period": {"nanoseconds": 0}}) == 0


# ---- Marathon 1.10 declines offers of agents in a maintenance window --------------------
def test_marathon_maintenance_window_begins_draining_seconds_early_and_ends_with_its_duration():
    machine = {"hostname": "node-1", "ip": "10.0.0.5"}
    schedule = {"windows": [window(machine, 1000, 60)]}
    assert not marathon.in_maintenance(AGENT, schedule, 999)
    assert marathon.in_maintenance(AGENT, schedule, 999, draining_seconds=5)
    assert marathon.in_maintenance(AGENT, schedule, 1000)
    assert not marathon.in_maintenance(AGENT, schedule, 1060)
    assert marathon.in_maintenance(AGENT, {"windows": [window(machine, 1000)]}, 10**9)  # no duration: open
    assert not marathon.in_maintenance(AGENT, {"windows": [window({"hostname": "node-1"}, 0)]}, 1000)
    assert not marathon.in_maintenance(AGENT, {}, 1000)


def test_marathon_never_places_on_deactivated_or_maintenance_agents():
    free = {"resources": {"cpus": 4.0, "mem": 1024.0}, "used_resources": {}}
    agents = [{**free, "id": "a", "hostname": "a", "deactivated": True},
              {**free, "id": "b", "hostname": "b", "_maintenance": True},
              {**free, "id": "c", "hostname": "c", "active": False}]
    assert marathon.choose_agent(agents, {"cpus": 1.0}, {}) is None
    assert marathon.choose_agent([*agents, {**free, "id": "d", "hostname": "d"}], {"cpus": 1.0}, {})["id"] == "d"


def test_marathon_maintenance_mode_is_on_by_default_and_can_be_disabled():
    on = load_marathon_flags(marathon.FLAGS, ["--master", "zk://z:2181/mesos"], {})
    off = load_marathon_flags(marathon.FLAGS, ["--master", "zk://z:2181/mesos", "--disable_maintenance_mode",
                                               "--draining_seconds", "30"], {})
    assert (on["maintenance_mode"], on["draining_seconds"]) == (True, 0)
    assert (off["maintenance_mode"], off["draining_seconds"]) == (False, 30)


# ---- versioned builds --------------------------------------------------------------------
def test_packaged_versions_are_read_from_beside_the_package(tmp_path):
    assert packaged_versions(str(tmp_path)) == {}
    (tmp_path / "VERSION.json").write_text(json.dumps({"mesos": "1.10.0", "other": "x"}))
    assert packaged_versions(str(tmp_path)) == {"mesos": "1.10.0"}


def test_every_version_is_built_and_each_reports_its_own(tmp_path):
    emulators.build(tmp_path / "mirror", log=lambda _msg: None)
    assert (emulators.MESOS_VERSION, emulators.MARATHON_VERSION) == ("1.11.0", "1.10.26")  # defaults kept
    runs = [(emulators.mesos_relpath(v), "sbin/mesos-master", ["--version"], f"mesos {v} ")
            for v in emulators.MESOS_VERSIONS]
    runs += [(emulators.mesos_relpath(v), "sbin/mesos-agent", ["--version"], f"mesos {v} ")
             for v in emulators.MESOS_VERSIONS]
    runs += [(emulators.marathon_relpath(v), "bin/marathon", ["--version"], f"{v} ")
             for v in emulators.MARATHON_VERSIONS]
    assert {str(r[0]) for r in runs} == {
        "mesos-emulator/1.10.0/mesos-1.10.0-emulator.tar.gz", "mesos-emulator/1.11.0/mesos-1.11.0-emulator.tar.gz",
        "marathon-emulator/v1.9.109/marathon-1.9.109-emulator.tgz",
        "marathon-emulator/v1.10.26/marathon-1.10.26-emulator.tgz"}
    for relpath, program, argv, expected in runs:
        install = tmp_path / "opt" / relpath.name
        if not install.exists():
            with tarfile.open(tmp_path / "mirror" / relpath) as tar:
                tar.extractall(install, filter="data")
        (top,) = install.iterdir()
        proc = subprocess.run([sys.executable, str(top / program), *argv], capture_output=True, text=True,
                              timeout=60, env={"PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0 and proc.stdout.startswith(expected), (program, proc.stdout, proc.stderr)
