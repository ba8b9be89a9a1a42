"""What node_capacity parses and computes (module_utils capacity.py, kubernetes.py and mesos.py) and the
report it feeds (plugin_utils/capacity_results.py)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils.capacity import (
    cgroup_cpu_limit,
    existing_ancestor,
    filesystems,
    parse_meminfo,
)
from ansible_collections.stackbench.cluster.plugins.module_utils.kubernetes import (
    parse_kubernetes_nodes,
    parse_quantity,
)
from ansible_collections.stackbench.cluster.plugins.module_utils.mesos import (
    MIB,
    parse_mesos_agent_state,
    parse_mesos_slaves,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.capacity_results import (
    format_table,
    merge_views,
    to_csv,
)
from conftest import fixture_text
from hypothesis import given
from hypothesis import strategies as st


def test_meminfo():
    assert parse_meminfo(fixture_text("meminfo.txt")) == {
        "memory_total_bytes": 24684084 * 1024, "memory_available_bytes": 20311544 * 1024}


def test_meminfo_without_memavailable_estimates():
    assert parse_meminfo(fixture_text("meminfo-old-kernel.txt"))["memory_available_bytes"] == 912000 * 1024


def test_meminfo_garbage():
    with pytest.raises(ValueError, match="MemTotal"):
        parse_meminfo("hello\n")


@pytest.mark.parametrize(("quota", "period", "expected"), [
    ("max 100000\n", None, None), ("200000 100000\n", None, 2.0), ("50000 100000", None, 0.5),
    ("-1\n", "100000\n", None), ("150000\n", "100000\n", 1.5), (None, None, None)])
def test_cgroup_cpu_limit(quota, period, expected):
    assert cgroup_cpu_limit(quota, period) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("3920Mi", Decimal(3920 * 2**20)), ("2", Decimal(2)), ("1500m", Decimal("1.5")),
    ("16Gi", Decimal(16 * 2**30)), ("110", Decimal(110)), ("263790972Ki", Decimal(263790972 * 1024)),
    ("1e3", Decimal(1000)), ("1k", Decimal(1000)), ("2M", Decimal(2_000_000)), ("100n", Decimal("1E-7")),
    ("0.5", Decimal("0.5")), (4, Decimal(4))])
def test_parse_quantity(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("bad", ["", "Mi", "12Xi", "1.2.3", "ten", "3 Gi"])
def test_parse_quantity_rejects(bad):
    with pytest.raises(ValueError):
        parse_quantity(bad)


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["Ki", "Mi", "Gi", "Ti"]))
def test_binary_suffixes_are_exact(n, suffix):
    power = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40}[suffix]
    assert parse_quantity(f"{n}{suffix}") == n * 2**power


@given(st.integers(min_value=0, max_value=10**9))
def test_millicores(n):
    assert parse_quantity(f"{n}m") * 1000 == n


def test_kubernetes_nodes():
    nodes = parse_kubernetes_nodes(json.loads(fixture_text("kubernetes-nodes.json")))
    cp1 = nodes["cp1"]
    assert cp1["kubernetes_capacity_cpu_cores"] == 2
    assert cp1["kubernetes_allocatable_cpu_cores"] == 1.5
    assert cp1["kubernetes_reserved_cpu_cores"] == 0.5
    assert cp1["kubernetes_capacity_memory_bytes"] == 24684084 * 1024
    assert cp1["kubernetes_allocatable_memory_bytes"] == 3920 * MIB
    assert cp1["kubernetes_reserved_memory_bytes"] == 24684084 * 1024 - 3920 * MIB
    assert cp1["kubernetes_allocatable_ephemeral_storage_bytes"] == 243106037286
    assert cp1["kubernetes_capacity_pods"] == 110
    assert cp1["kubernetes_capacity_hugepages_2mi_bytes"] == 0
    assert cp1["kubernetes_ready"] is True and cp1["kubernetes_unschedulable"] is False
    assert cp1["addresses"] == ["172.30.5.11", "cp1"]
    assert cp1["container_runtime_version"] == "containerd://1.6.20"
    worker = nodes["worker1"]
    # The worked example of the reserve-compute-resources page: 16 CPU / 32Gi -> 14.5 / 28.5Gi.
    assert worker["kubernetes_allocatable_cpu_cores"] == 14.5
    assert worker["kubernetes_allocatable_memory_bytes"] == int(28.5 * 2**30)
    assert worker["kubernetes_reserved_ephemeral_storage_bytes"] == 12 * 2**30
    assert worker["kubernetes_capacity_nvidia_com_gpu"] == 1
    assert worker["kubernetes_ready"] is False and worker["kubernetes_unschedulable"] is True


def test_kubernetes_wrong_kind():
    with pytest.raises(ValueError, match="NodeList"):
        parse_kubernetes_nodes({"kind": "PodList", "items": []})


def test_mesos_agent_state():
    agent = parse_mesos_agent_state(json.loads(fixture_text("mesos-agent-state.json")))
    assert agent["hostname"] == "agent1"
    assert agent["mesos_resources_cpus"] == 2.0
    assert agent["mesos_resources_mem_bytes"] == 23081 * MIB
    assert agent["mesos_resources_disk_bytes"] == 253207 * MIB
    assert agent["mesos_resources_ports"] == "[31000-32000]"
    assert agent["mesos_used_cpus"] == 0.75  # unreserved 0.5 + reserved for role web 0.25
    assert agent["mesos_used_mem_bytes"] == 384 * MIB
    assert agent["mesos_used_disk_bytes"] == 100 * MIB


def test_mesos_agent_state_rejects_other_documents():
    with pytest.raises(ValueError):
        parse_mesos_agent_state({"slaves": []})


def test_mesos_master_slaves():
    agents = parse_mesos_slaves(json.loads(fixture_text("mesos-master-slaves.json")))
    assert set(agents) == {"agent1", "172.30.6.22"}
    assert agents["agent1"]["mesos_used_cpus"] == 0.75
    assert agents["agent1"]["mesos_used_mem_bytes"] == 384 * MIB
    assert agents["agent1"]["addresses"] == ["172.30.6.21"]
    assert agents["172.30.6.22"]["mesos_active"] is False
    assert agents["172.30.6.22"]["mesos_resources_disk_bytes"] == 4096 * MIB


def test_existing_ancestor():
    present = {"/", "/var", "/var/lib"}
    assert existing_ancestor("/var/lib/zookeeper/data", present.__contains__) == "/var/lib"
    assert existing_ancestor("/var", present.__contains__) == "/var"


def test_filesystems_deduplicated_by_device():
    devices = {"/var/lib": 1, "/data": 2, "/": 1}
    present = set(devices)
    sizes = {1: (1000, 400, 300), 2: (5000, 4000, 3000)}

    def stat(path):
        return SimpleNamespace(st_dev=devices[path])

    def statvfs(path):
        blocks, free, avail = sizes[devices[path]]
        return SimpleNamespace(f_blocks=blocks, f_bfree=free, f_bavail=avail, f_frsize=4096)

    result = filesystems(["/var/lib/zookeeper", "/var/lib/etcd", "/data/etcd", "/var/lib/zookeeper"],
                         stat=stat, statvfs=statvfs, exists=present.__contains__)
    assert len(result) == 2
    assert result[0]["paths"] == ["/var/lib/zookeeper", "/var/lib/etcd"]
    assert result[0]["size_bytes"] == 1000 * 4096 and result[0]["available_bytes"] == 300 * 4096
    assert result[1]["paths"] == ["/data/etcd"] and result[1]["free_bytes"] == 4000 * 4096


def test_filesystems_real_tmp(tmp_path):
    result = filesystems([str(tmp_path), str(tmp_path / "missing" / "dir")])
    assert len(result) == 1 and result[0]["size_bytes"] > 0


def _hosts():
    return {
        "cp1": {"logical_cpus": 2, "memory_total_bytes": 8 * 2**30, "addresses": ["172.30.5.11"]},
        "agent-a": {"logical_cpus": 4, "memory_total_bytes": 16 * 2**30, "addresses": ["172.30.6.22"]},
        "agent1": {"logical_cpus": 2, "memory_total_bytes": 4 * 2**30, "addresses": ["172.30.6.21"]},
    }


def test_merge_views_joins_by_name_and_address():
    k8s = parse_kubernetes_nodes(json.loads(fixture_text("kubernetes-nodes.json")))
    mesos = parse_mesos_slaves(json.loads(fixture_text("mesos-master-slaves.json")))
    rows = {r["host"]: r for r in merge_views(_hosts(), [k8s, mesos])}
    assert rows["cp1"]["kubernetes_allocatable_cpu_cores"] == 1.5 and rows["cp1"]["logical_cpus"] == 2
    assert rows["agent-a"]["mesos_active"] is False  # matched by address 172.30.6.22
    assert rows["agent1"]["mesos_used_cpus"] == 0.75  # matched by hostname
    assert rows["worker1"]["kubernetes_capacity_cpu_cores"] == 16  # a node no host matched
    assert "addresses" not in rows["cp1"]
    assert list(rows) == sorted(rows)


def test_table_and_csv():
    k8s = parse_kubernetes_nodes(json.loads(fixture_text("kubernetes-nodes.json")))
    rows = merge_views(_hosts(), [k8s])
    table = format_table(rows).splitlines()
    assert table[0].split()[:3] == ["host", "cpus", "mem"]
    assert set(table[1]) <= {"-", " "}
    assert "mesos" not in table[0]  # no Mesos data: no Mesos columns
    cp1 = next(line for line in table if line.startswith("cp1"))
    assert "2/1.5" in cp1
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["host"] for r in parsed] == [r["host"] for r in rows]
    assert parsed[0]["logical_cpus"] in ("4", "")
