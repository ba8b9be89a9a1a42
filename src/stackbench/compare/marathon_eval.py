"""The workload steps on ZooKeeper + Mesos + Marathon, through Marathon's REST API (/v2/apps ...).

In the lab Marathon and Mesos are the emulators (tests/emulators): every figure here is emulated.
The workload is a small Python HTTP server started by the task command on `$PORT0`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stackbench.compare.logic import marathon_endpoints, marathon_settled, task_hosts
from stackbench.compare.workload import Evaluator, StepError, get, wait_for

APP_ID = "/stackbench-web"

# The task: answers `<task id> <host> <version>` on every path, 503 on /health once /sick was asked,
# and exits on /crash (a crashed instance).
SERVER = (
    "import http.server,os,socket\n"
    "S={\"sick\":False}\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "  def do_GET(s):\n"
    "    if s.path==\"/crash\": os._exit(1)\n"
    "    if s.path==\"/sick\": S[\"sick\"]=True\n"
    "    if s.path==\"/health\" and S[\"sick\"]: return s.send_error(503)\n"
    "    e=os.environ.get\n"
    "    b=(e(\"MESOS_TASK_ID\",\"\")+\" \"+socket.gethostname()+\" \"+e(\"WORKLOAD_VERSION\",\"\")+\"\\n\").encode()\n"
    "    s.send_response(200);s.send_header(\"Content-Length\",str(len(b)));s.end_headers();s.wfile.write(b)\n"
    "  def log_message(s,*a): pass\n"
    "http.server.ThreadingHTTPServer((\"\",int(os.environ[\"PORT0\"])),H).serve_forever()\n"
)


def app_definition(instances: int, version: str = "1") -> dict[str, Any]:
    return {
        "id": APP_ID,
        "cmd": f"exec python3 -c '{SERVER}'",  # SERVER has no single quote
        "cpus": 0.1,
        "mem": 32,
        "instances": instances,
        "env": {"WORKLOAD_VERSION": version},
        "portDefinitions": [{"port": 0, "name": "http"}],
        "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 30,
                          "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 3}],
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    }


class MarathonEval(Evaluator):
    host_path = "/host"
    METHODS: Mapping[str, str] = {
        "deploy": "POST /v2/apps (python3 HTTP server on $PORT0, HTTP health check), poll GET /v2/apps/<id> until "
                  "every task runs, is healthy and answers HTTP",
        "scale": "PUT /v2/apps/<id> {instances}, timed until the count is reached and every task answers",
        "rolling_update": "PUT /v2/apps/<id> with a new env value (upgradeStrategy minimumHealthCapacity 1, "
                          "maximumOverCapacity 1); a client requests throughout over the healthy tasks Marathon "
                          "lists (refreshed every second)",
        "rollback": "PUT /v2/apps/<id> {version: <the earlier version>} (Marathon's rollback); client as above",
        "kill_instance": "the task's process exits (GET /crash); timed until a replacement runs and answers",
        "kill_host": "docker kill of the agent host with the most tasks; timed until every lost task runs "
                     "elsewhere; then the host is started and its agent re-registers",
        "health_check": "GET /sick makes a task fail its HTTP health check (1 s interval, 3 failures); detect = "
                        "Marathon reports it unhealthy, replace = a healthy replacement runs",
        "discovery": "60 requests to GET /host over the tasks Marathon lists",
    }
    used_from = "Mesos: resources of the tasks on each agent (master's used_resources)"

    def __init__(self, marathon_urls: list[str], master_urls: list[str], lab: Any = None,
                 log: Callable[[str], None] = print) -> None:
        super().__init__(lab, log)
        self.urls = marathon_urls
        self.master_urls = master_urls

    @classmethod
    def connect(cls, stack: Any, groups: Mapping[str, list[str]], addresses: Mapping[str, str], lab: Any = None,
                log: Callable[[str], None] = print, inventory: Path | None = None) -> MarathonEval:
        marathon, master = stack.port("marathon_http"), stack.port("mesos_master")
        evaluator = cls([f"http://{addresses[h]}:{marathon}" for h in groups["marathon"]],
                        [f"http://{addresses[h]}:{master}" for h in groups["mesos_masters"]], lab=lab, log=log)
        evaluator.stack = stack.name
        return evaluator

    # ---- API ----------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, timeout: float = 15) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        last: Exception | None = None
        for url in self.urls:
            request = urllib.request.Request(url + path, data=data, method=method,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                    text = response.read()
                    return json.loads(text) if text else None
            except urllib.error.HTTPError as exc:
                if exc.code == 404 and method == "GET":
                    return None
                raise StepError(f"{method} {path}: HTTP {exc.code} {exc.read()[:200]!r}") from exc
            except OSError as exc:
                last = exc
        raise StepError(f"{method} {path}: no Marathon answered ({last})")

    def app(self) -> dict[str, Any]:
        found = self.api("GET", f"/v2/apps{APP_ID}")
        return (found or {}).get("app") or {}

    def describe(self) -> str:
        info = self.api("GET", "/v2/info") or {}
        return f"Marathon {info.get('version')} (leader {info.get('leader')})"

    def endpoints(self) -> list[str]:
        return marathon_endpoints(self.app())

    def _answers(self, version: str | None = None) -> bool:
        urls = self.endpoints()
        if len(urls) != self.wanted:
            return False
        for url in urls:
            status, body = get(url + "/host")
            if status != 200 or (version is not None and body.split()[2:3] != [version]):
                return False
        return True

    def wait_settled(self, instances: int, timeout: float, what: str, version: str | None = None,
                      extra: Callable[[dict], bool] | None = None) -> float:
        self.wanted = instances

        def check() -> bool:
            app = self.app()
            return (marathon_settled(app, instances) and (extra is None or extra(app))
                    and self._answers(version))

        return wait_for(check, timeout, what)

    def placement(self) -> Counter:
        return task_hosts(self.app())

    def set_instances(self, n: int) -> None:
        self.api("PUT", f"/v2/apps{APP_ID}", {"instances": n})

    def heal_host(self, host: str) -> None:
        self.wait_agent(host)

    def mechanism(self) -> str:
        return ("client-side: the client reads the app's tasks from Marathon (GET /v2/apps/<id>, host and $PORT0 of "
                "each healthy task) and round-robins over them; no DNS or proxy in this lab (Mesos-DNS or "
                "marathon-lb in real deployments)")

    # ---- steps ------------------------------------------------------------------------------
    def cleanup(self) -> None:
        if self.api("GET", f"/v2/apps{APP_ID}") is not None:
            self.api("DELETE", f"/v2/apps{APP_ID}?force=true")  # a half-done deployment of a failed step: 409 without
            wait_for(lambda: not self.api("GET", "/v2/tasks")["tasks"] or all(
                t["appId"] != APP_ID for t in self.api("GET", "/v2/tasks")["tasks"]), 60, "the old app's tasks to go")

    def deploy(self, instances: int) -> dict[str, Any]:
        self.instances = instances
        self.cleanup()
        started = time.monotonic()
        self.api("POST", "/v2/apps", app_definition(instances))
        self.wait_settled(instances, 180, f"{instances} healthy, answering tasks")
        return {"instances": instances, "seconds": round(time.monotonic() - started, 2)}

    def set_app(self, body: dict[str, Any]) -> None:
        self.api("PUT", f"/v2/apps{APP_ID}", body)

    def rolling_update(self) -> dict[str, Any]:
        return self.change(lambda: self.set_app({"env": {"WORKLOAD_VERSION": "2"}}), "2")

    def rollback(self) -> dict[str, Any]:
        versions = (self.api("GET", f"/v2/apps{APP_ID}/versions") or {}).get("versions") or []
        target = next((v for v in versions
                       if (self.api("GET", f"/v2/apps{APP_ID}/versions/{v}") or {}).get("env", {})
                       .get("WORKLOAD_VERSION") == "1"), None)
        if target is None:
            raise StepError(f"no earlier version with WORKLOAD_VERSION=1 among {len(versions)} versions")
        figures = self.change(lambda: self.set_app({"version": target}), "1")
        return {**figures, "to_version": target}

    def kill_instance(self) -> dict[str, Any]:
        app = self.app()
        victim = app["tasks"][0]
        url = marathon_endpoints({"tasks": [victim]}, healthy_only=False)[0]
        started = time.monotonic()
        get(url + "/crash", timeout=2)
        self.wait_settled(self.instances, 180, "a replacement task",
                           extra=lambda a: all(t["id"] != victim["id"] for t in a.get("tasks") or []))
        return {"seconds": round(time.monotonic() - started, 2), "killed": victim["id"], "how": "process exit"}

    def health_check(self) -> dict[str, Any]:
        victim = self.app()["tasks"][0]
        url = marathon_endpoints({"tasks": [victim]}, healthy_only=False)[0]
        started = time.monotonic()
        get(url + "/sick")

        def unhealthy() -> bool:
            task = next((t for t in self.app().get("tasks") or [] if t["id"] == victim["id"]), None)
            return task is None or not all(r.get("alive") for r in task.get("healthCheckResults") or [{}])

        detect = wait_for(unhealthy, 60, "Marathon to mark the task unhealthy", interval=0.1)
        self.wait_settled(self.instances, 180, "a healthy replacement",
                           extra=lambda a: all(t["id"] != victim["id"] for t in a.get("tasks") or []))
        return {"detect_s": detect, "replace_s": round(time.monotonic() - started, 2),
                "check": "HTTP /health every 1 s, 3 failures"}

    def wait_agent(self, host: str) -> float:
        """Until the leading Mesos master lists an active agent on `host` again."""

        def registered() -> bool:
            for url in self.master_urls:
                try:
                    with urllib.request.urlopen(url + "/master/slaves", timeout=5) as response:  # noqa: S310
                        slaves = json.loads(response.read())["slaves"]
                except (OSError, ValueError, KeyError):
                    continue
                return any(s.get("hostname") == host and s.get("active", True) for s in slaves)
            return False

        return wait_for(registered, 120, f"the agent on {host} to re-register", interval=1)

    def ensure_instances(self) -> None:
        """Before a step: the app is at its instance count (an earlier failed step may have left it elsewhere)."""
        app = self.app()
        if not app:
            raise StepError("the app is not deployed (deploy failed)")
        if int(app.get("instances") or 0) != self.instances:
            self.set_instances(self.instances)
        self.wait_settled(self.instances, 180, f"{self.instances} healthy tasks")
