"""stackbench compare: the pure logic (inventory checks, settling rules, spread, capacity/failover/process parsing)."""

from __future__ import annotations

import io
import json

import pytest
from conftest import FIXTURES

from stackbench.compare import logic
from stackbench.compare.marathon_eval import SERVER, app_definition
from stackbench.compare.workload import Client, StepError, wait_for

INVENTORY = {
    "all": {
        "hosts": {"m1": {"ansible_host": "10.0.0.1"}, "a1": {"ansible_host": "10.0.0.2"}, "w1": {}},
        "children": {
            "zookeeper": {"hosts": {"m1": {}}},
            "mesos_masters": {"hosts": {"m1": {}}},
            "marathon": {"hosts": {"m1": {}}},
            "mesos_agents": {"hosts": {"a1": {}}},
            "kube": {"children": {"kube_nodes": {"hosts": {"w1": {}}}}},
        },
    }
}


def test_bench_members_come_from_ansibles_reader_with_children_and_addresses(tmp_path):
    from stackbench.bench.rolling import inventory_members

    path = tmp_path / "hosts.yml"
    path.write_text(json.dumps(INVENTORY))
    assert inventory_members(path, "kube_nodes") == {"w1": "w1"}  # nested under kube, no ansible_host
    assert inventory_members(path, "zookeeper") == {"m1": "10.0.0.1"}
    assert inventory_members(path, "etcd") == {}


def test_missing_groups_name_what_a_stack_lacks():
    groups = {"zookeeper": ["m1"], "mesos_masters": ["m1"], "marathon": ["m1"], "mesos_agents": ["a1"],
              "kube_nodes": ["w1"]}
    assert logic.missing_groups("mesos", groups) == []
    assert logic.missing_groups("kubernetes", groups) == ["etcd", "kube_control_plane"]
    groups = {"etcd": [], "kube_control_plane": ["x"], "kube_nodes": ["x"]}
    assert logic.missing_groups("kubernetes", groups) == ["etcd"]


def test_stamp_and_spread():
    assert logic.stamp(0) == "[00:00]" and logic.stamp(125.9) == "[02:05]"
    counts = logic.spread(["a", "b", "a", "", "c", "a"])
    assert counts == {"a": 3, "b": 1, "c": 1} and list(counts)[0] == "a"
    assert logic.spread_evenness(counts) == 0.333
    assert logic.spread_evenness({}) is None


def _task(task_id, alive=True, state="TASK_RUNNING", version="v1", host="agent1"):
    return {"id": task_id, "state": state, "ports": [31000], "host": host, "version": version,
            "ipAddresses": [{"ipAddress": "10.0.0.9", "protocol": "IPv4"}],
            "healthCheckResults": [{"alive": alive}]}


def test_marathon_endpoints_only_healthy_running_tasks():
    app = {"healthChecks": [{}], "tasks": [_task("a"), _task("b", alive=False), _task("c", state="TASK_STAGING")]}
    assert logic.marathon_endpoints(app) == ["http://10.0.0.9:31000"]
    assert len(logic.marathon_endpoints(app, healthy_only=False)) == 2
    assert logic.marathon_endpoints({"tasks": [_task("a", alive=False)]}) == ["http://10.0.0.9:31000"]


def test_marathon_settled_needs_count_health_no_deployment_and_version():
    app = {"healthChecks": [{}], "tasksHealthy": 2, "deployments": [], "tasks": [_task("a"), _task("b")]}
    assert logic.marathon_settled(app, 2)
    assert not logic.marathon_settled(app, 3)
    assert not logic.marathon_settled({**app, "deployments": [{"id": "x"}]}, 2)
    assert not logic.marathon_settled({**app, "tasksHealthy": 1}, 2)
    assert not logic.marathon_settled(app, 2, version="v2")
    assert not logic.marathon_settled({**app, "tasks": [*app["tasks"], _task("c", state="TASK_KILLING")]}, 2)


def _pod(name, ready=True, node="n1", restarts=0, deleting=False, hash_="h1"):
    meta = {"name": name, "labels": {"pod-template-hash": hash_}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [{"restartCount": restarts}]}}


def _deployment(replicas, generation=2, observed=2, updated=None, ready=None, total=None):
    return {"metadata": {"generation": generation},
            "status": {"observedGeneration": observed, "updatedReplicas": replicas if updated is None else updated,
                       "readyReplicas": replicas if ready is None else ready,
                       "replicas": replicas if total is None else total}}


def test_deployment_settled_rules():
    pods = [_pod("a"), _pod("b", node="n2")]
    assert logic.deployment_settled(_deployment(2), pods, 2)
    assert not logic.deployment_settled(_deployment(2, observed=1), pods, 2)
    assert not logic.deployment_settled(_deployment(2, total=3), pods, 2)
    assert not logic.deployment_settled(_deployment(2), [*pods, _pod("c")], 2)
    assert logic.deployment_settled(_deployment(2), [*pods, _pod("c", deleting=True)], 2)
    assert not logic.deployment_settled(_deployment(2), [pods[0], _pod("b", ready=False)], 2)
    assert not logic.deployment_settled(_deployment(2), pods, 2, template_hash="h2")
    assert logic.pod_nodes([*pods, _pod("c", deleting=True, node="n3")]) == {"n1": 1, "n2": 1}
    assert logic.pod_restarts(_pod("a", restarts=2)) == 2
    assert logic.pods_ready([pods[0], _pod("x", ready=False)]) == ["a"]


def test_capacity_nodes_take_the_clusters_offered_view():
    report = {"hosts": [
        {"host": "cp1", "logical_cpus": 2, "memory_total_bytes": 100, "kubernetes_allocatable_cpu_cores": 1.9,
         "kubernetes_allocatable_memory_bytes": 90},
        {"host": "a1", "logical_cpus": 2, "memory_total_bytes": 100, "mesos_resources_cpus": 2.0,
         "mesos_resources_mem_bytes": 80, "mesos_used_cpus": 0.3, "mesos_used_mem_bytes": 96},
        {"host": "other", "logical_cpus": 8},
    ]}
    rows = logic.capacity_nodes(report, ["cp1", "a1"])
    assert [r["host"] for r in rows] == ["cp1", "a1"]
    assert rows[0]["offered_cpus"] == 1.9 and rows[0]["used_cpus"] is None
    assert rows[1] == {"host": "a1", "cpus": 2, "memory_bytes": 100, "offered_cpus": 2.0, "offered_memory_bytes": 80,
                       "used_cpus": 0.3, "used_memory_bytes": 96}


def test_failover_component_from_ha_failover_results():
    ok = {"system": "marathon", "fault": "kill", "old_leader": "m1", "new_leader": "m2",
          "time_to_new_leader_seconds": 3.2, "write_unavailable_seconds": 4.0, "lost_acknowledged_writes": 0,
          "bounds_seconds": {"a": 10.0, "b": 20.0}, "problems": []}
    row = logic.failover_component(ok)
    assert row["status"] == "ok" and row["bound_s"] == 20.0 and row["emulated"] is True
    assert logic.failover_component({**ok, "problems": ["lost 2 writes"]})["status"] == "failed"
    missing = logic.failover_component({"item": ["kube_scheduler", "kill"], "failed": True,
                                        "msg": "kube_scheduler failover is not implemented yet"})
    assert (missing["system"], missing["fault"], missing["status"]) == ("kube_scheduler", "kill", "not_run")
    assert logic.failover_component({**ok, "system": "zookeeper"})["emulated"] is False


def test_daemon_matching_and_costs():
    zookeeper = "java -cp x org.apache.zookeeper.server.quorum.QuorumPeerMain /etc/zoo.cfg"
    assert logic.match_daemon(zookeeper) == "zookeeper"
    assert logic.match_daemon("/usr/local/bin/kube-apiserver --etcd-servers=https://x") == "kube-apiserver"
    assert logic.match_daemon("/usr/bin/containerd") == "containerd"
    assert logic.match_daemon("/usr/bin/containerd-shim-runc-v2 -namespace k8s.io") is None
    assert logic.match_daemon("/usr/local/bin/etcd --name cp1") == "etcd"
    assert logic.match_daemon("python3 /opt/marathon/bin/marathon --master zk://x") == "marathon"
    sample = {"clk_tck": 100, "interval": 5, "processes": [
        {"cmdline": "/usr/local/bin/etcd --name a", "ticks_before": 100, "ticks_after": 150, "rss_kb": 1000},
        {"cmdline": "/usr/local/bin/kubelet --config x", "ticks_before": 0, "ticks_after": 25, "rss_kb": 10},
        {"cmdline": "/usr/local/bin/kubelet --other", "ticks_before": 0, "ticks_after": 25, "rss_kb": 10},
        {"cmdline": "sleep 100", "ticks_before": 0, "ticks_after": 0, "rss_kb": 1},
    ]}
    rows = logic.daemon_costs("cp1", sample, ["etcd", "kubelet"])
    assert rows == [
        {"host": "cp1", "daemon": "etcd", "cpu_percent": 10.0, "rss_bytes": 1024000, "processes": 1},
        {"host": "cp1", "daemon": "kubelet", "cpu_percent": 10.0, "rss_bytes": 20480, "processes": 2},
    ]
    assert logic.daemon_costs("cp1", sample, ["zookeeper"]) == []


def test_standup_figures_cold_and_warm_or_reused():
    cold = {"seconds": 200.0, "changed": 120}
    warm = {"seconds": 60.0, "changed": 0}
    assert logic.standup_figures(cold, warm, reused=False) == {
        "cold_s": 200.0, "reused": False, "cold_changed": 120, "warm_s": 60.0, "warm_changed": 0}
    assert logic.standup_figures(warm, None, reused=True) == {
        "cold_s": None, "reused": True, "warm_s": 60.0, "warm_changed": 0}


def test_stack_status():
    assert logic.stack_status([{"status": "ok"}, {"status": "not_run"}]) == "evaluated"
    assert logic.stack_status([{"status": "ok"}, {"status": "failed"}]) == "partial"


def test_marathon_workload_command_is_valid_python_inside_single_quotes():
    assert "'" not in SERVER
    compile(SERVER, "server", "exec")
    app = app_definition(3)
    assert app["cmd"].startswith("exec python3 -c '") and app["instances"] == 3
    assert app["healthChecks"][0]["path"] == "/health"


def test_wait_for_reports_the_timeout():
    assert wait_for(lambda: True, 1, "x") >= 0
    with pytest.raises(StepError, match="waiting for nothing"):
        wait_for(lambda: False, 0.3, "nothing", interval=0.1)


def test_client_counts_failures_without_endpoints():
    with Client(lambda: [], pause=0.01) as client:
        wait_for(lambda: client.requests >= 3, 5, "requests")
    assert client.failed == client.requests and client.errors == {"no endpoint": client.requests}


def test_compare_marks_a_stack_with_missing_groups_not_evaluated(tmp_path, monkeypatch):
    from stackbench.compare import evaluate

    inventory = tmp_path / "inv.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"x": {}}, "children": {"etcd": {"hosts": {"x": {}}}}}}))
    out = io.StringIO()
    monkeypatch.setattr("stackbench.compare.report.write_report", lambda run_dir: None, raising=False)
    run_dir = evaluate.compare(str(inventory), ["kubernetes"], 3, str(tmp_path / "runs"), ["kill"], set(), out)
    results = json.loads((run_dir / "results.json").read_text())
    entry = results["stacks"]["kubernetes"]
    assert entry["status"] == "not_evaluated"
    assert entry["reason"] == "inventory lacks groups: kube_control_plane, kube_nodes (or kube_node)"
    assert entry["steps"] == []
    assert results["schema"] == "stackbench.compare/1" and results["duration_s"] is not None
    assert "not evaluated" in out.getvalue()


INVENTORIES = FIXTURES / "inventories"
# every step of a compare run that would reach a host (the evaluator's connection is patched out)
HOST_STEPS = ("standup,deploy,discovery,scale,rolling_update,rollback,kill_instance,health_check,capacity,"
              "control_plane_cost,kill_host,failover")


@pytest.mark.parametrize("source", ["zookeeper.ini", "zookeeper-dir"])
def test_a_stack_run_reads_groups_and_addresses_as_ansible_does(tmp_path, source):
    from stackbench.compare.evaluate import Run, StackRun

    # mesos runs on zookeeper: its zookeeper hosts are listed, addresses from ansible_host (group_vars in the dir)
    stack_run = StackRun(Run(io.StringIO(), source, tmp_path), "mesos", INVENTORIES / source, is_lab=False)
    assert stack_run.groups["zookeeper"] == ["zk1", "zk2", "zk3"]
    assert stack_run.entry["hosts"] == [{"name": "zk1", "groups": ["zookeeper"], "address": "10.0.0.1"},
                                        {"name": "zk2", "groups": ["zookeeper"], "address": "10.0.0.2"},
                                        {"name": "zk3", "groups": ["zookeeper"], "address": "zk3"}]
    assert logic.missing_groups("mesos", stack_run.groups) == ["mesos_masters", "mesos_agents", "marathon"]


def test_a_stack_run_resolves_kubesprays_group_names(tmp_path):
    from stackbench.compare.evaluate import Run, StackRun

    stack_run = StackRun(Run(io.StringIO(), "k", tmp_path), "kubernetes", INVENTORIES / "kubespray.ini", False)
    assert stack_run.groups["kube_nodes"] == ["node3", "node4"] and logic.missing_groups("kubernetes",
                                                                                          stack_run.groups) == []
    assert stack_run.addresses["node4"] == "10.0.1.4"
    assert [h["name"] for h in stack_run.entry["hosts"]] == ["node1", "node2", "node3", "node4"]


def test_a_lab_not_made_yet_has_no_hosts_until_stand_up(tmp_path):
    from stackbench.compare.evaluate import Run, StackRun

    stack_run = StackRun(Run(io.StringIO(), "lab", tmp_path), "kubernetes", tmp_path / "lab.yml", is_lab=True)
    assert stack_run.groups == {} and stack_run.entry["hosts"] == []


def test_cli_compare_with_an_ini_inventory_and_every_host_step_skipped(tmp_path, monkeypatch, capsys):
    from stackbench.cli import main
    from stackbench.compare import evaluate

    seen = {}

    def no_api(stack_run, lab):
        seen.update(groups=stack_run.groups, addresses=stack_run.addresses)
        raise StepError("no API in a unit test")

    monkeypatch.setattr(evaluate, "make_evaluator", no_api)
    monkeypatch.setattr("stackbench.compare.report.write_report", lambda run_dir: None, raising=False)
    rc = main(["compare", "-i", str(INVENTORIES / "kubespray.ini"), "--stacks", "kubernetes", "--skip", HOST_STEPS,
               "--out", str(tmp_path)])
    assert rc == 1  # partial: the API could not be reached
    assert seen["groups"]["kube_nodes"] == ["node3", "node4"] and seen["addresses"]["node1"] == "10.0.1.1"
    results = json.loads(next(tmp_path.glob("*/results.json")).read_text())
    entry = results["stacks"]["kubernetes"]
    assert entry["status"] == "partial" and entry["steps"] == []
    assert {h["name"]: h["address"] for h in entry["hosts"]} == {"node1": "10.0.1.1", "node2": "10.0.1.2",
                                                                 "node3": "10.0.1.3", "node4": "10.0.1.4"}
    assert "cannot reach the stack's API: no API in a unit test" in capsys.readouterr().out


def test_cli_compare_refuses_an_unparsable_inventory_before_a_run(tmp_path, capsys):
    from stackbench.cli import main

    (tmp_path / "broken.yml").write_text("all:\n  hosts: [\n")
    assert main(["compare", "-i", str(tmp_path / "broken.yml"), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "cannot read inventory" in err and "yaml plugin" in err and "hint:" in err
    assert not (tmp_path / "runs").exists()


def test_cli_compare_refuses_bad_input_with_a_hint(capsys, tmp_path):
    from stackbench.cli import main

    assert main(["compare", "--instances", "1"]) == 2
    assert main(["compare", "--stacks", "nomad"]) == 2
    assert main(["compare", "-i", str(tmp_path / "missing.yml")]) == 2
    err = capsys.readouterr().err
    assert "--instances 1 is too small" in err and "unknown stack 'nomad'" in err and "does not exist" in err
    assert err.count("hint:") == 3


def test_playbook_progress_echoes_plays_and_failures_only():
    from stackbench.compare.evaluate import Echo

    said: list[str] = []
    log = io.StringIO()
    echo = Echo(log, said.append)
    for line in ("[00:01] PLAY Install etcd", "[00:02]   a task", "[00:03]     FAILED cp1: task: boom"):
        print(line, file=echo)
    assert [s.strip() for s in said] == ["PLAY Install etcd", "FAILED cp1: task: boom"]
    assert log.getvalue().count("\n") == 3


def test_summary_is_false_unless_every_stack_was_evaluated(tmp_path):
    from stackbench.compare.evaluate import summarize

    results = {"stacks": {
        "mesos": {"status": "partial", "steps": [{"id": "deploy", "status": "failed"},
                                                 {"id": "kill_host", "status": "not_run"}]},
        "kubernetes": {"status": "not_evaluated", "reason": "inventory lacks groups: etcd", "steps": []},
    }}
    (tmp_path / "results.json").write_text(json.dumps(results))
    out = io.StringIO()
    assert summarize(tmp_path, out) is False
    assert out.getvalue().splitlines() == [
        "stackbench: mesos: partial (failed: deploy not run: kill_host)",
        "stackbench: kubernetes: not_evaluated (inventory lacks groups: etcd)",
    ]
    results["stacks"] = {"mesos": {"status": "evaluated", "steps": [{"id": "deploy", "status": "ok"}]}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert summarize(tmp_path, io.StringIO()) is True


def test_a_failing_step_is_recorded_and_the_run_goes_on(tmp_path):
    from stackbench.compare.evaluate import Run, StackRun

    inventory = tmp_path / "inv.yml"
    inventory.write_text(json.dumps(INVENTORY))
    run = Run(io.StringIO(), "test", tmp_path / "runs")
    stack_run = StackRun(run, "mesos", inventory, is_lab=False)

    def boom() -> dict:
        raise RuntimeError("the agent vanished")

    def not_here() -> dict:
        from stackbench.compare.workload import NotRun

        raise NotRun("needs the lab")

    stack_run.step("deploy", "Deploy", "m", lambda: {"seconds": 1.0}, hosts="a1")
    stack_run.step("scale", "Scale", "m", boom)
    stack_run.step("kill_host", "Kill host", "m", not_here)
    steps = json.loads((run.dir / "results.json").read_text())["stacks"]["mesos"]["steps"]
    assert [(s["id"], s["status"]) for s in steps] == [("deploy", "ok"), ("scale", "failed"), ("kill_host", "not_run")]
    assert steps[0]["figures"] == {"seconds": 1.0} and steps[0]["hosts"] == "a1"
    assert steps[1]["error"] == "RuntimeError: the agent vanished"
    assert steps[2]["error"] == "needs the lab"
    assert stack_run.entry["status"] == "partial"


def test_kubernetes_quantities_and_requests_per_node():
    assert logic.quantity("50m") == 0.05 and logic.quantity("32Mi") == 32 * 2**20 and logic.quantity(2) == 2.0
    assert logic.quantity("1G") == 1e9
    with pytest.raises(ValueError):
        logic.quantity("3 cores")

    def pod(node, cpu, mem, phase="Running"):
        return {"spec": {"nodeName": node, "containers": [{"resources": {"requests": {"cpu": cpu, "memory": mem}}}]},
                "status": {"phase": phase}}

    pods = [pod("n1", "50m", "32Mi"), pod("n1", "100m", "70Mi"), pod("n2", "1", "1Gi"),
            pod("n2", "1", "1Gi", phase="Succeeded"), {"spec": {"containers": []}, "status": {}}]
    assert logic.requests_by_node(pods) == {"n1": {"cpus": 0.15, "memory_bytes": 102 * 2**20},
                                            "n2": {"cpus": 1.0, "memory_bytes": 2**30}}


def test_the_sampler_keeps_a_jvms_main_class_after_a_long_classpath():
    """playbooks/files/proc_sample.py runs on hosts: here it runs as a program on this machine's /proc."""
    import subprocess
    import sys
    import uuid

    from stackbench.paths import REPO_ROOT

    token = f"stackbench-sampler-test-{uuid.uuid4().hex}"
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    classpath = ":".join(f"/opt/{token}/lib/jar{i}.jar" for i in range(40))
    jvm_like = [*sleep, "-cp", classpath, "org.apache.zookeeper.server.quorum.QuorumPeerMain", "/etc/zookeeper/zoo.cfg"]
    short_one = [*sleep, f"{token}-etcd", "--name", "a"]
    procs = [subprocess.Popen(argv) for argv in (jvm_like, short_one)]
    try:
        sampled = subprocess.run([sys.executable, str(REPO_ROOT / "playbooks" / "files" / "proc_sample.py"), "0.2",
                                  token], check=True, capture_output=True, text=True, timeout=30)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    document = json.loads(sampled.stdout)
    assert document["interval"] == 0.2 and document["clk_tck"] > 0
    rows = {row["pid"]: row for row in document["processes"]}
    assert set(rows) == {p.pid for p in procs}
    long_line, short_line = rows[procs[0].pid]["cmdline"], rows[procs[1].pid]["cmdline"]
    assert len(" ".join(jvm_like)) > 420
    assert len(long_line) < 420 and long_line.startswith(f"{sys.executable} -c import time")
    assert long_line.endswith("QuorumPeerMain /etc/zookeeper/zoo.cfg")
    assert logic.match_daemon(long_line) == "zookeeper"
    assert short_line == " ".join(short_one)
    for row in rows.values():
        assert row["ticks_after"] >= row["ticks_before"] >= 0 and row["rss_kb"] > 0
