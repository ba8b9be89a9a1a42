"""plugins/plugin_utils/failover: what every system shares (the System hooks, the quorum rule, the
writer, the faults, reaching hosts) and the run loop, driven with a fake system (no hosts needed)."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover import faults, run
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import (
    Cluster,
    Failure,
    System,
    Writer,
    fault_decision,
    wait_for,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.faults import (
    Fault,
    fault_command,
    partition_commands,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.hosts import (
    SshOptions,
    SshTunnel,
    ssh_options,
    ssh_tunnel_command,
    tunnel_command,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.run import run_failover
from conftest import failover_args
from hypothesis import given
from hypothesis import strategies as st

# ----- quorum safety


def test_fault_decision_three_members():
    ok, why = fault_decision("zookeeper", 3, 3)
    assert ok and "2 of 3" in why
    ok, why = fault_decision("etcd", 3, 2)
    assert not ok and "quorum of 2" in why and "force" in why
    ok, why = fault_decision("etcd", 3, 2, force=True)
    assert ok and "forced" in why


def test_fault_decision_single_member():
    ok, why = fault_decision("zookeeper", 1, 1)
    assert not ok and "below the quorum of 1" in why


def test_fault_decision_standby_systems():
    assert fault_decision("marathon", 3, 3, majority=False)[0]
    ok, why = fault_decision("kube_scheduler", 1, 1, majority=False)
    assert not ok and "take over" in why


@given(st.integers(min_value=1, max_value=99), st.data())
def test_fault_decision_never_allows_quorum_loss(members, data):
    healthy = data.draw(st.integers(min_value=1, max_value=members))
    faulted = data.draw(st.integers(min_value=1, max_value=healthy))
    ok, _ = fault_decision("etcd", members, healthy, faulted)
    assert ok == (healthy - faulted >= members // 2 + 1)
    assert fault_decision("etcd", members, healthy, faulted, force=True)[0]


# ----- the System base class: the hooks' shared behaviour


class Minimal(System):
    """A system that only says who is what: everything else is the base class's."""

    name = "minimal"
    default_group = "minimal"
    default_service = "minimal-svc"
    default_port = 1

    def __init__(self, cluster, modes):
        super().__init__(cluster)
        self.table = modes

    def modes(self, hosts):
        return {h: self.table.get(h) for h in hosts}


def _minimal(modes, **args):
    return Minimal(Cluster({h: f"192.0.2.{i}" for i, h in enumerate(modes, 1)}, 1, 1.0, args), modes)


def test_base_leader_is_the_single_leader_of_the_modes():
    assert _minimal({"a": "leader", "b": "follower"}).leader(["a", "b"]) == "a"
    assert _minimal({"a": "leader", "b": "leader"}).leader(["a", "b"]) is None
    assert _minimal({"a": "leader", "b": "follower"}).leader(["b"]) is None


def test_base_defaults():
    system = _minimal({"a": "leader"})
    assert system.service == "minimal-svc" and _minimal({"a": None}, service="other").service == "other"
    assert system.settings == {} and system.figures == {} and system.bounds() == {}
    assert system.default_settle_seconds == 3.0 and system.write_timeout == 1.0
    assert system.majority and system.supports_writes
    assert system.after_new_leader("a", 0.0, 1) == {} and system.keys_on("a") is None
    assert system.rejoin_mode("a") == "leader"
    with pytest.raises(NotImplementedError, match="minimal takes no client writes"):
        system.write("k", b"v")
    system.read_settings("a"), system.connect(["a"]), system.after_fault(0.0), system.cleanup()  # no-ops
    with pytest.raises(NotImplementedError):
        System.modes(system, ["a"])  # every system must say who is what


def test_base_waits_for_another_leader_among_the_survivors():
    system = _minimal({"a": "leader", "b": "follower", "c": "follower"})
    assert system.wait_new_leader(["b", "c"], "a", 0.0, None, 0.2) == (None, None)
    system.table.update(a=None, c="leader")
    leader, seen = system.wait_new_leader(["b", "c"], "a", 0.0, None, 1)
    assert leader == "c" and seen is not None


# ----- waiting, writing


def test_wait_for():
    values = iter([None, None, "zo3"])
    value, seen = wait_for(lambda: next(values), timeout=5, interval=0.01)
    assert value == "zo3" and seen is not None
    assert wait_for(lambda: None, timeout=0.05, interval=0.01) == (None, None)


def test_writer_records_acks_and_failures():
    class Flaky:
        def __init__(self):
            self.n = 0
            self.lock = threading.Lock()

        def write(self, key, value):
            with self.lock:
                self.n += 1
                if self.n % 3 == 0:
                    raise ConnectionError("lost")

    writer = Writer(Flaky(), interval=0.001)
    start = time.time()
    writer.start()
    time.sleep(0.3)
    writer.stop_event.set()
    writer.join(2)
    log = writer.log
    assert len(log.acknowledged) >= 2 and any(not a.ok for a in log.attempts)
    assert all(a.error.startswith("ConnectionError") for a in log.attempts if not a.ok)
    assert writer.acked_since(start)
    assert [a.seq for a in log.attempts] == sorted(a.seq for a in log.attempts)


# ----- faults


def test_fault_commands():
    assert "kill -9" in fault_command("kill", "zookeeper")
    assert "MainPID" in fault_command("kill", "zookeeper")
    assert fault_command("stop", "etcd").endswith("systemctl stop etcd")
    assert "date +%s.%N" in fault_command("stop", "etcd")
    with pytest.raises(ValueError):
        fault_command("partition", "etcd")
    cut, heal = partition_commands()
    assert "--dport 22 -j ACCEPT" in cut and "--sport 22 -j ACCEPT" in cut
    assert cut.index("--dport 22") < cut.index("STACKBENCH-PART-IN -j DROP")
    assert "-i lo -j ACCEPT" in cut
    assert "iptables -D INPUT -j STACKBENCH-PART-IN" in heal and "iptables -X STACKBENCH-PART-OUT" in heal


def test_lab_partition_heals_even_after_failed_inject(monkeypatch):
    commands = []

    def local(cmd, timeout=120):
        commands.append(cmd)
        return (1, "boom") if cmd[2] == "partition" else (0, "")

    monkeypatch.setattr(faults, "stackbench_cli", lambda: "stackbench")
    monkeypatch.setattr(faults, "run_local", local)
    fault = Fault("partition", "zo1", "zookeeper", runner=None, lab="hazk", lab_host="zo1")
    with pytest.raises(Failure):
        fault.inject()
    fault.injected = True  # a partial failure still counts as injected
    fault.heal()
    assert commands[-1] == ["stackbench", "lab", "heal", "zo1", "--lab", "hazk"]
    fault.heal()  # idempotent: nothing left to heal
    assert len(commands) == 2


class ClockRunner:
    def __init__(self, stamp):
        self.stamp = stamp
        self.commands = []

    def shell(self, host, command, become=True):
        self.commands.append((host, command))
        return 0, f"{self.stamp}\n", ""


def test_host_fault_uses_host_clock_when_it_agrees():
    now = time.time()
    fault = Fault("kill", "zo2", "zookeeper", ClockRunner(now), lab=None, lab_host="zo2")
    assert fault.inject() == pytest.approx(now)
    assert fault.time_source == "host clock before the fault"
    skewed = Fault("stop", "zo2", "zookeeper", ClockRunner(now - 3600), lab=None, lab_host="zo2")
    assert abs(skewed.inject() - time.time()) < 5
    assert skewed.time_source.startswith("controller clock")
    runner = ClockRunner(now)
    healed = Fault("stop", "zo2", "zookeeper", runner, lab=None, lab_host="zo2")
    healed.inject()
    healed.heal()
    assert runner.commands[-1] == ("zo2", "systemctl start zookeeper")


def test_iptables_partition_heals_with_the_undo_commands():
    runner = ClockRunner(time.time())
    fault = Fault("partition", "zo2", "zookeeper", runner, lab=None, lab_host="zo2")
    fault.inject()
    fault.heal()
    assert runner.commands[0][1] == partition_commands()[0] and runner.commands[1][1] == partition_commands()[1]


# ----- reaching hosts


def _option(cmd: list[str], name: str) -> list[str]:
    """The values of `-o name=...` in an ssh command, in order (ssh uses the first)."""
    return [cmd[i + 1].split("=", 1)[1] for i, word in enumerate(cmd[:-1])
            if word == "-o" and cmd[i + 1].split("=", 1)[0] == name]


def test_tunnel_command_carries_every_connection_option():
    options = SshOptions(host="172.29.0.14", executable="/opt/openssh/bin/ssh", user="stackbench", port=2222,
                         private_key_file="/k/id", ssh_args="-o ControlMaster=auto -o ControlPersist=60s",
                         common_args="-o ProxyJump=jump@bastion:2200 -o UserKnownHostsFile=/dev/null",
                         extra_args='-o ProxyCommand="ssh -W %h:%p -q gw" -v', host_key_checking=False, timeout=10)
    cmd = tunnel_command(options, 40000, 6543)
    assert cmd[0] == "/opt/openssh/bin/ssh" and cmd[-1] == "172.29.0.14"
    assert cmd[-4:-1] == ["-N", "-L", "127.0.0.1:40000:127.0.0.1:6543"]
    assert _option(cmd, "Port") == ["2222"] and _option(cmd, "User") == ['"stackbench"']
    assert _option(cmd, "IdentityFile") == ['"/k/id"'] and _option(cmd, "ConnectTimeout") == ["10"]
    assert _option(cmd, "ProxyJump") == ["jump@bastion:2200"] and _option(cmd, "UserKnownHostsFile") == ["/dev/null"]
    assert _option(cmd, "ProxyCommand") == ["ssh -W %h:%p -q gw"] and "-v" in cmd  # quoted: one argument
    assert _option(cmd, "StrictHostKeyChecking") == ["no"]
    # ssh keeps the first value: the tunnel's own process, whatever ansible.cfg multiplexes
    assert _option(cmd, "ControlMaster")[0] == "no" and _option(cmd, "ControlPath")[0] == "none"
    assert _option(cmd, "BatchMode")[0] == "yes" and _option(cmd, "ExitOnForwardFailure")[0] == "yes"


def test_tunnel_command_adds_only_what_is_set():
    cmd = tunnel_command(SshOptions(host="worker1"), 1, 2)
    assert cmd[0] == "ssh" and cmd[-1] == "worker1"
    for name in ("Port", "User", "IdentityFile", "ConnectTimeout", "StrictHostKeyChecking", "ProxyJump"):
        assert _option(cmd, name) == []


def test_ssh_options_are_resolved_by_ansibles_ssh_plugin(monkeypatch):
    hv = {"inventory_hostname": "worker1", "ansible_host": "172.29.0.14", "ansible_user": "stackbench",
          "ansible_port": 2222, "ansible_ssh_private_key_file": "/k/id", "ansible_ssh_executable": "/opt/ssh",
          "ansible_ssh_common_args": "-J jump@bastion", "ansible_ssh_extra_args": "-o LogLevel=ERROR"}
    monkeypatch.setenv("ANSIBLE_SSH_ARGS", "-o ControlPersist=7s")  # what ansible.cfg's ssh_args would say
    options = ssh_options(hv, "worker1")
    assert options == SshOptions(host="172.29.0.14", executable="/opt/ssh", user="stackbench", port=2222,
                                 private_key_file="/k/id", ssh_args="-o ControlPersist=7s",
                                 common_args="-J jump@bastion", extra_args="-o LogLevel=ERROR",
                                 host_key_checking=options.host_key_checking, timeout=options.timeout)
    assert ssh_options({**hv, "ansible_ssh_args": "-o ControlPersist=1s"}, "worker1").ssh_args == \
        "-o ControlPersist=1s"  # the host's var wins over the default
    bare = ssh_options({"inventory_hostname": "worker1"}, "worker1")
    assert (bare.host, bare.executable, bare.port, bare.user) == ("worker1", "ssh", None, None)
    cmd = ssh_tunnel_command(hv, "worker1", 40000, 6543)
    assert cmd[0] == "/opt/ssh" and "-J" in cmd and _option(cmd, "ControlPersist") == ["7s"]


def test_no_ssh_tunnel_to_a_host_reached_otherwise():
    with pytest.raises(Failure, match="docker connection, not ssh"):
        ssh_options({"inventory_hostname": "w1", "ansible_connection": "docker"}, "w1")
    with pytest.raises(Failure, match="cannot resolve how ssh reaches w1: .*'port'"):
        ssh_options({"inventory_hostname": "w1", "ansible_port": "twenty-two"}, "w1")


def test_ssh_tunnel_that_exits_is_a_failure():
    tunnel = SshTunnel(lambda port: [sys.executable, "-c", "import sys; sys.exit('no route')"])
    with pytest.raises(Failure, match="no route"):
        tunnel.open(timeout=10)


# ----- the run loop, with a fake system


class FakeCluster(System):
    """Stands in for ZooKeeperSystem: members elect `next_leader` once the fault is in."""

    name = "zookeeper"
    default_group = "zookeeper"
    default_service = "zookeeper"
    default_port = 2181
    instances: list = []

    def __init__(self, cluster, next_leader="zo3", lose=(), down_for_calls=0, refuse_writes=0):
        super().__init__(cluster)
        self.down_for_calls = down_for_calls  # zo2 answers nothing for the first N mode reads
        self.refuse_writes = refuse_writes
        self.faulted = False
        self.next_leader = next_leader
        self.lose = set(lose)
        self.stored: list[str] = []
        self.settings = {"tickTime": "2000", "syncLimit": "5", "initLimit": "10", "dataDir": "/var/lib/zookeeper"}
        self.cleaned = False
        FakeCluster.instances.append(self)

    def modes(self, hosts):
        leader = self.next_leader if self.faulted else "zo1"
        self.mode_calls = getattr(self, "mode_calls", 0) + 1
        down = self.down_for_calls > 0 and self.mode_calls <= self.down_for_calls
        return {h: (None if down and h == "zo2" else "leader" if h == leader else "follower") for h in hosts}

    def bounds(self):
        return {"follower_detects_dead_leader": 10.0}

    def write(self, key, value):
        if self.refuse_writes > 0:  # a member going down just after it answered
            self.refuse_writes -= 1
            raise ConnectionError("HTTP 0: connection refused")
        self.stored.append(key)

    def connect(self, hosts):
        self.connected = list(hosts)

    def keys_on(self, host):
        return [k for k in self.stored if not (host == "zo2" and k in self.lose)]

    def cleanup(self):
        self.cleaned = True


class FakeRunner:
    def __init__(self, fail_fault=False):
        self.commands = []
        self.fail_fault = fail_fault

    def shell(self, host, command, become=True):
        self.commands.append((host, command))
        if "kill -9" in command:
            if self.fail_fault:
                return 1, "", "no such process"
            FakeCluster.instances[-1].faulted = True
            return 0, f"{time.time()}\n", ""
        return 0, "", ""


MEMBERS = {"zo1": "192.0.2.1", "zo2": "192.0.2.2", "zo3": "192.0.2.3"}


def _run(fail_fault=False, args=None, **system):
    FakeCluster.instances = []
    runner = FakeRunner(fail_fault)
    args = failover_args(**(args or {"baseline_seconds": 0.1, "settle_seconds": 0.1, "timeout_seconds": 1,
                                      "write_interval_seconds": 0.005}))
    cluster = Cluster(dict(MEMBERS), 2181, float(args["timeout_seconds"]), args, {h: {} for h in MEMBERS}, {},
                      runner)
    return run_failover(FakeCluster(cluster, **system), "kill", args), runner


def test_run_measures_heals_and_passes():
    result, runner = _run()
    assert result["passed"], result["problems"]
    assert result["old_leader"] == "zo1" and result["new_leader"] == "zo3"
    assert result["lost_acknowledged_writes"] == 0 and result["marker_survived"]
    assert result["old_leader_rejoined_as"] == "follower"
    assert result["time_to_new_leader_seconds"] is not None and result["time_to_new_leader_seconds"] >= 0
    assert runner.commands[-1] == ("zo1", "systemctl start zookeeper")  # healed
    assert FakeCluster.instances[-1].cleaned


def test_run_waits_for_a_member_still_restarting_from_an_earlier_fault():
    result, _ = _run(args={"baseline_seconds": 0.1, "settle_seconds": 0.1, "timeout_seconds": 1,
                           "write_interval_seconds": 0.005, "leader_wait_seconds": 5}, down_for_calls=3)
    assert result["passed"], result["problems"]
    assert FakeCluster.instances[-1].connected == ["zo2", "zo3"]  # zo2 answered again before the fault


def test_run_writes_only_to_members_that_answer():
    result, _ = _run(args={"baseline_seconds": 0.1, "settle_seconds": 0.1, "timeout_seconds": 1,
                           "write_interval_seconds": 0.005, "leader_wait_seconds": 0.5, "force": True},
                     down_for_calls=10 ** 6)
    assert FakeCluster.instances[-1].connected == ["zo3"]  # zo2 never answered: no client writes to it
    assert result["old_leader"] == "zo1" and result["new_leader"] == "zo3"


def test_marker_write_is_retried_before_the_fault():
    result, runner = _run(refuse_writes=2)
    assert result["passed"], result["problems"]
    assert result["marker_survived"] and FakeCluster.instances[-1].stored[0] == "marker"
    assert sum("kill -9" in command for _, command in runner.commands) == 1


def test_run_result_keys_are_the_same_as_ever():
    result, _ = _run()
    assert list(result) == [
        "system", "fault", "old_leader", "new_leader", "time_to_new_leader_seconds", "write_unavailable_seconds",
        "last_failed_write_seconds", "first_ack_after_fault_seconds", "max_ack_gap_seconds", "writes_attempted",
        "writes_acknowledged", "failed_writes", "write_errors", "lost_acknowledged_writes",
        "lost_acknowledged_write_keys", "members_checked", "marker_survived", "old_leader_rejoined_as",
        "old_leader_rejoin_seconds", "bounds_seconds", "members_unreadable", "decision", "fault_command_seconds",
        "fault_time_source", "host_connection", "settings", "problems", "passed"]
    assert result["settings"] == {"tickTime": "2000", "syncLimit": "5", "initLimit": "10"}  # dataDir is not reported
    assert result["decision"] == "2 of 3 members remain, quorum is 2"
    assert result["members_checked"] == ["zo1", "zo2", "zo3"] and result["members_unreadable"] == []


def test_run_reports_lost_writes():
    lose = {f"w{n:07d}" for n in range(1, 100000)}
    result, _ = _run(lose=lose)
    assert result["lost_acknowledged_writes"] > 0 and not result["passed"]
    assert any("were lost" in p for p in result["problems"])


def test_run_without_new_leader_still_heals():
    result, runner = _run(next_leader=None)
    assert result["new_leader"] is None and not result["passed"]
    assert any("no new leader" in p for p in result["problems"])
    assert runner.commands[-1] == ("zo1", "systemctl start zookeeper")


def test_failed_fault_heals_and_fails():
    with pytest.raises(Failure, match="the fault was healed"):
        _run(fail_fault=True)
    assert FakeCluster.instances[-1].cleaned


def test_quorum_refusal_before_any_fault_and_force():
    FakeCluster.instances = []
    runner = FakeRunner()
    args = failover_args(timeout_seconds=1, baseline_seconds=0, settle_seconds=0)
    one = Cluster({"zo1": "192.0.2.1"}, 2181, 1.0, args, {"zo1": {}}, {}, runner)
    with pytest.raises(Failure, match="below the quorum of 1"):
        run_failover(FakeCluster(one), "kill", args)
    assert runner.commands == [] and FakeCluster.instances[-1].cleaned
    forced = failover_args(timeout_seconds=0.3, baseline_seconds=0, settle_seconds=0, force=True)
    result = run_failover(FakeCluster(Cluster({"zo1": "192.0.2.1"}, 2181, 0.3, forced, {"zo1": {}}, {}, runner)),
                          "kill", forced)
    assert result["decision"].endswith("(forced)") and result["new_leader"] is None and not result["passed"]
    assert runner.commands[-1] == ("zo1", "systemctl start zookeeper")


def test_partition_method_lab_needs_a_lab(monkeypatch):
    FakeCluster.instances = []
    args = failover_args(partition_method="lab", baseline_seconds=0, timeout_seconds=1)
    cluster = Cluster(dict(MEMBERS), 2181, 1.0, args, {h: {} for h in MEMBERS}, {}, FakeRunner())
    with pytest.raises(Failure, match="partition_method=lab but zo1 has no stackbench_lab"):
        run_failover(FakeCluster(cluster), "partition", args)
    assert run.partition_lab(FakeCluster(Cluster(dict(MEMBERS), 1, 1.0, args, {"zo1": {"stackbench_lab": "x"}})),
                             "zo1", "iptables") is None


def test_a_system_without_writes_gets_null_write_figures():
    class NoWrites(FakeCluster):
        supports_writes = False

        def write(self, key, value):
            raise AssertionError("no writes")

    FakeCluster.instances = []
    args = failover_args(baseline_seconds=0, settle_seconds=0, timeout_seconds=1)
    cluster = Cluster(dict(MEMBERS), 2181, 1.0, args, {h: {} for h in MEMBERS}, {}, FakeRunner())
    result = run_failover(NoWrites(cluster), "kill", args)
    assert result["passed"], result["problems"]
    assert result["write_unavailable_seconds"] is None and result["marker_survived"] is None
    assert result["writes_note"].startswith("zookeeper: no client writes")
