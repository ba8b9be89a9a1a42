"""The zookeeper role's own plugins: checksum parsing, heap sizing, ensemble checks, 4lw health."""

from __future__ import annotations

import hashlib
import importlib.util
import socket
import threading
from pathlib import Path
from types import ModuleType

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

ROLE = Path(__file__).resolve().parents[2] / "roles" / "zookeeper"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


filters = _load("zookeeper_role_filters", ROLE / "filter_plugins" / "zookeeper.py")
fourlw = _load("zookeeper_fourlw", ROLE / "module_utils" / "zookeeper_fourlw.py")

DIGEST = hashlib.sha512(b"zookeeper").hexdigest()
NAME = "apache-zookeeper-3.8.6-bin.tar.gz"


# --- checksum files -------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    f"{DIGEST}  {NAME}\n",
    f"{DIGEST} *{NAME}\n",
    f"{DIGEST.upper()}  {NAME}",
    f"{DIGEST}\n",
    f"SHA512 ({NAME}) = {DIGEST}\n",
    # gpg --print-md SHA512 (older Apache releases), upper case, grouped and wrapped
    NAME + ": " + " ".join(DIGEST.upper()[i:i + 8] for i in range(0, 64, 8)) + "\n"
    + " " * 34 + " ".join(DIGEST.upper()[i:i + 8] for i in range(64, 128, 8)) + "\n",
])
def test_sha512_formats(text: str) -> None:
    assert filters.zookeeper_sha512(text, NAME) == DIGEST


def test_sha512_picks_the_named_file_among_several() -> None:
    other = hashlib.sha512(b"other").hexdigest()
    text = f"{other}  apache-zookeeper-3.8.6.tar.gz\n{DIGEST}  {NAME}\n"
    assert filters.zookeeper_sha512(text, NAME) == DIGEST


@pytest.mark.parametrize("text", ["", "not a checksum  x.tar.gz", f"{DIGEST[:-2]}  {NAME}",
                                  f"{DIGEST}  other.tar.gz"])
def test_sha512_rejects_bad_or_foreign_files(text: str) -> None:
    with pytest.raises(AnsibleFilterError):
        filters.zookeeper_sha512(text, NAME)


# --- heap -----------------------------------------------------------------------------

@pytest.mark.parametrize(("memory", "expected"), [(512, 256), (2048, 512), (3000, 750), (24000, 1024)])
def test_heap_is_a_quarter_within_bounds(memory: int, expected: int) -> None:
    assert filters.zookeeper_heap_mb(memory) == expected


@given(st.integers(1, 10**7), st.floats(0.01, 1.0), st.integers(1, 4096), st.integers(0, 8192))
def test_heap_always_within_bounds(memory: int, fraction: float, low: int, extra: int) -> None:
    heap = filters.zookeeper_heap_mb(memory, fraction, low, low + extra)
    assert low <= heap <= low + extra


@pytest.mark.parametrize("args", [(0,), (1024, 0), (1024, 1.5), (1024, 0.25, 512, 256)])
def test_heap_rejects_nonsense(args: tuple) -> None:
    with pytest.raises(AnsibleFilterError):
        filters.zookeeper_heap_mb(*args)


# --- ensemble checks ------------------------------------------------------------------

def _members(*ids: object) -> list[dict]:
    return [{"name": f"zk{i}", "id": ident} for i, ident in enumerate(ids, 1)]


@pytest.mark.parametrize("ids", [(1,), (1, 2, 3), (5, 3, 255, 1, 2), ("1", "2", "3")])
def test_good_ensembles_have_no_errors(ids: tuple) -> None:
    assert filters.zookeeper_ensemble_errors(_members(*ids)) == []


def test_even_size_is_rejected() -> None:
    errors = filters.zookeeper_ensemble_errors(_members(1, 2, 3, 4))
    assert len(errors) == 1 and "4 members" in errors[0]


@pytest.mark.parametrize(("ids", "fragment"), [
    ((1, 1, 2), "already used by zk1"),
    ((0, 1, 2), "out of range"),
    ((1, 256, 2), "out of range"),
    ((1, "x", 2), "not an integer"),
    ((1, 2.5, 3), "out of range"),
])
def test_bad_ids_are_rejected(ids: tuple, fragment: str) -> None:
    errors = filters.zookeeper_ensemble_errors(_members(*ids))
    assert any(fragment in e for e in errors), errors


def test_restart_order_followers_first_leader_last() -> None:
    order = filters.zookeeper_restart_order(["zk1", "zk2", "zk3"], ["zk3", "zk1", "zk2"], "zk1")
    assert order == ["zk2", "zk3", "zk1"]
    assert filters.zookeeper_restart_order(["zk1", "zk2", "zk3"], ["zk1"], "zk2") == ["zk1"]
    assert filters.zookeeper_restart_order(["zk1", "zk2"], [], "zk1") == []


# --- four-letter words ----------------------------------------------------------------

LEADER = "zk_version\t3.8.6-6df2608\nzk_server_state\tleader\nzk_synced_followers\t2\nzk_avg_latency\t0.5\n"
FOLLOWER = "zk_version\t3.8.6\nzk_server_state\tfollower\n"


def test_parse_mntr_types() -> None:
    parsed = fourlw.parse_mntr(LEADER)
    assert parsed == {"zk_version": "3.8.6-6df2608", "zk_server_state": "leader", "zk_synced_followers": 2,
                      "zk_avg_latency": 0.5}


def test_member_state_not_serving_and_down() -> None:
    assert fourlw.member_state(fourlw.NOT_SERVING + "\n")["state"] == "not-serving"
    assert fourlw.member_state(None) == {"answered": False, "serving": False, "state": "down", "mntr": {}}
    assert fourlw.member_state(FOLLOWER)["serving"] is True


def _states(**replies: str | None) -> dict:
    return {name: fourlw.member_state(reply) for name, reply in replies.items()}


def test_health_of_a_synced_ensemble() -> None:
    health = fourlw.ensemble_health(_states(zk1=FOLLOWER, zk2=LEADER, zk3=FOLLOWER))
    assert health["healthy"] and health["leader"] == "zk2" and health["synced_followers"] == 2
    assert health["followers"] == ["zk1", "zk3"]


@pytest.mark.parametrize("replies", [
    {"zk1": FOLLOWER, "zk2": LEADER.replace("synced_followers\t2", "synced_followers\t1"), "zk3": FOLLOWER},
    {"zk1": FOLLOWER, "zk2": LEADER, "zk3": None},
    {"zk1": FOLLOWER, "zk2": FOLLOWER, "zk3": FOLLOWER},
    {"zk1": LEADER, "zk2": LEADER, "zk3": FOLLOWER},
    {"zk1": fourlw.NOT_SERVING, "zk2": LEADER, "zk3": FOLLOWER},
])
def test_unhealthy_ensembles(replies: dict) -> None:
    health = fourlw.ensemble_health(_states(**replies))
    assert not health["healthy"] and health["reason"] != "ok"


def test_standalone_health() -> None:
    assert fourlw.ensemble_health(_states(zk1="zk_server_state\tstandalone\n"))["healthy"]
    assert not fourlw.ensemble_health(_states(zk1=None))["healthy"]


def test_ask_talks_to_a_socket() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received: list[bytes] = []

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            received.append(conn.recv(4))
            conn.sendall(LEADER.encode())

    thread = threading.Thread(target=answer)
    thread.start()
    reply = fourlw.ask("127.0.0.1", server.getsockname()[1], "mntr", timeout=2)
    thread.join()
    server.close()
    assert received == [b"mntr"] and fourlw.parse_mntr(reply)["zk_server_state"] == "leader"
