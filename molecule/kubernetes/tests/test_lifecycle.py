"""Day two of the Kubernetes stack, on the cluster the other modules checked (before test_zz_reset.py):

1. bad removals refused before any host changes (a control-plane host, a name that is no node);
2. worker2 removed (`kubernetes-remove-node.yml -e node=worker2`) while a client requests a workload
   with 2 replicas and a PodDisruptionBudget through its Service every 100 ms: the Node is gone, the
   host holds nothing of the stack, the other nodes stop routing to its pod subnet on their own;
3. the same host added back with `kubernetes.yml --limit worker2`, as a new node: Ready, a pod
   scheduled on it and answering, every other node routing to its new pod subnet; then a check-mode
   run of the whole playbook finds nothing to change on any host (the join needed no change elsewhere).

The inventory is the scenario's throughout (worker2 is in kube_nodes before and after), so the reset
that follows covers every host. Figures go to results/test/kubernetes-lifecycle.json.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from conftest import CONTROL_PLANE, INVENTORY, NODES, applied_manifest, get_host, kubectl, kubectl_json, leftovers
from playbook_runs import changed, ok, run_playbook

pytestmark = pytest.mark.runs_last

REPO = Path(__file__).resolve().parents[3]
RESULTS = REPO / "results" / "test" / "kubernetes-lifecycle.json"
FIGURES: dict[str, object] = {}
NODE = "worker2"
CLIENT = CONTROL_PLANE[0]

# Two replicas kept on the two workers (one each while both are there), a budget that lets one go
# at a time, and a preStop pause: a terminating pod answers until kube-proxy has dropped it.
MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: lifecycle-web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: lifecycle-web}}
  template:
    metadata: {labels: {app: lifecycle-web}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [worker1, worker2]}]
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector: {matchLabels: {app: lifecycle-web}}
      containers:
        - name: web
          image: stackbench.local/workload:1.0
          imagePullPolicy: Never
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
          lifecycle: {preStop: {exec: {command: [sleep, "5"]}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: lifecycle-web, namespace: default}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: lifecycle-web}}
---
apiVersion: v1
kind: Service
metadata: {name: lifecycle-web, namespace: default}
spec:
  selector: {app: lifecycle-web}
  ports: [{port: 80, targetPort: 8080}]
"""

# Requests the URL every 100 ms until the stop file appears, then prints one JSON line of counts.
PROBE = r"""
import json, os, sys, time, urllib.request
url, stop = sys.argv[1], sys.argv[2]
ok = failed = 0
gap = longest = 0.0
last_ok = time.monotonic()
while not os.path.exists(stop):
    started = time.monotonic()
    try:
        urllib.request.urlopen(url, timeout=2).read()
        ok += 1
        longest = max(longest, started - last_ok)
        last_ok = started
    except Exception:
        failed += 1
    time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
print(json.dumps({"ok": ok, "failed": failed, "longest_gap_s": round(longest, 2)}))
"""


def record(step: str, value: object) -> None:
    FIGURES[step] = value
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(FIGURES, indent=2) + "\n")


def admin():
    return get_host(CONTROL_PLANE[0])


def nodes() -> dict[str, dict]:
    return {n["metadata"]["name"]: n for n in kubectl_json(admin(), "get nodes")["items"]}


def static_routes(name: str) -> str:
    with get_host(name).sudo():
        return get_host(name).check_output("ip -4 route show proto static")


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        if value := check():
            return value
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(1)


@pytest.fixture(scope="module")
def workload():
    yield from applied_manifest(admin(), "lifecycle", MANIFEST,
                                "rollout status deployment/lifecycle-web --timeout=180s")


def pod_nodes() -> list[str]:
    pods = kubectl_json(admin(), "get pods -l app=lifecycle-web")["items"]
    return sorted(p["spec"]["nodeName"] for p in pods
                  if p["status"]["phase"] == "Running" and not p["metadata"].get("deletionTimestamp"))


# ---- 1. bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(("node", "message"), [
    (CONTROL_PLANE[0], "neither a control-plane host nor an etcd member"),
    ("no-such-node", "pass -e node=NAME, a host of the kube_nodes group"),
])
def test_a_removal_of_a_control_plane_host_or_of_no_node_is_refused_before_any_change(node, message):
    run = run_playbook(INVENTORY, "kubernetes-remove-node.yml", f"-enode={node}")
    assert run.returncode != 0 and message in run.stdout, run.stdout[-3000:]
    assert "Remove a Kubernetes node" not in run.stdout.split("PLAY RECAP")[0].split(message)[-1]
    assert sorted(nodes()) == sorted(NODES)


# ---- 2. the removal, with the workload answering --------------------------------------------------


@pytest.fixture(scope="module")
def removal(workload):
    assert pod_nodes() == ["worker1", NODE], "the two replicas should start one on each worker"
    old_subnet = nodes()[NODE]["spec"]["podCIDR"]
    cluster_ip = kubectl_json(admin(), "get service lifecycle-web")["spec"]["clusterIP"]
    client = get_host(CLIENT)
    with client.sudo():
        client.run("rm -f /root/verify/probe.stop")
        client.run(f"cat > /root/verify/probe.py <<'EOF'\n{PROBE}\nEOF")
        started = client.run(f"setsid nohup python3 /root/verify/probe.py http://{cluster_ip}/ /root/verify/probe.stop "
                             ">/root/verify/probe.out 2>&1 &")
    assert started.rc == 0, started.stderr
    time.sleep(2)
    run = run_playbook(INVENTORY, "kubernetes-remove-node.yml", f"-enode={NODE}")
    time.sleep(2)
    with client.sudo():
        client.run("touch /root/verify/probe.stop")
        time.sleep(1)
        probe = json.loads(wait_for(lambda: client.run("cat /root/verify/probe.out").stdout.strip(), 10, "probe"))
    ok(run)
    record("remove_worker_s", run.seconds)  # type: ignore[attr-defined]
    record("remove_worker_requests", probe)
    return {"run": run, "old_subnet": old_subnet, "probe": probe}


def test_the_workload_answered_every_request_during_the_removal(removal):
    assert removal["probe"]["ok"] > 50
    assert removal["probe"]["failed"] == 0, removal["probe"]


def test_the_node_is_gone_and_its_pods_run_elsewhere(removal):
    assert sorted(nodes()) == sorted(n for n in NODES if n != NODE)
    wait_for(lambda: pod_nodes() == ["worker1", "worker1"], 120, "both replicas on worker1")
    assert {h for h, c in changed(removal["run"]).items() if c} == {NODE}  # the drain is delegated, on NODE's line


def test_the_removed_host_holds_nothing_of_the_stack(removal):
    assert leftovers(NODE) == []


def test_the_other_nodes_stop_routing_to_its_pod_subnet(removal):
    others = [n for n in NODES if n != NODE]
    subnet = removal["old_subnet"]
    wait_for(lambda: all(f"{subnet} via" not in static_routes(n) for n in others), 30,
             f"routes to {subnet} gone from {others}")


# ---- 3. the host back as a new node, with --limit -----------------------------------------------


@pytest.fixture(scope="module")
def joined(removal):
    started = time.monotonic()
    run = run_playbook(INVENTORY, "kubernetes.yml", f"--limit={NODE}")
    ok(run)
    record("add_worker_playbook_s", run.seconds)  # type: ignore[attr-defined]
    pod = f"""
apiVersion: v1
kind: Pod
metadata: {{name: lifecycle-pinned, namespace: default, labels: {{app: lifecycle-pinned}}}}
spec:
  nodeSelector: {{kubernetes.io/hostname: {NODE}}}
  containers:
    - name: web
      image: stackbench.local/workload:1.0
      imagePullPolicy: Never
"""
    gen = applied_manifest(admin(), "lifecycle-pinned", pod,
                           "wait --for=condition=Ready pod/lifecycle-pinned --timeout=120s")
    next(gen)
    record("add_worker_until_pod_ready_s", round(time.monotonic() - started, 1))
    yield run
    next(gen, None)


def test_only_the_new_host_was_in_the_run(joined):
    assert set(changed(joined)) - {"localhost"} == {NODE}


def test_the_new_node_is_ready_with_a_new_pod_subnet_that_every_node_routes_to(joined):
    node = nodes()[NODE]
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
    subnet = node["spec"]["podCIDR"]
    assert re.fullmatch(r"10\.244\.\d+\.0/24", subnet)
    address = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    others = [n for n in NODES if n != NODE]
    wait_for(lambda: all(f"{subnet} via {address}" in static_routes(n) for n in others), 30,
             f"routes to {subnet} on {others}")


def test_a_pod_on_the_new_node_answers_from_another_node(joined):
    pod = kubectl_json(admin(), "get pod lifecycle-pinned")
    assert pod["spec"]["nodeName"] == NODE
    out = kubectl(admin(), "exec lifecycle-pinned -- wget -qO- http://127.0.0.1:8080/cgi-bin/host")
    assert out.rc == 0 and out.stdout.strip() == "lifecycle-pinned", out.stdout + out.stderr
    client = get_host("worker1")
    answer = client.run(f"python3 -c \"import urllib.request as u; print(u.urlopen("
                        f"'http://{pod['status']['podIP']}:8080/cgi-bin/host', timeout=5).read().decode())\"")
    assert answer.rc == 0 and answer.stdout.strip() == "lifecycle-pinned", answer.stderr


def test_a_check_mode_run_of_the_whole_playbook_changes_nothing_on_any_host(joined):
    run = run_playbook(INVENTORY, "kubernetes.yml", "--check")
    ok(run)
    record("check_mode_after_join_s", run.seconds)  # type: ignore[attr-defined]
    assert {h: c for h, c in changed(run).items() if h != "localhost"} == {h: 0 for h in {*NODES, *CONTROL_PLANE}}
