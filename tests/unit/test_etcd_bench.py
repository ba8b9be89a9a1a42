"""Pure helpers of scripts/bench-etcd-rolling.py."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench-etcd-rolling.py"
spec = importlib.util.spec_from_file_location("bench_etcd_rolling", SCRIPT)
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench  # dataclasses look their module up
spec.loader.exec_module(bench)


def test_longest_gap_between_successful_writes():
    assert bench.longest_gap([0.0, 1.0, 2.0, 5.5, 6.5]) == pytest.approx(3.5)


@pytest.mark.parametrize("times", [[], [3.0]])
def test_longest_gap_needs_two_writes(times):
    assert bench.longest_gap(times) == 0.0


def test_inventory_members_reads_the_etcd_group_addresses(tmp_path):
    inventory = tmp_path / "lab.yml"
    inventory.write_text(
        "all:\n  hosts:\n    et1: {ansible_host: 10.0.0.1}\n    et2: {ansible_host: 10.0.0.2}\n"
        "    other: {ansible_host: 10.0.0.9}\n  children:\n    etcd:\n      hosts:\n        et1: {}\n        et2: {}\n"
    )
    assert bench.inventory_members(inventory) == {"et1": "10.0.0.1", "et2": "10.0.0.2"}
