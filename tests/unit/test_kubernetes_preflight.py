"""Bad input to playbooks/kubernetes.yml stops it in its first (read-only) play.

The hosts are local connections: the checks read facts, variables and (for the version
check) a local HTTP server holding no artifacts; the tests assert that nothing changed and
that the etcd play never started.
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from pathlib import Path

import local_playbook
import pytest
from local_playbook import run_local_playbook

LAYOUT = {
    "etcd": ["c1", "c2", "c3"],
    "kube_control_plane": ["c1", "c2", "c3"],
    "kube_nodes": ["c1", "c2", "c3", "w1"],
}


@pytest.fixture(scope="module")
def empty_mirror(tmp_path_factory):
    """An HTTP server on the loopback with no artifacts (every HEAD answers 404)."""
    root = tmp_path_factory.mktemp("mirror")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run(tmp_path: Path, groups: dict[str, list[str]], extra: dict[str, str], ungrouped: tuple[str, ...] = ()):
    return run_local_playbook(tmp_path, "kubernetes.yml", groups, extra, ungrouped,
                              env={"ANSIBLE_GATHER_SUBSET": "!all,network"})


def assert_stopped_early(result: subprocess.CompletedProcess, message: str) -> None:
    local_playbook.assert_stopped_early(result, message, "Stand up the etcd cluster")


# CIDRs that cannot meet the machine's own networks, so each test trips only its own check.
SAFE = {"kubernetes_pod_cidr": "198.18.0.0/16", "kubernetes_service_cidr": "198.19.0.0/16"}


def test_even_etcd_count(tmp_path, empty_mirror):
    groups = {**LAYOUT, "etcd": ["c1", "c2"]}
    extra = {**SAFE, "kubernetes_download_base_url": empty_mirror}
    assert_stopped_early(run(tmp_path, groups, extra), "an odd number in etcd (2;")


def test_pod_cidr_overlapping_the_service_cidr(tmp_path, empty_mirror):
    extra = {**SAFE, "kubernetes_service_cidr": "198.18.128.0/20", "kubernetes_download_base_url": empty_mirror}
    assert_stopped_early(run(tmp_path, LAYOUT, extra), "must not overlap each other nor the hosts' networks")


def test_pod_cidr_overlapping_the_host_network(tmp_path, empty_mirror):
    extra = {**SAFE, "kubernetes_pod_cidr": "0.0.0.0/1", "kubernetes_download_base_url": empty_mirror}
    extra["kubernetes_service_cidr"] = "128.0.0.0/1"  # together they hold every address
    assert_stopped_early(run(tmp_path, LAYOUT, extra), "must not overlap each other nor the hosts' networks")


def test_host_in_no_group(tmp_path, empty_mirror):
    extra = {**SAFE, "kubernetes_download_base_url": empty_mirror}
    assert_stopped_early(run(tmp_path, LAYOUT, extra, ungrouped=("stray",)), "are in none of")


def test_version_without_artifacts(tmp_path, empty_mirror):
    extra = {**SAFE, "kubernetes_download_base_url": empty_mirror, "kubernetes_version": "1.99.0"}
    result = run(tmp_path, LAYOUT, extra)
    assert_stopped_early(result, "missing artifacts for v1.99.0")


def test_preloaded_image_missing_from_the_mirror(tmp_path, empty_mirror):
    image = f"{empty_mirror}/images/coredns-9.9.9.tar"
    extra = {**SAFE, "kubernetes_download_base_url": empty_mirror,
             "containerd_preload_images": [{"name": "stackbench.local/coredns:9.9.9", "url": image}]}
    assert_stopped_early(run(tmp_path, LAYOUT, extra), image)
