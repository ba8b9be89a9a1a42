"""Bad input to playbooks/kubernetes.yml stops it in its first (read-only) play.

The first play runs the checks of every role the playbook uses (the shared kubernetes facts,
etcd, pki, control plane, load balancer, containerd, pod network, node, CoreDNS). The hosts are
local connections: the checks read facts, variables and a local HTTP server that publishes the
release binaries of one version and nothing else; each test breaks one input (or, for a check
that runs per host, gives hosts different values in one run that several tests share) and asserts
that nothing changed and that the etcd play never started. Each test's run is declared with `case`
and started by the module fixture `runs`, several at once (see local_playbook.run_cases); the
hosts' facts are gathered once for all of them.
"""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future

import local_playbook
import pytest
from local_playbook import Case, case

LAYOUT = {
    "etcd": ["c1", "c2", "c3"],
    "kube_control_plane": ["c1", "c2", "c3"],
    "kube_nodes": ["c1", "c2", "c3", "w1"],
}
VERSION = "1.35.4"
ARCH = "amd64"
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """An HTTP server on the loopback publishing the release binaries of VERSION (empty files)."""
    root = tmp_path_factory.mktemp("mirror")
    release = root / f"v{VERSION}" / "bin" / "linux" / ARCH
    release.mkdir(parents=True)
    for binary in BINARIES:
        (release / binary).touch()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory, mirror) -> Iterator[dict[str, Future]]:
    # The checks read facts (addresses, networks) but never ask whether a host has them yet: each
    # run reads the facts gathered once for the module.
    yield from local_playbook.run_cases(request, tmp_path_factory, "kubernetes.yml", {"mirror": mirror},
                                        gathered_facts=True, env={"ANSIBLE_GATHER_SUBSET": "!all,network"})


@pytest.fixture
def result(request, runs) -> subprocess.CompletedProcess:
    """The finished run of this test's `case`."""
    return runs[request.node.nodeid].result()


def assert_stopped_early(result: subprocess.CompletedProcess, message: str) -> None:
    local_playbook.assert_stopped_early(result, message, "Stand up the etcd cluster")


def valid(mirror: str, **changes) -> dict:
    """Input every check accepts, but for `changes`. CIDRs that cannot meet the machine's own
    networks, and one etcd address per member (the local hosts share the machine's)."""
    return {
        "kubernetes_pod_cidr": "198.18.0.0/16",
        "kubernetes_service_cidr": "198.19.0.0/16",
        "kubernetes_download_base_url": mirror,
        "kubernetes_version": VERSION,
        "kubernetes_arch": ARCH,
        "etcd_address": "127.0.0.{{ groups['etcd'].index(inventory_hostname) + 1 }}",
        **changes,
    }


@case(lambda mirror: Case({**LAYOUT, "etcd": ["c1", "c2"]}, valid(mirror)))
def test_even_etcd_count(result):
    assert_stopped_early(result, "an odd number in etcd (2;")


@case(lambda mirror: Case(LAYOUT, valid(mirror, kubernetes_service_cidr="198.18.128.0/20")))
def test_pod_cidr_overlapping_the_service_cidr(result):
    assert_stopped_early(result, "must not overlap each other nor the hosts' networks")


@case(lambda mirror: Case(LAYOUT, valid(mirror, kubernetes_pod_cidr="0.0.0.0/1",  # together they hold every address
                                        kubernetes_service_cidr="128.0.0.0/1")))
def test_pod_cidr_overlapping_the_host_network(result):
    assert_stopped_early(result, "must not overlap each other nor the hosts' networks")


@case(lambda mirror: Case(LAYOUT, valid(mirror), ungrouped=("stray",)))
def test_host_in_no_group(result):
    assert_stopped_early(result, "are in none of")


@case(lambda mirror: Case(LAYOUT, valid(mirror, kubernetes_version="1.99.0")))
def test_version_without_artifacts(result):
    assert_stopped_early(result, "missing artifacts for v1.99.0")


def missing_image(mirror: str) -> str:
    return f"{mirror}/images/coredns-9.9.9.tar"


@case(lambda mirror: Case(LAYOUT, valid(mirror, containerd_preload_images=[
    {"name": "stackbench.local/coredns:9.9.9", "url": missing_image(mirror),
     "checksum_url": f"{missing_image(mirror)}.sha256"}])))
def test_preloaded_image_missing_from_the_mirror(result, mirror):
    assert_stopped_early(result, "containerd: image archives to preload")
    assert missing_image(mirror) in result.stdout


@case(lambda mirror: Case(LAYOUT, valid(mirror, kubernetes_cluster_dns="10.200.0.10")))
def test_cluster_dns_outside_the_service_cidr(result):
    assert_stopped_early(result, "kubernetes_node: the cluster DNS address 10.200.0.10 (kubernetes_cluster_dns")
    assert "is not inside the service CIDR 198.19.0.0/16" in result.stdout


# The node checks run per host: one run gives two nodes a pod subnet too small, each in its own way
# (its message names its numbers), and the two tests below assert on it.
SMALL_SUBNETS = {
    "w1": {"kubernetes_node_pod_cidr_prefix": 30},
    "c3": {"kubernetes_node_pod_cidr_prefix": 26, "kubernetes_node_kubelet_max_pods": 120},
}


@case(lambda mirror: Case(LAYOUT, valid(mirror), host_vars=SMALL_SUBNETS))
def test_node_pod_subnet_without_room_for_max_pods(result):
    assert_stopped_early(result, "kubernetes_node: a /30 node pod subnet (kubernetes_node_pod_cidr_prefix) "
                                 "has 4 addresses, 1 of")
    assert ("fewer than the kubelet's maxPods 110 (kubernetes_node_kubelet_max_pods). "
            "Use a prefix of /25") in result.stdout
    assert "fatal: [w1]: FAILED!" in result.stdout


@case(lambda mirror: Case(LAYOUT, valid(mirror), host_vars=SMALL_SUBNETS))
def test_node_pod_subnet_follows_the_max_pods_setting(result):
    assert_stopped_early(result, "has 64 addresses, 61 of them for pods")
    assert ("fewer than the kubelet's maxPods 120 (kubernetes_node_kubelet_max_pods). "
            "Use a prefix of /25") in result.stdout
    assert "fatal: [c3]: FAILED!" in result.stdout


def task_output(stdout: str, task: str) -> list[str]:
    """The result lines of the task named `task` (its TASK header up to the next blank line)."""
    lines = re.sub(r"\n\w+day \d\d \w+ .*\n", "\n", stdout).split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("TASK [") and f": {task}]" in line)
    return lines[start + 1:lines.index("", start)]


# The pod subnet check passes; the CoreDNS check, the last of the first play, then refuses
# an address outside the service CIDR before any host changes. The check runs per host: one run
# gives each control-plane host one of the settings that must pass (w1 keeps the default /24).
LARGE_ENOUGH = {
    "c1": (25, {}),  # 125 pod addresses hold the default 110
    "c2": (26, {"kubernetes_node_kubelet_max_pods": 61}),  # 61 pod addresses, exactly
    "c3": (26, {"kubernetes_kubelet_max_pods": 50}),  # the name before the role split still counts
}


@pytest.mark.parametrize("host", LARGE_ENOUGH)
@case(lambda mirror, host: Case(LAYOUT, valid(mirror, coredns_cluster_ip="10.200.0.10"), host_vars={
    h: {"kubernetes_node_pod_cidr_prefix": prefix, **max_pods} for h, (prefix, max_pods) in LARGE_ENOUGH.items()}))
def test_node_pod_subnet_large_enough_passes_and_coredns_checks_in_the_first_play(result, host):
    assert_stopped_early(result, "coredns_cluster_ip 10.200.0.10 is not inside the service CIDR 198.19.0.0/16")
    assert "kubernetes_node: a /" not in result.stdout
    assert f"ok: [{host}]" in task_output(result.stdout, "Assert the node pod subnet holds the kubelet's maxPods")


@case(lambda mirror: Case(LAYOUT, valid(mirror), args=("--limit", "c1")))
def test_limit_to_some_etcd_members_is_refused(result):
    assert_stopped_early(result, "etcd: members c2, c3 of cluster 'stackbench-etcd' are limited out of this play")
    assert "-e etcd_allow_partial_limit=true" in result.stdout


# Adding w1 alone: etcd and the control plane are not in the play, their facts are read
# (the pod network check passes with their networks); the node check then refuses the DNS
# address, so the run still stops before any change.
@case(lambda mirror: Case(LAYOUT, valid(mirror, kubernetes_cluster_dns="10.200.0.10"), args=("--limit", "w1")))
def test_limit_to_a_worker_reads_the_hosts_outside_the_play(result):
    assert_stopped_early(result, "kubernetes_node: the cluster DNS address 10.200.0.10")
    assert "ok: [w1 -> c3] => (item=c3)" in result.stdout  # the setup delegated to a host outside the play
    assert "kubernetes_pod_network: the pod CIDR" not in result.stdout
    assert "limited out" not in result.stdout


# --check may limit a quorum group: c2 and c3 are read (address, data dir) for the member
# checks, which then pass; the node check stops the run before any change.
# (Any later check may be the one that stops it; the bad DNS address makes sure one does.)
@case(lambda mirror: Case(LAYOUT, valid(mirror, kubernetes_cluster_dns="10.200.0.10"),
                          args=("--limit", "c1", "--check")))
def test_check_mode_with_some_etcd_members_reads_the_others(result):
    assert_stopped_early(result, "")
    assert ("TASK [stackbench.cluster.etcd : Assert the membership is sound (odd size, unique names and addresses)] "
            "***\nok: [c1]") in re.sub(r"\n\w+day \d\d \w+ .*\n", "\n", result.stdout)
    assert "Look for a member directory in the data dir of the members outside the play" in result.stdout
    assert "ok: [c1 -> c3] => (item=c3)" in result.stdout
    assert "limited out" not in result.stdout and "etcd cluster 'stackbench-etcd' has members" not in result.stdout
