"""plugins/action/ha_failover.py: one argument spec (the module's documentation says the same),
the registry of systems, and clear failures before any fault (no hosts needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml
from ansible_collections.stackbench.cluster.plugins.action import ha_failover as action
from ansible_collections.stackbench.cluster.plugins.modules import ha_failover as module_docs
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover import faults, zookeeper

HOSTVARS = {"zo1": {"ansible_host": "192.0.2.1"}, "zo2": {"ansible_host": "192.0.2.2"}, "zo3": {}}


def _run(args, groups=None, hostvars=None):
    task = SimpleNamespace(args=args, async_val=0, check_mode=False, action="stackbench.cluster.ha_failover")
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="/nonexistent"))  # no remote tmp is ever made
    plugin = action.ActionModule(task, connection, None, None, None)
    plugin._load_name = "stackbench.cluster.ha_failover"  # the plugin loader sets it
    task_vars = {"groups": groups if groups is not None else {"zookeeper": ["zo1"]},
                 "hostvars": hostvars or HOSTVARS}
    return plugin.run(task_vars=task_vars)


@pytest.fixture
def captured(monkeypatch):
    """run_failover replaced: what the action hands on."""
    calls = []

    def fake(system, fault, args):
        calls.append((system, fault, args))
        return {"passed": True}

    monkeypatch.setattr(action, "run_failover", fake)
    monkeypatch.setattr(zookeeper.ZooKeeperSystem, "__init__", lambda self, cluster: setattr(self, "cluster", cluster))
    return calls


# ----- the one spec


def test_documentation_and_argument_spec_agree():
    options = yaml.safe_load(module_docs.DOCUMENTATION)["options"]
    assert sorted(options) == sorted(action.ARGUMENT_SPEC)
    for name, spec in action.ARGUMENT_SPEC.items():
        doc = options[name]
        for key in ("type", "choices", "default", "elements"):
            assert doc.get(key) == spec.get(key), f"{name}.{key}: documented {doc.get(key)!r}, spec {spec.get(key)!r}"
        assert bool(doc.get("required")) == bool(spec.get("required")), name


def test_the_documented_systems_are_the_registry():
    assert action.ARGUMENT_SPEC["system"]["choices"] == list(action.SYSTEMS)
    assert action.ARGUMENT_SPEC["fault"]["choices"] == list(faults.FAULTS)


@pytest.mark.parametrize(("given", "expected"), [("false", False), ("no", False), ("true", True), (True, True),
                                                 (None, False)])
def test_force_is_a_real_boolean(captured, given, expected):
    args = {"system": "zookeeper", "fault": "stop"} | ({} if given is None else {"force": given})
    result = _run(args)
    assert result["passed"] and not result.get("failed")
    system, fault, handed = captured[-1]
    assert handed["force"] is expected and fault == "stop"
    assert type(system).__name__ == "ZooKeeperSystem"


def test_defaults_and_types_come_from_the_spec(captured):
    _run({"system": "zookeeper", "timeout_seconds": "12", "port": "2281"}, groups={"zk": ["zo1", "zo3"]} | {
        "zookeeper": ["zo1", "zo3"]})
    system, _, args = captured[-1]
    assert args["timeout_seconds"] == 12.0 and args["baseline_seconds"] == 2.0 and args["partition_method"] == "auto"
    assert args["settle_seconds"] is None and args["write_interval_seconds"] is None
    cluster = system.cluster
    assert cluster.port == 2281 and cluster.timeout == 12.0
    assert cluster.members == {"zo1": "192.0.2.1", "zo3": "zo3"}  # ansible_host, else the inventory name


@pytest.mark.parametrize(("args", "message"), [
    ({"system": "cassandra"}, "value of system must be one of: zookeeper, etcd, mesos_masters, marathon, "
                              "kube_apiserver, kube_controller_manager, kube_scheduler, got: cassandra"),
    ({"system": "zookeeper", "fault": "reboot"}, "value of fault must be one of: stop, kill, partition, got: reboot"),
    ({"system": "zookeeper", "partition_method": "magic"}, "value of partition_method must be one of"),
    ({"system": "zookeeper", "force": "maybe"}, "force"),
    ({"system": "zookeeper", "fualt": "kill"}, "Unsupported parameters"),
    ({}, "missing required arguments: system"),
])
def test_bad_arguments_fail_clearly(captured, args, message):
    result = _run(args)
    assert result["failed"] and message in result["msg"], result["msg"]
    assert result["system"] == args.get("system") and result["fault"] == args.get("fault", "kill")
    assert captured == []  # nothing ran


@pytest.mark.parametrize(("system", "groups", "message"), [
    ("kube_scheduler", None, "no hosts in group 'kube_control_plane'"),
    ("zookeeper", {"all": ["zo1"]}, "no hosts in group 'zookeeper'"),
    ("etcd", {"zookeeper": ["zo1"], "etcd": []}, "no hosts in group 'etcd'"),
])
def test_an_empty_group_fails_clearly(captured, system, groups, message):
    result = _run({"system": system}, groups)
    assert result["failed"] and message in result["msg"]
    assert captured == []


def test_group_argument_picks_the_members(captured):
    _run({"system": "zookeeper", "group": "zk_other"}, groups={"zk_other": ["zo2"]})
    assert captured[-1][0].cluster.members == {"zo2": "192.0.2.2"}


# ----- through the real loop: failures before any fault


@pytest.fixture
def no_fault(monkeypatch):
    injected = []
    monkeypatch.setattr(faults.Fault, "inject", lambda self: injected.append(self) or 0.0)
    return injected


def test_unreachable_members_fail_before_any_fault(monkeypatch, no_fault):
    # 192.0.2.0/24 (TEST-NET-1) is never routed: nothing answers, nothing is sent anywhere real.
    monkeypatch.setattr(zookeeper, "ask_or_none", lambda *a, **k: None)
    result = _run({"system": "zookeeper"})
    assert result["failed"] and "no zookeeper member answered (zo1=192.0.2.1)" in result["msg"]
    assert no_fault == []


def test_no_leader_fails_before_any_fault(monkeypatch, no_fault):
    monkeypatch.setattr(zookeeper, "ask_or_none",
                        lambda *a, **k: "This ZooKeeper instance is not currently serving requests\n")
    monkeypatch.setattr(zookeeper.ZooKeeperSystem, "modes", lambda self, hosts: {h: "follower" for h in hosts})
    result = _run({"system": "zookeeper"})
    assert result["failed"] and "no single leader" in result["msg"]
    assert no_fault == []


def test_quorum_refusal(monkeypatch, no_fault):
    monkeypatch.setattr(zookeeper, "ask_or_none", lambda *a, **k: "zk_version\t3.8.6\nzk_server_state\tleader\n")
    result = _run({"system": "zookeeper", "force": "false"})
    assert result["failed"] and "below the quorum of 1" in result["msg"] and "use force=true" in result["msg"]
    assert result["system"] == "zookeeper" and result["fault"] == "kill"
    assert no_fault == []
