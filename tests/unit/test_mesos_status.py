"""Leader/health logic of the mesos and marathon roles' status modules."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for role in ("mesos", "marathon"):
    sys.path.insert(0, str(ROOT / "roles" / role / "module_utils"))

from marathon_status import summarize_instances  # noqa: E402
from mesos_status import summarize_masters  # noqa: E402


def snap(elected: bool, recovered: bool = True, agents: int = 2) -> dict:
    return {
        "master/elected": float(elected),
        "registrar/log/recovered": float(recovered and elected),
        "master/slaves_active": float(agents if elected else 0),
    }


def test_one_elected_recovered_master_is_healthy():
    out = summarize_masters({"m1": snap(False), "m2": snap(True), "m3": snap(False)})
    assert (out["leader"], out["healthy"], out["agents_active"]) == ("m2", True, 2)


def test_unrecovered_leader_is_not_healthy():
    out = summarize_masters({"m1": snap(True, recovered=False), "m2": snap(False)})
    assert out["leader"] == "m1" and not out["recovered"] and not out["healthy"]


def test_unreachable_master_or_no_leader_or_two_leaders_is_not_healthy():
    assert not summarize_masters({"m1": snap(True), "m2": None})["healthy"]
    assert summarize_masters({"m1": snap(True), "m2": None})["unreachable"] == ["m2"]
    assert summarize_masters({"m1": snap(False), "m2": snap(False)})["leader"] is None
    split = summarize_masters({"m1": snap(True), "m2": snap(True)})
    assert split["leader"] is None and split["leaders"] == ["m1", "m2"] and not split["healthy"]


IDS = {"a": "a:8080", "b": "b:8080"}


def test_marathon_agreed_leader():
    out = summarize_instances({"a": {"ping": True, "leader": "b:8080"}, "b": {"ping": True, "leader": "b:8080"}}, IDS)
    assert (out["leader"], out["leader_host"], out["healthy"]) == ("b:8080", "b", True)


def test_marathon_disagreement_silence_or_foreign_leader_is_not_healthy():
    split = {"a": {"ping": True, "leader": "a:8080"}, "b": {"ping": True, "leader": "b:8080"}}
    assert not summarize_instances(split, IDS)["healthy"]
    down = {"a": {"ping": True, "leader": "a:8080"}, "b": {"ping": False, "leader": None}}
    assert summarize_instances(down, IDS)["not_answering"] == ["b"]
    assert not summarize_instances(down, IDS)["healthy"]
    foreign = {"a": {"ping": True, "leader": "x:8080"}, "b": {"ping": True, "leader": "x:8080"}}
    assert summarize_instances(foreign, IDS)["leader_host"] is None
    assert not summarize_instances(foreign, IDS)["healthy"]
