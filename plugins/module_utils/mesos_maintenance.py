"""Mesos maintenance, as the master's API does it (maintenance primitives and agent draining, Mesos 1.9+):
a machine in the maintenance schedule, its agent drained (DRAIN_AGENT), the machine down and up again;
and Marathon's tasks moved off a machine first (an app restart, which places the new tasks elsewhere
while the machine is scheduled, healthy before the old ones go).

Pure functions build the requests and read the answers; `Maintenance` and `evacuate_marathon` make
the calls (standard library only) for the mesos_maintenance and marathon_evacuate modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.json_http import http_json
from ansible_collections.stackbench.cluster.plugins.module_utils.mesos import metrics_snapshot, summarize_masters

NS = 1_000_000_000
Call = Callable[..., tuple[int, Any]]


class MaintenanceError(Exception):
    """A refusal or a wait that ran out, with what the cluster said."""


def machine_id(hostname: str, ip: str) -> dict[str, str]:
    """A MachineID as the schedule and /machine/{down,up} take it."""
    return {"hostname": hostname, "ip": ip}


def same_machine(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Mesos matches a machine by hostname and ip together, when both are given."""
    return all(a.get(k) == b.get(k) for k in ("hostname", "ip") if a.get(k) and b.get(k)) and bool(
        (a.get("hostname") and b.get("hostname")) or (a.get("ip") and b.get("ip")))


def scheduled(schedule: Mapping[str, Any], machine: Mapping[str, str]) -> bool:
    return any(same_machine(m, machine) for w in schedule.get("windows") or [] for m in w.get("machine_ids") or [])


def with_window(schedule: Mapping[str, Any], machine: Mapping[str, str], start_ns: int, duration_s: float) -> dict:
    """The schedule plus a window for `machine` from now for `duration_s` (the whole schedule is posted at once,
    so the other windows are kept as they are)."""
    windows = [dict(w) for w in schedule.get("windows") or []]
    windows.append({"machine_ids": [dict(machine)],
                    "unavailability": {"start": {"nanoseconds": start_ns},
                                       "duration": {"nanoseconds": int(duration_s * NS)}}})
    return {"windows": windows}


def without_machine(schedule: Mapping[str, Any], machine: Mapping[str, str]) -> dict:
    """The schedule with `machine` taken out of every window (windows left empty go)."""
    windows = []
    for window in schedule.get("windows") or []:
        ids = [m for m in window.get("machine_ids") or [] if not same_machine(m, machine)]
        if ids:
            windows.append({**window, "machine_ids": ids})
    return {"windows": windows}


def is_down(status: Mapping[str, Any], machine: Mapping[str, str]) -> bool:
    """`/maintenance/status` lists the machine under down_machines."""
    return any(same_machine(m, machine) for m in status.get("down_machines") or [])


def find_agent(agents: Iterable[Mapping[str, Any]], machine: Mapping[str, str]) -> dict[str, Any] | None:
    """The agent of v1 GET_AGENTS that runs on `machine`: {"id", "hostname", "deactivated", "drain_state"}."""
    for agent in agents:
        info = agent.get("agent_info") or {}
        pid = str(agent.get("pid") or "")
        ip = pid.split("@", 1)[1].rsplit(":", 1)[0] if "@" in pid else None
        if same_machine({"hostname": info.get("hostname"), "ip": ip}, machine):
            return {"id": (info.get("id") or {}).get("value"), "hostname": info.get("hostname"),
                    "deactivated": bool(agent.get("deactivated")),
                    "drain_state": (agent.get("drain_info") or {}).get("state")}
    return None


def drain_call(agent_id: str, mark_gone: bool, grace_s: float | None) -> dict[str, Any]:
    body: dict[str, Any] = {"agent_id": {"value": agent_id}, "mark_gone": mark_gone}
    if grace_s is not None:
        body["max_grace_period"] = {"nanoseconds": int(grace_s * NS)}
    return {"type": "DRAIN_AGENT", "drain_agent": body}


def leading_master(masters: Iterable[str], timeout: float) -> str:
    """The address (host:port) of the elected master that has recovered its registry."""
    masters = list(masters)
    view = summarize_masters({m: metrics_snapshot(m, timeout) for m in masters})
    if not view["leader"] or not view["recovered"]:
        raise MaintenanceError(f"no elected, recovered Mesos master among {', '.join(masters)}")
    return str(view["leader"])


class Maintenance:
    """Calls to the leading master for one machine. `call(method, url, body)` is http_json-like."""

    def __init__(self, leader: str, machine: Mapping[str, str], timeout: float = 5.0,
                 call: Call | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base = f"http://{leader}"
        self.machine = dict(machine)
        self.timeout = timeout
        self._call = call or (lambda method, url, body=None: http_json(url, timeout, method, body))
        self.sleep = sleep
        self.actions: list[str] = []

    def _request(self, method: str, path: str, body: Any = None, ok: Iterable[int] = (200, 202)) -> Any:
        status, answer = self._call(method, self.base + path, body)
        if status not in tuple(ok):
            raise MaintenanceError(f"{method} {path}: {status} {answer}")
        return answer

    def schedule(self) -> dict[str, Any]:
        return self._request("GET", "/maintenance/schedule") or {}

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/maintenance/status") or {}

    def agent(self) -> dict[str, Any] | None:
        answer = self._request("POST", "/api/v1", {"type": "GET_AGENTS"}) or {}
        return find_agent((answer.get("get_agents") or {}).get("agents") or [], self.machine)

    def require_agent(self, min_others: int) -> None:
        """Refuse, before any change, a machine with no agent in the cluster (unless it is already down), and
        a drain that would leave fewer than `min_others` other active agents."""
        answer = self._request("POST", "/api/v1", {"type": "GET_AGENTS"}) or {}
        agents = (answer.get("get_agents") or {}).get("agents") or []
        mine = find_agent(agents, self.machine)
        if mine is None:
            if is_down(self.status(), self.machine):
                return
            names = sorted(str((a.get("agent_info") or {}).get("hostname")) for a in agents)
            raise MaintenanceError(f"no agent of the cluster runs on {self.machine['hostname']} "
                                   f"({self.machine['ip']}); registered agents: {', '.join(names) or 'none'}")
        others = [a for a in agents if (a.get("agent_info") or {}).get("id", {}).get("value") != mine["id"]
                  and not a.get("deactivated")]
        if len(others) < min_others:
            raise MaintenanceError(f"refusing to drain {self.machine['hostname']}: {len(others)} other active "
                                   f"agent(s) would be left, at least {min_others} needed for its tasks")

    def ensure_scheduled(self, duration_s: float, check: bool) -> None:
        current = self.schedule()
        if scheduled(current, self.machine) or is_down(self.status(), self.machine):
            return
        self.actions.append("scheduled")
        if not check:
            self._request("POST", "/maintenance/schedule", with_window(current, self.machine, time.time_ns(),
                                                                        duration_s))

    def ensure_drained(self, mark_gone: bool, grace_s: float | None, wait_s: float, check: bool) -> None:
        agent = self.agent()
        if agent is None:
            if mark_gone or is_down(self.status(), self.machine):
                return  # already gone, or its machine is down
            raise MaintenanceError(f"no agent of the cluster runs on {self.machine}")
        if agent["drain_state"] != "DRAINED":
            if agent["drain_state"] is None:
                self.actions.append("drain" + (" (mark gone)" if mark_gone else ""))
                if check:
                    return
                self._request("POST", "/api/v1", drain_call(str(agent["id"]), mark_gone, grace_s))
            self._wait(lambda: (a := self.agent()) is None or a["drain_state"] == "DRAINED", wait_s,
                       "the agent to be drained")
        if mark_gone and not check:
            self._wait(lambda: self.agent() is None, wait_s, "the drained agent to be marked gone")

    def ensure_gone(self, wait_s: float, check: bool) -> None:
        """MARK_AGENT_GONE: the master drops the agent for good (its tasks are gone, its id refused). Drain it and
        stop its process first, or a restarted agent registers again as a new one."""
        agent = self.agent()
        if agent is None:
            return
        self.actions.append("marked gone")
        if check:
            return
        self._request("POST", "/api/v1", {"type": "MARK_AGENT_GONE",
                                          "mark_agent_gone": {"agent_id": {"value": agent["id"]}}})
        self._wait(lambda: self.agent() is None, wait_s, "the agent to be marked gone")

    def ensure_down(self, check: bool) -> None:
        if is_down(self.status(), self.machine):
            return
        self.actions.append("machine down")
        if not check:
            self._request("POST", "/machine/down", [self.machine])

    def ensure_up(self, check: bool) -> None:
        if is_down(self.status(), self.machine):
            self.actions.append("machine up")
            if not check:
                self._request("POST", "/machine/up", [self.machine])  # also takes it out of the schedule
        current = self.schedule()
        if scheduled(current, self.machine):
            self.actions.append("unscheduled")
            if not check:
                self._request("POST", "/maintenance/schedule", without_machine(current, self.machine))
        agent = self.agent()
        if agent is not None and (agent["deactivated"] or agent["drain_state"]):
            self.actions.append("reactivated")
            if not check:
                self._request("POST", "/api/v1", {"type": "REACTIVATE_AGENT",
                                                  "reactivate_agent": {"agent_id": {"value": agent["id"]}}})

    def _wait(self, done: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() > deadline:
                raise MaintenanceError(f"timed out after {seconds:.0f} s waiting for {what} on {self.machine}")
            self.sleep(1.0)


# ----- Marathon --------------------------------------------------------------------------------


def apps_on_host(tasks: Iterable[Mapping[str, Any]], host: str, address: str = "") -> list[str]:
    """App ids with a task on the host (Marathon's `/v2/tasks`; `host` is the agent's hostname)."""
    return sorted({str(t["appId"]) for t in tasks if t.get("host") in {host, address} - {""} and t.get("appId")})


def evacuate_marathon(marathon: str, host: str, address: str, wait_s: float, check: bool = False,
                      call: Call | None = None, sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Restart every Marathon app with a task on the host and wait until none is left there and the
    deployments are done. The machine must be in the maintenance schedule first, so that Marathon
    places the new tasks elsewhere. Returns the apps restarted."""
    request = call or (lambda method, url, body=None: http_json(url, 10.0, method, body))

    def tasks() -> list[dict]:
        status, body = request("GET", f"http://{marathon}/v2/tasks")
        if status != 200 or not isinstance(body, dict):
            raise MaintenanceError(f"GET /v2/tasks on {marathon}: {status} {body}")
        return body.get("tasks") or []

    apps = apps_on_host(tasks(), host, address)
    if check or not apps:
        return apps
    deployments = set()
    for app in apps:
        status, body = request("POST", f"http://{marathon}/v2/apps/{app.lstrip('/')}/restart", {})
        if status not in (200, 201) or not isinstance(body, dict):
            raise MaintenanceError(f"restarting {app} on {marathon}: {status} {body}")
        deployments.add(body.get("deploymentId"))
    deadline = time.monotonic() + wait_s
    while True:
        status, running = request("GET", f"http://{marathon}/v2/deployments")
        ids = {d.get("id") for d in running} if status == 200 and isinstance(running, list) else deployments
        left = apps_on_host(tasks(), host, address)
        if not (ids & deployments) and not left:
            return apps
        if time.monotonic() > deadline:
            raise MaintenanceError(f"timed out after {wait_s:.0f} s moving {', '.join(left or apps)} off {host}")
        sleep(1.0)
