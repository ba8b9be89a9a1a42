"""plugins/filter/zookeeper.py: checksum parsing, heap sizing, ensemble checks, restart order."""

from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.filter import zookeeper as filters
from hypothesis import given
from hypothesis import strategies as st

DIGEST = hashlib.sha512(b"zookeeper").hexdigest()
NAME = "apache-zookeeper-3.8.6-bin.tar.gz"


def test_filter_names_are_unchanged():
    assert sorted(filters.FilterModule().filters()) == [
        "zookeeper_ensemble_errors", "zookeeper_heap_mb", "zookeeper_membership_plan", "zookeeper_removal_errors",
        "zookeeper_restart_order", "zookeeper_server_line", "zookeeper_sha512", "zookeeper_super_digest",
        "zookeeper_version_error"]


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
