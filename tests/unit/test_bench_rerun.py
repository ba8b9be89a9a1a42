"""The re-run benchmark's arithmetic and its refusal of a failed run, without a lab."""

import json
import sys
import types
from pathlib import Path

import pytest

from stackbench.bench import rerun
from stackbench.runner import PlaybookResult


def result(seconds: float, changed: int, timings: Path | None = None, rc: int = 0) -> PlaybookResult:
    return PlaybookResult(rc=rc, status="successful" if rc == 0 else "failed", seconds=seconds, changed=changed,
                          failures=[], timings_file=timings, run_dir=Path("/runs/x"), check=False, args=[])


@pytest.fixture
def lab(monkeypatch):
    downs = []
    fake = types.ModuleType("stackbench.lab.lab")
    fake.Lab = lambda name: types.SimpleNamespace(down=lambda quiet=False: downs.append(name))
    monkeypatch.setitem(sys.modules, "stackbench.lab.lab", fake)
    monkeypatch.setattr("stackbench.stacks.lab_inventory", lambda stack, nodes: Path(f"/lab/{stack}.yml"))
    return downs


def test_ratios_against_the_cold_run_and_the_slowest_roles(lab, monkeypatch, tmp_path):
    timings = tmp_path / "timings.json"
    timings.write_text(json.dumps({"roles": {"stackbench.cluster.pki": {"duration_seconds": 95.04},
                                             "stackbench.cluster.etcd": {"duration_seconds": 20.0}}}))
    given = iter([result(200.0, 120), result(50.0, 0, timings), result(30.0, 0)])
    calls = []

    def run(playbook, inventory, label, out, options):
        calls.append((playbook, inventory, options.mitogen))
        return next(given)

    monkeypatch.setattr(rerun, "run_playbook", run)
    found = rerun.measure("etcd", keep=False)
    assert [c[2] for c in calls] == [False, False, True] and calls[0][:2] == ("etcd.yml", Path("/lab/etcd.yml"))
    assert (found["warm_of_cold"], found["warm_mitogen_of_cold"], found["warm_mitogen_of_warm"]) == (0.25, 0.15, 0.6)
    assert found["runs"]["warm"]["slowest_roles"] == {"pki": 95.0, "etcd": 20.0}
    assert lab == ["etcd", "etcd"]  # made anew before, removed after


def test_a_failed_run_stops_the_benchmark(lab, monkeypatch):
    monkeypatch.setattr(rerun, "run_playbook", lambda *a, **k: result(10.0, 3, rc=2))
    with pytest.raises(SystemExit, match="cold run failed"):
        rerun.measure("etcd", keep=True)
