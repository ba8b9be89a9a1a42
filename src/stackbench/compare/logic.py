"""The pure parts of `stackbench compare`: inventory checks, timing and spread arithmetic,
parsing of Marathon/Kubernetes/capacity/failover/process documents. No I/O here."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from stackbench import catalog


def missing_groups(stack: str, groups: Mapping[str, Iterable[str]]) -> list[str]:
    """The groups `stack` needs that the inventory lacks or leaves empty (its aliases, e.g. kube_node, count)."""
    return catalog.get(stack).missing_groups(groups)


def stamp(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"[{seconds // 60:02d}:{seconds % 60:02d}]"


def spread(responders: Iterable[str]) -> dict[str, int]:
    """How many requests each instance answered, most first."""
    return dict(Counter(r for r in responders if r).most_common())


def spread_evenness(counts: Mapping[str, int]) -> float | None:
    """min/max of the per-instance counts (1.0 = perfectly even), None without answers."""
    values = [v for v in counts.values() if v]
    return round(min(values) / max(values), 3) if values else None


def first_word(text: str) -> str:
    """The responder of a workload answer: its first word (pod name or Mesos task id)."""
    words = text.split()
    return words[0] if words else ""


# ---- Marathon ----------------------------------------------------------------------------


def marathon_endpoints(app: Mapping[str, Any], healthy_only: bool = True) -> list[str]:
    """`http://ip:port` of each running task (healthy ones when the app has health checks)."""
    out = []
    for task in app.get("tasks") or []:
        if task.get("state", "TASK_RUNNING") != "TASK_RUNNING" or not task.get("ports"):
            continue
        if healthy_only and app.get("healthChecks"):
            results = task.get("healthCheckResults") or []
            if not results or not all(r.get("alive") for r in results):
                continue
        ips = task.get("ipAddresses") or []
        host = ips[0]["ipAddress"] if ips else task.get("host")
        out.append(f"http://{host}:{task['ports'][0]}")
    return out


def marathon_settled(app: Mapping[str, Any], instances: int, version: str | None = None) -> bool:
    """All `instances` tasks run (and are healthy when checked), no deployment left, all of `version`."""
    tasks = [t for t in app.get("tasks") or [] if t.get("state") == "TASK_RUNNING"]
    if len(tasks) != instances or len(app.get("tasks") or []) != instances or app.get("deployments"):
        return False
    if version is not None and any(t.get("version") != version for t in tasks):
        return False
    return not app.get("healthChecks") or int(app.get("tasksHealthy") or 0) == instances


def task_hosts(app: Mapping[str, Any]) -> Counter:
    return Counter(t.get("host", "") for t in app.get("tasks") or [] if t.get("state") == "TASK_RUNNING")


# ---- Kubernetes --------------------------------------------------------------------------


def pod_ready(pod: Mapping[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def pod_restarts(pod: Mapping[str, Any]) -> int:
    return sum(int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])


def pods_ready(pods: Iterable[Mapping[str, Any]]) -> list[str]:
    return [p["metadata"]["name"] for p in pods if pod_ready(p)]


def pod_nodes(pods: Iterable[Mapping[str, Any]]) -> Counter:
    return Counter((p.get("spec") or {}).get("nodeName", "") for p in pods
                   if not (p.get("metadata") or {}).get("deletionTimestamp"))


def deployment_settled(deployment: Mapping[str, Any], pods: list[Mapping[str, Any]], replicas: int,
                       template_hash: str | None = None) -> bool:
    """The Deployment observed its spec, `replicas` pods are ready and no other pod is left."""
    meta, status = deployment.get("metadata") or {}, deployment.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return False
    if int(status.get("updatedReplicas") or 0) != replicas or int(status.get("readyReplicas") or 0) != replicas:
        return False
    if int(status.get("replicas") or 0) != replicas:
        return False
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    if len(live) != replicas or not all(pod_ready(p) for p in live):
        return False
    if template_hash is not None:
        return all((p["metadata"].get("labels") or {}).get("pod-template-hash") == template_hash for p in live)
    return True


_SUFFIXES = {"": 1, "m": 0.001, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(text: str | int | float) -> float:
    """A Kubernetes resource quantity ("50m", "32Mi", "1.5", "2G") as a number."""
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text).strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError(f"unsupported quantity {text!r}")
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def requests_by_node(pods: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Sum of the CPU and memory requests of the live pods on each node (what the scheduler counts as used)."""
    used: dict[str, dict[str, float]] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        entry = used.setdefault(node, {"cpus": 0.0, "memory_bytes": 0.0})
        for container in (pod.get("spec") or {}).get("containers") or []:
            requests = (container.get("resources") or {}).get("requests") or {}
            entry["cpus"] += quantity(requests.get("cpu", 0))
            entry["memory_bytes"] += quantity(requests.get("memory", 0))
    return {n: {"cpus": round(v["cpus"], 3), "memory_bytes": int(v["memory_bytes"])} for n, v in used.items()}


# ---- capacity, failover, processes ----------------------------------------------------------


def capacity_nodes(report: Mapping[str, Any], hosts: Iterable[str]) -> list[dict[str, Any]]:
    """Rows of a capacity-*.json (playbooks/capacity.yml) for `hosts`, in the compare format."""
    wanted = set(hosts)
    rows = []
    for row in report.get("hosts") or []:
        if row.get("host") not in wanted:
            continue
        offered_cpus = row.get("kubernetes_allocatable_cpu_cores", row.get("mesos_resources_cpus"))
        offered_mem = row.get("kubernetes_allocatable_memory_bytes", row.get("mesos_resources_mem_bytes"))
        rows.append({
            "host": row.get("host"),
            "cpus": row.get("logical_cpus"),
            "memory_bytes": row.get("memory_total_bytes"),
            "offered_cpus": offered_cpus,
            "offered_memory_bytes": offered_mem,
            "used_cpus": row.get("mesos_used_cpus"),
            "used_memory_bytes": row.get("mesos_used_mem_bytes"),
        })
    return rows


def failover_component(run: Mapping[str, Any], lab: bool = True) -> dict[str, Any]:
    """One ha_failover result (results/ha-*.json entry) in the compare format; `lab`: run on the lab,
    where some systems are emulators."""
    system = run.get("system") or (run.get("item") or ["?"])[0]
    fault = run.get("fault") or ((run.get("item") or [None, "?"])[1])
    bounds = run.get("bounds_seconds") or {}
    error = None
    if run.get("failed"):
        error = str(run.get("msg") or "failed")[:300]
    elif run.get("problems"):
        error = "; ".join(map(str, run["problems"]))[:300]
    not_implemented = bool(error and "not implemented" in error.lower())
    return {
        "system": system,
        "fault": fault,
        "status": "not_run" if not_implemented else ("failed" if error else "ok"),
        "error": error,
        "old_leader": run.get("old_leader"),
        "new_leader": run.get("new_leader"),
        "time_to_new_leader_s": run.get("time_to_new_leader_seconds"),
        "write_unavailable_s": run.get("write_unavailable_seconds"),
        "lost_writes": run.get("lost_acknowledged_writes"),
        "bound_s": max(bounds.values()) if bounds else None,
        "emulated": lab_emulated(system) and lab,
    }


def lab_emulated(system: str) -> bool:
    """Whether the lab runs ha_failover system `system` as an emulator."""
    known = catalog.ha_system(system)
    return bool(known and known.lab_emulated)


# How the emulators (tests/emulators) say what they are, where clients do not parse it: a header on
# every answer, and the build user / git branch of /version, Marathon's buildref.
EMULATOR_HEADER = "x-stackbench-emulator"
EMULATOR_MARK = "stackbench-emulator"

# What proves a Mesos-stack daemon real or emulated: (inventory group, catalog port name, path), asked
# of every host of the group. The endpoints answer on any member (no redirect to the leader).
DAEMON_PROBES: Mapping[str, tuple[str, str, str]] = {
    "mesos-master": ("mesos_masters", "mesos_master", "/version"),
    "mesos-agent": ("mesos_agents", "mesos_agent", "/version"),
    "marathon": ("marathon", "marathon_http", "/v2/info"),
}
# ha_failover systems (their group) -> the daemon whose mark they carry
SYSTEM_DAEMONS: Mapping[str, str] = {"mesos_masters": "mesos-master", "marathon": "marathon"}


EMULATED = "(emulated)"  # the mark of a figure that came from an emulated daemon, on stdout and in reports


def emulated_line(stack: str, components: Mapping[str, bool]) -> str:
    """The progress line that says which of the stack's daemons answered as emulators."""
    emulated = [name for name, is_emulated in components.items() if is_emulated]
    real = [name for name, is_emulated in components.items() if not is_emulated]
    parts = ([f"emulated {', '.join(emulated)}"] if emulated else []) + ([f"real {', '.join(real)}"] if real else [])
    return f"{stack}: the daemons' own answers say: {'; '.join(parts)}"


def short(figures: Mapping[str, Any]) -> str:
    """A step's scalar figures as compact JSON (lists and long texts left out)."""
    keep = {k: v for k, v in figures.items() if isinstance(v, int | float | str) and len(str(v)) < 40}
    return json.dumps(keep)[:200]


def _seconds(value: Any) -> str:
    return "—" if value is None else f"{value:g} s"


def component_line(component: Mapping[str, Any]) -> str:
    """One failover component's figures, marked when its daemon is emulated."""
    name = f"{component.get('system')} ({component.get('fault')})"
    if component.get("status") != "ok":
        text = f"{name}: {component.get('status')}" + (f": {component['error']}" if component.get("error") else "")
    else:
        lost = component.get("lost_writes")
        text = (f"{name}: {_seconds(component.get('time_to_new_leader_s'))} to a new leader, writes unavailable "
                f"{_seconds(component.get('write_unavailable_s'))}, "
                + ("no client writes" if lost is None else f"{lost} lost writes"))
    return text + (f" {EMULATED}" if component.get("emulated") else "")


def _gib(value: Any) -> str:
    return "—" if not isinstance(value, int | float) else f"{value / 2**30:.1f} GiB"


def node_line(node: Mapping[str, Any], emulated: bool) -> str:
    """A node's capacity: the machine's own figures (real), then what the cluster offers (its daemons' mark)."""
    return (f"{node.get('host')}: machine {node.get('cpus')} CPUs, {_gib(node.get('memory_bytes'))}; offered "
            f"{node.get('offered_cpus')} CPUs, {_gib(node.get('offered_memory_bytes'))}"
            + (f" {EMULATED}" if emulated else ""))


def daemon_line(daemon: Mapping[str, Any], emulated: bool) -> str:
    return (f"{daemon.get('host')} {daemon.get('daemon')}: {daemon.get('cpu_percent')}% CPU, "
            f"{(daemon.get('rss_bytes') or 0) / 2**20:.0f} MiB RSS" + (f" {EMULATED}" if emulated else ""))


def step_lines(stack: str, title: str, record: Mapping[str, Any],
               components: Mapping[str, bool] | None = None) -> list[str]:
    """What the terminal shows when a step ends: its status and scalar figures (marked when the step's
    figures came from emulated daemons), then a line per failover component, node or daemon, each with its
    own mark (`components`: {daemon: emulated}, detect_emulated's answer)."""
    head = f"{stack}: {title}: {record['status']} in {record['elapsed_s']:.0f} s"
    if record.get("error"):
        return [f"{head} ({record['error']})"]
    figures = record.get("figures") or {}
    scalars = short(figures)
    mark = f" {EMULATED}" if record.get("emulated") and scalars != "{}" else ""
    lines = [f"{head} {scalars}{mark}"]
    answered = figures.get("spread")
    if isinstance(answered, Mapping) and answered:  # discovery: the requests each instance answered
        lines.append("    answered by " + ", ".join(f"{k} {v}" for k, v in answered.items())
                     + (f" {EMULATED}" if record.get("emulated") else ""))
    lines += ["    " + component_line(c) for c in figures.get("components") or [] if isinstance(c, Mapping)]
    lines += ["    " + node_line(n, bool(record.get("emulated"))) for n in figures.get("nodes") or []
              if isinstance(n, Mapping)]
    lines += ["    " + daemon_line(d, bool((components or {}).get(str(d.get("daemon"))))) for d in
              figures.get("daemons") or [] if isinstance(d, Mapping)]
    return lines


def answer_says_emulated(headers: Mapping[str, str], body: Any) -> bool:
    """Whether one HTTP answer of a daemon says it comes from an emulator (header, or the mark in the
    build fields; older emulators wrote `"emulator": true` and a `-emulator` version)."""
    if str({k.lower(): v for k, v in headers.items()}.get(EMULATOR_HEADER, "")).lower() == "true":
        return True
    if not isinstance(body, Mapping):
        return False
    if EMULATOR_MARK in (body.get("build_user"), body.get("git_branch"), body.get("buildref")):
        return True
    return body.get("emulator") is True or str(body.get("version") or "").endswith("-emulator")


def daemon_emulated(answers: Iterable[tuple[Mapping[str, str], Any] | None]) -> bool:
    """A daemon counts as real only when every host answered and none said "emulator": one that says so,
    or one that did not answer (None), cannot prove it is real."""
    answers = list(answers)
    return not answers or any(a is None or answer_says_emulated(*a) for a in answers)


def match_daemon(cmdline: str) -> str | None:
    """The control-plane daemon (catalog.Stack.daemons) a process's command line runs, if any."""
    return next((daemon.name for daemon in catalog.daemons() if daemon.matches(cmdline)), None)


def daemon_costs(host: str, sample: Mapping[str, Any], daemons: Iterable[str]) -> list[dict[str, Any]]:
    """A proc_sample.py document -> [{host, daemon, cpu_percent, rss_bytes}] for `daemons` (summed per daemon).

    CPU percent is of one core over the sampling interval (100 = one core busy).
    """
    wanted = set(daemons)
    ticks = float(sample.get("clk_tck") or 100)
    interval = float(sample.get("interval") or 1)
    found: dict[str, dict[str, Any]] = {}
    for proc in sample.get("processes") or []:
        name = match_daemon(proc.get("cmdline") or "")
        if name is None or name not in wanted:
            continue
        entry = found.setdefault(name, {"host": host, "daemon": name, "cpu_percent": 0.0, "rss_bytes": 0,
                                        "processes": 0})
        delta = max(0, int(proc.get("ticks_after") or 0) - int(proc.get("ticks_before") or 0))
        entry["cpu_percent"] = round(entry["cpu_percent"] + 100.0 * delta / ticks / interval, 2)
        entry["rss_bytes"] += int(proc.get("rss_kb") or 0) * 1024
        entry["processes"] += 1
    return sorted(found.values(), key=lambda e: e["daemon"])


def standup_figures(first: Mapping[str, Any], second: Mapping[str, Any] | None, reused: bool) -> dict[str, Any]:
    """Playbook runs -> the standup figures: a reused stack has one (warm) run, a new one a cold and a warm."""
    if reused or second is None:
        return {"cold_s": None, "reused": True, "warm_s": first.get("seconds"), "warm_changed": first.get("changed")}
    return {"cold_s": first.get("seconds"), "reused": False, "cold_changed": first.get("changed"),
            "warm_s": second.get("seconds"), "warm_changed": second.get("changed")}


def stack_status(steps: Iterable[Mapping[str, Any]]) -> str:
    return "partial" if any(s.get("status") == "failed" for s in steps) else "evaluated"
