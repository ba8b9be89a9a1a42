"""The failover systems of plugins/plugin_utils/failover, one class each, with their protocol calls
faked (the parsers they use are tested in test_module_utils_*.py)."""

from __future__ import annotations

import json
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ansible_collections.stackbench.cluster.plugins.action.ha_failover import SYSTEMS
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover import (
    kube,
    marathon,
    mesos_masters,
    zookeeper,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import Cluster, Failure, System, Writer
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.etcd import EtcdSystem, etcd_bounds
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.kube import (
    apiserver_lb_bounds,
    choose_endpoint_host,
    haproxy_settings,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.kube_apiserver import KubeApiserverSystem
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.kube_leases import (
    KubeSchedulerSystem,
    holder_inventory_host,
    lease_bounds,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.marathon import MarathonSystem
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.mesos_masters import MesosMastersSystem
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.zookeeper import (
    ZooKeeperSystem,
    zookeeper_bounds,
)
from conftest import failover_args, fixture_text


def _cluster(members, port, runner=None, groups=None, tmp=None, **args):
    return Cluster(dict(members), port, 5.0, failover_args(**args), {h: {} for h in members}, groups or {}, runner,
                   tmp)


# ----- what every system shares


def test_the_registry_has_every_system_with_the_defaults_it_always_had():
    assert {name: (cls.default_group, cls.default_service, cls.default_port) for name, cls in SYSTEMS.items()} == {
        "zookeeper": ("zookeeper", "zookeeper", 2181),
        "etcd": ("etcd", "etcd", 2379),
        "mesos_masters": ("mesos_masters", "mesos-master", 5050),
        "marathon": ("marathon", "marathon", 8080),
        "kube_apiserver": ("kube_control_plane", "kube-apiserver", 6443),
        "kube_controller_manager": ("kube_control_plane", "kube-controller-manager", 6443),
        "kube_scheduler": ("kube_control_plane", "kube-scheduler", 6443),
    }


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_every_system_implements_the_interface(name):
    cls = SYSTEMS[name]
    assert issubclass(cls, System) and cls.name == name
    assert cls.modes is not System.modes  # finding the leader is each system's own
    if cls.supports_writes:  # a writing client is written to and read back
        assert cls.write is not System.write and cls.keys_on is not System.keys_on
    package, module = cls.__module__.rsplit(".", 1)  # one module per system; the two Lease holders share one
    assert package == "ansible_collections.stackbench.cluster.plugins.plugin_utils.failover"
    assert module in (name, "kube_leases")


@pytest.mark.parametrize(("name", "majority", "interval"), [
    ("zookeeper", True, 0.02), ("etcd", True, 0.02), ("mesos_masters", True, 0.02), ("marathon", False, 0.1),
    ("kube_apiserver", False, 0.05), ("kube_controller_manager", False, 0.05), ("kube_scheduler", False, 0.05)])
def test_quorum_rule_and_write_pace_per_system(name, majority, interval):
    assert (SYSTEMS[name].majority, SYSTEMS[name].write_interval) == (majority, interval)


# ----- ZooKeeper


def test_zookeeper_modes_distinguish_silent_and_not_serving(monkeypatch):
    replies = {"192.0.2.1": None, "192.0.2.2": "This ZooKeeper instance is not currently serving requests\n",
               "192.0.2.3": "zk_version\t3.8.6\nzk_server_state\tfollower\n"}
    monkeypatch.setattr(zookeeper, "ask_or_none", lambda address, port, word, timeout=1.0: replies[address])
    zk = ZooKeeperSystem(_cluster({"a": "192.0.2.1", "b": "192.0.2.2", "c": "192.0.2.3"}, 2181))
    assert zk.modes(["a", "b", "c"]) == {"a": None, "b": "not serving", "c": "follower"}
    assert zk.leader(["a", "b", "c"]) is None


def test_zookeeper_mntr_not_whitelisted_is_a_clear_failure(monkeypatch):
    monkeypatch.setattr(zookeeper, "ask_or_none",
                        lambda *a, **k: "mntr is not executed because it is not in the whitelist.\n")
    zk = ZooKeeperSystem(_cluster({"a": "192.0.2.1"}, 2181))
    with pytest.raises(Failure, match="whitelist"):
        zk.modes(["a"])


def test_zookeeper_settings_and_bounds(monkeypatch):
    conf = "clientPort=2181\ntickTime=2000\ninitLimit=10\nsyncLimit=5\nmaxSessionTimeout=40000\n"
    monkeypatch.setattr(zookeeper, "ask_or_none", lambda address, port, word, timeout=1.0: conf)
    zk = ZooKeeperSystem(_cluster({"a": "192.0.2.1"}, 2181))
    assert zk.bounds() == {}
    zk.read_settings("a")
    assert zk.bounds() == zookeeper_bounds(2000, 5, 10, 40000) == {
        "follower_detects_dead_leader": 10.0, "new_leader_sync_limit": 20.0, "client_session_timeout": 40.0}


def test_bounds():
    assert etcd_bounds(1000, 100) == {"election_timeout": 1.0, "randomized_election_timeout_max": 1.999,
                                      "heartbeat_interval": 0.1}
    assert "client_session_timeout" not in zookeeper_bounds(2000, 2, 5)


# ----- etcd


class ShellRunner:
    def __init__(self, replies=None):
        self.replies = replies or {}
        self.commands = []

    def shell(self, host, command, become=True):
        self.commands.append((host, command))
        for start, reply in self.replies.items():
            if command.startswith(start):
                return reply
        return 0, "", ""


def test_etcd_leader_settings_and_readback(monkeypatch, tmp_path):
    class Context:
        def load_cert_chain(self, cert, key):
            assert Path(cert).read_bytes() == b"CERT" and Path(key).read_bytes() == b"KEY"

    monkeypatch.setattr(ssl, "create_default_context", lambda cafile=None: Context())
    runner = ShellRunner({"base64 -w0 /pki/ca.crt": (0, "Q0E=", ""), "base64 -w0 /pki/member.crt": (0, "Q0VSVA==", ""),
                          "base64 -w0 /pki/member.key": (0, "S0VZ", ""),
                          "grep": (0, "ETCD_ELECTION_TIMEOUT=2000\nETCD_HEARTBEAT_INTERVAL=200\n", "")})
    members = {"e1": "192.0.2.1", "e2": "192.0.2.2", "e3": "192.0.2.3"}
    etcd = EtcdSystem(_cluster(members, 2379, runner, tmp=tmp_path, system="etcd", etcd_pki_dir="/pki"))
    assert runner.commands[0] == ("e1", "base64 -w0 /pki/ca.crt")  # the member certificate of the first member
    ids = {"192.0.2.1": 11, "192.0.2.2": 22, "192.0.2.3": 33}
    state = {"leader": 22, "down": {"192.0.2.3"}}

    def post(host, path, body, timeout):
        address = members[host]
        if address in state["down"]:
            raise OSError("timed out")
        return {"header": {"member_id": str(ids[address]), "raft_term": "4"}, "leader": str(state["leader"])}

    monkeypatch.setattr(etcd, "_post", post)
    assert etcd.modes(list(members)) == {"e1": "follower", "e2": "leader", "e3": None}
    assert etcd.leader(list(members)) == "e2"  # two of three answer and agree
    state["down"] = {"192.0.2.2", "192.0.2.3"}
    assert etcd.leader(list(members)) is None  # one of three is no majority
    etcd.read_settings("e2")
    assert etcd.bounds() == etcd_bounds(2000, 200)
    prefix = etcd.prefix.encode()
    monkeypatch.setattr(etcd, "_post", lambda host, path, body, timeout: {"kvs": [
        {"key": __import__("base64").b64encode(prefix + b"marker").decode()}]})
    assert etcd.keys_on("e1") == ["marker"]


# ----- Mesos masters


def test_mesos_masters_modes_and_bounds(monkeypatch):
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

    monkeypatch.setattr(mesos_masters, "http_json", http)
    monkeypatch.setattr("ansible_collections.stackbench.cluster.plugins.module_utils.mesos.http_json", http)
    mesos = MesosMastersSystem(_cluster({"m1": "192.0.2.1", "m2": "192.0.2.2", "m3": "192.0.2.3"}, 5050))
    assert mesos.modes(["m1", "m2", "m3"]) == {"m1": "leader", "m2": "follower", "m3": None}
    assert mesos.leader(["m1", "m2", "m3"]) == "m1"
    mesos.read_settings("m1")
    assert mesos.settings == {"zk_session_timeout": "10secs", "quorum": "2"}
    assert mesos.bounds() == {"zk_session_timeout": 10.0}
    assert mesos.agents_before == 2
    snapshots["192.0.2.2"] = (200, {"master/elected": 1.0, "registrar/log/recovered": 0.0})
    assert mesos.modes(["m2"]) == {"m2": "recovering"}  # elected, registry not yet recovered
    assert mesos.after_new_leader("m1", time.time(), 1)["time_to_agents_reregistered_seconds"] is not None
    assert not mesos.supports_writes


def test_mesos_agent_on_a_partitioned_leader_is_not_waited_for():
    mesos = MesosMastersSystem(_cluster({"m1": "192.0.2.1"}, 5050, groups={"mesos_agents": ["m1", "a1"]}))
    assert mesos.agents_cut_off() == 0
    mesos.fault_kind, mesos.faulted_host = "partition", "m1"
    assert mesos.agents_cut_off() == 1
    mesos.fault_kind = "kill"
    assert mesos.agents_cut_off() == 0


# ----- Marathon


def test_marathon_leader_mapping_and_writes(monkeypatch):
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
        if url.endswith("/v2/info"):
            return 200, {"zookeeper_config": {"zk_session_timeout": 10000, "zk_timeout": 10000}}
        return 200, {}

    monkeypatch.setattr(marathon, "http_json", http)
    system = MarathonSystem(_cluster({"ma1": "192.0.2.1", "ma2": "192.0.2.2", "ma3": "192.0.2.3"}, 8080))
    assert system.modes(["ma1", "ma2", "ma3"]) == {"ma1": "follower", "ma2": "leader", "ma3": None}
    assert system.leader(["ma1", "ma2"]) == "ma2"
    leader["value"] = (404, {"message": "There is no leader"})
    assert system.leader(["ma1", "ma2"]) is None
    assert system.modes(["ma1"]) == {"ma1": "not serving"}
    system.read_settings("ma1")
    assert system.bounds() == {"zk_session_timeout": 10.0}
    system.connect(["ma1"])
    system.write("marker", b"")
    system.write("w0000001", b"")
    post = [c for c in calls if c[0] == "POST"][0][2]
    assert post["instances"] == 0 and post["id"].startswith("/stackbench-ha-")
    assert sorted(system.keys_on("ma1")) == ["marker", "w0000001"]
    system.cleanup()
    assert sum(1 for c in calls if c[0] == "DELETE") == 2


# ----- Kubernetes (HTTP and hosts faked)


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


def _kube(monkeypatch, tmp_path, cls, http, runner=None, **args):
    monkeypatch.setattr(ssl, "create_default_context", lambda cadata=None: FakeContext())
    monkeypatch.setattr(kube, "http_json", http)
    config = tmp_path / "admin.kubeconfig"
    config.write_text(json.dumps({  # JSON is YAML
        "current-context": "a", "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": "https://192.0.2.1:6443"}}],
        "users": [{"name": "u", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}}]}))
    args = failover_args(system=cls.name, kubeconfig=str(config), kube_client_via="direct", **args)
    cluster = Cluster(dict(MEMBERS), 6443, 1, args, {}, {"kube_nodes": [*MEMBERS, "worker1"]},
                      runner or ActiveRunner(), tmp_path)
    return cls(cluster)


def test_kube_kubeconfig_missing_is_a_clear_failure(tmp_path):
    args = failover_args(system="kube_apiserver", kubeconfig=str(tmp_path / "nope"))
    with pytest.raises(Failure, match="cannot use the admin kubeconfig"):
        KubeApiserverSystem(Cluster(dict(MEMBERS), 6443, 1, args, {}, {}, None, tmp_path))


def test_kube_apiserver_modes_writes_and_readback(monkeypatch, tmp_path):
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

    api = _kube(monkeypatch, tmp_path, KubeApiserverSystem, http, target="cp2")
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
    with pytest.raises(Failure, match="not in the group"):
        _kube(monkeypatch, tmp_path, KubeApiserverSystem, http, target="cp9")


def test_kube_apiserver_writable_again_is_the_first_ack_after_the_fault(monkeypatch, tmp_path):
    api = _kube(monkeypatch, tmp_path, KubeApiserverSystem, lambda *a, **k: (200, "ok"))
    writer = Writer(None, 0)
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
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_kube_scheduler_takeover_pod_and_rejoin(monkeypatch, tmp_path):
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
    sched = _kube(monkeypatch, tmp_path, KubeSchedulerSystem, http, runner)
    assert sched.modes(list(MEMBERS)) == {"cp1": "leader", "cp2": "follower", "cp3": None}
    assert sched.leader(list(MEMBERS)) == "cp1" and sched.old_holder == "cp1_aaaa"
    sched.read_settings("cp1")
    assert sched.bounds()["lease_duration_plus_retry"] == 16.0  # 15 s from the lease, 1 s from the flag
    real_shell = runner.shell
    runner.shell = lambda host, command, become=True: (0, "--leader-elect-retry-period=2", "")  # no unit
    with pytest.raises(Failure, match="kube-scheduler on cp1: not a Go duration"):
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


def test_kube_scheduler_pod_can_be_skipped(monkeypatch, tmp_path):
    assert _kube(monkeypatch, tmp_path, KubeSchedulerSystem, lambda *a, **k: (200, {})).pod_image == \
        "registry.k8s.io/pause:3.10"
    assert _kube(monkeypatch, tmp_path, KubeSchedulerSystem, lambda *a, **k: (200, {}), kube_pod_image="").pod_image \
        is None


def test_holder_inventory_host():
    members = {"cp1": "172.29.0.11", "cp2.example.org": "172.29.0.12", "c3": "cp3"}
    assert holder_inventory_host("cp1", members) == "cp1"
    assert holder_inventory_host("cp2", members) == "cp2.example.org"
    assert holder_inventory_host("cp3", members) == "c3"
    assert holder_inventory_host("other", members) is None and holder_inventory_host(None, members) is None


def test_lease_bounds():
    assert lease_bounds(15, 2, 10) == {"lease_duration": 15, "lease_duration_plus_retry": 17,
                                       "takeover_worst_case": 23.8, "old_leader_gives_up_after_renew_deadline": 10}


def test_haproxy_settings_and_bounds():
    settings = haproxy_settings(fixture_text("haproxy-kube-apiserver.cfg"))  # roles/kube_apiserver_lb on the lab
    assert settings == {"retries": 2.0, "timeout_connect": 5.0, "timeout_check": 5.0, "inter": 2.0, "fall": 2.0,
                        "rise": 2.0}
    assert apiserver_lb_bounds(settings) == {"lb_check_interval": 2.0, "lb_backend_down_refused_max": 4.0,
                                             "lb_backend_down_silent_max": 14.0, "lb_connect_timeout": 5.0}
    assert haproxy_settings("    default-server check inter 500 fall 3\n")["inter"] == 0.5  # bare number = ms
    from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError

    with pytest.raises(ParseError):
        haproxy_settings("    default-server inter fast fall 3\n")


def test_choose_endpoint_host():
    nodes, control_plane = ["cp1", "cp2", "cp3", "worker1"], ["cp1", "cp2", "cp3"]
    assert choose_endpoint_host(nodes, control_plane, ["cp1"]) == "worker1"
    assert choose_endpoint_host(nodes[:3], control_plane, ["cp1"]) == "cp2"
    assert choose_endpoint_host(["cp1"], control_plane, ["cp1"]) is None
