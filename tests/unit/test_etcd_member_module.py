"""The etcd_member module against a scripted etcdctl: the commands it sends (member add --learner,
promote retried until the learner is in sync, move-leader before removing a leader), what it refuses,
and that check mode sends no change."""

from __future__ import annotations

import json

import pytest
from ansible_collections.stackbench.cluster.plugins.modules import etcd_member

URL = {n: f"https://10.0.0.{n}" for n in (1, 2, 3)}
IDS = {1: 10501334649042878790, 2: 13257736837322153539, 3: 17920287612367843061}


def listing(*numbers, learner=None):
    return json.dumps({"header": {"member_id": IDS[1]}, "members": [
        {"ID": IDS[n], "name": f"etcd{n}", "peerURLs": [f"{URL[n]}:2380"], "clientURLs": [f"{URL[n]}:2379"],
         **({"isLearner": True} if n == learner else {})} for n in numbers]})


class Done(Exception):
    def __init__(self, failed: bool, result: dict) -> None:
        super().__init__(result.get("msg", ""))
        self.failed, self.result = failed, result


class FakeModule:
    """AnsibleModule as the module uses it; run_command answers from `script`: (args contain) -> reply."""

    script: list = []
    commands: list = []

    def __init__(self, argument_spec, supports_check_mode, required_if=()):
        self.params = {k: v.get("default") for k, v in argument_spec.items()} | FakeModule.params
        self.check_mode = FakeModule.check

    def run_command(self, argv):
        command = " ".join(argv[5:])  # after etcdctl and its TLS/timeout flags
        FakeModule.commands.append(command)
        for needle, reply in FakeModule.script:
            if needle in command:
                return reply() if callable(reply) else reply
        raise AssertionError(f"unexpected etcdctl {command}")

    def exit_json(self, **result):
        raise Done(False, result)

    def fail_json(self, **result):
        raise Done(True, result)


def run(monkeypatch, params, script, check=False):
    FakeModule.params = {"endpoints": [f"{URL[1]}:2379"], "cacert": "ca", "cert": "c", "key": "k", **params}
    FakeModule.script, FakeModule.commands, FakeModule.check = script, [], check
    monkeypatch.setattr(etcd_member, "AnsibleModule", FakeModule)
    monkeypatch.setattr(etcd_member.time, "sleep", lambda _s: None)
    with pytest.raises(Done) as done:
        etcd_member.main()
    return done.value, FakeModule.commands


def test_a_new_member_is_added_as_a_learner_and_gets_the_cluster_list(monkeypatch):
    lists = iter([(0, listing(1, 2), ""), (0, json.dumps({"members": [
        *json.loads(listing(1, 2))["members"], {"ID": IDS[3], "peerURLs": [f"{URL[3]}:2380"], "isLearner": True}]}),
        "")])
    done, commands = run(monkeypatch, {"name": "etcd3", "peer_url": f"{URL[3]}:2380", "state": "learner"}, [
        ("member list", lambda: next(lists)), ("member add", (0, "added", ""))])
    assert not done.failed and done.result["changed"]
    assert f"member add etcd3 --peer-urls={URL[3]}:2380 --learner" in commands[1]
    assert done.result["initial_cluster"] == (
        f"etcd1={URL[1]}:2380,etcd2={URL[2]}:2380,etcd3={URL[3]}:2380")


def test_check_mode_sends_no_change(monkeypatch):
    done, commands = run(monkeypatch, {"name": "etcd3", "peer_url": f"{URL[3]}:2380", "state": "learner"},
                         [("member list", (0, listing(1, 2), ""))], check=True)
    assert done.result["changed"] and all("member add" not in c for c in commands)


def test_a_promotion_is_retried_until_the_learner_is_in_sync(monkeypatch):
    answers = iter([(1, "", "Error: etcdserver: can only promote a learner member which is in sync with leader"),
                    (0, "promoted", "")])
    done, commands = run(monkeypatch, {"name": "etcd3", "state": "voting"}, [
        ("member list", (0, listing(1, 2, 3, learner=3), "")), ("member promote", lambda: next(answers))])
    assert not done.failed
    assert sum("member promote" in c for c in commands) == 2


def test_another_promotion_error_fails_at_once(monkeypatch):
    done, _ = run(monkeypatch, {"name": "etcd3", "state": "voting"}, [
        ("member list", (0, listing(1, 2, 3, learner=3), "")), ("member promote", (1, "", "Error: permission denied"))])
    assert done.failed and "permission denied" in done.result["msg"]


def health(*healthy):
    return (0 if len(healthy) == 3 else 1, json.dumps(
        [{"endpoint": f"{URL[n]}:2379", "health": n in healthy} for n in (1, 2, 3)]), "")


def test_a_leader_hands_leadership_away_before_its_removal(monkeypatch):
    status = json.dumps([{"Endpoint": f"{URL[1]}:2379", "Status": {
        "header": {"member_id": IDS[1], "raft_term": 2}, "leader": IDS[1], "raftTerm": 2}}])
    done, commands = run(monkeypatch, {"name": "etcd1", "state": "absent"}, [
        ("member list", (0, listing(1, 2, 3), "")), ("endpoint health", health(1, 2, 3)),
        ("endpoint status", (0, status, "")), ("move-leader", (0, "moved", "")), ("member remove", (0, "", ""))])
    assert not done.failed and done.result["leader_moved_to"] == format(IDS[2], "x")
    moved, removed = (next(i for i, c in enumerate(commands) if word in c) for word in ("move-leader", "member remove"))
    assert moved < removed and commands[removed].endswith(format(IDS[1], "x"))


def test_a_removal_that_would_lose_quorum_sends_no_remove(monkeypatch):
    done, commands = run(monkeypatch, {"name": "etcd1", "state": "absent"}, [
        ("member list", (0, listing(1, 2, 3), "")), ("endpoint health", health(1, 3))])
    assert done.failed and "would lose quorum" in done.result["msg"]
    assert all("member remove" not in c for c in commands)


def test_a_recovery_refuses_a_healthy_member(monkeypatch):
    done, _ = run(monkeypatch, {"name": "etcd2", "state": "absent", "refuse_healthy": True}, [
        ("member list", (0, listing(1, 2, 3), "")), ("endpoint health", health(1, 2, 3))])
    assert done.failed and "etcd2 answers healthy" in done.result["msg"]
