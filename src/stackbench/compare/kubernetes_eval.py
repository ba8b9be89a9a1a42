"""The workload steps on etcd + Kubernetes, through the API server (stdlib urllib + ssl, the admin
kubeconfig the kubernetes role writes on the controller).

The workload is `stackbench.local/workload:1.0` (busybox httpd, preloaded on every node): a
Deployment behind a NodePort Service; readiness and liveness probes on a file a CGI can remove.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError
from ansible_collections.stackbench.cluster.plugins.module_utils.kubernetes import (
    kube_ssl_context,
    read_kubeconfig,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.controller_state import inventory_state_dir

from stackbench.compare.logic import deployment_settled, pod_nodes, pod_ready, pod_restarts, requests_by_node
from stackbench.compare.workload import Evaluator, StepError, get, wait_for
from stackbench.paths import REPO_ROOT

NAMESPACE = "stackbench-eval"
NAME = "web"
IMAGE = "stackbench.local/workload:1.0"
# Where roles/kubernetes_control_plane writes the admin kubeconfig on the controller
# (the kubernetes_admin_kubeconfig default).
ADMIN_KUBECONFIG_NAME = "stackbench-kubernetes-admin.kubeconfig"


def admin_kubeconfig(inventory: Path | None) -> Path:
    """Where roles/kubernetes writes the admin kubeconfig: next to a real inventory; the checkout's
    .stackbench/ for the lab (inventories/lab/group_vars/all/controller-state.yml)."""
    if inventory is None:
        return REPO_ROOT / ".stackbench" / ADMIN_KUBECONFIG_NAME
    return Path(inventory_state_dir([str(inventory)])) / ADMIN_KUBECONFIG_NAME

# Serve a writable copy of the page tree: /cgi-bin/host answers `<pod> <version>`, /cgi-bin/sick removes the
# file both probes read (the pod turns unready, then the kubelet restarts the container).
STARTUP = r"""B=/bin/busybox; W=/srv/www; H=$($B hostname); P='#!/bin/sh\necho Content-Type: text/plain\necho\n'
$B mkdir -p $W/cgi-bin
echo ok > $W/healthy
$B printf "$P"'echo %s %s\n' "$H" "$WORKLOAD_VERSION" > $W/cgi-bin/host
$B printf "$P"'/bin/busybox rm -f %s/healthy\necho %s\n' "$W" "$H" > $W/cgi-bin/sick
$B chmod 755 $W/cgi-bin/host $W/cgi-bin/sick
exec $B httpd -f -p 8080 -h $W
"""


def deployment(replicas: int, version: str = "1") -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthy", "port": 8080}, "periodSeconds": 1, "timeoutSeconds": 1}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": NAME}},
            # like Marathon's default upgradeStrategy (minimumHealthCapacity 1, maximumOverCapacity 1)
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {
                    "terminationGracePeriodSeconds": 2,
                    "tolerations": [
                        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
                        for key in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")
                    ],
                    "containers": [{
                        "name": "web",
                        "image": IMAGE,
                        "imagePullPolicy": "Never",
                        "command": ["/bin/sh", "-c", STARTUP],
                        "env": [{"name": "WORKLOAD_VERSION", "value": version}],
                        "ports": [{"containerPort": 8080}],
                        "readinessProbe": {**probe, "failureThreshold": 1},
                        "livenessProbe": {**probe, "failureThreshold": 3},
                        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
                        "volumeMounts": [{"name": "www", "mountPath": "/srv"}],
                    }],
                    "volumes": [{"name": "www", "emptyDir": {}}],
                },
            },
        },
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {"type": "NodePort", "selector": {"app": NAME}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


class KubeAPI:
    """Just enough of a Kubernetes client: JSON over HTTPS with the admin kubeconfig's client certificate."""

    def __init__(self, kubeconfig: Path, extra_servers: list[str] | None = None) -> None:
        try:
            credentials = read_kubeconfig(str(kubeconfig), loads=yaml.safe_load)
        except (OSError, yaml.YAMLError, ParseError) as exc:
            raise StepError(f"cannot use the admin kubeconfig {kubeconfig}: {exc}") from None
        self._dir = tempfile.TemporaryDirectory(prefix="stackbench-kube-")
        self.context = kube_ssl_context(credentials, self._dir.name)
        self.servers = list(dict.fromkeys([credentials["server"], *(extra_servers or [])]))

    def call(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
             ok_missing: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        last: Exception | None = None
        for server in self.servers:
            request = urllib.request.Request(server + path, data=data, method=method,
                                             headers={"Content-Type": content_type, "Accept": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=15, context=self.context) as response:  # noqa: S310
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                if exc.code == 404 and ok_missing:
                    return None
                raise StepError(f"{method} {path}: HTTP {exc.code} {exc.read()[:300]!r}") from exc
            except OSError as exc:
                last = exc
        raise StepError(f"{method} {path}: no API server answered ({last})")


class KubernetesEval(Evaluator):
    host_path = "/cgi-bin/host"
    METHODS: Mapping[str, str] = {
        "deploy": "POST Namespace, NodePort Service, Deployment (busybox httpd, readiness/liveness probes); poll "
                  "until every pod is ready and answers through the Service",
        "scale": "PATCH spec.replicas, timed until the count is reached and every pod answers through the Service",
        "rolling_update": "PATCH the pod template's env (maxSurge 100%, maxUnavailable 0); a client requests "
                          "throughout over the Ready nodes' NodePorts",
        "rollback": "the previous ReplicaSet's template back into the Deployment (what kubectl rollout undo does); "
                    "client as above",
        "kill_instance": "DELETE a pod (grace 0); timed until a replacement is ready and answers",
        "kill_host": "docker kill of the node host with the most pods (a worker first); timed until every lost pod "
                     "runs elsewhere (pods tolerate unreachable for 10 s); then the host is started and the node is "
                     "Ready again",
        "health_check": "GET /cgi-bin/sick removes the file both probes read; detect = pod not Ready (readiness, 1 "
                        "failure), replace = the kubelet restarted the container (liveness, 3 failures) and it is "
                        "Ready",
        "discovery": "60 requests to /cgi-bin/host over the NodePorts",
    }
    used_from = "Kubernetes: sum of the requests of the pods on each node (what the scheduler counts)"

    def __init__(self, api: KubeAPI, node_addresses: dict[str, str], lab: Any = None,
                 log: Callable[[str], None] = print) -> None:
        super().__init__(lab, log)
        self.api = api
        self.nodes = node_addresses
        self.node_port: int | None = None

    @classmethod
    def connect(cls, stack: Any, groups: Mapping[str, list[str]], addresses: Mapping[str, str], lab: Any = None,
                log: Callable[[str], None] = print, inventory: Path | None = None) -> KubernetesEval:
        kubeconfig = admin_kubeconfig(inventory if lab is None else None)
        if not kubeconfig.exists():
            raise StepError(f"no admin kubeconfig at {kubeconfig} (the kubernetes role writes it)")
        port = stack.port("kube_apiserver")
        api = KubeAPI(kubeconfig, [f"https://{addresses[h]}:{port}" for h in groups["kube_control_plane"]])
        evaluator = cls(api, {h: addresses[h] for h in groups["kube_nodes"]}, lab=lab, log=log)
        evaluator.stack = stack.name
        evaluator.control_plane = list(groups["kube_control_plane"])
        return evaluator

    def used_by_node(self) -> dict[str, dict[str, float]]:
        return requests_by_node(self.api.call("GET", "/api/v1/pods")["items"])

    # ---- views ---------------------------------------------------------------------------
    def describe(self) -> str:
        version = self.api.call("GET", "/version") or {}
        return f"Kubernetes {version.get('gitVersion')}"

    def pods(self) -> list[dict[str, Any]]:
        return self.api.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=app%3D{NAME}")["items"]

    def deployment(self) -> dict[str, Any]:
        return self.api.call("GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{NAME}")

    def endpoints(self) -> list[str]:
        """The Service's NodePort on every node that is Ready."""
        nodes = self.api.call("GET", "/api/v1/nodes")["items"]
        ready = [n["metadata"]["name"] for n in nodes
                 if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))]
        return [f"http://{self.nodes.get(n, n)}:{self.node_port}" for n in sorted(ready) if n in self.nodes]

    def placement(self) -> Counter:
        return pod_nodes(self.pods())

    def choose_host(self, placed: Counter) -> str:
        """A worker that is not a control-plane host when one runs pods, else the host with most pods."""
        workers = [h for h in placed if h not in set(self.control_plane) and placed[h]]
        return max(workers, key=lambda h: placed[h]) if workers else placed.most_common(1)[0][0]

    def heal_host(self, host: str) -> None:
        self.wait_node_ready(host)

    def mechanism(self) -> str:
        return (f"Service {NAME} (NodePort {self.node_port}, ClusterIP inside the cluster): the client round-robins "
                "over the Ready nodes' NodePorts and kube-proxy forwards each connection to a ready pod on any node")

    def _answers(self, replicas: int, version: str | None) -> bool:
        """Every ready pod answers through the Service (requests over the NodePorts until each was seen)."""
        names = {p["metadata"]["name"] for p in self.pods() if pod_ready(p)}
        if len(names) != replicas:
            return False
        seen: set[str] = set()
        urls = self.endpoints()
        for attempt in range(replicas * 12):
            status, body = get(urls[attempt % len(urls)] + "/cgi-bin/host")
            words = body.split()
            if status != 200 or not words:
                continue  # a node that does not forward is the client's failure, counted where a client runs
            if version is not None and words[1:2] != [version]:
                return False
            seen.add(words[0])
            if seen >= names:
                return True
        return False

    def wait_settled(self, replicas: int, timeout: float, what: str, version: str | None = None,
                      extra: Callable[[list[dict]], bool] | None = None) -> float:
        def check() -> bool:
            pods = self.pods()
            return (deployment_settled(self.deployment(), pods, replicas) and (extra is None or extra(pods))
                    and self._answers(replicas, version))

        return wait_for(check, timeout, what, interval=0.25)

    # ---- steps -----------------------------------------------------------------------------
    def cleanup(self) -> None:
        if self.api.call("GET", f"/api/v1/namespaces/{NAMESPACE}", ok_missing=True) is None:
            return
        self.api.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}")
        wait_for(lambda: self.api.call("GET", f"/api/v1/namespaces/{NAMESPACE}", ok_missing=True) is None, 180,
                 f"namespace {NAMESPACE} to go", interval=1)

    def deploy(self, replicas: int) -> dict[str, Any]:
        self.instances = replicas
        self.cleanup()
        started = time.monotonic()
        self.api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": NAMESPACE}})
        svc = self.api.call("POST", f"/api/v1/namespaces/{NAMESPACE}/services", service())
        self.node_port = svc["spec"]["ports"][0]["nodePort"]
        self.api.call("POST", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", deployment(replicas))
        self.wait_settled(replicas, 240, f"{replicas} ready pods answering through the Service")
        return {"instances": replicas, "seconds": round(time.monotonic() - started, 2)}

    def _patch(self, body: dict[str, Any]) -> None:
        self.api.call("PATCH", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{NAME}", body,
                      content_type="application/strategic-merge-patch+json")

    def set_instances(self, replicas: int) -> None:
        self._patch({"spec": {"replicas": replicas}})

    def rolling_update(self) -> dict[str, Any]:
        env = {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "env": [{"name": "WORKLOAD_VERSION", "value": "2"}]}]}}}}
        return self.change(lambda: self._patch(env), "2")

    def rollback(self) -> dict[str, Any]:
        """What `kubectl rollout undo` does: the previous ReplicaSet's pod template back into the Deployment."""
        sets = self.api.call("GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets?labelSelector=app%3D{NAME}")
        by_revision = sorted(sets["items"], key=lambda rs: int(
            rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0")))
        if len(by_revision) < 2:
            raise StepError("no previous ReplicaSet to roll back to")
        previous = by_revision[-2]
        template = previous["spec"]["template"]
        template["metadata"].get("labels", {}).pop("pod-template-hash", None)
        revision = previous["metadata"]["annotations"]["deployment.kubernetes.io/revision"]

        def apply() -> None:
            current = self.deployment()
            current["spec"]["template"] = template
            self.api.call("PUT", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{NAME}", current)

        return {**self.change(apply, "1"), "to_revision": int(revision)}

    def kill_instance(self) -> dict[str, Any]:
        victim = next(p for p in self.pods() if pod_ready(p))["metadata"]["name"]
        started = time.monotonic()
        self.api.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{victim}", {"gracePeriodSeconds": 0})
        self.wait_settled(self.instances, 180, "a replacement pod",
                           extra=lambda pods: all(p["metadata"]["name"] != victim for p in pods))
        return {"seconds": round(time.monotonic() - started, 2), "killed": victim, "how": "pod deleted, grace 0"}

    def health_check(self) -> dict[str, Any]:
        urls = self.endpoints()
        started = time.monotonic()
        status, body = get(urls[0] + "/cgi-bin/sick")
        if status != 200 or not body.split():
            raise StepError(f"could not make a pod fail its probes (HTTP {status})")
        victim = body.split()[0]

        def pod() -> dict[str, Any]:
            return next(p for p in self.pods() if p["metadata"]["name"] == victim)

        restarts = pod_restarts(pod())
        detect = wait_for(lambda: not pod_ready(pod()), 60, f"{victim} to turn unready", interval=0.1)
        wait_for(lambda: pod_restarts(pod()) > restarts and pod_ready(pod()), 120,
                 f"the kubelet to restart {victim}'s container and the pod to be ready", interval=0.2)
        self.wait_settled(self.instances, 120, "all pods ready")
        return {"detect_s": detect, "replace_s": round(time.monotonic() - started, 2),
                "check": "readiness (1 failure) and liveness (3 failures) httpGet /healthy every 1 s"}

    def kill_host(self) -> dict[str, Any]:
        return {**super().kill_host(), "tuning": "pods tolerate unreachable/not-ready for 10 s (default 300 s)"}

    control_plane: list[str] = []

    def wait_node_ready(self, host: str) -> float:
        def ready() -> bool:
            node = self.api.call("GET", f"/api/v1/nodes/{host}")
            return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])

        return wait_for(ready, 240, f"node {host} to be Ready", interval=2)

    def ensure_instances(self) -> None:
        if self.api.call("GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{NAME}", ok_missing=True) is None:
            raise StepError("the Deployment is not there (deploy failed)")
        if int(self.deployment()["spec"]["replicas"]) != self.instances:
            self.set_instances(self.instances)
        self.wait_settled(self.instances, 180, f"{self.instances} ready pods")
