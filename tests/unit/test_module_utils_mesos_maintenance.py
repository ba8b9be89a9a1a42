"""Mesos maintenance and the Marathon evacuation: requests built, answers read, steps taken only when needed."""

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils import mesos_maintenance as mm

AGENT1 = mm.machine_id("agent1", "10.0.0.11")
AGENT2 = mm.machine_id("agent2", "10.0.0.12")


def v1_agent(hostname, ip, agent_id, deactivated=False, drain=None):
    doc = {"agent_info": {"id": {"value": agent_id}, "hostname": hostname}, "pid": f"slave(1)@{ip}:5051",
           "deactivated": deactivated}
    if drain:
        doc["drain_info"] = {"state": drain}
    return doc


class FakeMaster:
    """The leading master's maintenance endpoints, the way Mesos answers them."""

    def __init__(self, agents):
        self.agents = agents
        self.schedule = {}
        self.down = []
        self.calls = []

    def __call__(self, method, url, body=None):
        path = url.split("5050", 1)[1]
        self.calls.append((method, path, body))
        if path == "/maintenance/schedule":
            if method == "GET":
                return 200, self.schedule
            self.schedule = body
            return 200, None
        if path == "/maintenance/status":
            return 200, {"down_machines": self.down} if self.down else {}
        if path == "/machine/down":
            self.down += body
            return 200, None
        if path == "/machine/up":
            self.down = [m for m in self.down if m not in body]
            self.schedule = mm.without_machine(self.schedule, body[0])
            return 200, None
        if body["type"] == "GET_AGENTS":
            return 200, {"type": "GET_AGENTS", "get_agents": {"agents": self.agents}}
        if body["type"] == "DRAIN_AGENT":
            agent = next(a for a in self.agents if a["agent_info"]["id"]["value"] == body["drain_agent"]["agent_id"][
                "value"])
            agent.update(deactivated=True, drain_info={"state": "DRAINED"})
            if body["drain_agent"]["mark_gone"]:
                self.agents.remove(agent)
            return 200, None
        if body["type"] == "MARK_AGENT_GONE":
            self.agents = [a for a in self.agents
                           if a["agent_info"]["id"]["value"] != body["mark_agent_gone"]["agent_id"]["value"]]
            return 200, None
        if body["type"] == "REACTIVATE_AGENT":
            for agent in self.agents:
                agent.update(deactivated=False)
                agent.pop("drain_info", None)
            return 200, None
        return 400, f"unexpected {body}"

    def posted(self):
        return [(m, p, b.get("type") if isinstance(b, dict) and "type" in b else None) for m, p, b in self.calls
                if m == "POST" and not (isinstance(b, dict) and b.get("type") == "GET_AGENTS")]


def job(master):
    return mm.Maintenance("10.0.0.1:5050", AGENT1, call=master, sleep=lambda s: None)


def test_a_window_is_added_beside_the_others_and_taken_out_alone():
    other = mm.with_window({}, AGENT2, 5, 60)
    both = mm.with_window(other, AGENT1, 7, 3600)
    assert [w["machine_ids"] for w in both["windows"]] == [[AGENT2], [AGENT1]]
    assert both["windows"][1]["unavailability"] == {"start": {"nanoseconds": 7},
                                                   "duration": {"nanoseconds": 3600 * mm.NS}}
    assert mm.without_machine(both, AGENT1) == other
    assert mm.scheduled(both, AGENT1) and not mm.scheduled(other, AGENT1)


def test_machines_match_on_hostname_and_ip_together():
    assert mm.same_machine(AGENT1, {"hostname": "agent1"})
    assert not mm.same_machine(AGENT1, {"hostname": "agent1", "ip": "10.0.0.99"})
    assert not mm.same_machine({}, {})


def test_the_agent_is_found_by_its_pid_address_and_hostname():
    agents = [v1_agent("agent2", "10.0.0.12", "S2"), v1_agent("agent1", "10.0.0.11", "S1", True, "DRAINING")]
    assert mm.find_agent(agents, AGENT1) == {"id": "S1", "hostname": "agent1", "deactivated": True,
                                             "drain_state": "DRAINING"}
    assert mm.find_agent(agents, mm.machine_id("agent3", "10.0.0.13")) is None


def test_down_schedules_drains_then_marks_the_machine_down_and_a_rerun_changes_nothing():
    master = FakeMaster([v1_agent("agent1", "10.0.0.11", "S1"), v1_agent("agent2", "10.0.0.12", "S2")])
    first = job(master)
    first.require_agent(1)
    first.ensure_scheduled(3600, check=False)
    first.ensure_drained(False, None, 10, check=False)
    first.ensure_down(check=False)
    assert first.actions == ["scheduled", "drain", "machine down"]
    assert master.posted() == [("POST", "/maintenance/schedule", None), ("POST", "/api/v1", "DRAIN_AGENT"),
                               ("POST", "/machine/down", None)]
    master.calls.clear()
    again = job(master)
    again.ensure_scheduled(3600, check=False)
    again.ensure_drained(False, None, 10, check=False)
    again.ensure_down(check=False)
    assert again.actions == [] and master.posted() == []


def test_up_brings_the_machine_back_unscheduled_and_reactivated():
    master = FakeMaster([v1_agent("agent1", "10.0.0.11", "S1", True, "DRAINED")])
    master.schedule = mm.with_window({}, AGENT1, 1, 60)
    master.down = [AGENT1]
    back = job(master)
    back.ensure_up(check=False)
    assert back.actions == ["machine up", "reactivated"]
    assert master.schedule == {"windows": []} and master.agents[0]["deactivated"] is False


def test_check_mode_reports_the_steps_and_posts_nothing():
    master = FakeMaster([v1_agent("agent1", "10.0.0.11", "S1"), v1_agent("agent2", "10.0.0.12", "S2")])
    dry = job(master)
    dry.ensure_scheduled(3600, check=True)
    dry.ensure_drained(True, 5, 10, check=True)
    assert dry.actions == ["scheduled", "drain (mark gone)"] and master.posted() == []


def test_gone_marks_the_agent_gone_and_waits_for_it_to_leave():
    master = FakeMaster([v1_agent("agent1", "10.0.0.11", "S1", True, "DRAINED"), v1_agent("agent2", "10.0.0.12", "S2")])
    gone = job(master)
    gone.ensure_gone(10, check=False)
    assert gone.actions == ["marked gone"] and [a["agent_info"]["hostname"] for a in master.agents] == ["agent2"]
    again = job(master)
    again.ensure_gone(10, check=False)
    assert again.actions == []


def test_a_drain_with_mark_gone_waits_for_the_agent_to_leave():
    master = FakeMaster([v1_agent("agent1", "10.0.0.11", "S1"), v1_agent("agent2", "10.0.0.12", "S2")])
    gone = job(master)
    gone.ensure_drained(True, 30, 10, check=False)
    drain = next(b for m, p, b in master.calls if b and b.get("type") == "DRAIN_AGENT")
    assert drain["drain_agent"] == {"agent_id": {"value": "S1"}, "mark_gone": True,
                                    "max_grace_period": {"nanoseconds": 30 * mm.NS}}
    assert [a["agent_info"]["hostname"] for a in master.agents] == ["agent2"]


def test_an_agent_not_in_the_cluster_is_refused_with_the_registered_ones():
    master = FakeMaster([v1_agent("agent2", "10.0.0.12", "S2")])
    with pytest.raises(mm.MaintenanceError, match=r"no agent of the cluster runs on agent1 \(10.0.0.11\); "
                                                  r"registered agents: agent2"):
        job(master).require_agent(1)
    assert master.posted() == []


def test_draining_the_last_active_agent_is_refused():
    master = FakeMaster([v1_agent("agent1", "10.0.0.11", "S1"), v1_agent("agent2", "10.0.0.12", "S2", True)])
    with pytest.raises(mm.MaintenanceError, match="0 other active agent"):
        job(master).require_agent(1)
    job(master).require_agent(0)


def test_a_drain_that_never_finishes_times_out_naming_the_machine(monkeypatch):
    master = FakeMaster([v1_agent("agent1", "10.0.0.11", "S1", True, "DRAINING")])
    clock = iter(range(0, 1000, 50))
    monkeypatch.setattr(mm.time, "monotonic", lambda: next(clock))
    with pytest.raises(mm.MaintenanceError, match="timed out after 100 s waiting for the agent to be drained"):
        job(master).ensure_drained(False, None, 100, check=False)


class FakeMarathon:
    """/v2/tasks, /v2/apps/{id}/restart and /v2/deployments: a restart moves the app's tasks to agent2 after
    one poll, as Marathon does once the machine is in the schedule."""

    def __init__(self):
        self.tasks = [{"appId": "/web", "host": "agent1", "id": "web.1"}, {"appId": "/web", "host": "agent2",
                                                                          "id": "web.2"},
                      {"appId": "/db", "host": "agent2", "id": "db.1"}]
        self.deployments = []
        self.restarted = []

    def __call__(self, method, url, body=None):
        path = url.split("8080", 1)[1]
        if path == "/v2/tasks":
            return 200, {"tasks": self.tasks}
        if path.endswith("/restart"):
            app = "/" + path.split("/v2/apps/", 1)[1].rsplit("/restart", 1)[0]
            self.restarted.append(app)
            self.deployments.append({"id": "d1"})
            return 200, {"deploymentId": "d1", "version": "v2"}
        if path == "/v2/deployments":
            running, self.deployments = self.deployments, []
            if not running:
                self.tasks = [{**t, "host": "agent2"} for t in self.tasks]
            return 200, running
        return 404, {"message": path}


def test_marathon_apps_with_a_task_on_the_host_are_restarted_until_none_is_left_there():
    marathon = FakeMarathon()
    assert mm.evacuate_marathon("10.0.0.1:8080", "agent1", "10.0.0.11", 30, call=marathon,
                                sleep=lambda s: None) == ["/web"]
    assert marathon.restarted == ["/web"] and {t["host"] for t in marathon.tasks} == {"agent2"}
    assert mm.evacuate_marathon("10.0.0.1:8080", "agent1", "", 30, call=marathon) == []


def test_marathon_evacuation_in_check_mode_names_the_apps_only():
    marathon = FakeMarathon()
    assert mm.evacuate_marathon("10.0.0.1:8080", "10.0.0.12", "", 30, check=True, call=marathon) == []
    assert mm.evacuate_marathon("10.0.0.1:8080", "agent2", "", 30, check=True, call=marathon) == ["/db", "/web"]
    assert marathon.restarted == []
