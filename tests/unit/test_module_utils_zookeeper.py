"""plugins/module_utils/zookeeper.py: the one four-letter-word parser of the status module and failover."""

from __future__ import annotations

import socket
import threading

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError, single_leader
from ansible_collections.stackbench.cluster.plugins.module_utils.zookeeper import (
    NOT_SERVING,
    ask,
    ask_or_none,
    ensemble_health,
    member_state,
    mntr_numbers,
    parse_conf,
    parse_mntr,
    parse_srvr,
    zk_mode,
)
from conftest import fixture_text

LEADER = "zk_version\t3.8.6-6df2608\nzk_server_state\tleader\nzk_synced_followers\t2\nzk_avg_latency\t0.5\n"
FOLLOWER = "zk_version\t3.8.6\nzk_server_state\tfollower\n"

# ----- mntr, srvr, conf


def test_mntr_leader():
    mntr = parse_mntr(fixture_text("zk-mntr-leader.txt"))
    assert zk_mode(mntr) == "leader"
    assert mntr["zk_synced_followers"] == "2"
    assert mntr["zk_version"].startswith("3.8.6")


def test_mntr_follower():
    assert zk_mode(parse_mntr(fixture_text("zk-mntr-follower.txt"))) == "follower"


def test_mntr_not_serving_during_election():
    assert parse_mntr(fixture_text("zk-not-serving.txt")) is None
    assert zk_mode(None) is None


def test_mntr_not_whitelisted_is_an_error():
    with pytest.raises(ParseError, match="whitelist"):
        parse_mntr(fixture_text("zk-mntr-not-whitelisted.txt"))


def test_mntr_garbage():
    with pytest.raises(ParseError):
        parse_mntr("imok")


def test_parse_mntr_types():
    assert mntr_numbers(parse_mntr(LEADER)) == {"zk_version": "3.8.6-6df2608", "zk_server_state": "leader",
                                                "zk_synced_followers": 2, "zk_avg_latency": 0.5}


def test_srvr():
    assert parse_srvr(fixture_text("zk-srvr-follower.txt")) == "follower"
    assert parse_srvr(fixture_text("zk-not-serving.txt")) is None
    with pytest.raises(ParseError):
        parse_srvr("imok")


def test_conf():
    text = "clientPort=2181\ndataDir=/var/lib/zookeeper\ntickTime=2000\nmaxSessionTimeout=40000\nserverId=1\n"
    conf = parse_conf(text)
    assert conf["tickTime"] == "2000" and conf["maxSessionTimeout"] == "40000"
    assert parse_conf("") == {} and parse_conf("imok") == {}


@pytest.mark.parametrize(("modes", "expected"), [
    ({"a": "follower", "b": "leader", "c": "follower"}, "b"),
    ({"a": "follower", "b": None, "c": "follower"}, None),
    ({"a": "leader", "b": "leader"}, None),  # split brain is not "a leader"
    ({}, None),
])
def test_single_leader(modes, expected):
    assert single_leader(modes) == expected


# ----- a member, an ensemble


def test_member_state_not_serving_and_down():
    assert member_state(NOT_SERVING + "\n")["state"] == "not-serving"
    assert member_state(None) == {"answered": False, "serving": False, "state": "down", "mntr": {}}
    assert member_state(FOLLOWER)["serving"] is True


def test_member_state_of_a_refused_word_is_not_serving():
    state = member_state(fixture_text("zk-mntr-not-whitelisted.txt"))
    assert state == {"answered": True, "serving": False, "state": "not-serving", "mntr": {}}


def _states(**replies: str | None) -> dict:
    return {name: member_state(reply) for name, reply in replies.items()}


def test_health_of_a_synced_ensemble():
    health = ensemble_health(_states(zk1=FOLLOWER, zk2=LEADER, zk3=FOLLOWER))
    assert health["healthy"] and health["leader"] == "zk2" and health["synced_followers"] == 2
    assert health["followers"] == ["zk1", "zk3"]


@pytest.mark.parametrize("replies", [
    {"zk1": FOLLOWER, "zk2": LEADER.replace("synced_followers\t2", "synced_followers\t1"), "zk3": FOLLOWER},
    {"zk1": FOLLOWER, "zk2": LEADER, "zk3": None},
    {"zk1": FOLLOWER, "zk2": FOLLOWER, "zk3": FOLLOWER},
    {"zk1": LEADER, "zk2": LEADER, "zk3": FOLLOWER},
    {"zk1": NOT_SERVING, "zk2": LEADER, "zk3": FOLLOWER},
])
def test_unhealthy_ensembles(replies: dict):
    health = ensemble_health(_states(**replies))
    assert not health["healthy"] and health["reason"] != "ok"


def test_standalone_health():
    assert ensemble_health(_states(zk1="zk_server_state\tstandalone\n"))["healthy"]
    assert not ensemble_health(_states(zk1=None))["healthy"]


# ----- asking


def _server(reply: str) -> tuple[socket.socket, threading.Thread, list[bytes]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received: list[bytes] = []

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            received.append(conn.recv(4))
            conn.sendall(reply.encode())

    thread = threading.Thread(target=answer)
    thread.start()
    return server, thread, received


def test_ask_talks_to_a_socket():
    server, thread, received = _server(LEADER)
    reply = ask("127.0.0.1", server.getsockname()[1], "mntr", timeout=2)
    thread.join()
    server.close()
    assert received == [b"mntr"] and parse_mntr(reply)["zk_server_state"] == "leader"


def test_ask_or_none_is_none_when_nobody_listens():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert ask_or_none("127.0.0.1", port, "mntr", timeout=1) is None
    with pytest.raises(OSError):
        ask("127.0.0.1", port, "mntr", timeout=1)
    server, thread, _ = _server(FOLLOWER)
    assert zk_mode(parse_mntr(ask_or_none("127.0.0.1", server.getsockname()[1], "mntr") or "")) == "follower"
    thread.join()
    server.close()
