"""The ha_failover action plugin: bad input, fault commands, the writer (no hosts needed)."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import fixture_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def action():
    spec = importlib.util.spec_from_file_location("stackbench_ha_action", ROOT / "plugins/action/ha_failover.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["stackbench_ha_action"] = module
    spec.loader.exec_module(module)
    return module


def _validate(action, system, fault="kill", groups=None, **args):
    plugin = action.ActionModule.__new__(action.ActionModule)
    task_vars = {"groups": groups if groups is not None else {"zookeeper": ["zo1"]},
                 "hostvars": {"zo1": {"ansible_host": "192.0.2.1"}}}
    return plugin._validate(system, fault, args, task_vars)


@pytest.mark.parametrize(("system", "fault", "groups", "message"), [
    ("cassandra", "kill", None, "unknown system 'cassandra'"),
    ("kube_scheduler", "kill", None, "no hosts in group 'kube_control_plane'"),
    ("zookeeper", "reboot", None, "unknown fault 'reboot'"),
    ("zookeeper", "kill", {"all": ["zo1"]}, "no hosts in group 'zookeeper'"),
    ("etcd", "kill", {"zookeeper": ["zo1"], "etcd": []}, "no hosts in group 'etcd'"),
])
def test_bad_input_fails_clearly(action, system, fault, groups, message):
    with pytest.raises(action.Failure, match=message):
        _validate(action, system, fault, groups)


def test_unreachable_members_fail_before_any_fault(action, monkeypatch):
    calls = []
    monkeypatch.setattr(action.Fault, "inject", lambda self: calls.append(self) or 0.0)
    # 192.0.2.0/24 (TEST-NET-1) is never routed: nothing answers, nothing is sent anywhere real.
    monkeypatch.setattr(action, "zk_four_letter", lambda *a, **k: None)
    with pytest.raises(action.Failure, match="no zookeeper member answered"):
        _validate(action, "zookeeper")
    assert calls == []


def test_no_leader_fails_before_any_fault(action, monkeypatch):
    monkeypatch.setattr(action, "zk_four_letter",
                        lambda *a, **k: "This ZooKeeper instance is not currently serving requests\n")
    monkeypatch.setattr(action.ZooKeeperSystem, "modes", lambda self, hosts: {h: "follower" for h in hosts})
    with pytest.raises(action.Failure, match="no single leader"):
        _validate(action, "zookeeper")


def test_quorum_refusal(action, monkeypatch):
    text = "zk_version\t3.8.6\nzk_server_state\tleader\n"
    monkeypatch.setattr(action, "zk_four_letter", lambda *a, **k: text)
    with pytest.raises(action.Failure, match="below the quorum of 1"):
        _validate(action, "zookeeper")


def test_fault_commands(action):
    assert "kill -9" in action.fault_command("kill", "zookeeper")
    assert "MainPID" in action.fault_command("kill", "zookeeper")
    assert action.fault_command("stop", "etcd").endswith("systemctl stop etcd")
    assert "date +%s.%N" in action.fault_command("stop", "etcd")
    with pytest.raises(ValueError):
        action.fault_command("partition", "etcd")
    cut, heal = action.partition_commands()
    assert "--dport 22 -j ACCEPT" in cut and "--sport 22 -j ACCEPT" in cut
    assert cut.index("--dport 22") < cut.index("STACKBENCH-PART-IN -j DROP")
    assert "-i lo -j ACCEPT" in cut
    assert "iptables -D INPUT -j STACKBENCH-PART-IN" in heal and "iptables -X STACKBENCH-PART-OUT" in heal


def test_lab_partition_heals_even_after_failed_inject(action, monkeypatch):
    commands = []

    def local(cmd, timeout=120):
        commands.append(cmd)
        return (1, "boom") if cmd[2] == "partition" else (0, "")

    monkeypatch.setattr(action, "_stackbench", lambda: "stackbench")

    monkeypatch.setattr(action, "_local", local)
    fault = action.Fault("partition", "zo1", "zookeeper", runner=None, lab="hazk", lab_host="zo1")
    with pytest.raises(action.Failure):
        fault.inject()
    fault.injected = True  # a partial failure still counts as injected
    fault.heal()
    assert commands[-1] == ["stackbench", "lab", "heal", "zo1", "--lab", "hazk"]
    fault.heal()  # idempotent: nothing left to heal
    assert len(commands) == 2


def test_host_fault_uses_host_clock_when_it_agrees(action):
    class Runner:
        def __init__(self, stamp):
            self.stamp = stamp
            self.commands = []

        def shell(self, host, command, become=True):
            self.commands.append((host, command))
            return 0, f"{self.stamp}\n", ""

    now = time.time()
    fault = action.Fault("kill", "zo2", "zookeeper", Runner(now), lab=None, lab_host="zo2")
    assert fault.inject() == pytest.approx(now)
    skewed = action.Fault("stop", "zo2", "zookeeper", Runner(now - 3600), lab=None, lab_host="zo2")
    assert abs(skewed.inject() - time.time()) < 5
    runner = Runner(now)
    healed = action.Fault("stop", "zo2", "zookeeper", runner, lab=None, lab_host="zo2")
    healed.inject()
    healed.heal()
    assert runner.commands[-1] == ("zo2", "systemctl start zookeeper")


def test_writer_records_acks_and_failures(action):
    class Flaky:
        def __init__(self):
            self.n = 0
            self.lock = threading.Lock()

        def write(self, key, value):
            with self.lock:
                self.n += 1
                if self.n % 3 == 0:
                    raise ConnectionError("lost")

    writer = action.Writer(Flaky(), interval=0.001)
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


def test_wait_for(action):
    values = iter([None, None, "zo3"])
    value, seen = action.wait_for(lambda: next(values), timeout=5, interval=0.01)
    assert value == "zo3" and seen is not None
    assert action.wait_for(lambda: None, timeout=0.05, interval=0.01) == (None, None)


def test_zookeeper_modes_distinguish_silent_and_not_serving(action, monkeypatch):
    replies = {"192.0.2.1": None, "192.0.2.2": "This ZooKeeper instance is not currently serving requests\n",
               "192.0.2.3": "zk_version\t3.8.6\nzk_server_state\tfollower\n"}
    monkeypatch.setattr(action, "zk_four_letter", lambda address, port, word, timeout=1.0: replies[address])
    zk = action.ZooKeeperSystem({"a": "192.0.2.1", "b": "192.0.2.2", "c": "192.0.2.3"}, 2181, 5)
    assert zk.modes(["a", "b", "c"]) == {"a": None, "b": "not serving", "c": "follower"}
    assert zk.leader(["a", "b", "c"]) is None


def test_zookeeper_mntr_not_whitelisted_is_a_clear_failure(action, monkeypatch):
    monkeypatch.setattr(action, "zk_four_letter",
                        lambda *a, **k: "mntr is not executed because it is not in the whitelist.\n")
    zk = action.ZooKeeperSystem({"a": "192.0.2.1"}, 2181, 5)
    with pytest.raises(action.Failure, match="whitelist"):
        zk.modes(["a"])


class FakeCluster:
    """Stands in for ZooKeeperSystem: members elect `next_leader` once the fault is in."""

    instances: list = []

    def __init__(self, members, port, timeout, next_leader="zo3", lose=()):
        self.members = members
        self.faulted = False
        self.next_leader = next_leader
        self.lose = set(lose)
        self.stored: list[str] = []
        self.settings = {"tickTime": "2000", "syncLimit": "5", "initLimit": "10"}
        self.write_timeout = 1.0
        self.cleaned = False
        FakeCluster.instances.append(self)

    def modes(self, hosts):
        leader = self.next_leader if self.faulted else "zo1"
        return {h: ("leader" if h == leader else "follower") for h in hosts}

    def leader(self, hosts):
        leader = self.next_leader if self.faulted else "zo1"
        return leader if leader in hosts else None

    def read_settings(self, host):
        pass

    def bounds(self):
        return {"follower_detects_dead_leader": 10.0}

    def connect(self, hosts):
        pass

    def write(self, key, value):
        self.stored.append(key)

    def keys_on(self, host):
        return [k for k in self.stored if not (host == "zo2" and k in self.lose)]

    def cleanup(self):
        self.cleaned = True


class FakeRunner:
    def __init__(self, cluster_ref, fail_fault=False):
        self.commands = []
        self.cluster_ref = cluster_ref
        self.fail_fault = fail_fault

    def shell(self, host, command, become=True):
        self.commands.append((host, command))
        if "kill -9" in command:
            if self.fail_fault:
                return 1, "", "no such process"
            self.cluster_ref[0].faulted = True
            return 0, f"{time.time()}\n", ""
        return 0, "", ""


def _run(action, monkeypatch, fail_fault=False, **cluster):
    FakeCluster.instances = []
    monkeypatch.setattr(action, "ZooKeeperSystem", lambda *a: FakeCluster(*a, **cluster))
    ref = []

    class Runner(FakeRunner):
        def shell(self, host, command, become=True):
            if not ref:
                ref.append(FakeCluster.instances[-1])
            return super().shell(host, command, become)

    runner = Runner(ref, fail_fault)
    members = {"zo1": "192.0.2.1", "zo2": "192.0.2.2", "zo3": "192.0.2.3"}
    args = {"baseline_seconds": 0.1, "settle_seconds": 0.1, "timeout_seconds": 1, "write_interval_seconds": 0.005}
    hostvars = {h: {} for h in members}
    return action.run_failover("zookeeper", "kill", members, hostvars, runner, args), runner


def test_run_measures_heals_and_passes(action, monkeypatch):
    result, runner = _run(action, monkeypatch)
    assert result["passed"], result["problems"]
    assert result["old_leader"] == "zo1" and result["new_leader"] == "zo3"
    assert result["lost_acknowledged_writes"] == 0 and result["marker_survived"]
    assert result["old_leader_rejoined_as"] == "follower"
    assert result["time_to_new_leader_seconds"] is not None and result["time_to_new_leader_seconds"] >= 0
    assert runner.commands[-1] == ("zo1", "systemctl start zookeeper")  # healed
    assert FakeCluster.instances[-1].cleaned


def test_run_reports_lost_writes(action, monkeypatch):
    lose = {f"w{n:07d}" for n in range(1, 100000)}
    result, _ = _run(action, monkeypatch, lose=lose)
    assert result["lost_acknowledged_writes"] > 0 and not result["passed"]
    assert any("were lost" in p for p in result["problems"])


def test_run_without_new_leader_still_heals(action, monkeypatch):
    result, runner = _run(action, monkeypatch, next_leader=None)
    assert result["new_leader"] is None and not result["passed"]
    assert any("no new leader" in p for p in result["problems"])
    assert runner.commands[-1] == ("zo1", "systemctl start zookeeper")


def test_failed_fault_heals_and_fails(action, monkeypatch):
    with pytest.raises(action.Failure, match="the fault was healed"):
        _run(action, monkeypatch, fail_fault=True)
    assert FakeCluster.instances[-1].cleaned


def test_mesos_masters_modes_and_bounds(action, monkeypatch):
    snapshots = {
        "192.0.2.1": (200, {"master/elected": 1.0, "registrar/log/recovered": 1.0, "master/slaves_active": 2.0}),
        "192.0.2.2": (200, {"master/elected": 0.0}),
        "192.0.2.3": (0, "timed out"),
    }

    def http(url, timeout, method="GET", body=None):
        host = url.split("//")[1].split(":")[0]
        if url.endswith("/master/flags"):
            return 200, {"flags": {"zk_session_timeout": "10secs", "quorum": "2", "work_dir": "/x"}}
        return snapshots[host]

    monkeypatch.setattr(action, "_http_json", http)
    mesos = action.MesosMastersSystem({"m1": "192.0.2.1", "m2": "192.0.2.2", "m3": "192.0.2.3"}, 5050, 5)
    assert mesos.modes(["m1", "m2", "m3"]) == {"m1": "leader", "m2": "follower", "m3": None}
    assert mesos.leader(["m1", "m2", "m3"]) == "m1"
    mesos.read_settings("m1")
    assert mesos.settings == {"zk_session_timeout": "10secs", "quorum": "2"}
    assert mesos.bounds() == {"zk_session_timeout": 10.0}
    assert mesos.agents_before == 2
    snapshots["192.0.2.2"] = (200, {"master/elected": 1.0, "registrar/log/recovered": 0.0})
    assert mesos.modes(["m2"]) == {"m2": "recovering"}  # elected, registry not yet recovered
    assert mesos.after_new_leader("m1", time.time(), 1)["time_to_agents_reregistered_seconds"] is not None


@pytest.mark.parametrize(("text", "seconds"), [("10secs", 10.0), ("500ms", 0.5), ("1mins", 60.0), ("10.0", 10.0),
                                              ("x", None)])
def test_mesos_durations(action, text, seconds):
    assert action._duration_seconds(text) == seconds


def test_marathon_leader_mapping_and_writes(action, monkeypatch):
    calls = []
    leader = {"value": (200, {"leader": "ma2:8080"})}

    def http(url, timeout, method="GET", body=None):
        calls.append((method, url, body))
        if url.endswith("/v2/leader"):
            return (0, "refused") if "192.0.2.3" in url else leader["value"]
        if url.endswith("/v2/apps") and method == "POST":
            return 201, body
        if url.endswith("/v2/apps"):
            return 200, {"apps": [{"id": c[2]["id"]} for c in calls if c[0] == "POST"] + [{"id": "/other"}]}
        return 200, {}

    monkeypatch.setattr(action, "_http_json", http)
    marathon = action.MarathonSystem({"ma1": "192.0.2.1", "ma2": "192.0.2.2", "ma3": "192.0.2.3"}, 8080, 5)
    assert marathon.modes(["ma1", "ma2", "ma3"]) == {"ma1": "follower", "ma2": "leader", "ma3": None}
    assert marathon.leader(["ma1", "ma2"]) == "ma2"
    leader["value"] = (404, {"message": "There is no leader"})
    assert marathon.leader(["ma1", "ma2"]) is None
    assert marathon.modes(["ma1"]) == {"ma1": "not serving"}
    marathon.connect(["ma1"])
    marathon.write("marker", b"")
    marathon.write("w0000001", b"")
    post = [c for c in calls if c[0] == "POST"][0][2]
    assert post["instances"] == 0 and post["id"].startswith("/stackbench-ha-")
    assert sorted(marathon.keys_on("ma1")) == ["marker", "w0000001"]
    marathon.cleanup()
    assert sum(1 for c in calls if c[0] == "DELETE") == 2


# ----- Kubernetes runners (HTTP and hosts faked; the parsers are tested in test_ha_failover.py)


class FakeContext:
    def load_cert_chain(self, cert, key):
        assert Path(cert).read_bytes() == b"CERT" and Path(key).read_bytes() == b"KEY"


class ActiveRunner:
    def __init__(self, inactive=()):
        self.inactive = set(inactive)
        self.commands = []

    def shell(self, host, command, become=True):
        self.commands.append((host, command))
        if command.startswith("systemctl is-active"):
            return (3 if host in self.inactive else 0), "", ""
        if command.startswith("systemctl show -p ExecStart"):
            return 0, "{ argv[]=/usr/local/bin/kube-scheduler --leader-elect-retry-period=1s ; }", ""
        return 0, "", ""


MEMBERS = {"cp1": "192.0.2.1", "cp2": "192.0.2.2", "cp3": "192.0.2.3"}


def _kube(action, monkeypatch, tmp_path, system, http, runner=None, **args):
    monkeypatch.setattr(action.ssl, "create_default_context", lambda cadata=None: FakeContext())
    monkeypatch.setattr(action, "_http_json", http)
    config = tmp_path / "admin.kubeconfig"
    config.write_text(json.dumps({  # JSON is YAML
        "current-context": "a", "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": "https://192.0.2.1:6443"}}],
        "users": [{"name": "u", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}}]}))
    args = {"kubeconfig": str(config), "kube_client_via": "direct", **args}
    return action.kube_system(system, dict(MEMBERS), 6443, 1, {}, {"kube_nodes": [*MEMBERS, "worker1"]},
                              runner or ActiveRunner(), args, tmp_path)


def test_kube_kubeconfig_missing_is_a_clear_failure(action, tmp_path):
    with pytest.raises(action.Failure, match="cannot use the admin kubeconfig"):
        action.kube_system("kube_apiserver", dict(MEMBERS), 6443, 1, {}, {}, None,
                           {"kubeconfig": str(tmp_path / "nope")}, tmp_path)


def test_kube_apiserver_modes_writes_and_readback(action, monkeypatch, tmp_path):
    calls = []
    store: dict[str, str] = {}
    down = {"192.0.2.1"}

    def http(url, timeout, method="GET", body=None, context=None, content_type="application/json"):
        calls.append((method, url, content_type))
        address = url.split("//")[1].split(":")[0]
        if address in down:
            return 0, "timed out"
        if url.endswith("/readyz"):
            return (200, "ok") if address != "192.0.2.3" else (500, "[-]etcd failed")
        if method == "PATCH":
            store.update(body["data"])
            return 200, {}
        if method == "POST":
            return 201, {}
        if "/configmaps/ha-" in url and method == "GET":
            return 200, {"kind": "ConfigMap", "data": dict(store)}
        return 200, {}

    api = _kube(action, monkeypatch, tmp_path, "kube_apiserver", http, target="cp2")
    assert api.modes(list(MEMBERS)) == {"cp1": None, "cp2": "serving", "cp3": "not ready"}
    assert api.leader(list(MEMBERS)) == "cp2" and api.leader(["cp1", "cp3"]) is None
    api.connect(["cp1", "cp3"])  # direct: the survivors, in order; the setup skips the silent cp1
    with pytest.raises(TimeoutError):
        api.write("w0000001", b"1")  # cp1 first: no answer
    api.write("w0000002", b"2")  # then the next apiserver
    assert calls[-1][:2] == ("PATCH", "https://192.0.2.3:6443/api/v1/namespaces/stackbench-ha/configmaps/"
                             + api.configmap.rsplit("/", 1)[1])
    assert calls[-1][2] == "application/merge-patch+json"
    assert api.keys_on("cp2") == ["w0000002"] and api.keys_on("cp1") is None
    with pytest.raises(action.Failure, match="not in the group"):
        _kube(action, monkeypatch, tmp_path, "kube_apiserver", http, target="cp9")


def test_kube_apiserver_writable_again_is_the_first_ack_after_the_fault(action, monkeypatch, tmp_path):
    api = _kube(action, monkeypatch, tmp_path, "kube_apiserver", lambda *a, **k: (200, "ok"))
    writer = action.Writer(None, 0)
    writer.log.record(1, "w1", 9.0, 9.1, True)
    writer.log.record(2, "w2", 10.1, 11.0, False, "TimeoutError: timed out")
    writer.log.record(3, "w3", 11.0, 11.4, True)
    assert api.wait_new_leader(["cp2", "cp3"], "cp1", 10.0, writer, 1) == ("direct", 11.4)
    assert api.default_settle_seconds == 3.0  # no load balancer settings read (direct)
    api.settings.update(lb_inter=2.0, lb_fall=2.0, lb_timeout_check=5.0)
    assert api.default_settle_seconds == 16.0  # write until a silent backend must be out: 2 x (2 + 5), + 2


def _lease(holder, renewed, acquired=None):
    lease = json.loads(fixture_text("kube-lease-controller-manager.json"))
    lease["spec"].update(holderIdentity=holder, renewTime=renewed, acquireTime=acquired or renewed)
    return lease


def _stamp(t):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_kube_scheduler_takeover_pod_and_rejoin(action, monkeypatch, tmp_path):
    now = time.time()
    state = {"lease": _lease("cp1_aaaa", _stamp(now)), "node": None}
    posted = []

    def http(url, timeout, method="GET", body=None, context=None, content_type="application/json"):
        if "192.0.2.1" in url:
            return 0, "timed out"  # cp1's apiserver is partitioned: reads go elsewhere
        if url.endswith("/leases/kube-scheduler"):
            return 200, state["lease"]
        if method == "POST":
            posted.append(body)
            return 201, {}
        if "/pods/ha-sched-" in url:
            return 200, {"kind": "Pod", "spec": {"nodeName": state["node"]}}
        return 200, {}

    runner = ActiveRunner(inactive={"cp3"})
    sched = _kube(action, monkeypatch, tmp_path, "kube_scheduler", http, runner)
    assert sched.modes(list(MEMBERS)) == {"cp1": "leader", "cp2": "follower", "cp3": None}
    assert sched.leader(list(MEMBERS)) == "cp1" and sched.old_holder == "cp1_aaaa"
    sched.read_settings("cp1")
    assert sched.bounds()["lease_duration_plus_retry"] == 16.0  # 15 s from the lease, 1 s from the flag
    real_shell = runner.shell
    runner.shell = lambda host, command, become=True: (0, "--leader-elect-retry-period=2", "")  # no unit
    with pytest.raises(action.Failure, match="kube-scheduler on cp1: not a Go duration"):
        sched.read_settings("cp1")
    runner.shell = real_shell
    sched.connect(["cp2", "cp3"])
    assert posted[-1]["metadata"]["name"] == "default"  # the Pod's ServiceAccount
    sched.after_fault(now)
    assert posted[-1]["kind"] == "Pod" and sched.pod_path.endswith(posted[-1]["metadata"]["name"])
    assert sched.wait_new_leader(["cp2", "cp3"], "cp1", now, None, 0.3) == (None, None)  # still cp1's lease
    state["lease"] = _lease("cp2_bbbb", _stamp(time.time()), _stamp(now + 16))
    new, seen = sched.wait_new_leader(["cp2", "cp3"], "cp1", now, None, 1)
    assert new == "cp2" and seen is not None
    assert sched.figures["lease_acquired_after_fault_seconds"] == pytest.approx(16, abs=0.01)
    assert sched.after_new_leader("cp2", now, 0.3)["pod_scheduled_on"] is None
    state["node"] = "worker1"
    assert sched.after_new_leader("cp2", now, 1)["pod_scheduled_on"] == "worker1"
    assert sched.rejoin_mode("cp1") == "follower"
    runner.inactive.add("cp1")
    assert sched.rejoin_mode("cp1") == "inactive"
    runner.inactive.clear()
    state["lease"] = _lease("cp1_cccc", _stamp(time.time()))  # the restarted process on cp1 took it
    assert sched.rejoin_mode("cp1").startswith("lease moved on")
    sched.new_holder = "cp1_cccc"
    assert sched.rejoin_mode("cp1") == "leader (restarted on the same host)"


def test_ssh_tunnel_command(action):
    hv = {"ansible_host": "172.29.0.14", "ansible_user": "stackbench", "ansible_port": 2222,
          "ansible_ssh_private_key_file": "/k/id", "ansible_ssh_common_args": "-o StrictHostKeyChecking=no"}
    cmd = action.ssh_tunnel_command(hv, "worker1", 40000, 6543)
    assert cmd[:2] == ["ssh", "-N"] and "127.0.0.1:40000:127.0.0.1:6543" in cmd
    assert cmd[cmd.index("-p") + 1] == "2222" and cmd[cmd.index("-i") + 1] == "/k/id"
    assert "StrictHostKeyChecking=no" in cmd and cmd[-1] == "stackbench@172.29.0.14"
    assert action.ssh_tunnel_command({}, "worker1", 1, 2)[-1] == "worker1"


def test_ssh_tunnel_that_exits_is_a_failure(action):
    tunnel = action.SshTunnel(lambda port: [sys.executable, "-c", "import sys; sys.exit('no route')"])
    with pytest.raises(action.Failure, match="no route"):
        tunnel.open(timeout=10)
