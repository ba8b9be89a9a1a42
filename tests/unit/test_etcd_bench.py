"""Pure helpers of the rolling-change benchmarks (scripts/bench-{etcd,zookeeper}-rolling.py, whose code
is stackbench.bench)."""

import threading

import pytest

from stackbench.bench import etcd_rolling, rolling


def test_longest_gap_between_successful_writes():
    assert rolling.longest_gap([0.0, 1.0, 2.0, 5.5, 6.5]) == pytest.approx(3.5)


@pytest.mark.parametrize("times", [[], [3.0]])
def test_longest_gap_needs_two_writes(times):
    assert rolling.longest_gap(times) == 0.0


def test_longest_gap_from_start_to_end_counts_the_edges():
    assert rolling.longest_gap([2.0, 3.0], start=0.0, end=10.0) == pytest.approx(7.0)
    assert rolling.longest_gap([], start=0.0, end=4.0) == pytest.approx(4.0)


def test_inventory_members_reads_the_etcd_group_addresses(tmp_path):
    inventory = tmp_path / "lab.yml"
    inventory.write_text(
        "all:\n  hosts:\n    et1: {ansible_host: 10.0.0.1}\n    et2: {ansible_host: 10.0.0.2}\n"
        "    other: {ansible_host: 10.0.0.9}\n  children:\n    etcd:\n      hosts:\n        et1: {}\n        et2: {}\n"
    )
    assert rolling.inventory_members(inventory, "etcd") == {"et1": "10.0.0.1", "et2": "10.0.0.2"}
    assert rolling.inventory_members(inventory, "zookeeper") == {}


def test_restarts_are_read_from_task_banners_with_or_without_the_collection_name():
    run = rolling.PlaybookRun(0, 1.0, "\n".join([
        "TASK [etcd : Restart etcd on et2] ****",
        "TASK [stackbench.cluster.etcd : Restart etcd on et3] ****",
        "TASK [stackbench.cluster.etcd : Restart etcd on et1 ] ****",
        "TASK [stackbench.cluster.etcd : Wait for etcd on et1] ****",
        "et1                        : ok=12   changed=1    unreachable=0    failed=0",
    ]), "")
    assert run.restarted("Restart etcd on") == ["et2", "et3", "et1"]
    assert run.recap() == ["et1                        : ok=12   changed=1    unreachable=0    failed=0"]


def test_the_etcd_writer_moves_to_the_next_member_when_one_fails(monkeypatch):
    written: list[str] = []

    def put(session, endpoint, key, value, timeout):
        if endpoint == "a:2379":
            raise RuntimeError("down")
        written.append(endpoint)
        if len(written) == 3:
            stop.set()

    monkeypatch.setattr(etcd_rolling, "put", put)
    log, stop = etcd_rolling.WriteLog(), threading.Event()
    etcd_rolling.writer(["a:2379", "b:2379"], None, log, stop, interval=0.01)
    assert written == ["b:2379"] * 3
    assert (log.attempted, log.failed, log.failovers) == (3, 0, 1)
    assert len(log.errors) == 1 and len(log.success_times) == 3
