"""CoreDNS: deployed as the cluster DNS, unprivileged, and answering Service names to pods."""

import time

import pytest
from conftest import CONTROL_PLANE, applied_manifest, kubectl, kubectl_json

testinfra_hosts = CONTROL_PLANE[:1]

PROBE = """
apiVersion: v1
kind: Pod
metadata: {name: verify-dns-probe, namespace: default}
spec:
  containers:
    - name: probe
      image: stackbench.local/workload:1.0
      imagePullPolicy: Never
      command: [/bin/sleep, "3600"]
---
apiVersion: v1
kind: Service
metadata: {name: verify-dns-target, namespace: default}
spec:
  selector: {app: nothing-needed-for-a-name}
  ports: [{port: 80}]
"""


@pytest.fixture(scope="module")
def probe(host):
    yield from applied_manifest(host, "dns", PROBE, "wait --for=condition=Ready pod/verify-dns-probe --timeout=120s")


def nslookup(host, name: str):
    return kubectl(host, f"exec verify-dns-probe -- nslookup {name}")


def resolve(host, name: str, attempts: int = 20):
    """nslookup from the probe pod, retried while CoreDNS's watch catches up with a new Service."""
    for _ in range(attempts):
        out = nslookup(host, name)
        if out.rc == 0:
            return out
        time.sleep(1)
    return out


def test_coredns_runs_every_replica_unprivileged(host):
    deployment = kubectl_json(host, "-n kube-system get deployment coredns")
    assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"] == 2
    pods = kubectl_json(host, "-n kube-system get pods -l k8s-app=kube-dns")["items"]
    running = [p for p in pods if p["status"]["phase"] == "Running"]
    assert len(running) == 2
    assert len({p["spec"]["nodeName"] for p in running}) == 2  # spread over two nodes
    spec = running[0]["spec"]
    assert spec["securityContext"]["runAsUser"] == 65532 and spec["securityContext"]["runAsNonRoot"] is True
    container = spec["containers"][0]["securityContext"]
    assert container["capabilities"]["drop"] == ["ALL"] and "add" not in container["capabilities"]
    assert container["allowPrivilegeEscalation"] is False


def test_dns_service_is_the_kubelets_cluster_dns(host):
    service = kubectl_json(host, "-n kube-system get service kube-dns")
    with host.sudo():
        kubelet_config = host.file("/etc/kubernetes/kubelet/config.yaml").content_string
    assert service["spec"]["clusterIP"] == "10.96.0.10"
    assert "10.96.0.10" in kubelet_config
    ports = {(p["port"], p["protocol"]) for p in service["spec"]["ports"]}
    assert {(53, "UDP"), (53, "TCP")} <= ports


def test_a_service_name_resolves_from_a_pod_to_its_cluster_ip(host, probe):
    cluster_ip = kubectl_json(host, "get service verify-dns-target")["spec"]["clusterIP"]
    out = resolve(host, "verify-dns-target.default.svc.cluster.local")
    assert out.rc == 0, out.stdout + out.stderr
    assert cluster_ip in out.stdout.split("Name:")[-1]
    api = resolve(host, "kubernetes.default.svc.cluster.local")
    assert api.rc == 0 and "10.96.0.1" in api.stdout.split("Name:")[-1]


def test_an_unknown_name_in_the_cluster_domain_does_not_resolve(host, probe):
    out = nslookup(host, "no-such-service.default.svc.cluster.local")
    assert out.rc != 0
    assert "NXDOMAIN" in out.stdout + out.stderr
