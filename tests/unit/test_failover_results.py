"""plugins/plugin_utils/failover/results.py: the write log's figures, lost writes, the result, its
verdict, the table and the cleaned JSON."""

from __future__ import annotations

from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.results import (
    WRITE_FIGURES,
    WriteLog,
    clean_results,
    lost_writes,
    reported_settings,
    results_table,
    summarize,
    verdict,
    without_writes,
    write_unavailability,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.zookeeper import zookeeper_bounds


def _log():
    log = WriteLog()
    log.record(1, "w1", 10.0, 10.01, True)
    log.record(2, "w2", 10.05, 10.06, True)
    log.record(3, "w3", 10.10, 12.10, False, "KazooTimeoutError: timeout")  # started before the fault
    log.record(4, "w4", 12.20, 12.30, False, "ConnectionLoss: ")
    log.record(5, "w5", 12.40, 13.90, True)  # queued during the election, acknowledged later
    log.record(6, "w6", 13.95, 13.96, True)
    return log


def test_write_unavailability():
    figures = write_unavailability(_log(), fault_at=11.0)
    assert figures["write_unavailable_seconds"] == 3.84  # last ack before the fault 10.06 -> 13.90
    assert figures["first_ack_after_fault_seconds"] == 2.9  # 13.90 - 11.0
    assert figures["max_ack_gap_seconds"] == 3.84  # 10.06 -> 13.90
    assert figures["writes_attempted"] == 6 and figures["writes_acknowledged"] == 4
    assert figures["failed_writes"] == 2
    assert figures["last_failed_write_seconds"] == 1.3  # w4 ended at 12.30; w3 (12.10) too, earlier
    assert figures["write_errors"] == {"KazooTimeoutError": 1, "ConnectionLoss": 1}


def test_graceful_stop_outage_starts_after_the_fault():
    log = WriteLog()
    for i, t in enumerate([0.0, 0.1, 0.2, 0.3, 1.5, 1.6]):  # leader goes at ~0.3, fault at 0.15
        log.record(i, f"w{i}", t - 0.01, t, True)
    figures = write_unavailability(log, fault_at=0.15)
    assert figures["first_ack_after_fault_seconds"] == 0.05
    assert figures["write_unavailable_seconds"] == 1.2


def test_write_unavailability_without_recovery():
    log = WriteLog()
    log.record(1, "w1", 1.0, 1.1, True)
    log.record(2, "w2", 2.0, 4.0, False, "timeout")
    figures = write_unavailability(log, fault_at=1.5)
    assert figures["write_unavailable_seconds"] is None and figures["max_ack_gap_seconds"] is None


def test_lost_writes():
    lost = lost_writes(["w1", "w2", "w5"], {"a": ["w1", "w2", "w5", "w3"], "b": ["w1", "w5"], "c": None})
    assert lost == {"a": [], "b": ["w2"]}


def test_summarize_and_table():
    log = _log()
    result = summarize(system="zookeeper", fault="kill", old_leader="zo2", new_leader="zo3", fault_at=11.0,
                       new_leader_at=11.4, log=log, lost={"zo1": [], "zo3": ["w2"]},
                       marker_ok={"zo1": True, "zo3": True}, rejoined_as="follower", rejoin_seconds=1.23456,
                       bounds=zookeeper_bounds(2000, 5, 10, 40000))
    assert result["time_to_new_leader_seconds"] == 0.4
    assert result["lost_acknowledged_writes"] == 1 and result["lost_acknowledged_write_keys"] == ["w2"]
    assert result["marker_survived"] is True
    assert result["old_leader_rejoin_seconds"] == 1.235
    assert result["bounds_seconds"] == {"follower_detects_dead_leader": 10.0, "new_leader_sync_limit": 20.0,
                                        "client_session_timeout": 40.0}
    result["passed"] = False
    result["problems"] = ["1 acknowledged writes were lost"]
    failed = {"system": "etcd", "fault": "stop", "failed": True, "msg": "no single leader to begin with"}
    table = results_table([result, failed]).splitlines()
    assert table[0].startswith("system") and set(table[1]) <= {"-", " "}
    assert "zo2 -> zo3" in table[2] and "0.40" in table[2] and "follower (1.24)" in table[2]
    assert table[3].split()[:2] == ["etcd", "stop"]
    assert any(line.startswith("zookeeper bounds from settings") for line in table)
    assert any("FAILED: no single leader" in line for line in table)
    assert any("acknowledged writes were lost" in line for line in table)


def test_marker_missing_anywhere_fails():
    result = summarize(system="etcd", fault="kill", old_leader="a", new_leader=None, fault_at=0, new_leader_at=None,
                       log=WriteLog(), lost={}, marker_ok={"a": True, "b": False}, rejoined_as=None,
                       rejoin_seconds=None)
    assert result["marker_survived"] is False and result["time_to_new_leader_seconds"] is None


def test_clean_results():
    assert clean_results([{"invocation": {}, "item": "kill", "changed": False, "passed": True}]) == \
        [{"passed": True}]


# ----- the verdict


def _good(**changes):
    summary = summarize(system="zookeeper", fault="kill", old_leader="zo1", new_leader="zo3", fault_at=11.0,
                        new_leader_at=11.4, log=_log(), lost={"zo2": [], "zo3": []},
                        marker_ok={"zo2": True, "zo3": True}, rejoined_as="follower", rejoin_seconds=1.0)
    summary["members_unreadable"] = []
    summary.update(changes)
    return summary


def _verdict(summary, **kwargs):
    return verdict(summary, **{"survivors": ["zo2", "zo3"], "timeout": 90, "writes": True,
                               "rejoined_modes": ("follower",), **kwargs})


def test_a_clean_run_has_no_problems():
    assert _verdict(_good()) == []


def test_every_problem_is_named():
    summary = _good(new_leader=None, lost_acknowledged_writes=3, marker_survived=False, old_leader_rejoined_as="leader",
                    agents_active_before=2, time_to_agents_reregistered_seconds=None, pod_scheduled_on=None,
                    pod_create_error="HTTP 403", members_unreadable=["zo2"])
    problems = _verdict(summary, heal_error="could not start zookeeper again on zo1: boom")
    assert problems == [
        "could not start zookeeper again on zo1: boom",
        "no new leader among zo2, zo3 within 90s",
        "3 acknowledged writes were lost",
        "the marker is missing on some member",
        "the agents did not all re-register with the new leader in time",
        "old leader zo1 rejoined as 'leader', not as a follower",
        "the Pod created after the fault was not scheduled in time",
        "could not create the Pod after the fault: HTTP 403",
        "members not readable after the run: zo2",
    ]


def test_a_system_without_writes_is_not_judged_on_writes():
    summary = _good(marker_survived=False)
    without_writes(summary, "mesos_masters")
    assert all(summary[key] is None for key in WRITE_FIGURES)
    assert summary["writes_note"].startswith("mesos_masters: no client writes")
    assert _verdict(summary, writes=False) == []


def test_rejoined_modes_are_the_systems():
    summary = _good(old_leader_rejoined_as="serving")
    assert _verdict(summary, rejoined_modes=("serving",)) == []
    assert _verdict(summary) == ["old leader zo1 rejoined as 'serving', not as a follower"]


def test_reported_settings_leave_the_rest_out():
    assert reported_settings({"tickTime": "2000", "dataDir": "/var/lib/zookeeper", "lb_inter": 2.0}) == \
        {"tickTime": "2000", "lb_inter": 2.0}
