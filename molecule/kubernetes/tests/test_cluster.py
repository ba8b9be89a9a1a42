"""The cluster as a whole, driven from the first control-plane host: nodes, a workload, a
Service across nodes through kube-proxy, and the API endpoint surviving a stopped apiserver."""

import time

import pytest
from conftest import (
    ADMIN,
    CONTROL_PLANE,
    LB_SERVER,
    NODES,
    STARTING_VERSION,
    applied_manifest,
    get_host,
    http_get,
    kubectl,
    kubectl_json,
)

testinfra_hosts = CONTROL_PLANE[:1]

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: verify-workload, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: verify-workload}}
  template:
    metadata: {labels: {app: verify-workload}}
    spec:
      containers:
        - name: web
          image: stackbench.local/workload:1.0
          imagePullPolicy: Never
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: verify-workload, namespace: default}
spec:
  selector: {app: verify-workload}
  ports: [{port: 80, targetPort: 8080}]
"""


@pytest.fixture(scope="module")
def workload(host):
    yield from applied_manifest(host, "workload", MANIFEST, "rollout status deployment/verify-workload --timeout=180s")


def test_every_node_is_registered_and_ready(host):
    nodes = kubectl_json(host, "get nodes")["items"]
    ready = {n["metadata"]["name"]: {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"] for n in nodes}
    assert ready == {name: "True" for name in NODES}
    versions = {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes}
    assert versions == {f"v{STARTING_VERSION}"}  # the scenario stands up the release before the default


def test_deployment_runs_two_replicas(host, workload):
    pods = kubectl_json(host, "get pods -l app=verify-workload")["items"]
    running = [p for p in pods if p["status"]["phase"] == "Running" and p["metadata"].get("deletionTimestamp") is None]
    assert len(running) == 2
    assert all(p["status"]["podIP"].startswith("10.244.") for p in running)


def test_service_reaches_the_pods_from_a_node_without_them(host, workload):
    pods = kubectl_json(host, "get pods -l app=verify-workload")["items"]
    pod_nodes = {p["spec"]["nodeName"] for p in pods}
    pod_names = {p["metadata"]["name"] for p in pods if p["status"]["phase"] == "Running"}
    other = [name for name in NODES if name not in pod_nodes][0]
    cluster_ip = kubectl_json(host, "get service verify-workload")["spec"]["clusterIP"]
    client = get_host(other)
    # kube-proxy programs a new Service's endpoints asynchronously after the rollout: give it 30 s.
    for _ in range(30):
        first = http_get(client, f"http://{cluster_ip}/")
        if first.rc == 0:
            break
        time.sleep(1)
    assert "stackbench workload" in first.stdout
    seen = set()
    for _ in range(40):
        out = http_get(client, f"http://{cluster_ip}/cgi-bin/host")
        assert out.rc == 0, out.stderr
        seen.add(out.stdout.strip())
        if seen == pod_names:
            break
    assert seen == pod_names  # both pods, each on another node, answered through kube-proxy
    for pod in pods:  # and each pod directly, over the routes between nodes
        answer = http_get(client, f"http://{pod['status']['podIP']}:8080/cgi-bin/host").stdout.strip()
        assert answer == pod["metadata"]["name"]


def test_readyz_answers_on_every_apiserver_through_the_api(host):
    for name in CONTROL_PLANE:
        out = kubectl(host, "get --raw /readyz", server=f"https://{name}:6443")
        assert out.rc == 0 and out.stdout.strip() == "ok", (name, out.stderr)


def test_kubectl_through_the_endpoint_survives_a_stopped_apiserver(host):
    stopped = CONTROL_PLANE[0]  # this host's own apiserver: the local endpoint must go elsewhere
    target = get_host(stopped)
    target.run("systemctl stop kube-apiserver")
    try:
        assert kubectl(host, "get --raw /readyz", server=f"https://{stopped}:6443").rc != 0
        results = [kubectl(host, "get nodes -o name", server=LB_SERVER) for _ in range(10)]
        assert all(r.rc == 0 for r in results), [r.stderr for r in results if r.rc]
        assert all(len(r.stdout.split()) == len(NODES) for r in results)
    finally:
        target.run("systemctl start kube-apiserver")
        for _ in range(60):
            if kubectl(host, "get --raw /readyz", server=f"https://{stopped}:6443").rc == 0:
                break
            time.sleep(2)
    assert kubectl(host, "get --raw /readyz", server=f"https://{stopped}:6443").rc == 0


def test_admin_kubeconfig_on_hosts_is_root_only_and_admin(host):
    with host.sudo():
        config = host.file(ADMIN)
        assert config.user == "root" and config.mode == 0o640
    assert kubectl(host, "auth can-i '*' '*'").stdout.strip() == "yes"
    assert host.run(f"kubectl --kubeconfig={ADMIN} get nodes").rc != 0  # not readable without root
