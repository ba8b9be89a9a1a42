"""`marathon` emulator: Curator-latch election, leader proxying, apps placed through the
Mesos master emulator, state in ZooKeeper under `<zk path>/state`.

Exit codes (`docs/docs/exit-codes.md`): 100 ZooKeeper connect failure, 101 ZooKeeper
connection lost, 103 leadership lost, 105 leadership ended gracefully (abdication),
111 bind error, 112 invalid flag.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator

from . import EMULATOR_MARK, MARATHON_VERSION, resources, web, zk
from .common import die, iso, now, version_info
from .flags import Flag, FlagError, load_marathon_flags

log = logging.getLogger("emulator")

EXIT_ZK_CONNECT, EXIT_ZK_LOST, EXIT_LEADERSHIP_LOST, EXIT_ABDICATED, EXIT_BIND, EXIT_FLAG = (
    100,
    101,
    103,
    105,
    111,
    112,
)

FLAGS = [
    Flag("master"),
    Flag("zk", default="zk://localhost:2181/marathon"),
    Flag("ha", "bool", True),
    Flag("hostname"),
    Flag("http_port", "int", 8080),
    Flag("https_port", "int", 8443),
    Flag("http_address"),
    Flag("https_address"),
    Flag("http", "bool", True),
    Flag("framework_name", default="marathon"),
    Flag("leader_proxy_connection_timeout", "int", 5000),
    Flag("leader_proxy_read_timeout", "int", 10000),
    Flag("leader_proxy_max_open_connections", "int", 64),
    Flag("leader_proxy_ssl_ignore_hostname", "bool", False),
    Flag("zk_session_timeout", "int", 10000),
    Flag("zk_timeout", "int", 10000),
    Flag("zk_connection_timeout", "int", 10000),
    Flag("zk_max_node_size", "int", 1024000),
    Flag("zk_compression", "bool", True),
    Flag("zk_compression_threshold", "int", 65536),
    Flag("zk_max_versions", "int", 50),
    Flag("failover_timeout", "int", 604800),
    Flag("mesos_role"),
    Flag("mesos_user"),
    Flag("mesos_authentication", "bool", False),
    Flag("mesos_authentication_principal"),
    Flag("mesos_authentication_secret_file"),
    Flag("webui_url"),
    Flag("mesos_leader_ui_url"),
    Flag("http_credentials"),
    Flag("http_realm", default="Mesosphere"),
    Flag("ssl_keystore_path"),
    Flag("ssl_keystore_password"),
    Flag("metrics_prometheus", "bool", True),
    Flag("metrics_statsd", "bool", False),
    Flag("metrics_datadog", "bool", False),
    Flag("metrics_name_prefix", default="marathon"),
    Flag("task_launch_timeout", "int", 300000),
    Flag("reconciliation_interval", "int", 600000),
    Flag("logging_level"),
    Flag("default_accepted_resource_roles"),
    Flag("enable_features"),
    Flag("local_port_min", "int", 10000),
    Flag("local_port_max", "int", 20000),
    # Marathon 1.7+: decline offers of agents in a maintenance window (on unless --disable_maintenance_mode),
    # from draining_seconds before the window starts
    Flag("maintenance_mode", "bool", True),
    Flag("draining_seconds", "int", 0),
]


def validate(flags: dict[str, object]) -> None:
    if not flags["master"]:
        raise FlagError("Required option 'master' not found")
    if flags["ha"]:
        zk.parse_zk_url(str(flags["zk"]))
    master = str(flags["master"])
    if not (master.startswith("zk://") or master.startswith("http://") or ":" in master):
        raise FlagError(f"Option 'master': invalid value '{master}'")


APP_DEFAULTS: dict[str, object] = {
    "cmd": None,
    "args": None,
    "cpus": 1.0,
    "mem": 128.0,
    "disk": 0.0,
    "gpus": 0,
    "instances": 1,
    "executor": "",
    "env": {},
    "constraints": [],
    "healthChecks": [],
    "labels": {},
    "backoffSeconds": 1,
    "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 300,
    "requirePorts": False,
    "killSelection": "YOUNGEST_FIRST",
    "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
}

# An app without portDefinitions gets one port, like Marathon's normalization (so $PORT0 exists).
DEFAULT_PORT_DEFINITION: dict[str, object] = {"port": 0, "protocol": "tcp", "name": "default", "labels": {}}

# The JSON types of the app fields the emulator reads (Play JSON's error keys, RAML app.raml).
FIELD_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "id": (str, "error.expected.jsstring"),
    "cmd": (str, "error.expected.jsstring"),
    "args": (list, "error.expected.jsarray"),
    "cpus": ((int, float), "error.expected.jsnumber"),
    "mem": ((int, float), "error.expected.jsnumber"),
    "disk": ((int, float), "error.expected.jsnumber"),
    "gpus": ((int, float), "error.expected.jsnumber"),
    "instances": (int, "error.expected.jsnumber"),
    "env": (dict, "error.expected.jsobject"),
    "labels": (dict, "error.expected.jsobject"),
    "constraints": (list, "error.expected.jsarray"),
    "portDefinitions": (list, "error.expected.jsarray"),
    "healthChecks": (list, "error.expected.jsarray"),
    "upgradeStrategy": (dict, "error.expected.jsobject"),
}


class InvalidApp(ValueError):
    """A definition Marathon answers with 422 "Object is not valid"; `details` in its shape."""

    def __init__(self, details: list[dict]) -> None:
        super().__init__("Object is not valid")
        self.details = details


def type_errors(body: object) -> list[dict]:
    """The 422 `details` of a body whose fields have the wrong JSON types."""
    if not isinstance(body, dict):
        return [{"path": "/", "errors": ["error.expected.jsobject"]}]
    details = []
    for name, (kind, error) in FIELD_TYPES.items():
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            details.append({"path": f"/{name}", "errors": [error]})
    definitions = body.get("portDefinitions")
    for i, definition in enumerate(definitions if isinstance(definitions, list) else []):
        port = definition.get("port", 0) if isinstance(definition, dict) else None
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            details.append({"path": f"/portDefinitions({i})/port", "errors": ["error.expected.jsnumber"]})
    constraints = body.get("constraints")
    details += constraint_errors(constraints if isinstance(constraints, list) else [])
    checks = body.get("healthChecks")
    for i, check in enumerate(checks if isinstance(checks, list) else []):
        if not isinstance(check, dict):
            details.append({"path": f"/healthChecks({i})", "errors": ["error.expected.jsobject"]})
        elif check.get("protocol") in COMMAND_PROTOCOLS:
            command = check.get("command")
            value = command.get("value") if isinstance(command, dict) else None
            if not isinstance(value, str) or not value.strip():  # (a path is ignored, not refused)
                details.append({"path": f"/healthChecks({i})", "errors": [HEALTH_CHECK_FIELDS_INVALID]})
    return details


# Marathon 1.10's operators of app `constraints` (Protos.Constraint.Operator; IN is not emulated) and the
# messages of its validation (SchedulingValidation.complyWithAppConstraintRules, SchedulingValidationMessages;
# the invalid-operator message has not named IS since it was added).
CONSTRAINT_OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS")
CONSTRAINT_OPERATOR_INVALID = "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER or UNLIKE"
HEALTH_CHECK_FIELDS_INVALID = "Health check protocol must match supplied fields."
_INT = re.compile(r"[+-]?[0-9]+")


def _java_int(text: str) -> bool:
    """Whether Scala's `text.toInt` succeeds (a 32-bit decimal integer)."""
    return bool(_INT.fullmatch(text)) and -(2**31) <= int(text) < 2**31


def constraint_error(constraint: list[str]) -> str | None:
    """Marathon's validation message for one app constraint [field, operator(, value)], None if valid."""
    if len(constraint) < 2 or len(constraint) > 3:
        return "Each constraint must have either 2 or 3 fields"
    field, operator, value = constraint[0], constraint[1].upper(), constraint[2] if len(constraint) == 3 else None
    if not field:
        return "illegal constraint specification"
    if operator not in CONSTRAINT_OPERATORS:
        return CONSTRAINT_OPERATOR_INVALID
    if operator == "UNIQUE" and value is not None:
        return "UNIQUE does not accept a value"
    if operator == "GROUP_BY" and value is not None and not _java_int(value):
        return "GROUP BY must define an integer value or else no value at all"
    if operator == "MAX_PER" and (value is None or not _java_int(value)):
        return "MAX_PER requires an integer value"
    if operator in ("LIKE", "UNLIKE"):
        if not value:
            return "LIKE and UNLIKE require a non-empty, regular expression value"
        try:
            re.compile(value)
        except re.error:
            return "is not a valid regular expression"
    if operator == "IS" and not re.fullmatch(r"[a-zA-Z0-9_/.-]*", value or ""):
        return ("IS only supports Mesos text and float values "
                "(see http://mesos.apache.org/documentation/latest/attributes-resources/)")
    return None


def constraint_errors(constraints: list) -> list[dict]:
    """The 422 `details` of `constraints`: each one an array of strings (Play JSON), then Marathon's rules."""
    details: list[dict] = []
    for i, constraint in enumerate(constraints):
        path = f"/constraints({i})"
        if not isinstance(constraint, list):
            details.append({"path": path, "errors": ["error.expected.jsarray"]})
            continue
        wrong = [j for j, part in enumerate(constraint) if not isinstance(part, str)]
        details += [{"path": f"{path}({j})", "errors": ["error.expected.jsstring"]} for j in wrong]
        error = None if wrong else constraint_error(constraint)
        if error:
            details.append({"path": path, "errors": [error]})
    return details


def attribute_text(value: object) -> str:
    """An agent attribute as Marathon compares it: text as is, scalars as java.text.NumberFormat writes them
    (`2`, `1,024.5`, at most 3 decimals), ranges `[b-e,...]`, sets `{a,b}`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        text = f"{value:,.3f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    if isinstance(value, dict) and "range" in value:
        ranges = sorted((int(r["begin"]), int(r["end"])) for r in value["range"])
        return "[" + ",".join(f"{b}-{e}" for b, e in ranges) + "]"
    if isinstance(value, dict) and "item" in value:
        return "{" + ",".join(sorted(map(str, value["item"]))) + "}"
    return str(value)


def field_value(field: str, hostname: str, attributes: dict | None) -> str | None:
    """The value of a constraint's field on an agent: its hostname, or one of its attributes (None: absent; the
    emulated agents have no fault domain, so `@region` and `@zone` are always absent)."""
    if field in ("hostname", "@hostname"):
        return hostname
    if field in ("@region", "@zone") or field not in (attributes or {}):
        return None
    return attribute_text((attributes or {})[field])


def meets_constraint(constraint: list[str], hostname: str, attributes: dict | None,
                     placed: list[tuple[str, dict]]) -> bool:
    """Whether an agent may take one more instance of an app, given where its instances are placed (hostname
    and attributes of each agent), as Marathon's Constraints.meetsConstraint decides for an offer."""
    field, operator = constraint[0], constraint[1].upper()
    value = constraint[2] if len(constraint) > 2 else ""
    offered = field_value(field, hostname, attributes)
    if offered is None:
        return operator == "UNLIKE"  # only UNLIKE accepts an agent without the field
    values = [field_value(field, host, attrs) for host, attrs in placed]
    groups: dict[str | None, int] = {}
    for v in values:
        groups[v] = groups.get(v, 0) + 1
    if operator == "LIKE":
        return bool(value) and re.fullmatch(value, offered) is not None
    if operator == "UNLIKE":
        return bool(value) and re.fullmatch(value, offered) is None
    if operator == "UNIQUE":
        return all(v != offered for v in values)
    if operator == "CLUSTER":
        # without a value the first instance picks the value all the others follow
        return (not values or values[0] == offered) if not value else offered == value
    if operator == "GROUP_BY":
        minimum = 2**31 - 1 if value == "inf" else max(0, int(value)) if value and _java_int(value) else 0
        return offered not in groups or (len(groups) >= minimum and groups[offered] == min(groups.values()))
    if operator == "MAX_PER":
        return groups.get(offered, 0) < int(value)
    if operator == "IS":
        return offered == value
    return False


# Marathon's defaults for one entry of `healthChecks` (a COMMAND check has no path, portIndex, ignoreHttp1xx).
HEALTH_CHECK_DEFAULTS: dict[str, object] = {
    "protocol": "HTTP",
    "path": "/",
    "portIndex": 0,
    "gracePeriodSeconds": 300,
    "intervalSeconds": 60,
    "timeoutSeconds": 20,
    "maxConsecutiveFailures": 3,
    "ignoreHttp1xx": False,
}

COMMAND_CHECK_DEFAULTS: dict[str, object] = {
    k: v for k, v in HEALTH_CHECK_DEFAULTS.items() if k not in ("path", "portIndex", "ignoreHttp1xx")
}

# Protocols the emulator's leader probes over the network.
CHECKED_PROTOCOLS = ("HTTP", "MESOS_HTTP", "HTTPS", "MESOS_HTTPS", "TCP", "MESOS_TCP")
# COMMAND checks: Mesos runs them beside the task, with its environment and in its sandbox; the emulator's
# leader runs them the way the emulated agent runs task commands (`/bin/sh -c` in a new session).
COMMAND_PROTOCOLS = ("COMMAND",)
RUN_PROTOCOLS = CHECKED_PROTOCOLS + COMMAND_PROTOCOLS


def command_probe(command: str, env: dict[str, str], cwd: str | None, timeout: float) -> tuple[bool, str | None]:
    """One COMMAND health check: healthy when the command exits 0 within `timeout` seconds."""
    import subprocess

    try:
        proc = subprocess.Popen(["/bin/sh", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        return False, str(exc)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return False, f"Command timed out after {timeout:g} seconds"
    return (True, None) if code == 0 else (False, f"Command exited with status {code}")


def probe(protocol: str, host: str, port: int, path: str, timeout: float) -> tuple[bool, str | None]:
    """One health check: (healthy, failure cause). HTTP(S): a 2xx/3xx answer; TCP: the port accepts."""
    if protocol.endswith("TCP"):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True, None
        except OSError as exc:
            return False, str(exc)
    scheme = "https" if protocol.endswith("HTTPS") else "http"
    try:
        if scheme == "https":
            import ssl
            import urllib.error
            import urllib.request

            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # Marathon does not verify
            try:
                with urllib.request.urlopen(f"{scheme}://{host}:{port}{path}", timeout=timeout,  # noqa: S310
                                            context=context) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
        else:
            status, _, _ = web.call("GET", f"http://{host}:{port}{path}", timeout=timeout)
    except OSError as exc:
        return False, str(exc)
    return (True, None) if 200 <= status < 400 else (False, f"HTTP {status}")


# Fields whose change is only a scaling, not a new configuration (no task restarts).
SCALING_FIELDS = ("instances", "version", "versionInfo")


def normalize_app(body: dict, app_id: str | None = None) -> dict:
    """An app definition with Marathon's defaults and a canonical absolute id (InvalidApp if not valid)."""
    details = type_errors(body)
    if details:
        raise InvalidApp(details)
    raw_id = str(app_id or body.get("id") or "")
    if not raw_id.strip("/"):
        raise InvalidApp([{"path": "/id", "errors": ["error.path.missing"]}])
    app = {**APP_DEFAULTS, **{k: v for k, v in body.items() if v is not None}}
    app["id"] = "/" + raw_id.strip("/")
    if float(app["cpus"]) < 0.001:
        raise InvalidApp([{"path": "/cpus", "errors": ["error.min"]}])
    if int(app["instances"]) < 0:
        raise InvalidApp([{"path": "/instances", "errors": ["error.min"]}])
    if "portDefinitions" not in body and not body.get("ports"):
        app["portDefinitions"] = [dict(DEFAULT_PORT_DEFINITION)]
    app["portDefinitions"] = [
        {"port": 0, "protocol": "tcp", "labels": {}, **d} for d in app.get("portDefinitions") or []
    ]
    app.pop("ports", None)
    app["healthChecks"] = [
        {**(COMMAND_CHECK_DEFAULTS if check.get("protocol") in COMMAND_PROTOCOLS else HEALTH_CHECK_DEFAULTS),
         **check}
        for check in app.get("healthChecks") or []
    ]
    # Marathon stores operators in upper case (ConstraintOperator.fromString(op.toUpperCase))
    app["constraints"] = [[c[0], c[1].upper(), *c[2:]] for c in app.get("constraints") or []]
    app["upgradeStrategy"] = {**APP_DEFAULTS["upgradeStrategy"], **(app.get("upgradeStrategy") or {})}  # type: ignore[dict-item]
    return app


def assign_service_ports(app: dict, previous: dict | None, taken: set[int], low: int, high: int) -> dict:
    """Service ports for `portDefinitions` asking for port 0: kept from the previous version where the
    index still asks for 0, else the lowest free port from --local_port_min (10000) up, like Marathon."""
    before = [d.get("port") for d in (previous or {}).get("portDefinitions") or []]
    used = set(taken)
    out = []
    for i, definition in enumerate(app.get("portDefinitions") or []):
        definition = dict(definition)
        if not definition.get("port"):
            kept = before[i] if i < len(before) and before[i] and before[i] not in used else None
            port = kept or next((p for p in range(low, high + 1) if p not in used), 0)
            definition["port"] = port
        used.add(int(definition["port"]))
        out.append(definition)
    return {**app, "portDefinitions": out}


def sse_event(event: dict) -> bytes:
    """One server-sent event as Marathon writes it on /v2/events."""
    return f"event: {event['eventType']}\r\ndata: {json.dumps(event)}\r\n\r\n".encode()


def deployment_doc(deployment_id: str, version: str, app_id: str, actions: list[str]) -> dict:
    """A /v2/deployments entry: one step per action, as Marathon's DeploymentPlan JSON."""
    steps = [{"actions": [{"action": action, "app": app_id}]} for action in actions]
    return {
        "id": deployment_id,
        "version": version,
        "affectedApps": [app_id],
        "affectedPods": [],
        "steps": steps,
        "currentActions": [{"action": actions[0], "app": app_id, "readinessCheckResults": []}],
        "currentStep": 1,
        "totalSteps": len(steps),
    }


def group_ids(app_ids: list[str]) -> set[str]:
    """Every group an app id implies ("/a/b/c" -> "/", "/a", "/a/b")."""
    out = {"/"}
    for app_id in app_ids:
        parts = app_id.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            out.add("/" + "/".join(parts[:i]))
    return out


def group_view(group_id: str, apps: list[dict], version: str) -> dict:
    """A /v2/groups document: the apps directly in `group_id`, and its sub-groups recursively."""
    prefix = group_id.rstrip("/") + "/"
    direct = [a for a in apps if a["id"].rsplit("/", 1)[0] + "/" == prefix]
    children = sorted(g for g in group_ids([a["id"] for a in apps]) if g != group_id and g.startswith(prefix)
                      and "/" not in g[len(prefix):])
    return {
        "id": group_id,
        "apps": direct,
        "groups": [group_view(g, apps, version) for g in children],
        "pods": [],
        "dependencies": [],
        "version": version,
    }


def config_changed(old: dict, new: dict) -> bool:
    """Whether `new` differs from `old` in more than scaling (Marathon then restarts the tasks)."""
    strip = lambda app: {k: v for k, v in app.items() if k not in SCALING_FIELDS}  # noqa: E731
    return strip(old) != strip(new)


def version_info_for(old: dict | None, new: dict, version: str) -> dict:
    """`versionInfo` of a new app version: lastConfigChangeAt moves only when the config changed."""
    previous = (old or {}).get("versionInfo") or {}
    if old is None or config_changed(old, new):
        return {"lastScalingAt": version, "lastConfigChangeAt": version}
    return {"lastScalingAt": version, "lastConfigChangeAt": previous.get("lastConfigChangeAt", version)}


def pick_port(ports_range: str | None, used: set[int]) -> int | None:
    """The lowest free host port of an agent's `ports` resource (`[31000-32000]` or several ranges)."""
    import re

    for low, high in re.findall(r"(\d+)-(\d+)", str(ports_range or "[31000-32000]")):
        for port in range(int(low), int(high) + 1):
            if port not in used:
                return port
    return None


def ports_range(ports: list[int]) -> str:
    """Mesos' text form of a set of ports: `[31000-31000, 31002-31002]`."""
    return "[" + ", ".join(f"{p}-{p}" for p in sorted(ports)) + "]"


def upgrade_plan(wanted: int, config_version: str, tasks: list[dict], strategy: dict) -> tuple[int, list[str]]:
    """One step of a deployment: (instances to launch, task ids to kill).

    `tasks` are the app's live tasks: {id, version (config version at launch), ready (running, and
    healthy when the app has health checks)}. Like Marathon's default upgrade, old tasks are
    replaced by new ones keeping at least minimumHealthCapacity * wanted ready instances and at
    most (1 + maximumOverCapacity) * wanted instances in all.
    """
    import math

    new = [t for t in tasks if t["version"] == config_version]
    old = [t for t in tasks if t["version"] != config_version]
    kill: list[str] = [t["id"] for t in new[wanted:]]  # scaling down: the newest launched last
    new = new[:wanted]
    if not old:
        return max(0, wanted - len(new)), kill
    min_ready = math.ceil(wanted * float(strategy.get("minimumHealthCapacity", 1.0)))
    max_total = wanted + math.floor(wanted * float(strategy.get("maximumOverCapacity", 1.0)))
    ready_new = sum(1 for t in new if t["ready"])
    ready_old = [t for t in old if t["ready"]]
    # old tasks that may go: all the unready ones, and ready ones beyond what keeps capacity
    keep_old = max(0, min_ready - ready_new)
    removable = [t["id"] for t in old if not t["ready"]] + [t["id"] for t in ready_old[: len(ready_old) - keep_old]]
    kill += removable
    remaining = len(new) + len(old) - len(removable)
    launch = max(0, min(wanted - len(new), max_total - remaining))
    if launch == 0 and wanted - len(new) > 0 and not removable and old:
        # no room to start a new task without going below capacity: free one slot anyway
        kill.append(old[-1]["id"])
    return launch, kill


def health_update(record: dict, ok: bool, at: str, cause: str | None = None) -> dict:
    """Marathon's healthCheckResults entry of a task after one check."""
    record = dict(record)
    if ok:
        record.update(alive=True, consecutiveFailures=0, lastSuccess=at)
        record.setdefault("firstSuccess", at)
        record["firstSuccess"] = record["firstSuccess"] or at
    else:
        record.update(
            alive=False,
            consecutiveFailures=int(record.get("consecutiveFailures") or 0) + 1,
            lastFailure=at,
            lastFailureCause=cause,
        )
    return record


def should_kill_unhealthy(record: dict, check: dict, started: float, at: float) -> bool:
    """Marathon kills a task after maxConsecutiveFailures failures (0: never), not within the grace period
    unless it has been healthy before."""
    limit = int(check.get("maxConsecutiveFailures", 3))
    if limit <= 0 or int(record.get("consecutiveFailures") or 0) < limit:
        return False
    return bool(record.get("firstSuccess")) or at - started > float(check.get("gracePeriodSeconds", 300))


def task_environment(app: dict, hostname: str, ports: list[int], version: str | None = None) -> dict[str, str]:
    """The environment Marathon gives a task's command (and its COMMAND checks)."""
    return {
        **{k: str(v) for k, v in (app.get("env") or {}).items()},
        "MARATHON_APP_ID": str(app.get("id", "")),
        "MARATHON_APP_VERSION": str(version if version is not None else app.get("version", "")),
        "HOST": hostname,
        **({"PORT": str(ports[0]), "PORTS": ",".join(map(str, ports))} if ports else {}),
        **{f"PORT{i}": str(p) for i, p in enumerate(ports)},
    }


def task_id_for(app_id: str) -> str:
    return f"{app_id.strip('/').replace('/', '_')}.instance-{uuid.uuid4()}._app.1"


def app_of_task(task_id: str) -> str:
    return "/" + task_id.split(".instance-", 1)[0].replace("_", "/")


def in_maintenance(agent: dict, schedule: dict, at: float, draining_seconds: float = 0.0) -> bool:
    """Whether Marathon declines the agent's offers: its machine (hostname and IP of its pid, as Mesos
    matches them) is in a window whose unavailability has begun (less `draining_seconds`) and not ended."""
    ip = str(agent.get("pid", "")).rsplit("@", 1)[-1].split(":")[0]
    for window in (schedule or {}).get("windows") or []:
        if not any(str(m.get("hostname") or "").lower() == str(agent.get("hostname", "")).lower()
                   and str(m.get("ip") or "") == ip for m in window.get("machine_ids") or []):
            continue
        unavailability = window.get("unavailability") or {}
        start = float((unavailability.get("start") or {}).get("nanoseconds", 0)) / 1e9
        duration = (unavailability.get("duration") or {}).get("nanoseconds")
        if at >= start - draining_seconds and (duration is None or at < start + float(duration) / 1e9):
            return True
    return False


def choose_agent(agents: list[dict], request: dict[str, float], placed: dict[str, int],
                 constraints: list[list[str]] | None = None,
                 placed_on: list[tuple[str, dict]] | None = None) -> dict | None:
    """The agent with the fewest instances of this app among those whose free resources fit and that meet
    every one of the app's `constraints` (given the hostname and attributes of the agents of its placed
    instances, `placed_on`); none that is deactivated (Mesos makes no offers for it) or in a maintenance
    window (Marathon declines them)."""
    candidates = []
    for agent in agents:
        free = resources.subtract(agent["resources"], agent["used_resources"])
        if (agent.get("active", True) and not agent.get("deactivated") and not agent.get("_maintenance")
                and resources.fits(request, free)
                and all(meets_constraint(c, str(agent.get("hostname", "")), agent.get("attributes") or {},
                                         placed_on or []) for c in constraints or [])):
            candidates.append(agent)
    if not candidates:
        return None
    return min(candidates, key=lambda a: (placed.get(a["id"], 0), a["hostname"]))


class Marathon:
    def __init__(self, flags: dict[str, object]) -> None:
        self.flags = flags
        self.hostname = str(flags["hostname"] or socket.gethostname())
        self.port = int(flags["http_port"])  # type: ignore[arg-type]
        self.participant = f"{self.hostname}:{self.port}"
        self.zk_url = zk.parse_zk_url(str(flags["zk"]))
        self.latch_path = f"{self.zk_url.path}/leader-curator"
        self.state_path = f"{self.zk_url.path}/state"
        self.lock = threading.RLock()
        self.start_time = now()
        self.leader_id: str | None = None
        self.leader_since: float | None = None
        self.leading = False
        self.my_node: str | None = None
        self.framework_id: str | None = None
        self.apps: dict[str, dict] = {}
        self.tasks: list[dict] = []
        # what Marathon knows of its tasks beyond Mesos' view: host, ports, config version, health
        self.task_meta: dict[str, dict] = {}
        self.wake = threading.Event()
        self.abdicating = False
        self.deploys: dict[str, dict] = {}
        self.events = EventBus()
        self.task_states: dict[str, str] = {}
        self.zk = None
        master = str(flags["master"])
        self.master_zk = zk.parse_zk_url(master) if master.startswith("zk://") else None
        self.master_url = None if self.master_zk else "http://" + master.removeprefix("http://")

    def elected(self) -> bool:
        return self.leader_id == self.participant and self.leader_since is not None

    # ---- election ---------------------------------------------------------------------
    def _state_listener(self, state: str) -> None:
        if state == "LOST" and not self.abdicating:
            die("ZooKeeper session lost", EXIT_ZK_LOST)

    def _children(self, children: list[str]) -> None:
        if self.abdicating:
            return
        if self.my_node and self.my_node not in children:
            die("Lost leadership" if self.elected() else "Leader latch node vanished", EXIT_LEADERSHIP_LOST)
        child = zk.latch_leader_child(children)
        leader = None
        if child:
            try:
                leader = self.zk.get(f"{self.latch_path}/{child}")[0].decode()
            except Exception:  # noqa: BLE001
                leader = None
        with self.lock:
            if (self.elected() or self.leading) and child != self.my_node:
                die("Lost leadership", EXIT_LEADERSHIP_LOST)
            self.leader_id = leader
            if child is not None and child == self.my_node and not self.leading:
                # Like Marathon, become the serving leader only once the state is loaded, so
                # that no request is answered (or write acknowledged) from a stale view.
                self.leading = True
                threading.Thread(target=self._lead, name="leader", daemon=True).start()

    def start_zk(self) -> None:
        from kazoo.recipe.watchers import ChildrenWatch

        self.zk = zk.client(self.zk_url, int(self.flags["zk_session_timeout"]) / 1000)
        self.zk.add_listener(self._state_listener)
        try:
            self.zk.start(timeout=int(self.flags["zk_connection_timeout"]) / 1000)
        except Exception as exc:  # noqa: BLE001
            die(f"Failed to connect to ZooKeeper {self.zk_url.hosts}: {exc}", EXIT_ZK_CONNECT)
        self.zk.ensure_path(self.latch_path)
        self.zk.ensure_path(f"{self.state_path}/apps")
        for child in self.zk.get_children(self.latch_path):
            try:
                if self.zk.get(f"{self.latch_path}/{child}")[0].decode() == self.participant:
                    die(
                        f"Multiple election participants have the same id: {self.participant}",
                        EXIT_LEADERSHIP_LOST,
                    )
            except Exception:  # noqa: BLE001  (node vanished meanwhile)
                continue
        created = self.zk.create(
            f"{self.latch_path}/_c_{uuid.uuid4()}-{zk.LATCH_LOCK_NAME}",
            self.participant.encode(),
            ephemeral=True,
            sequence=True,
        )
        self.my_node = created.rsplit("/", 1)[1]
        ChildrenWatch(self.zk, self.latch_path, self._children)

    def shutdown(self) -> None:
        """SIGTERM: leave the election cleanly (Curator closes its latch), then exit."""
        self.abdicating = True
        if self.zk is not None:
            with contextlib.suppress(Exception):
                self.zk.stop()
        die("Shutting down (SIGTERM)", 0)

    def abdicate(self) -> None:
        time.sleep(0.5)
        self.abdicating = True
        log.info("Abdicating leadership")
        try:
            self.zk.delete(f"{self.latch_path}/{self.my_node}")
            self.zk.stop()
        finally:
            die("Leadership ended gracefully (abdicated)", EXIT_ABDICATED)

    # ---- the leader's work ----------------------------------------------------------
    def _load_state(self) -> None:
        if self.zk.exists(f"{self.state_path}/framework-id"):
            self.framework_id = self.zk.get(f"{self.state_path}/framework-id")[0].decode() or None
        apps = {}
        for child in self.zk.get_children(f"{self.state_path}/apps"):
            app = json.loads(self.zk.get(f"{self.state_path}/apps/{child}")[0])
            apps[app["id"]] = app
        meta = {}
        if self.zk.exists(f"{self.state_path}/tasks"):
            for child in self.zk.get_children(f"{self.state_path}/tasks"):
                with contextlib.suppress(Exception):
                    meta[child] = json.loads(self.zk.get(f"{self.state_path}/tasks/{child}")[0])
        with self.lock:
            self.apps = apps
            self.task_meta = meta

    def _app_node(self, kind: str, app_id: str) -> str:
        return f"{self.state_path}/{kind}/{app_id.strip('/').replace('/', '_')}"

    def _store_version(self, app: dict) -> None:
        """Every app version is kept (like Marathon's `/v2/apps/{id}/versions`), at most zk_max_versions."""
        base = self._app_node("versions", app["id"])
        self.zk.create(f"{base}/{app['version']}", json.dumps(app).encode(), makepath=True)
        versions = sorted(self.zk.get_children(base))
        for old in versions[: max(0, len(versions) - int(self.flags["zk_max_versions"]))]:
            self.zk.delete(f"{base}/{old}")

    def _versions(self, app_id: str) -> list[str]:
        base = self._app_node("versions", app_id)
        return sorted(self.zk.get_children(base), reverse=True) if self.zk.exists(base) else []

    def _version(self, app_id: str, version: str) -> dict | None:
        node = f"{self._app_node('versions', app_id)}/{version}"
        return json.loads(self.zk.get(node)[0]) if self.zk.exists(node) else None

    def _store_task(self, task_id: str, meta: dict) -> None:
        node = f"{self.state_path}/tasks/{task_id}"
        stored = {k: v for k, v in meta.items() if k != "health"}
        if not self.zk.exists(node):
            self.zk.create(node, json.dumps(stored).encode(), makepath=True)

    def _forget_tasks(self, live_ids: set[str]) -> None:
        for task_id in [t for t in self.task_meta if t not in live_ids]:
            self.task_meta.pop(task_id, None)
            with contextlib.suppress(Exception):
                self.zk.delete(f"{self.state_path}/tasks/{task_id}")

    def _store_app(self, app: dict) -> None:
        node = self._app_node("apps", app["id"])
        data = json.dumps(app).encode()
        if self.zk.exists(node):
            self.zk.set(node, data)
        else:
            self.zk.create(node, data, makepath=True)
        self._store_version(app)

    def _delete_app(self, app_id: str) -> None:
        for node in (self._app_node("apps", app_id), self._app_node("versions", app_id)):
            if self.zk.exists(node):
                self.zk.delete(node, recursive=True)

    def _mesos_leader(self) -> str | None:
        if self.master_url:
            return self.master_url
        children = self.zk.get_children(self.master_zk.path) if self.zk.exists(self.master_zk.path) else []
        child = zk.mesos_leader_child(children)
        if not child:
            return None
        info = zk.parse_master_info(self.zk.get(f"{self.master_zk.path}/{child}")[0])
        address = info.get("address") or {}
        return f"http://{address.get('ip')}:{address.get('port', info.get('port'))}"

    def _lead(self) -> None:
        self._load_state()
        with self.lock:
            self.leader_since = now()
        log.info("Elected as leader (%s)", self.participant)
        threading.Thread(target=self._health_loop, name="health", daemon=True).start()
        while True:
            try:
                self._reconcile()
                self._finish_deployments()
            except Exception as exc:  # noqa: BLE001
                log.warning("Reconciliation failed: %s", exc)
            # a second between looks: status updates reach /v2/events (and load balancers) soon
            self.wake.wait(1)
            self.wake.clear()

    # ---- health checks (Marathon's and Mesos' checks, all run by the leader) ---------------
    def _health_loop(self) -> None:
        last: dict[str, float] = {}
        while True:
            time.sleep(0.2)
            with self.lock:
                apps = dict(self.apps)
                running = [t for t in self.tasks if t["state"] == "TASK_RUNNING"]
            for task in running:
                app = apps.get(app_of_task(task["id"]))
                meta = self.task_meta.get(task["id"])
                checks = [c for c in (app or {}).get("healthChecks", []) if c.get("protocol") in RUN_PROTOCOLS]
                if not checks or not meta:
                    continue
                check = checks[0]
                if check.get("protocol") not in COMMAND_PROTOCOLS and not meta.get("ports"):
                    continue
                if now() - last.get(task["id"], 0) < float(check["intervalSeconds"]):
                    continue
                last[task["id"]] = now()
                threading.Thread(target=self._check, args=(task["id"], meta, check, app), daemon=True).start()

    def _sandbox(self, task_id: str, meta: dict) -> str | None:
        """The task's sandbox directory, as its agent's /state gives it (cached)."""
        if meta.get("sandbox") or not meta.get("agent_url"):
            return meta.get("sandbox")
        with contextlib.suppress(OSError, ValueError, KeyError):
            status, payload, _ = web.call("GET", f"{meta['agent_url']}/state", timeout=2)
            if status == 200:
                for framework in json.loads(payload).get("frameworks") or []:
                    for executor in framework.get("executors") or []:
                        if executor.get("id") == task_id and executor.get("directory"):
                            meta["sandbox"] = executor["directory"]
        return meta.get("sandbox")

    def _probe(self, task_id: str, meta: dict, check: dict, app: dict | None) -> tuple[bool, str | None]:
        """Run one check of any protocol against a task: (healthy, failure cause)."""
        timeout = float(check["timeoutSeconds"])
        if check.get("protocol") in COMMAND_PROTOCOLS:
            # as the agent runs the task's command: its environment (PORT0, HOST, ...), in its sandbox
            sandbox = self._sandbox(task_id, meta)
            agent = str(meta.get("agent_url") or "").removeprefix("http://")
            variables = meta.get("env") or task_environment(app or {}, str(meta.get("host", "")),
                                                            list(meta.get("ports") or []), meta.get("appVersion"))
            env = {
                **os.environ,
                "MESOS_TASK_ID": task_id,
                **({"MESOS_SANDBOX": sandbox} if sandbox else {}),
                **({"MESOS_AGENT_ENDPOINT": agent} if agent else {}),
                **{k: str(v) for k, v in variables.items()},
            }
            command = str((check.get("command") or {}).get("value") or "")
            return command_probe(command, env, sandbox if sandbox and os.path.isdir(sandbox) else None, timeout)
        ports = meta["ports"]
        port = ports[int(check.get("portIndex", 0))] if int(check.get("portIndex", 0)) < len(ports) else ports[0]
        return probe(str(check.get("protocol")), meta["ip"], int(port), str(check.get("path") or "/"), timeout)

    def _check(self, task_id: str, meta: dict, check: dict, app: dict | None = None) -> None:
        ok, cause = self._probe(task_id, meta, check, app)
        with self.lock:
            if task_id not in self.task_meta:
                return
            before = (meta.get("health") or {}).get("alive")
            record = health_update(meta.get("health") or {"instanceId": task_id}, ok, iso(now()), cause)
            self.task_meta[task_id]["health"] = record
            if before is not bool(ok):
                self.events.publish("health_status_changed_event", appId=app_of_task(task_id), taskId=task_id,
                                    instanceId=task_id, version=meta.get("appVersion", ""), alive=bool(ok))
            kill = should_kill_unhealthy(record, check, float(meta.get("started", now())), now())
        if kill:
            log.info("Killing unhealthy task %s (%s)", task_id, cause)
            master = self._mesos_leader()
            if master and self.framework_id:
                body = {"framework_id": self.framework_id, "task_id": task_id}
                web.call("POST", f"{master}/master/emulator/kill", body)
            self.wake.set()

    def _ready(self, app: dict, task: dict) -> bool:
        if task["state"] != "TASK_RUNNING":
            return False
        if not app.get("healthChecks"):
            return True
        return bool(((self.task_meta.get(task["id"]) or {}).get("health") or {}).get("alive"))

    def _config_version(self, app: dict) -> str:
        return (app.get("versionInfo") or {}).get("lastConfigChangeAt") or app.get("version", "")

    def _reconcile(self) -> None:
        master = self._mesos_leader()
        if not master:
            return
        status, payload, _ = web.call(
            "POST",
            f"{master}/master/emulator/framework",
            {
                "id": self.framework_id,
                "name": self.flags["framework_name"],
                "hostname": self.hostname,
                "user": self.flags["mesos_user"] or "root",
                "role": self.flags["mesos_role"] or "*",
                "webui_url": self.flags["webui_url"] or f"http://{self.participant}",
                "failover_timeout": self.flags["failover_timeout"],
                "pid": f"scheduler@{self.participant}",
            },
        )
        if status != 200:
            return
        fw_id = json.loads(payload)["id"]
        if fw_id != self.framework_id:
            self.framework_id = fw_id
            node = f"{self.state_path}/framework-id"
            if self.zk.exists(node):
                self.zk.set(node, fw_id.encode())
            else:
                self.zk.create(node, fw_id.encode(), makepath=True)
        status, payload, _ = web.call("GET", f"{master}/master/tasks")
        if status != 200:
            return
        tasks = [t for t in json.loads(payload)["tasks"] if t["framework_id"] == fw_id]
        # a killing task still holds its instance: it is replaced once terminal (Marathon 1.10's goals)
        live = [t for t in tasks if t["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING")]
        with self.lock:
            self._status_events(tasks)
            self.tasks = live
            apps = dict(self.apps)
            self._forget_tasks(
                {
                    t["id"]
                    for t in tasks
                    if t["state"]
                    not in ("TASK_KILLED", "TASK_FAILED", "TASK_FINISHED", "TASK_LOST", "TASK_GONE", "TASK_ERROR",
                            "TASK_GONE_BY_OPERATOR", "TASK_DROPPED")
                }
            )
        status, payload, _ = web.call("GET", f"{master}/master/slaves")
        agents = json.loads(payload)["slaves"] if status == 200 else []
        if self.flags["maintenance_mode"] and agents:
            status, payload, _ = web.call("GET", f"{master}/master/maintenance/schedule")
            schedule = json.loads(payload or b"{}") if status == 200 else {}
            for agent in agents:
                agent["_maintenance"] = in_maintenance(agent, schedule, now(), float(self.flags["draining_seconds"]))
        for app_id, app in apps.items():
            mine = [t for t in live if app_of_task(t["id"]) == app_id]
            version = self._config_version(app)
            with self.lock:
                # dying tasks last, so that a scale-down takes them first
                plan_input = [
                    {
                        "id": t["id"],
                        "version": (self.task_meta.get(t["id"]) or {}).get("version", ""),
                        "ready": self._ready(app, t),
                    }
                    for t in sorted(mine, key=lambda t: t["state"] == "TASK_KILLING")
                ]
            launch, kill = upgrade_plan(int(app["instances"]), version, plan_input, app.get("upgradeStrategy") or {})
            for task_id in kill:
                web.call("POST", f"{master}/master/emulator/kill", {"framework_id": fw_id, "task_id": task_id})
            mine = [t for t in mine if t["id"] not in kill]
            for _ in range(launch):
                self._launch(master, fw_id, app, mine, agents)
        for task in live:
            if app_of_task(task["id"]) not in apps:
                web.call("POST", f"{master}/master/emulator/kill", {"framework_id": fw_id, "task_id": task["id"]})

    def _status_events(self, tasks: list[dict]) -> None:
        """status_update_event for every task whose Mesos state changed since the last look."""
        for task in tasks:
            if self.task_states.get(task["id"]) == task["state"]:
                continue
            self.task_states[task["id"]] = task["state"]
            view = self._task_view(self.apps.get(app_of_task(task["id"])), task)
            self.events.publish(
                "status_update_event", slaveId=task["slave_id"], taskId=task["id"], taskStatus=task["state"],
                message="", appId=view["appId"], host=view["host"], ipAddresses=view["ipAddresses"],
                ports=view["ports"], version=view["version"],
            )
        seen = {t["id"] for t in tasks}
        for task_id in [t for t in self.task_states if t not in seen]:
            del self.task_states[task_id]

    def _launch(self, master: str, fw_id: str, app: dict, mine: list[dict], agents: list[dict]) -> None:
        request = {"cpus": float(app["cpus"]), "mem": float(app["mem"]), "disk": float(app["disk"])}
        if float(app.get("gpus") or 0):
            request["gpus"] = float(app["gpus"])
        placed: dict[str, int] = {}
        placed_on: list[tuple[str, dict]] = []
        by_id = {a["id"]: a for a in agents}
        for task in mine:
            placed[task["slave_id"]] = placed.get(task["slave_id"], 0) + 1
            known = by_id.get(task["slave_id"]) or self.task_meta.get(task["id"]) or {}
            placed_on.append((str(known.get("hostname") or known.get("host") or ""), known.get("attributes") or {}))
        constraints = app.get("constraints") or []
        agent = choose_agent(agents, request, placed, constraints, placed_on)
        if agent is None:
            # the instance stays in the launch queue (/v2/queue) and the deployment goes on waiting
            if constraints and choose_agent(agents, request, placed) is not None:
                log.info("No agent meets the constraints %s of %s", constraints, app["id"])
            else:
                log.info("No agent has the resources for an instance of %s (%s)", app["id"], request)
            return
        command = app.get("cmd") or " ".join(app.get("args") or [])
        port_count = len(app.get("portDefinitions") or [])
        with self.lock:
            used = {p for m in self.task_meta.values() if m.get("agent_id") == agent["id"] for p in m.get("ports", [])}
        ports: list[int] = []
        for _ in range(port_count):
            port = pick_port(str((agent.get("resources") or {}).get("ports") or ""), used | set(ports))
            if port is not None:
                ports.append(port)
        address = str(agent.get("pid", "")).rsplit("@", 1)[-1]
        ip = address.split(":")[0]
        env = task_environment(app, agent["hostname"], ports)
        task = {
            "task_id": task_id_for(app["id"]),
            "name": app["id"].strip("/").replace("/", "."),
            "agent_id": agent["id"],
            # the host ports are resources of the task, as Marathon accepts them from an offer
            "resources": {**request, **({"ports": ports_range(ports)} if ports else {})},
            **({"kill_policy": {"grace_period": {"nanoseconds": int(float(app["taskKillGracePeriodSeconds"]) * 1e9)}}}
               if app.get("taskKillGracePeriodSeconds") is not None else {}),
            "command": {
                "value": command,
                "environment": {"variables": [{"name": k, "value": str(v)} for k, v in env.items()]},
            },
        }
        meta = {
            "host": agent["hostname"],
            "ip": ip,
            "agent_id": agent["id"],
            "agent_url": f"http://{address}" if ":" in address else None,
            "attributes": agent.get("attributes") or {},
            "env": env,
            "ports": ports,
            "version": self._config_version(app),
            "appVersion": app.get("version", ""),
            "started": now(),
            "startedAt": iso(now()),
        }
        with self.lock:
            self.task_meta[task["task_id"]] = meta
        status, payload, _ = web.call("POST", f"{master}/master/emulator/launch", {"framework_id": fw_id, "task": task})
        if status == 200:
            with contextlib.suppress(Exception):
                self._store_task(task["task_id"], meta)
            mine.append({"id": task["task_id"], "slave_id": agent["id"], "state": "TASK_STAGING"})
            agent["used_resources"] = resources.add(agent["used_resources"], request)
        else:
            with self.lock:
                self.task_meta.pop(task["task_id"], None)
            log.warning("Launch of %s refused: %s %s", task["task_id"], status, payload[:200])

    # ---- HTTP ---------------------------------------------------------------------------
    def _task_view(self, app: dict | None, t: dict) -> dict:
        meta = self.task_meta.get(t["id"]) or {}
        view = {
            "id": t["id"],
            "appId": app_of_task(t["id"]),
            "slaveId": t["slave_id"],
            "state": t["state"],
            "host": meta.get("host", t.get("hostname", "")),
            "ipAddresses": [{"ipAddress": meta["ip"], "protocol": "IPv4"}] if meta.get("ip") else [],
            "ports": meta.get("ports", []),
            "servicePorts": [d.get("port") for d in (app or {}).get("portDefinitions") or []],
            "version": meta.get("appVersion", ""),
            "stagedAt": meta.get("startedAt"),
            "startedAt": meta.get("startedAt") if t["state"] == "TASK_RUNNING" else None,
        }
        if app and app.get("healthChecks"):
            health = meta.get("health")
            view["healthCheckResults"] = [health] if health else []
        return view

    def _app_done(self, app: dict) -> bool:
        tasks = [t for t in self.tasks if app_of_task(t["id"]) == app["id"]]
        version = self._config_version(app)
        current = [t for t in tasks if (self.task_meta.get(t["id"]) or {}).get("version") == version]
        return len(tasks) == len(current) == int(app["instances"]) and all(self._ready(app, t) for t in tasks)

    def _deployments(self, app: dict) -> list[dict]:
        self._finish_deployments()
        return [{"id": d["id"]} for d in self.deploys.values() if app["id"] in d["affectedApps"]]

    def _start_deployment(self, app_id: str, version: str, actions: list[str], original: dict | None) -> str:
        """Register a deployment (the caller holds the lock); finished by the reconciliation loop."""
        deployment_id = str(uuid.uuid4())
        self.deploys[deployment_id] = {**deployment_doc(deployment_id, version, app_id, actions), "_original": original}
        return deployment_id

    def _refuse_change(self, app_id: str, app: dict | None, req: web.Request) -> web.Response | None:
        """Marathon's answer to a change of an app that does not exist (404) or is being deployed (409)."""
        return self._not_found(app_id) if app is None else self._locked(app_id, req)

    def _locked(self, app_id: str, req: web.Request) -> web.Response | None:
        """409 while a deployment touches the app, unless ?force=true (which cancels it), like Marathon."""
        # judged from the same state the app's view shows, so a client that saw the app settle is not refused
        self._finish_deployments()
        busy = [d for d in self.deploys.values() if app_id in d["affectedApps"]]
        if not busy:
            return None
        if req.flag("force"):
            for d in busy:
                self.deploys.pop(d["id"], None)
            return None
        message = (
            "App is locked by one or more deployments. Override with the option '?force=true'. "
            "View details at '/v2/deployments/<DEPLOYMENT_ID>'."
        )
        return web.Response.json({"message": message, "deployments": [{"id": d["id"]} for d in busy]}, 409)

    def _finish_deployments(self) -> None:
        with self.lock:
            for d in list(self.deploys.values()):
                app_id = d["affectedApps"][0]
                app = self.apps.get(app_id)
                if app is None:
                    done = not any(app_of_task(t["id"]) == app_id for t in self.tasks)
                else:
                    done = self._app_done(app)
                if done:
                    del self.deploys[d["id"]]
                    self.events.publish("deployment_success", id=d["id"])

    def _app_view(self, app: dict, embed_tasks: bool) -> dict:
        tasks = [t for t in self.tasks if app_of_task(t["id"]) == app["id"]]
        health = [((self.task_meta.get(t["id"]) or {}).get("health") or {}) for t in tasks]
        view = {
            **app,
            "tasksRunning": sum(t["state"] == "TASK_RUNNING" for t in tasks),
            "tasksStaged": sum(t["state"] in ("TASK_STAGING", "TASK_STARTING") for t in tasks),
            "tasksHealthy": sum(bool(h.get("alive")) for h in health) if app.get("healthChecks") else 0,
            "tasksUnhealthy": sum(bool(h) and not h.get("alive") for h in health) if app.get("healthChecks") else 0,
            "deployments": self._deployments(app),
        }
        if embed_tasks:
            view["tasks"] = [self._task_view(app, t) for t in tasks]
        return view

    def info(self) -> dict:
        """/v2/info as InfoResource writes it: http_port only under http_config; the emulator mark is
        `buildref` (a string no client parses) and the X-Stackbench-Emulator header."""
        return {
            "name": "marathon",
            "version": MARATHON_VERSION,
            "buildref": EMULATOR_MARK,
            "elected": self.elected(),
            "leader": self.leader_id,
            "frameworkId": self.framework_id,
            "marathon_config": {
                "master": _redact(str(self.flags["master"])),
                "hostname": self.hostname,
                "ha": self.flags["ha"],
                "framework_name": self.flags["framework_name"],
                "failover_timeout": self.flags["failover_timeout"],
                "leader_proxy_connection_timeout_ms": self.flags["leader_proxy_connection_timeout"],
                "leader_proxy_read_timeout_ms": self.flags["leader_proxy_read_timeout"],
                "local_port_min": self.flags["local_port_min"],
                "local_port_max": self.flags["local_port_max"],
                "mesos_leader_ui_url": self.flags["mesos_leader_ui_url"],
                "mesos_role": self.flags["mesos_role"],
                "mesos_user": self.flags["mesos_user"],
                "webui_url": self.flags["webui_url"],
                "task_launch_timeout": self.flags["task_launch_timeout"],
                "reconciliation_interval": self.flags["reconciliation_interval"],
            },
            "zookeeper_config": {
                "zk": _redact(str(self.flags["zk"])),
                "zk_session_timeout": self.flags["zk_session_timeout"],
                "zk_timeout": self.flags["zk_timeout"],
                "zk_connection_timeout": self.flags["zk_connection_timeout"],
                "zk_max_versions": self.flags["zk_max_versions"],
                "zk_compression": self.flags["zk_compression"],
                "zk_compression_threshold": self.flags["zk_compression_threshold"],
                "zk_max_node_size": self.flags["zk_max_node_size"],
            },
            "http_config": {"http_port": self.port, "https_port": self.flags["https_port"]},
        }

    def handle(self, req: web.Request) -> web.Response:
        deadline = time.monotonic() + 10
        while self.leading and not self.elected() and time.monotonic() < deadline:
            time.sleep(0.05)  # a new leader still loading its state
        if not self.elected():
            return self._proxy(req)
        try:
            response = self._leader_handle(req)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            response = web.Response.json(
                {"message": "Invalid JSON", "details": [{"path": "/", "errors": [str(exc)]}]}, 400
            )
        except InvalidApp as exc:
            response = web.Response.json({"message": str(exc), "details": exc.details}, 422)
        response.headers["X-Marathon-Leader"] = f"http://{self.participant}"
        return response

    def _proxy(self, req: web.Request) -> web.Response:
        if req.path.startswith("/v2/events"):
            leader = self.leader_id
            if not leader:
                return web.Response.text("Could not determine the current leader", 502)
            query = "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs)
            return web.Response(307, b"", {"Location": f"http://{leader}{req.path}{'?' + query if query else ''}"})
        for _ in range(10):
            if self.leader_id and self.leader_id != self.participant:
                break
            time.sleep(0.25)
        leader = self.leader_id
        if not leader or leader == self.participant:
            return web.Response.text("Could not determine the current leader", 502)
        query = "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs)
        headers = {k: v for k, v in req.headers.items() if k in ("content-type", "accept", "authorization")}
        try:
            status, body, resp_headers = web.call(
                req.method,
                f"http://{leader}{req.path}{'?' + query if query else ''}",
                raw=req.body if req.body else None,
                headers=headers,
                timeout=int(self.flags["leader_proxy_read_timeout"]) / 1000,
            )
        except OSError as exc:
            return web.Response.text(f"Could not reach the current leader {leader}: {exc}", 502)
        keep = {k: v for k, v in resp_headers.items() if k.lower() in ("content-type", "location", "x-marathon-leader")}
        keep["Via"] = f"1.1 {self.participant}"
        return web.Response(status, body, keep)

    def _metrics(self) -> dict:
        with self.lock:
            running = sum(t["state"] == "TASK_RUNNING" for t in self.tasks)
            gauges = {
                "marathon.uptime.gauge.seconds": round(now() - self.start_time, 3),
                "marathon.leadership.duration.gauge.seconds": round(now() - (self.leader_since or now()), 3),
                "marathon.apps.active.gauge": len(self.apps),
                "marathon.instances.running.gauge": running,
                "marathon.deployments.active.gauge": len(self.deploys),
            }
        return {"version": "1", "counters": {}, "histograms": {}, "meters": {}, "timers": {},
                "gauges": {k: {"value": v} for k, v in gauges.items()}}

    def _leader_handle(self, req: web.Request) -> web.Response:  # noqa: C901, PLR0911, PLR0912  (a router)
        path = req.path.rstrip("/") or "/"
        if path == "/":
            return web.Response(302, b"", {"Location": "/ui/"})
        if path == "/ping":
            if "application/json" in req.headers.get("accept", ""):
                return web.Response.json("pong")
            return web.Response.text("pong")
        if path == "/v2/info":
            return web.Response.json(self.info())
        if path == "/version":
            return web.Response.json(version_info(MARATHON_VERSION))
        if path == "/v2/leader":
            if req.method == "DELETE":
                threading.Thread(target=self.abdicate, daemon=True).start()
                return web.Response.json({"message": "Leadership abdicated"})
            return web.Response.json({"leader": self.participant})
        if path == "/metrics":
            return web.Response.json(self._metrics())
        if path == "/metrics/prometheus":
            lines = []
            for name, gauge in self._metrics()["gauges"].items():
                metric = name.replace(".", "_")
                lines += [f"# TYPE {metric} gauge", f"{metric} {gauge['value']}"]
            return web.Response.text("\n".join(lines) + "\n")
        if path == "/v2/events":
            return self._event_stream(req)
        if path == "/v2/tasks":
            with self.lock:
                return web.Response.json(
                    {"tasks": [self._task_view(self.apps.get(app_of_task(t["id"])), t) for t in self.tasks]}
                )
        if path == "/v2/tasks/delete" and req.method == "POST":
            body = req.json() or {}
            ids = body.get("ids") if isinstance(body, dict) else None
            if not isinstance(ids, list):
                raise InvalidApp([{"path": "/ids", "errors": ["error.expected.jsarray"]}])
            with self.lock:
                known = {t["id"] for t in self.tasks}
                for task_id in ids:
                    if task_id in known:
                        self._kill_task(task_id, req.flag("scale"))
            return web.Response.json({})
        if path == "/v2/deployments":
            self._finish_deployments()
            with self.lock:
                return web.Response.json(
                    [{k: v for k, v in d.items() if not k.startswith("_")} for d in self.deploys.values()]
                )
        if path.startswith("/v2/deployments/"):
            return self._delete_deployment(req, path[len("/v2/deployments/"):])
        if path == "/v2/queue":
            return self._queue()
        if path.startswith("/v2/queue/") and path.endswith("/delay") and req.method == "DELETE":
            return web.Response(204)
        if path == "/v2/groups" or path.startswith("/v2/groups/"):
            return self._groups(req, "/" + path[len("/v2/groups"):].strip("/"))
        if path == "/v2/apps":
            return self._apps(req)
        if path.startswith("/v2/apps/"):
            rest = path[len("/v2/apps") :]
            if "/versions" in rest:
                return self._app_versions(req, *rest.split("/versions", 1))
            if rest.endswith("/restart"):
                return self._restart(req, "/" + rest[: -len("/restart")].strip("/"))
            if "/tasks" in rest:
                app_part, task_part = rest.split("/tasks", 1)
                return self._app_tasks(req, "/" + app_part.strip("/"), task_part.strip("/"))
            return self._app(req, rest)
        return web.Response.json({"message": f"HTTP 404 Not Found: {path}"}, 404)

    # ---- /v2/events ------------------------------------------------------------------
    def _event_stream(self, req: web.Request) -> web.Response:
        accept = req.headers.get("accept", "*/*")
        if not any(kind in accept for kind in ("text/event-stream", "*/*", "text/*")):
            return web.Response.json({"message": "HTTP 406 Not Acceptable: use Accept: text/event-stream"}, 406)
        wanted = set(req.query.get("event_type") or [])
        remote = req.headers.get("x-forwarded-for") or "unknown"
        return web.Response(200, headers={"Content-Type": "text/event-stream"},
                            stream=self.events.stream(remote, wanted))

    # ---- apps ---------------------------------------------------------------------------
    def _not_found(self, app_id: str) -> web.Response:
        return web.Response.json({"message": f"App '{app_id}' does not exist"}, 404)

    def _with_ports(self, app: dict, previous: dict | None) -> dict:
        taken = {
            int(d["port"])
            for other in self.apps.values()
            if other["id"] != app["id"]
            for d in other.get("portDefinitions") or []
            if d.get("port")
        }
        low, high = int(self.flags["local_port_min"]), int(self.flags["local_port_max"])  # type: ignore[arg-type]
        return assign_service_ports(app, previous, taken, low, high)

    def _create(self, body: dict, req: web.Request) -> tuple[dict, str]:
        """Create one app (the caller holds the lock); returns it and its deployment id."""
        app = normalize_app(body)
        app = self._with_ports(app, None)
        app["version"] = iso(now())
        app["versionInfo"] = version_info_for(None, app, app["version"])
        self.apps[app["id"]] = app
        self._store_app(app)
        deployment_id = self._start_deployment(app["id"], app["version"], ["StartApplication", "ScaleApplication"],
                                               None)
        self.events.publish("api_post_event", clientIp=req.headers.get("x-forwarded-for"), uri=f"/v2/apps{app['id']}",
                            appDefinition=app)
        self.wake.set()
        return app, deployment_id

    def _apps(self, req: web.Request) -> web.Response:
        if req.method == "GET":
            embed = set(req.query.get("embed") or [])
            tasks = bool(embed & {"apps.tasks", "app.tasks"})
            wanted_id = (req.query.get("id") or [""])[-1]
            wanted_cmd = (req.query.get("cmd") or [""])[-1]
            with self.lock:
                apps = [a for a in self.apps.values()
                        if wanted_id in a["id"] and (not wanted_cmd or wanted_cmd in str(a.get("cmd") or ""))]
                return web.Response.json({"apps": [self._app_view(a, tasks) for a in apps]})
        if req.method != "POST":
            return web.Response.json({"message": "HTTP 405 Method Not Allowed"}, 405)
        body = req.json()
        normalize_app(body)  # type: ignore[arg-type]  # validate before taking the lock
        with self.lock:
            if "/" + str(body.get("id", "")).strip("/") in self.apps:  # type: ignore[union-attr]
                return web.Response.json({"message": f"An app with id [/{str(body['id']).strip('/')}] already exists."},  # type: ignore[index]
                                         409)
            app, _ = self._create(body, req)  # type: ignore[arg-type]
            return web.Response.json(self._app_view(app, False), 201, {"Location": f"/v2/apps{app['id']}"})

    def _app(self, req: web.Request, app_id: str) -> web.Response:
        app_id = "/" + app_id.strip("/")
        with self.lock:
            app = self.apps.get(app_id)
            if req.method == "GET":
                if app is None:
                    return self._not_found(app_id)
                return web.Response.json({"app": self._app_view(app, True)})
            if req.method == "DELETE":
                refused = self._refuse_change(app_id, app, req)
                if refused:
                    return refused
                version = iso(now())
                deployment_id = self._start_deployment(app_id, version, ["StopApplication"], app)
                del self.apps[app_id]
                self._delete_app(app_id)
                self.events.publish("app_terminated_event", appId=app_id)
                self.wake.set()
                return web.Response.json({"version": version, "deploymentId": deployment_id})
            if req.method in ("PUT", "PATCH"):
                body = req.json() or {}
                if not isinstance(body, dict):
                    raise InvalidApp(type_errors(body))
                if body.get("version") and app is not None:
                    # rollback: `{"version": "<an earlier version>"}` restores that definition
                    earlier = self._version(app_id, str(body["version"]))
                    if earlier is None:
                        return web.Response.json({"message": f"Version {body['version']} of {app_id} not found"}, 404)
                    body = {k: v for k, v in earlier.items() if k not in ("version", "versionInfo")}
                if app is None:
                    app, deployment_id = self._create({**body, "id": app_id}, req)
                    return web.Response.json(self._app_view(app, False), 201)
                merged = normalize_app({**app, **body}, app_id)
                locked = self._locked(app_id, req)
                if locked:
                    return locked
                merged = self._with_ports(merged, app)
                version = iso(now())
                merged["version"] = version
                merged["versionInfo"] = version_info_for(app, merged, version)
                self.apps[app_id] = merged
                self._store_app(merged)
                action = "RestartApplication" if config_changed(app, merged) else "ScaleApplication"
                deployment_id = self._start_deployment(app_id, version, [action], app)
                self.events.publish("api_post_event", clientIp=req.headers.get("x-forwarded-for"),
                                    uri=f"/v2/apps{app_id}", appDefinition=merged)
                self.wake.set()
                return web.Response.json({"version": version, "deploymentId": deployment_id})
        return web.Response.json({"message": "HTTP 405 Method Not Allowed"}, 405)

    def _restart(self, req: web.Request, app_id: str) -> web.Response:
        if req.method != "POST":
            return web.Response.json({"message": "HTTP 405 Method Not Allowed"}, 405)
        with self.lock:
            app = self.apps.get(app_id)
            refused = self._refuse_change(app_id, app, req)
            if refused:
                return refused
            version = iso(now())
            # a restart is a new configuration at the same definition: every task is replaced
            restarted = {**app, "version": version, "versionInfo": {"lastScalingAt": version,
                                                                    "lastConfigChangeAt": version}}
            self.apps[app_id] = restarted
            self._store_app(restarted)
            deployment_id = self._start_deployment(app_id, version, ["RestartApplication"], app)
            self.wake.set()
            return web.Response.json({"version": version, "deploymentId": deployment_id})

    def _kill_task(self, task_id: str, scale: bool) -> None:
        """Kill one task through the master (the caller holds the lock); with `scale`, one instance less."""
        master = self._mesos_leader()
        if master and self.framework_id:
            threading.Thread(target=web.call, args=("POST", f"{master}/master/emulator/kill",
                                                   {"framework_id": self.framework_id, "task_id": task_id}),
                             daemon=True).start()
        if scale:
            app = self.apps.get(app_of_task(task_id))
            if app is not None:
                version = iso(now())
                scaled = {**app, "instances": max(0, int(app["instances"]) - 1), "version": version}
                scaled["versionInfo"] = version_info_for(app, scaled, version)
                self.apps[app["id"]] = scaled
                self._store_app(scaled)
        self.wake.set()

    def _app_tasks(self, req: web.Request, app_id: str, task_id: str) -> web.Response:
        with self.lock:
            app = self.apps.get(app_id)
            if app is None:
                return self._not_found(app_id)
            tasks = [t for t in self.tasks if app_of_task(t["id"]) == app_id]
            if req.method == "GET" and not task_id:
                return web.Response.json({"tasks": [self._task_view(app, t) for t in tasks]})
            if req.method != "DELETE":
                return web.Response.json({"message": "HTTP 405 Method Not Allowed"}, 405)
            scale = req.flag("scale")
            if task_id:
                task = next((t for t in tasks if t["id"] == task_id), None)
                if task is None:
                    return web.Response.json({"message": f"Task '{task_id}' does not exist"}, 404)
                victims = [task]
            else:
                host = (req.query.get("host") or [""])[-1]
                victims = [t for t in tasks if not host or self._task_view(app, t)["host"] == host]
            views = [self._task_view(app, t) for t in victims]
            for task in victims:
                self._kill_task(task["id"], scale)
            if scale:
                version = self.apps[app_id]["version"]
                deployment_id = self._start_deployment(app_id, version, ["ScaleApplication"], app)
                return web.Response.json({"version": version, "deploymentId": deployment_id})
            if task_id:
                return web.Response.json({"task": views[0]})
            return web.Response.json({"tasks": views})

    def _delete_deployment(self, req: web.Request, deployment_id: str) -> web.Response:
        if req.method != "DELETE":
            return web.Response.json({"message": "HTTP 405 Method Not Allowed"}, 405)
        with self.lock:
            deployment = self.deploys.pop(deployment_id, None)
            if deployment is None:
                return web.Response.json({"message": f"DeploymentPlan {deployment_id} does not exist"}, 404)
            if req.flag("force"):
                return web.Response(202)  # stop the deployment where it is
            # without force, Marathon rolls back: a new deployment to the original state
            app_id = deployment["affectedApps"][0]
            original = deployment.get("_original")
            version = iso(now())
            if original is None:
                self.apps.pop(app_id, None)
                self._delete_app(app_id)
                new_id = self._start_deployment(app_id, version, ["StopApplication"], None)
            else:
                current = self.apps.get(app_id)
                restored = {**original, "version": version}
                restored["versionInfo"] = version_info_for(current, restored, version)
                self.apps[app_id] = restored
                self._store_app(restored)
                action = "RestartApplication" if current is None or config_changed(current, restored) else \
                    "ScaleApplication"
                new_id = self._start_deployment(app_id, version, [action], current)
            self.wake.set()
            return web.Response.json({"version": version, "deploymentId": new_id})

    def _queue(self) -> web.Response:
        with self.lock:
            items = []
            for app in self.apps.values():
                live = [t for t in self.tasks if app_of_task(t["id"]) == app["id"]]
                missing = int(app["instances"]) - len(live)
                if missing <= 0:
                    continue
                items.append({
                    "count": missing,
                    "delay": {"timeLeftSeconds": 0, "overdue": True},
                    "since": app.get("version"),
                    "processedOffersSummary": {"processedOffersCount": 0, "unusedOffersCount": 0,
                                               "rejectSummaryLastOffers": [], "rejectSummaryLaunchAttempt": []},
                    "app": self._app_view(app, False),
                })
            return web.Response.json({"queue": items})

    def _groups(self, req: web.Request, group_id: str) -> web.Response:
        with self.lock:
            version = max((a.get("version", "") for a in self.apps.values()), default=iso(self.start_time))
            apps = [self._app_view(a, False) for a in self.apps.values()]
            known = group_ids([a["id"] for a in apps])
            if req.method == "GET":
                if group_id not in known:
                    return web.Response.json({"message": f"Group '{group_id}' does not exist"}, 404)
                return web.Response.json(group_view(group_id, apps, version))
            if req.method == "POST":
                body = req.json() or {}
                if not isinstance(body, dict) or not isinstance(body.get("apps") or [], list):
                    raise InvalidApp([{"path": "/apps", "errors": ["error.expected.jsarray"]}])
                base = "/" + str(body.get("id") or group_id).strip("/")
                if base in known and base != "/":
                    return web.Response.json({"message": f"Group {base} is already created. Use PUT to change this "
                                                         "group."}, 409)
                definitions = []
                for definition in body.get("apps") or []:
                    own = str((definition or {}).get("id", "")) if isinstance(definition, dict) else ""
                    full = own if own.startswith("/") else f"{base.rstrip('/')}/{own}"
                    normalize_app({**definition, "id": full})
                    definitions.append({**definition, "id": full})
                deployment_id = ""
                for definition in definitions:
                    _, deployment_id = self._create(definition, req)
                return web.Response.json({"version": iso(now()), "deploymentId": deployment_id}, 201)
            if group_id not in known:
                return web.Response.json({"message": f"Group '{group_id}' does not exist"}, 404)
            members = [a for a in self.apps.values() if a["id"].startswith(group_id.rstrip("/") + "/")]
            version = iso(now())
            if req.method == "DELETE":
                deployment_id = ""
                for app in members:
                    deployment_id = self._start_deployment(app["id"], version, ["StopApplication"], app)
                    del self.apps[app["id"]]
                    self._delete_app(app["id"])
                self.wake.set()
                return web.Response.json({"version": version, "deploymentId": deployment_id})
            if req.method == "PUT":
                body = req.json() or {}
                factor = body.get("scaleBy") if isinstance(body, dict) else None
                if not isinstance(factor, int | float) or isinstance(factor, bool):
                    raise InvalidApp([{"path": "/scaleBy", "errors": ["error.expected.jsnumber"]}])
                deployment_id = ""
                for app in members:
                    scaled = {**app, "instances": int(round(int(app["instances"]) * factor)), "version": version}
                    scaled["versionInfo"] = version_info_for(app, scaled, version)
                    self.apps[app["id"]] = scaled
                    self._store_app(scaled)
                    deployment_id = self._start_deployment(app["id"], version, ["ScaleApplication"], app)
                self.wake.set()
                return web.Response.json({"version": version, "deploymentId": deployment_id})
        return web.Response.json({"message": "HTTP 405 Method Not Allowed"}, 405)

    def _app_versions(self, req: web.Request, app_id: str, version: str) -> web.Response:
        app_id = "/" + app_id.strip("/")
        version = version.strip("/")
        if req.method != "GET":
            return web.Response.json({"message": "HTTP 405 Method Not Allowed"}, 405)
        if app_id not in self.apps:
            return self._not_found(app_id)
        if not version:
            return web.Response.json({"versions": self._versions(app_id)})
        found = self._version(app_id, version)
        if found is None:
            return web.Response.json({"message": f"Version {version} of {app_id} not found"}, 404)
        return web.Response.json(found)


class EventBus:
    """Marathon's event bus as /v2/events serves it (SSE): each subscriber gets every event after it attached."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscribers: list[queue.Queue] = []

    def publish(self, event_type: str, **fields: object) -> None:
        event = {"eventType": event_type, "timestamp": iso(now()), **fields}
        with self.lock:
            for subscriber in self.subscribers:
                subscriber.put(event)

    def stream(self, remote: str, wanted: set[str]) -> Iterator[bytes]:
        mine: queue.Queue = queue.Queue()
        with self.lock:
            self.subscribers.append(mine)
        try:
            attached = {"eventType": "event_stream_attached", "timestamp": iso(now()), "remoteAddress": remote}
            if not wanted or "event_stream_attached" in wanted:
                yield sse_event(attached)
            while True:
                try:
                    event = mine.get(timeout=15)
                except queue.Empty:
                    yield b":\r\n\r\n"  # a comment: finds clients that went away
                    continue
                if not wanted or event["eventType"] in wanted:
                    yield sse_event(event)
        finally:
            with self.lock:
                self.subscribers.remove(mine)


def _redact(url: str) -> str:
    import re

    return re.sub(r"//[^@/]+@", "//xxxxxxxx:xxxxxxxx@", url)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--version" in argv:
        print(f"{MARATHON_VERSION} (stackbench emulator)")  # scallop's version line
        sys.exit(0)
    try:
        flags = load_marathon_flags(FLAGS, argv, os.environ)
        validate(flags)
    except (FlagError, ValueError) as exc:
        sys.stderr.write(f"[scallop] Error: {exc}\n")
        sys.exit(EXIT_FLAG)
    web.setup_logging("marathon", str(flags["logging_level"] or "INFO"))
    app = Marathon(flags)
    log.info("Starting Marathon %s (emulator) as %s", MARATHON_VERSION, app.participant)
    try:
        web.serve(str(flags["http_address"] or "0.0.0.0"), app.port, app.handle)
    except OSError as exc:
        die(f"Failed to bind the HTTP port {app.port}: {exc}", EXIT_BIND)
    signal.signal(signal.SIGTERM, lambda *_: app.shutdown())
    if flags["ha"]:
        app.start_zk()
    else:
        die("This emulator only supports --ha (the default)", EXIT_FLAG)
    while True:
        time.sleep(3600)
