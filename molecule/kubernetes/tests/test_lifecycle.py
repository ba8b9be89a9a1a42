"""Day two of the Kubernetes stack, on the cluster the other modules checked (before test_zz_reset.py):

1. the upgrade from the scenario's release (1.34) to the next minor (`kubernetes-upgrade.yml`) while a
   client requests a workload (2 replicas, a PodDisruptionBudget) through its Service every 100 ms and
   another writes a ConfigMap through a node's API balancer every 100 ms, with every certificate renewed in
   the same pass (`-e kubernetes_upgrade_renew_certificates=true`): every apiserver and kubelet on the new
   release, no node left cordoned, an etcd snapshot taken first, every issued certificate re-issued with
   its key kept and served by its restarted daemon, the wall time per host;
2. worker2 removed (`kubernetes-remove-node.yml -e node=worker2`) while a client requests a workload
   with 2 replicas and a PodDisruptionBudget through its Service every 100 ms: the Node is gone, the
   host holds nothing of the stack, the other nodes stop routing to its pod subnet on their own;
3. the same host added back with `kubernetes.yml --limit worker2`, as a new node: Ready, a pod
   scheduled on it and answering, every other node routing to its new pod subnet;
4. cp3, a control-plane host and etcd member, removed (`kubernetes-remove-node.yml -e node=cp3`) with both
   clients running: out of etcd's member list, the Node list and every other node's API balancer, the host
   clean, no service restarted elsewhere; then added back with `kubernetes.yml --limit cp3`: a voting etcd
   member (it joined as a learner), its apiserver ready, in every node's balancer, nothing restarted
   elsewhere;
5. cp3 wiped as a dead disk leaves it (daemons stopped, etcd data, configuration and keys gone) and
   replaced with `kubernetes-recover.yml -e member=cp3` with both clients running: a new etcd member ID,
   voting, its apiserver ready, the Node Ready, in every balancer, nothing restarted elsewhere; then a
   check-mode run of the whole playbook finds nothing to change on any host.

Bad input (a downgrade, a skipped minor, the first control-plane host, a name outside the stack, the last
node) is refused before any host changes in the unit tests (test_kubernetes_versions.py,
test_kubernetes_remove_node.py), on local hosts: not repeated here, where each run costs the CI budget.
The inventory is the scenario's throughout (worker2 is in kube_nodes before and after), so the reset
that follows covers every host. Figures go to results/test/kubernetes-lifecycle.json.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from background import Background, wait_for
from conftest import (
    ADDRESSES,
    CONTROL_PLANE,
    INVENTORY,
    NODES,
    STARTING_VERSION,
    UPGRADED_VERSION,
    applied_manifest,
    get_host,
    kubectl,
    kubectl_json,
    leftovers,
)
from cryptography import x509
from playbook_runs import changed, ok, seconds_per_host, task_seconds, tasks_running_at
from playbook_runs import run_playbook as _run_playbook

pytestmark = pytest.mark.runs_last

REPO = Path(__file__).resolve().parents[3]
RESULTS = REPO / "results" / "test" / "kubernetes-lifecycle.json"
FIGURES: dict[str, object] = {}
NODE = "worker2"
CLIENT = CONTROL_PLANE[0]

# Two replicas kept on the two workers (one each while both are there, a replica evicted by a drain
# waiting for its worker), a budget that lets one go at a time, and a preStop pause: a terminating
# pod answers until kube-proxy has dropped it.
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
      # one replica per worker, also while one is cordoned: the evicted replica waits for it
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: DoNotSchedule
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

# Requests the URL every 100 ms until the stop file appears, then prints one JSON line of counts and
# the first failures (UTC time, error), which the test maps to the task running then.
PROBE = r"""
import datetime, json, os, sys, time, urllib.request
url, stop = sys.argv[1], sys.argv[2]
ok = failed = 0
gap = longest = 0.0
errors = []
last_ok = time.monotonic()
while not os.path.exists(stop):
    started = time.monotonic()
    try:
        urllib.request.urlopen(url, timeout=2).read()
        ok += 1
        longest = max(longest, started - last_ok)
        last_ok = started
    except Exception as error:
        failed += 1
        if len(errors) < 20:
            errors.append([datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3],
                           round(time.monotonic() - started, 2), repr(error)[:200]])
    time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
print(json.dumps({"ok": ok, "failed": failed, "longest_gap_s": round(longest, 2), "errors": errors}))
"""


def run_playbook(inventory: str, name: str, *args: str):
    """Every run after the upgrade names the release, as an operator who upgraded edits the inventory."""
    return _run_playbook(inventory, name, f"-ekubernetes_version={UPGRADED_VERSION}", *args)


# Writes ConfigMap lifecycle-writes (data.n = a counter) through this host's API balancer every 100 ms
# until the stop file appears, with the admin credentials; then reads it back: the last acknowledged
# write must be there. Prints one JSON line of counts and the first failures, as PROBE does.
WRITER = r"""
import datetime, json, os, ssl, sys, time, urllib.error, urllib.request
stop = sys.argv[1]
base = "https://127.0.0.1:6543/api/v1/namespaces/default/configmaps"
context = ssl.create_default_context(cafile="/etc/kubernetes/admin/ca.crt")
context.load_cert_chain("/etc/kubernetes/admin/admin.crt", "/etc/kubernetes/admin/admin.key")
def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, context=context, timeout=2).read())
def document(n):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "lifecycle-writes"}, "data": {"n": str(n)}}
try:
    call("POST", base, document(0))
except urllib.error.HTTPError as error:
    if error.code != 409:
        raise
ok = failed = 0
errors = []
acked, longest, last_ok, n = 0, 0.0, time.monotonic(), 0
while not os.path.exists(stop):
    started = time.monotonic()
    n += 1
    try:
        call("PUT", base + "/lifecycle-writes", document(n))
        ok, acked = ok + 1, n
        longest, last_ok = max(longest, started - last_ok), started
    except Exception as error:
        failed += 1
        # an apiserver's error says why in its Status body (e.g. an etcd error behind a 500)
        said = error.read().decode(errors="replace")[:300] if isinstance(error, urllib.error.HTTPError) else ""
        if len(errors) < 20:
            errors.append([datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3],
                           round(time.monotonic() - started, 2), repr(error)[:200] + " " + said])
    time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
final = int(call("GET", base + "/lifecycle-writes")["data"]["n"])
print(json.dumps({"ok": ok, "failed": failed, "longest_gap_s": round(longest, 2),
                  "last_acknowledged": acked, "read_back": final, "errors": errors}))
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


def run_under_clients(step: str, playbook: str, *args: str, first=None) -> dict:
    """Runs the playbook while PROBE requests the workload's Service from CLIENT and WRITER writes
    through cp2's balancer (the admin credentials are on the control plane), after `first()` if given;
    records the run's seconds and the clients' figures under `step`."""
    requests = Background(get_host(CLIENT), f"{step}-probe", PROBE, f"http://{service_ip()}/")
    writes = Background(get_host(CONTROL_PLANE[1]), f"{step}-writes", WRITER)
    time.sleep(2)
    if first:
        first()
    run = run_playbook(INVENTORY, playbook, *args)
    time.sleep(2)
    figures = {"requests": requests.stop(), "api_writes": writes.stop()}
    ok(run)
    record(f"{step}_s", run.seconds)  # type: ignore[attr-defined]
    record(f"{step}_clients", figures)
    return {"run": run, **figures}


@pytest.fixture(scope="module")
def workload():
    yield from applied_manifest(admin(), "lifecycle", MANIFEST,
                                "rollout status deployment/lifecycle-web --timeout=180s")


def pod_nodes() -> list[str]:
    pods = kubectl_json(admin(), "get pods -l app=lifecycle-web")["items"]
    return sorted(p["spec"]["nodeName"] for p in pods
                  if p["status"]["phase"] == "Running" and not p["metadata"].get("deletionTimestamp"))


SERVICES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")


def main_pids(exclude: str) -> dict[str, dict[str, str]]:
    """{host: {service: MainPID}} of the stack's services on every host but `exclude`: a restart changes one."""
    found = {}
    for name in sorted({*CONTROL_PLANE, *NODES} - {exclude}):
        with get_host(name).sudo():
            out = get_host(name).check_output("systemctl show -p MainPID --value " + " ".join(SERVICES))
        found[name] = {s: pid for s, pid in zip(SERVICES, out.split(), strict=True) if pid != "0"}
    return found


def host_pki(name: str) -> dict[str, dict]:
    """{path: serial, start, key digest} of every certificate the stack issued to a host (CAs left out)."""
    host = get_host(name)
    found = {}
    with host.sudo():
        paths = host.check_output("find /etc/etcd/pki /etc/kubernetes -name '*.crt' 2>/dev/null || true").split()
        for path in paths:
            cert = x509.load_pem_x509_certificate(host.file(path).content)
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            if constraints.ca:
                continue
            key = host.file(path[: -len(".crt")] + ".key")
            found[path] = {"serial": cert.serial_number, "not_before": cert.not_valid_before_utc,
                           "key_sha256": key.sha256sum if key.exists else None}
    return found


def served_serial(name: str, port: int) -> int:
    """Serial of the certificate a daemon on the host serves on the port: a renewal it did not load fails."""
    pem = get_host(name).check_output(
        f"openssl s_client -connect {ADDRESSES[name]}:{port} </dev/null 2>/dev/null | openssl x509")
    return x509.load_pem_x509_certificate(pem.encode() + b"\n").serial_number


# ---- 1. the upgrade, with the workload answering and the API written ------------------------


def service_ip() -> str:
    return kubectl_json(admin(), "get service lifecycle-web")["spec"]["clusterIP"]


def versions() -> dict[str, str]:
    return {name: n["status"]["nodeInfo"]["kubeletVersion"] for name, n in nodes().items()}


def snapshots() -> set[Path]:
    return set((Path(INVENTORY).parent / ".stackbench" / "backups" / "etcd").glob("*.db"))


def upgrade_release_built() -> float:
    """The release the upgrade installs in the mirror: `scripts/test.sh` builds it beside this scenario
    (the build lock makes this wait for it), a scenario run alone builds it here. Seconds it took."""
    started = time.monotonic()
    build = subprocess.run([str(Path(sys.executable).with_name("stackbench")), "artifacts", "build", "kubernetes"],
                           env=dict(os.environ, STACKBENCH_KUBERNETES_VERSION=UPGRADED_VERSION),
                           capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return round(time.monotonic() - started, 1)


@pytest.fixture(scope="module")
def upgraded(workload):
    record("upgrade_release_wait_s", upgrade_release_built())
    assert set(versions().values()) == {f"v{STARTING_VERSION}"} and STARTING_VERSION != UPGRADED_VERSION
    assert pod_nodes() == ["worker1", NODE], "the two replicas should start one on each worker"
    before = snapshots()
    hosts = sorted({*CONTROL_PLANE, *NODES})
    pki_before = {name: host_pki(name) for name in hosts}
    pids_before = main_pids(exclude="")
    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    upgrade = run_under_clients("upgrade_with_renewal", "kubernetes-upgrade.yml",
                                "-ekubernetes_upgrade_renew_certificates=true")
    record("upgrade_per_host_s", seconds_per_host(upgrade["run"], hosts))
    return {**upgrade, "new_snapshots": snapshots() - before, "started": started, "pki_before": pki_before,
            "pki_after": {name: host_pki(name) for name in hosts}, "pids_before": pids_before,
            "pids_after": main_pids(exclude="")}


def test_the_upgrade_took_an_etcd_snapshot_first(upgraded):
    assert len(upgraded["new_snapshots"]) == 1
    stdout = upgraded["run"].stdout
    assert stdout.index("PLAY [Take an etcd snapshot to the controller]") \
        < stdout.index("PLAY [Stand up the etcd cluster]")


def test_every_apiserver_and_kubelet_runs_the_new_release_and_no_node_is_left_cordoned(upgraded):
    assert set(versions().values()) == {f"v{UPGRADED_VERSION}"}
    assert [n for n, node in nodes().items() if node["spec"].get("unschedulable")] == []
    for name in CONTROL_PLANE:
        out = kubectl(admin(), "get --raw /version", server=f"https://{ADDRESSES[name]}:6443")
        assert out.rc == 0 and json.loads(out.stdout)["gitVersion"] == f"v{UPGRADED_VERSION}", (name, out.stdout)


def test_the_control_plane_rolled_one_host_at_a_time_before_any_node(upgraded):
    order = [name for name, _ in task_seconds(upgraded["run"])]
    restarts = [n.rsplit(": ", 1)[1] for n in order if n.startswith("Restart the control-plane services with new")]
    upgrades = [n.rsplit(": ", 1)[1] for n in order if n.startswith("Restart the kubelet and kube-proxy: ")]
    assert sorted(restarts) == sorted(CONTROL_PLANE) and sorted(upgrades) == sorted(NODES), order
    first_node = order.index(f"Restart the kubelet and kube-proxy: {upgrades[0]}")
    assert all(order.index(f"Restart the control-plane services with new configuration: {h}") < first_node
               for h in CONTROL_PLANE)
    for name in upgrades:  # each node drained before its restart, Ready before it is uncordoned
        steps = [order.index(f"{step}: {name}") for step in (
            "Cordon and drain the node (evictions honour PodDisruptionBudgets)",
            "Restart the kubelet and kube-proxy", "Wait for the node to report Ready with the new version",
            "Uncordon the node")]
        assert steps == sorted(steps), (name, steps)


def failures(figures: dict, run) -> list:
    """The client's failures, each with the tasks running then: what a failed test says."""
    return [[*error, tasks_running_at(run, error[0])] for error in figures.get("errors", [])]


def test_the_workload_answered_and_every_api_write_succeeded_during_the_upgrade(upgraded):
    requests, writes, run = upgraded["requests"], upgraded["api_writes"], upgraded["run"]
    assert requests["ok"] > 100 and requests["failed"] == 0, (requests, failures(requests, run))
    assert writes["ok"] > 100 and writes["failed"] == 0, (writes, failures(writes, run))
    assert writes["read_back"] == writes["last_acknowledged"], writes  # no acknowledged write lost


def test_the_upgrade_renewed_every_issued_certificate_keeping_its_key(upgraded):
    for name, before in upgraded["pki_before"].items():
        after = upgraded["pki_after"][name]
        # a control-plane host: etcd's member and client certificates and the control plane's; a worker: 2
        assert sorted(after) == sorted(before) and len(before) >= (5 if name in CONTROL_PLANE else 2), (name, after)
        for path, cert in after.items():
            assert cert["serial"] != before[path]["serial"] and cert["not_before"] >= upgraded["started"], (name, path)
            assert cert["key_sha256"] == before[path]["key_sha256"], (name, path)


def test_every_daemon_restarted_and_serves_its_renewed_certificate(upgraded):
    for name, pids in upgraded["pids_after"].items():
        before = upgraded["pids_before"][name]
        assert sorted(pids) == sorted(before) and all(pids[s] != before[s] for s in pids), (name, before, pids)
    for name in CONTROL_PLANE:
        pki = upgraded["pki_after"][name]
        assert served_serial(name, 2379) == pki["/etc/etcd/pki/member.crt"]["serial"], name
        assert served_serial(name, 6443) == pki["/etc/kubernetes/pki/apiserver.crt"]["serial"], name
    for name in NODES:
        kubelet = upgraded["pki_after"][name]["/etc/kubernetes/kubelet/kubelet.crt"]
        assert served_serial(name, 10250) == kubelet["serial"], name


# ---- 2. the removal, with the workload answering --------------------------------------------------


@pytest.fixture(scope="module")
def removal(upgraded):
    # a replica the upgrade's drain evicted went back to its worker once uncordoned
    wait_for(lambda: pod_nodes() == ["worker1", NODE], 60, "one replica on each worker")
    old_subnet = nodes()[NODE]["spec"]["podCIDR"]
    client = Background(get_host(CLIENT), "remove-probe", PROBE, f"http://{service_ip()}/")
    time.sleep(2)
    run = run_playbook(INVENTORY, "kubernetes-remove-node.yml", f"-enode={NODE}")
    time.sleep(2)
    probe = client.stop()
    ok(run)
    record("remove_worker_s", run.seconds)  # type: ignore[attr-defined]
    record("remove_worker_requests", probe)
    return {"run": run, "old_subnet": old_subnet, "probe": probe}


def test_the_workload_answered_every_request_during_the_removal(removal):
    assert removal["probe"]["ok"] > 50
    assert removal["probe"]["failed"] == 0, (removal["probe"], failures(removal["probe"], removal["run"]))


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


# ---- 4. a control-plane host (and etcd member) removed, then added back with --limit ---------------

CONTROL_PLANE_HOST = CONTROL_PLANE[-1]


def etcd_members() -> list[dict]:
    host = get_host(CONTROL_PLANE[0])
    with host.sudo():
        out = host.check_output(
            f"etcdctl --endpoints=https://{ADDRESSES[CONTROL_PLANE[0]]}:2379 --cacert=/etc/etcd/pki/ca.crt "
            "--cert=/etc/etcd/pki/member.crt --key=/etc/etcd/pki/member.key member list -w json")
    return json.loads(out)["members"]


def balancer_backends(name: str) -> list[str]:
    with get_host(name).sudo():
        config = get_host(name).check_output("cat /etc/haproxy/haproxy.cfg")
    return re.findall(r"^\s*server apiserver\d+ (\S+)", config, re.M)


@pytest.fixture(scope="module")
def control_plane_removed(joined):
    before = main_pids(CONTROL_PLANE_HOST)
    removal = run_under_clients("remove_control_plane", "kubernetes-remove-node.yml", f"-enode={CONTROL_PLANE_HOST}")
    return {**removal, "pids_before": before, "pids_after": main_pids(CONTROL_PLANE_HOST)}


def test_the_control_plane_removal_failed_no_request_and_no_api_write(control_plane_removed):
    requests, writes, run = (control_plane_removed[k] for k in ("requests", "api_writes", "run"))
    assert requests["ok"] > 50 and requests["failed"] == 0, (requests, failures(requests, run))
    assert writes["ok"] > 50 and writes["failed"] == 0, (writes, failures(writes, run))
    assert writes["read_back"] == writes["last_acknowledged"], writes


def test_the_removed_host_is_out_of_etcd_the_node_list_and_every_balancer_and_holds_nothing(control_plane_removed):
    assert sorted(m["name"] for m in etcd_members()) == sorted(set(CONTROL_PLANE) - {CONTROL_PLANE_HOST})
    assert CONTROL_PLANE_HOST not in nodes()
    gone = f"{ADDRESSES[CONTROL_PLANE_HOST]}:6443"
    for name in sorted({*NODES} - {CONTROL_PLANE_HOST}):
        backends = balancer_backends(name)
        assert gone not in backends and len(backends) == len(CONTROL_PLANE) - 1, (name, backends)
    assert leftovers(CONTROL_PLANE_HOST) == []


def test_the_removal_restarted_no_service_on_another_host(control_plane_removed):
    assert control_plane_removed["pids_after"] == control_plane_removed["pids_before"]


@pytest.fixture(scope="module")
def control_plane_joined(control_plane_removed):
    before = main_pids(CONTROL_PLANE_HOST)
    run = run_playbook(INVENTORY, "kubernetes.yml", f"--limit={CONTROL_PLANE_HOST}")
    ok(run)
    record("add_control_plane_s", run.seconds)  # type: ignore[attr-defined]
    return {"run": run, "pids_before": before, "pids_after": main_pids(CONTROL_PLANE_HOST)}


def test_only_the_joining_host_was_in_the_run_and_no_other_service_restarted(control_plane_joined):
    # the other nodes' balancer writes are delegated from the joining host: they count on its line
    assert set(changed(control_plane_joined["run"])) - {"localhost"} == {CONTROL_PLANE_HOST}
    assert control_plane_joined["pids_after"] == control_plane_joined["pids_before"]


def assert_a_full_control_plane_member() -> list[dict]:
    """CONTROL_PLANE_HOST is a voting etcd member, its apiserver ready, its Node Ready, in every node's
    balancer beside the others. Returns etcd's member list."""
    members = etcd_members()
    assert sorted(m["name"] for m in members) == sorted(CONTROL_PLANE)
    assert not any(m.get("isLearner") for m in members), members
    out = kubectl(admin(), "get --raw /readyz", server=f"https://{ADDRESSES[CONTROL_PLANE_HOST]}:6443")
    assert out.rc == 0 and out.stdout.strip() == "ok", out.stdout + out.stderr
    wait_for(lambda: {c["type"]: c["status"] for c in nodes()[CONTROL_PLANE_HOST]["status"]["conditions"]}["Ready"]
             == "True", 60, f"{CONTROL_PLANE_HOST} Ready")
    back = f"{ADDRESSES[CONTROL_PLANE_HOST]}:6443"
    for name in sorted(NODES):
        backends = balancer_backends(name)
        assert back in backends and len(backends) == len(CONTROL_PLANE), (name, backends)
    return members


def test_the_joined_host_is_a_voting_etcd_member_a_ready_apiserver_and_node_in_every_balancer(control_plane_joined):
    assert_a_full_control_plane_member()


# ---- 5. a dead control-plane host replaced (kubernetes-recover.yml -e member=...) ------------------


def wiped(name: str) -> None:
    """The host as a disk failure leaves it: the stack's daemons stopped, etcd's data and every
    configuration, certificate and key gone."""
    host = get_host(name)
    with host.sudo():
        host.check_output("systemctl stop " + " ".join(reversed(SERVICES)))
        host.check_output("rm -rf /var/lib/etcd /etc/etcd /etc/kubernetes")


@pytest.fixture(scope="module")
def control_plane_recovered(control_plane_joined):
    old_id = next(m["ID"] for m in etcd_members() if m["name"] == CONTROL_PLANE_HOST)
    before = main_pids(CONTROL_PLANE_HOST)
    recovery = run_under_clients("recover_control_plane", "kubernetes-recover.yml", f"-emember={CONTROL_PLANE_HOST}",
                                 first=lambda: wiped(CONTROL_PLANE_HOST))
    return {**recovery, "old_id": old_id, "pids_before": before, "pids_after": main_pids(CONTROL_PLANE_HOST)}


def test_the_recovery_failed_no_request_and_no_api_write(control_plane_recovered):
    requests, writes, run = (control_plane_recovered[k] for k in ("requests", "api_writes", "run"))
    assert requests["ok"] > 50 and requests["failed"] == 0, (requests, failures(requests, run))
    assert writes["ok"] > 50 and writes["failed"] == 0, (writes, failures(writes, run))
    assert writes["read_back"] == writes["last_acknowledged"], writes


def test_the_replaced_host_is_a_new_voting_member_a_ready_apiserver_and_node_in_every_balancer(
    control_plane_recovered,
):
    members = assert_a_full_control_plane_member()
    assert next(m["ID"] for m in members if m["name"] == CONTROL_PLANE_HOST) != control_plane_recovered["old_id"]


def test_the_recovery_restarted_no_service_on_another_host(control_plane_recovered):
    assert control_plane_recovered["pids_after"] == control_plane_recovered["pids_before"]


def test_a_check_mode_run_of_the_whole_playbook_changes_nothing_on_any_host(control_plane_recovered):
    run = run_playbook(INVENTORY, "kubernetes.yml", "--check", "-v")  # -v: the pki module says why it would issue
    ok(run)
    record("check_mode_after_recovery_s", run.seconds)  # type: ignore[attr-defined]
    blocks = [block for block in run.stdout.split("TASK [")[1:] if "\nchanged: [" in block]
    would = [block.split("]", 1)[0] for block in blocks]
    reasons = [block[:3000] for block in blocks if "pki : Issue" in block]
    expected = {h: 0 for h in {*NODES, *CONTROL_PLANE}}
    assert {h: c for h, c in changed(run).items() if h != "localhost"} == expected, (would, reasons)
