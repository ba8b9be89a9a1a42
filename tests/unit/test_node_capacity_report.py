"""The capacity report filters (plugins/filter/stackbench_report.py) join node_capacity results."""

from __future__ import annotations

import json

from ansible_collections.stackbench.cluster.plugins.filter.stackbench_report import FilterModule
from ansible_collections.stackbench.cluster.plugins.module_utils.kubernetes import parse_kubernetes_nodes
from conftest import fixture_text


def test_filters_join_host_results_and_cluster_views():
    filters = FilterModule().filters()
    results = {
        "agent1": {"changed": False, "logical_cpus": 2, "memory_total_bytes": 4 * 2**30,
                   "addresses": ["172.30.6.21"], "invocation": {"module_args": {}},
                   "mesos_agent": {"hostname": "agent1", "mesos_agent_id": "S0",
                                   "mesos_resources_cpus": 2.0}},
        "cp1": {"changed": False, "logical_cpus": 2, "memory_total_bytes": 8 * 2**30, "addresses": ["cp1"]},
    }
    kube = parse_kubernetes_nodes(json.loads(fixture_text("kubernetes-nodes.json")))
    rows = filters["capacity_rows"](results, [kube, {}])
    by_host = {r["host"]: r for r in rows}
    assert by_host["agent1"]["mesos_resources_cpus"] == 2.0
    assert "invocation" not in by_host["agent1"] and "changed" not in by_host["agent1"]
    assert by_host["cp1"]["kubernetes_allocatable_cpu_cores"] == 1.5
    assert "worker1" in by_host
    assert filters["capacity_table"](rows).startswith("host")
    assert filters["capacity_csv"](rows).splitlines()[0].startswith("host,")
