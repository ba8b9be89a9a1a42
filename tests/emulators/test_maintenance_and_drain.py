"""Maintenance and draining as Mesos 1.11 / Marathon 1.10 do them (issue #15), against a real ZooKeeper.

Marathon is driven through the PyPI `marathon` client; the operator calls (v1 DRAIN_AGENT, ...,
/maintenance/*, /machine/*) are plain HTTP, in the shapes of `docs/operator-http-api.md` and
`docs/maintenance.md` (no third-party client covers them).
"""

from __future__ import annotations

import json
import tarfile
import threading
import time

import pytest
import requests
from conftest import free_port, get_json, wait_for

marathon = pytest.importorskip("marathon")

from marathon import MarathonClient  # noqa: E402
from marathon.exceptions import MarathonError  # noqa: E402
from marathon.models import MarathonApp  # noqa: E402

NS = 1_000_000_000


class Cluster:
    """One master; agents on distinct machines (hostname agent-<name>, IP 127.0.0.1); optionally Marathon."""

    def __init__(self, daemons, zookeeper: str, tmp_path, path: str) -> None:
        self.daemons, self.zookeeper, self.tmp_path, self.path = daemons, zookeeper, tmp_path, path
        self.master = free_port()
        self.base = f"http://127.0.0.1:{self.master}"
        self.agents: dict[str, dict] = {}
        daemons.start("mesos-master", [f"--zk=zk://{zookeeper}/{path}", "--quorum=1", f"--work_dir={tmp_path}/m",
                                       "--ip=127.0.0.1", f"--port={self.master}", "--hostname=127.0.0.1"])

    def start_agent(self, name: str, index: int) -> None:
        port = self.agents.get(name, {}).get("port") or free_port()
        proc = self.daemons.start(
            "mesos-agent", ["--ip=127.0.0.1", f"--port={port}", f"--hostname=agent-{name}"],
            env={"MESOS_MASTER": f"zk://{self.zookeeper}/{self.path}", "MESOS_WORK_DIR": f"{self.tmp_path}/{name}",
                 "MESOS_RESOURCES": f"cpus:2;mem:1024;disk:2048;ports:[{31000 + 100 * index}-{31099 + 100 * index}]"})
        self.agents[name] = {"port": port, "proc": proc, "machine": {"hostname": f"agent-{name}", "ip": "127.0.0.1"}}

    def call(self, kind: str, expect: int = 200, **body: object) -> dict:
        answer = requests.post(f"{self.base}/api/v1", json={"type": kind, **body}, timeout=10)
        assert answer.status_code == expect, (kind, answer.status_code, answer.text)
        return answer.json() if answer.content and expect == 200 else {}

    def slaves(self) -> dict[str, dict]:
        return {s["hostname"]: s for s in get_json(f"{self.base}/master/slaves")["slaves"]}

    def v1_agents(self) -> dict[str, dict]:
        return {a["agent_info"]["hostname"]: a for a in self.call("GET_AGENTS")["get_agents"]["agents"]}

    def agent_id(self, name: str) -> dict:
        return {"value": self.slaves()[f"agent-{name}"]["id"]}

    def start_marathon(self) -> MarathonClient:
        port = free_port()
        self.daemons.start("marathon", ["--master", f"zk://{self.zookeeper}/{self.path}", "--http_port", str(port),
                                        "--hostname", "127.0.0.1"],
                           env={"MARATHON_ZK": f"zk://{self.zookeeper}/{self.path}-marathon"})
        client = MarathonClient(f"http://127.0.0.1:{port}", timeout=10)
        wait_for(lambda: quietly(client.get_leader), 60, what="marathon leader")
        return client


def quietly(call):  # noqa: ANN001, ANN201
    try:
        return call()
    except MarathonError:
        return None


def hosts(client: MarathonClient, app_id: str, running: int) -> list[str] | None:
    """The hosts of the app's tasks once `running` run and no deployment is left (for wait_for)."""
    app = quietly(lambda: client.get_app(app_id, embed_tasks=True))
    if app is None or app.deployments or app.tasks_running != running:
        return None
    return sorted(t.host for t in app.tasks)


def test_drain_kills_marathon_relaunches_elsewhere_and_restart_moves_tasks_out_of_a_window(
        zookeeper, daemons, tmp_path):
    cluster = Cluster(daemons, zookeeper, tmp_path, "mesos-drain")
    cluster.start_agent("a", 0)
    cluster.start_agent("b", 1)
    wait_for(lambda: len(cluster.slaves()) == 2, what="two agents")
    client = cluster.start_marathon()

    # DEACTIVATE_AGENT: no offers from b, so both instances land on a
    cluster.call("DEACTIVATE_AGENT", deactivate_agent={"agent_id": cluster.agent_id("b")})
    slave_b = cluster.slaves()["agent-b"]
    assert (slave_b["active"], slave_b["deactivated"], "drain_info" in slave_b) == (False, True, False)
    # tasks that ignore SIGTERM: only the drain's max_grace_period (then SIGKILL) ends them
    client.create_app("/drain/web", MarathonApp(cmd="trap '' TERM; sleep 600", cpus=0.1, mem=16, instances=2))
    wait_for(lambda: hosts(client, "/drain/web", 2) == ["agent-a", "agent-a"], 60, what="2 tasks")
    # the master refuses a launch on a deactivated agent (what Mesos' missing offers amount to)
    framework = get_json(f"{cluster.base}/master/frameworks")["frameworks"][0]["id"]
    refused = requests.post(f"{cluster.base}/master/emulator/launch", timeout=5, json={
        "framework_id": framework, "task": {"task_id": "x", "name": "x", "agent_id": slave_b["id"],
                                            "resources": {"cpus": 0.1}}})
    assert refused.status_code == 409 and "deactivated" in refused.text
    cluster.call("REACTIVATE_AGENT", reactivate_agent={"agent_id": cluster.agent_id("b")})
    cluster.call("REACTIVATE_AGENT", 400, reactivate_agent={"agent_id": cluster.agent_id("b")})  # not deactivated

    # DRAIN_AGENT a: its two tasks are killed, Marathon relaunches them on b, a becomes DRAINED
    began = time.monotonic()
    cluster.call("DRAIN_AGENT", drain_agent={"agent_id": cluster.agent_id("a"),
                                             "max_grace_period": {"nanoseconds": 1 * NS}})
    draining = cluster.v1_agents()["agent-a"]
    assert draining["deactivated"] is True and draining["drain_info"]["state"] == "DRAINING"
    assert draining["estimated_drain_start_time"]["nanoseconds"] > 0
    slave_a = cluster.slaves()["agent-a"]
    assert (slave_a["active"], slave_a["deactivated"], slave_a["drain_info"]["state"]) == (False, True, "DRAINING")
    assert draining["drain_info"]["config"] == {"mark_gone": False, "max_grace_period": {"nanoseconds": 1 * NS}}
    wait_for(lambda: cluster.v1_agents()["agent-a"]["drain_info"]["state"] == "DRAINED", 30, 0.1, what="DRAINED")
    drained_after = time.monotonic() - began
    assert 1 <= drained_after < 2.5, drained_after  # SIGKILL after max_grace_period (1 s), not the 3 s default
    wait_for(lambda: hosts(client, "/drain/web", 2) == ["agent-b", "agent-b"], 60, 0.1, what="relaunch")
    replaced_after = time.monotonic() - began
    state_a = get_json(f"http://127.0.0.1:{cluster.agents['a']['port']}/state")
    assert state_a["drain_config"]["mark_gone"] is False
    assert not any(f["executors"] for f in state_a["frameworks"])  # nothing runs on a
    print(f"drain of 2 tasks: DRAINED after {drained_after:.1f}s, both running elsewhere after {replaced_after:.1f}s")
    cluster.call("REACTIVATE_AGENT", reactivate_agent={"agent_id": cluster.agent_id("a")})
    assert "drain_info" not in cluster.slaves()["agent-a"] and cluster.slaves()["agent-a"]["active"] is True
    wait_for(lambda: "drain_config" not in get_json(f"http://127.0.0.1:{cluster.agents['a']['port']}/state"),
             10, what="agent a stops draining")

    # an app spread over both agents (the one with fewer of its instances first)
    client.create_app("/drain/spread", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16, instances=2))
    wait_for(lambda: hosts(client, "/drain/spread", 2) == ["agent-a", "agent-b"], 60, what="spread")

    # a maintenance window on b: a Marathon restart moves the tasks to a, new ones first (without the
    # window, the spread app's second new task would go to b, which has fewer of them)
    schedule = {"windows": [{"machine_ids": [cluster.agents["b"]["machine"]],
                             "unavailability": {"start": {"nanoseconds": int(time.time() * NS)}}}]}
    assert requests.post(f"{cluster.base}/maintenance/schedule", json=schedule, timeout=5).status_code == 200
    status = get_json(f"{cluster.base}/maintenance/status")
    assert status["draining_machines"] == [{"id": cluster.agents["b"]["machine"]}]
    lowest: list[int] = []
    stop = threading.Event()

    def watch() -> None:  # the running count of each app must never drop below 2 during the restarts
        while not stop.is_set():
            apps = quietly(lambda: client.list_apps(app_id="/drain/"))
            if apps:
                lowest.append(min(a.tasks_running for a in apps))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for app_id in ("/drain/web", "/drain/spread"):
        client.restart_app(app_id)
    for app_id in ("/drain/web", "/drain/spread"):
        wait_for(lambda app_id=app_id: hosts(client, app_id, 2) == ["agent-a", "agent-a"], 60, 0.2, what="moved")
    stop.set()
    watcher.join(5)
    assert lowest and min(lowest) >= 2, lowest

    # /machine/down b: its agent is told to shut down (exits 0), removed, and refused until /machine/up
    assert requests.post(f"{cluster.base}/machine/down", json=[cluster.agents["b"]["machine"]],
                         timeout=5).status_code == 200
    assert cluster.agents["b"]["proc"].wait(20) == 0
    assert "agent-b" not in cluster.slaves() and "agent-b" not in cluster.v1_agents()
    cluster.start_agent("b", 1)
    assert cluster.agents["b"]["proc"].wait(20) == 0  # refused: "Machine is `DOWN`"
    assert "agent-b" not in cluster.slaves()
    assert requests.post(f"{cluster.base}/machine/up", json=[cluster.agents["b"]["machine"]],
                         timeout=5).status_code == 200
    assert get_json(f"{cluster.base}/maintenance/schedule") == {}
    cluster.start_agent("b", 1)
    wait_for(lambda: "agent-b" in cluster.slaves(), 20, what="b registers again")

    # a machine going down with tasks: TASK_LOST, Marathon relaunches them on b
    window_a = {"windows": [{"machine_ids": [cluster.agents["a"]["machine"]],
                             "unavailability": {"start": {"nanoseconds": int(time.time() * NS)}}}]}
    cluster.call("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule={"schedule": window_a})
    id_a = cluster.agent_id("a")["value"]
    cluster.call("START_MAINTENANCE", start_maintenance={"machines": [cluster.agents["a"]["machine"]]})
    on_a = [t["state"] for t in get_json(f"{cluster.base}/master/tasks")["tasks"] if t["slave_id"] == id_a]
    assert on_a.count("TASK_LOST") == 4 and "TASK_RUNNING" not in on_a
    for app_id in ("/drain/web", "/drain/spread"):
        wait_for(lambda app_id=app_id: hosts(client, app_id, 2) == ["agent-b", "agent-b"], 60, 0.2, what="relaunch")
    assert cluster.agents["a"]["proc"].wait(20) == 0


def test_v1_maintenance_calls_mark_gone_and_versions_of_a_rolling_upgrade(zookeeper, daemons, tmp_path):
    """The v1 maintenance calls; DRAIN_AGENT with mark_gone; a 1.10.0 agent (an archive) under a 1.11.0 master."""
    from stackbench.artifacts import emulators

    emulators.build(tmp_path / "mirror", log=lambda _msg: None)
    for relpath in (emulators.mesos_relpath("1.10.0"), emulators.marathon_relpath("1.9.109")):
        with tarfile.open(tmp_path / "mirror" / relpath) as tar:
            tar.extractall(tmp_path / "old", filter="data")
    cluster = Cluster(daemons, zookeeper, tmp_path, "mesos-v1maint")
    cluster.start_agent("new", 0)
    old_port = free_port()
    old = daemons.start("mesos-agent", ["--ip=127.0.0.1", f"--port={old_port}", "--hostname=agent-old"],
                        env={"MESOS_MASTER": f"zk://{zookeeper}/mesos-v1maint", "MESOS_WORK_DIR": f"{tmp_path}/old-w",
                             "PYTHONPATH": str(tmp_path / "old" / "mesos-1.10.0" / "lib" / "mesos-emulator")})
    wait_for(lambda: len(cluster.slaves()) == 2, what="two agents")
    assert {h: s["version"] for h, s in cluster.slaves().items()} == {"agent-new": "1.11.0", "agent-old": "1.10.0"}
    assert cluster.v1_agents()["agent-old"]["version"] == "1.10.0"
    assert get_json(f"http://127.0.0.1:{old_port}/version")["version"] == "1.10.0"
    assert get_json(f"http://127.0.0.1:{old_port}/state")["version"] == "1.10.0"
    assert cluster.call("GET_VERSION")["get_version"]["version_info"]["version"] == "1.11.0"
    marathon_port = free_port()
    daemons.start("marathon", ["--master", f"zk://{zookeeper}/mesos-v1maint", "--http_port", str(marathon_port),
                               "--hostname", "127.0.0.1"],
                  env={"MARATHON_ZK": f"zk://{zookeeper}/marathon-v1maint",
                       "PYTHONPATH": str(tmp_path / "old" / "marathon-1.9.109" / "lib" / "mesos-emulator")})
    client = MarathonClient(f"http://127.0.0.1:{marathon_port}", timeout=10)
    wait_for(lambda: quietly(client.get_leader), 60, what="marathon leader")
    assert client.get_info().version == "1.9.109"
    assert get_json(f"http://127.0.0.1:{marathon_port}/version")["version"] == "1.9.109"

    machine = cluster.agents["new"]["machine"]
    schedule = {"windows": [{"machine_ids": [machine],
                             "unavailability": {"start": {"nanoseconds": int(time.time() * NS)},
                                                "duration": {"nanoseconds": 3600 * NS}}}]}
    twice = {"windows": [schedule["windows"][0], schedule["windows"][0]]}
    cluster.call("UPDATE_MAINTENANCE_SCHEDULE", 400, update_maintenance_schedule={"schedule": twice})
    cluster.call("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule={"schedule": schedule})
    assert cluster.call("GET_MAINTENANCE_SCHEDULE")["get_maintenance_schedule"]["schedule"] == schedule
    assert get_json(f"{cluster.base}/maintenance/schedule") == schedule  # the same state as the endpoint
    status = cluster.call("GET_MAINTENANCE_STATUS")["get_maintenance_status"]["status"]
    assert status == {"draining_machines": [{"id": machine}]}
    cluster.call("STOP_MAINTENANCE", 400, stop_maintenance={"machines": [machine]})  # not down
    cluster.call("START_MAINTENANCE", 400, start_maintenance={"machines": [{"hostname": "elsewhere"}]})
    cluster.call("START_MAINTENANCE", start_maintenance={"machines": [machine]})
    assert cluster.call("GET_MAINTENANCE_STATUS")["get_maintenance_status"]["status"] == {"down_machines": [machine]}
    assert cluster.agents["new"]["proc"].wait(20) == 0 and "agent-new" not in cluster.v1_agents()
    cluster.call("UPDATE_MAINTENANCE_SCHEDULE", 400, update_maintenance_schedule={"schedule": {"windows": []}})
    cluster.call("STOP_MAINTENANCE", stop_maintenance={"machines": [machine]})
    assert cluster.call("GET_MAINTENANCE_STATUS")["get_maintenance_status"]["status"] == {}

    # DRAIN_AGENT with mark_gone on an idle agent: DRAINED at once, then gone (it leaves GET_AGENTS and
    # shuts down); restarted on the same work_dir it registers as a new agent (the old id is forgotten)
    gone_id = cluster.agent_id("old")
    cluster.call("DRAIN_AGENT", drain_agent={"agent_id": gone_id, "mark_gone": True})
    assert old.wait(20) == 0
    assert "agent-old" not in cluster.v1_agents() and "agent-old" not in cluster.slaves()
    cluster.call("DRAIN_AGENT", 400, drain_agent={"agent_id": gone_id})
    cluster.call("DRAIN_AGENT", 404, drain_agent={"agent_id": {"value": "no-such-agent"}})
    again = daemons.start("mesos-agent", ["--ip=127.0.0.1", f"--port={old_port}", "--hostname=agent-old"],
                          env={"MESOS_MASTER": f"zk://{zookeeper}/mesos-v1maint",
                               "MESOS_WORK_DIR": f"{tmp_path}/old-w"})
    wait_for(lambda: "agent-old" in cluster.slaves(), 20, what="a new agent on the old machine")
    assert cluster.slaves()["agent-old"]["id"] != gone_id["value"] and again.poll() is None
    cluster.call("MARK_AGENT_GONE", mark_agent_gone={"agent_id": cluster.agent_id("old")})
    assert again.wait(20) == 0
    print(json.dumps({"gone": gone_id}))
