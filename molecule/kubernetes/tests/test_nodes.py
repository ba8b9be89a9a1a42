"""Every node: kubelet, kube-proxy, the local API endpoint and the pod network."""

import json

import pytest
from conftest import ADDRESSES, CONTROL_PLANE, NODES, get_host, http_get, kubectl_json

testinfra_hosts = NODES


@pytest.fixture
def sudo_host(host):
    with host.sudo():
        yield host


@pytest.mark.parametrize("service", ["kubelet", "kube-proxy", "haproxy", "containerd", "kubernetes-pod-network"])
def test_node_services_run_and_are_enabled(sudo_host, service):
    unit = sudo_host.service(service)
    assert unit.is_enabled
    assert unit.is_running or service == "kubernetes-pod-network"
    assert sudo_host.run(f"systemctl is-active {service}").stdout.strip() == "active"


def test_local_api_endpoint_listens_on_loopback_only(sudo_host):
    assert sudo_host.socket("tcp://127.0.0.1:6543").is_listening
    assert not sudo_host.socket("tcp://0.0.0.0:6543").is_listening


def test_kubelet_config_follows_the_cgroup_version(sudo_host):
    config = sudo_host.file("/etc/kubernetes/kubelet/config.yaml").content_string
    fs_type = sudo_host.check_output("stat -fc %T /sys/fs/cgroup")
    assert ("failCgroupV1: false" in config) == (fs_type != "cgroup2fs")
    assert "cgroupDriver: systemd" in config


def test_kubelet_key_is_private_and_proxy_uses_the_local_endpoint(sudo_host):
    key = sudo_host.file("/etc/kubernetes/kubelet/kubelet.key")
    assert key.mode == 0o600 and key.user == "root"
    assert "server: https://127.0.0.1:6543" in sudo_host.file("/etc/kubernetes/kube-proxy/kubeconfig").content_string
    assert http_get(sudo_host, "http://127.0.0.1:10256/healthz").rc == 0


@pytest.fixture(scope="module")
def pod_subnets() -> dict[str, str]:
    """{node: spec.podCIDR}, as the controller-manager allocated them."""
    nodes = kubectl_json(get_host(CONTROL_PLANE[0]), "get nodes")["items"]
    return {n["metadata"]["name"]: n["spec"].get("podCIDR", "") for n in nodes}


def test_every_node_has_its_own_pod_subnet_and_its_cni_network_uses_it(sudo_host, pod_subnets):
    me = sudo_host.backend.get_hostname()
    assert sorted(pod_subnets) == sorted(NODES)
    assert all(s.startswith("10.244.") and s.endswith("/24") for s in pod_subnets.values()), pod_subnets
    assert len(set(pod_subnets.values())) == len(NODES)
    conflist = json.loads(sudo_host.file("/etc/cni/net.d/10-stackbench.conflist").content_string)
    assert conflist["plugins"][0]["ipam"]["ranges"] == [[{"subnet": pod_subnets[me]}]]


def test_routes_to_every_other_nodes_pod_subnet(sudo_host, pod_subnets):
    me = sudo_host.backend.get_hostname()
    routes = sudo_host.check_output("ip route show proto static")
    for name, subnet in pod_subnets.items():
        if name == me:
            assert f"{subnet} via" not in routes
        else:
            assert f"{subnet} via {ADDRESSES[name]}" in routes
