"""Contract tests: third-party client libraries, unchanged, against the running emulators (issue #16).

Every endpoint a client uses goes through that client: the PyPI `marathon` client (MarathonClient,
its models and its SSE event stream) and `avmesos` (a v1 HTTP scheduler library: SUBSCRIBE over a
RecordIO stream, HEARTBEAT, TEARDOWN). Plain HTTP is used only for what no client offers (the
emulator mark, redirects, bad input), against the reference (api-surfaces §1.6, §2.4).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time

import pytest
import requests
from conftest import free_port, get_json, wait_for

marathon = pytest.importorskip("marathon")
avmesos_client = pytest.importorskip("avmesos.client")

from marathon import MarathonClient  # noqa: E402
from marathon.exceptions import ConflictError, MarathonError, MarathonHttpError, NotFoundError  # noqa: E402
from marathon.models import MarathonApp, MarathonGroup  # noqa: E402
from marathon.models.events import MarathonDeploymentSuccess, MarathonStatusUpdateEvent  # noqa: E402


def start_mesos(daemons, zookeeper, tmp_path, path: str, masters: int = 1, agents: int = 1,
                agent_ports: list[int] | None = None) -> list[int]:
    """Start the masters (their ports returned) and agents (their ports appended to `agent_ports`)."""
    ports = []
    for i in range(masters):
        port = free_port()
        daemons.start(
            "mesos-master",
            [f"--zk=zk://{zookeeper}/{path}", f"--quorum={masters // 2 + 1}", f"--work_dir={tmp_path}/m{i}",
             "--ip=127.0.0.1", f"--port={port}", "--hostname=127.0.0.1", "--zk_session_timeout=4secs"],
        )
        ports.append(port)
    for i in range(agents):
        agent_port = free_port()
        (agent_ports if agent_ports is not None else []).append(agent_port)
        daemons.start(
            "mesos-agent",
            ["--ip=127.0.0.1", f"--port={agent_port}", "--hostname=127.0.0.1"],
            env={"MESOS_MASTER": f"zk://{zookeeper}/{path}", "MESOS_WORK_DIR": f"{tmp_path}/a{i}",
                 "MESOS_RESOURCES": f"cpus:2;mem:1024;disk:2048;ports:[{31000 + 100 * i}-{31099 + 100 * i}]"},
        )
    return ports


def quietly(call):  # noqa: ANN001, ANN201
    """`call`'s answer, or None while the daemon is not up yet (for wait_for)."""
    try:
        return call()
    except MarathonError:
        return None


def leading(ports: list[int]) -> int | None:
    elected = [p for p in ports if get_json(f"http://127.0.0.1:{p}/metrics/snapshot")["master/elected"] == 1.0]
    return elected[0] if len(elected) == 1 else None


def test_marathon_client_against_the_emulator(zookeeper, daemons, tmp_path):
    agent_ports: list[int] = []
    (master,) = start_mesos(daemons, zookeeper, tmp_path, "mesos-mc", agent_ports=agent_ports)
    wait_for(lambda: len(get_json(f"http://127.0.0.1:{master}/master/slaves")["slaves"]) == 1, what="agent")
    ports = [free_port(), free_port()]
    for port in ports:
        daemons.start(
            "marathon",
            ["--master", f"zk://{zookeeper}/mesos-mc", "--http_port", str(port), "--hostname", "127.0.0.1"],
            env={"MARATHON_ZK": f"zk://{zookeeper}/marathon-mc"},
        )
    client = MarathonClient([f"http://127.0.0.1:{p}" for p in ports], timeout=10)
    # the client sends each call to any of its servers: both must listen before it is used
    for port in ports:
        wait_for(lambda port=port: quietly(lambda: MarathonClient(f"http://127.0.0.1:{port}").ping()),
                 what=f"marathon on {port}")
    leader = wait_for(lambda: quietly(lambda: client.get_leader()["leader"]), what="marathon leader")

    info = client.get_info()  # MarathonInfo(**json): any key real Marathon lacks raises TypeError
    assert (info.name, info.version, info.elected, info.leader) == ("marathon", "1.10.26", True, leader)
    assert info.http_config.http_port == int(leader.split(":")[1])
    assert info.buildref == "stackbench-emulator"
    raw = requests.get(f"http://127.0.0.1:{ports[0]}/v2/info", timeout=5)
    assert raw.headers["X-Stackbench-Emulator"] == "true"
    assert "emulator" not in raw.json() and "http_port" not in raw.json()["marathon_config"]

    # the event stream, read through the client's own SSE reader in the background
    events: list = []
    standby = next(p for p in ports if f":{p}" not in leader)
    stream_client = MarathonClient(f"http://127.0.0.1:{standby}")  # follows the standby's 307 to the leader

    def listen():
        with contextlib.suppress(requests.RequestException):  # the daemons stop at teardown
            for event in stream_client.event_stream():
                events.append(event)

    threading.Thread(target=listen, daemon=True).start()
    wait_for(lambda: any(e.event_type == "event_stream_attached" for e in events), 10, what="stream attached")

    created = client.create_app("/contract/web", MarathonApp(cmd="sleep 300", cpus=0.1, mem=16, instances=1))
    assert created.id == "/contract/web" and created.deployments
    assert created.port_definitions and created.port_definitions[0].port >= 10000  # service port assigned
    with pytest.raises(ConflictError):
        client.create_app("/contract/web", MarathonApp(cmd="sleep 300", cpus=0.1, mem=16))

    def running(n):
        def check():
            app = client.get_app("/contract/web", embed_tasks=True)
            return app if app.tasks_running == n and not app.deployments else None

        return check

    app = wait_for(running(1), 30, what="1 instance")
    (task,) = app.tasks
    assert task.ports and 31000 <= task.ports[0] < 31100 and task.service_ports == [app.port_definitions[0].port]
    assert any(isinstance(e, MarathonStatusUpdateEvent) and e.task_status == "TASK_RUNNING" for e in events)
    check_agent(agent_ports[0], task.id, task.ports[0])
    (listed,) = [a for a in client.list_apps(embed_tasks=True) if a.id == "/contract/web"]
    assert [t.id for t in listed.tasks] == [task.id]
    assert {t.id for t in client.list_tasks("/contract/web")} == {task.id}

    # scaling: the deployment id the PUT answers is the one /v2/deployments lists, with steps
    answer = client.scale_app("/contract/web", instances=2)
    deployments = client.list_deployments()
    if deployments:  # may already be done
        (deployment,) = deployments
        assert deployment.id == answer["deploymentId"]
        assert deployment.affected_apps == ["/contract/web"] and deployment.total_steps == len(deployment.steps)
    app = wait_for(running(2), 30, what="2 instances")
    assert len({t.ports[0] for t in app.tasks}) == 2
    wait_for(lambda: any(isinstance(e, MarathonDeploymentSuccess) and e.id == answer["deploymentId"]
                         for e in events), 10, what="deployment_success")

    # a deployment that cannot finish (no resources): 409 without force, and DELETE /v2/deployments/{id}
    blocked = client.scale_app("/contract/web", instances=50)
    assert [d.id for d in client.list_deployments()] == [blocked["deploymentId"]]
    assert any(item.app.id == "/contract/web" and item.count > 0 for item in client.list_queue())
    with pytest.raises(ConflictError):
        client.scale_app("/contract/web", instances=3)
    rollback = client.delete_deployment(blocked["deploymentId"])  # without force: rolls back to 2
    assert rollback["deploymentId"] != blocked["deploymentId"]
    wait_for(lambda: client.get_app("/contract/web").instances == 2 and not client.list_deployments(), 30,
             what="rolled back")
    forced = client.scale_app("/contract/web", instances=50)
    assert client.delete_deployment(forced["deploymentId"], force=True) == {}
    assert client.list_deployments() == []
    client.scale_app("/contract/web", instances=2, force=True)
    wait_for(running(2), 30, what="2 again")

    # kill one task: Marathon replaces it
    victim = client.get_app("/contract/web", embed_tasks=True).tasks[0]
    killed = client.kill_task("/contract/web", victim.id)
    assert killed.id == victim.id
    wait_for(lambda: (a := running(2)()) and victim.id not in {t.id for t in a.tasks}, 30, what="replacement")
    with pytest.raises(NotFoundError):
        client.kill_task("/contract/web", "no-such-task")

    # restart replaces every task
    before = {t.id for t in client.get_app("/contract/web", embed_tasks=True).tasks}
    assert client.restart_app("/contract/web")["deploymentId"]
    wait_for(lambda: (a := running(2)()) and not before & {t.id for t in a.tasks}, 30, what="restarted")

    # groups
    root = client.get_group("/")
    assert [g.id for g in root.groups] == ["/contract"]
    assert [g.id for g in client.list_groups()] == ["/contract"]
    assert [a.id for a in client.get_group("/contract").apps] == ["/contract/web"]
    # create_group cannot encode nested apps on Python >= 3.10 (the client's encoder uses
    # collections.Iterable): a client bug, so this one call goes over plain HTTP
    group = MarathonGroup(id="/batch", apps=[MarathonApp(id="job", cmd="sleep 300", cpus=0.1, mem=16, instances=0)])
    with pytest.raises(AttributeError):
        client.create_group(group)
    body = {"id": "/batch", "apps": [{"id": "job", "cmd": "sleep 300", "cpus": 0.1, "mem": 16, "instances": 0}]}
    created_group = requests.post(f"http://127.0.0.1:{ports[0]}/v2/groups", json=body, timeout=5)
    assert created_group.status_code == 201 and created_group.json()["deploymentId"]
    assert [a.id for a in client.get_group("/batch").apps] == ["/batch/job"]
    client.delete_group("/batch")
    with pytest.raises(NotFoundError):
        client.get_group("/batch")

    # bad input: the real status codes and message shapes, never a 500
    with pytest.raises(NotFoundError) as missing:
        client.get_app("/nope")
    assert missing.value.error_message == "App '/nope' does not exist"
    base = f"http://127.0.0.1:{ports[0]}"
    bad_json = requests.post(f"{base}/v2/apps", data="{not json", headers={"Content-Type": "application/json"},
                             timeout=5)
    assert bad_json.status_code == 400 and bad_json.json()["message"] == "Invalid JSON"
    wrong = requests.post(f"{base}/v2/apps", json={"id": "/x", "cmd": "true", "cpus": "many"}, timeout=5)
    assert wrong.status_code == 422
    assert wrong.json()["details"] == [{"path": "/cpus", "errors": ["error.expected.jsnumber"]}]
    with pytest.raises(MarathonHttpError):
        client.create_app("/y", MarathonApp(cmd="true", instances=-1))

    assert client.delete_app("/contract/web")["deploymentId"]
    wait_for(lambda: get_json(f"http://127.0.0.1:{master}/metrics/snapshot")["master/tasks_running"] == 0, 30,
             what="tasks killed")
    wait_for(lambda: any(e.event_type == "app_terminated_event" for e in events), 10, what="app_terminated_event")


def check_agent(port: int, task_id: str, host_port: int) -> None:
    """The agent's usage endpoints and v1 API for a running task, whose host port is a `ports` resource."""
    base = f"http://127.0.0.1:{port}"
    (usage,) = get_json(f"{base}/monitor/statistics")
    assert usage["executor_id"] == task_id and usage["statistics"]["mem_limit_bytes"] == 16 * 1024 * 1024
    assert usage["statistics"]["cpus_limit"] == 0.1 and usage["statistics"]["mem_rss_bytes"] > 0
    (container,) = get_json(f"{base}/containers")
    assert container["executor_id"] == task_id and container["status"]["executor_pid"] > 0
    (executor,) = get_json(f"{base}/state")["frameworks"][0]["executors"]
    assert executor["tasks"][0]["resources"]["ports"] == f"[{host_port}-{host_port}]"
    assert requests.post(f"{base}/api/v1", json={"type": "GET_HEALTH"}, timeout=5).json()["get_health"] == {
        "healthy": True}
    assert requests.post(f"{base}/api/v1", json={"type": "GET_VERSION"}, timeout=5).json()["get_version"][
        "version_info"]["version"] == "1.11.0"
    state = requests.post(f"{base}/api/v1", json={"type": "GET_STATE"}, timeout=5).json()["get_state"]
    (launched,) = state["get_tasks"]["launched_tasks"]
    ports = next(r for r in launched["resources"] if r["name"] == "ports")
    assert launched["task_id"]["value"] == task_id
    assert ports["ranges"]["range"] == [{"begin": host_port, "end": host_port}]


def test_avmesos_scheduler_subscribes_gets_heartbeats_and_tears_down(zookeeper, daemons, tmp_path):
    masters = start_mesos(daemons, zookeeper, tmp_path, "mesos-v1", masters=3, agents=1)
    leader = wait_for(lambda: leading(masters), what="one leader")
    wait_for(lambda: len(get_json(f"http://127.0.0.1:{leader}/master/slaves")["slaves"]) == 1, what="agent")
    follower = next(p for p in masters if p != leader)

    # version and flags as clients parse them (pymesos: integers), the mark in build_user and the header
    version = requests.get(f"http://127.0.0.1:{follower}/version", timeout=5)
    assert tuple(int(x) for x in version.json()["version"].split(".")) == (1, 11, 0)
    assert version.json()["build_user"] == "stackbench-emulator"
    assert version.headers["X-Stackbench-Emulator"] == "true"
    flags = get_json(f"http://127.0.0.1:{leader}/flags")["flags"]
    assert flags["zk_session_timeout"] == "4secs" and flags["hostname_lookup"] == "true"

    # a non-leading master redirects the scheduler API like the real one
    redirect = requests.post(f"http://127.0.0.1:{follower}/api/v1/scheduler", json={"type": "SUBSCRIBE"},
                             allow_redirects=False, timeout=5)
    assert redirect.status_code == 307
    assert redirect.headers["Location"] == f"//127.0.0.1:{leader}/api/v1/scheduler"

    got: dict[str, list] = {"subscribed": [], "heartbeat": []}
    client = avmesos_client.MesosClient(mesos_urls=[f"http://127.0.0.1:{leader}"], frameworkName="contract")

    def on_subscribed(driver):
        got["subscribed"].append(driver)

    client.on(client.SUBSCRIBED, on_subscribed)
    client.on(client.HEARTBEAT, lambda beat: got["heartbeat"].append(beat))
    thread = threading.Thread(target=client.register, daemon=True)
    thread.start()
    driver = wait_for(lambda: got["subscribed"] and got["subscribed"][0], 15, what="SUBSCRIBED")
    wait_for(lambda: got["heartbeat"], 20, what="HEARTBEAT")
    framework_id = driver.frameworkId
    assert client.get_master_info()["port"] == leader

    def frameworks():
        return get_json(f"http://127.0.0.1:{leader}/master/frameworks")["frameworks"]

    (framework,) = [f for f in frameworks() if f["id"] == framework_id]
    assert framework["name"] == "contract" and framework["active"] is True and "pid" not in framework
    operator = requests.post(f"http://127.0.0.1:{leader}/api/v1", json={"type": "GET_FRAMEWORKS"}, timeout=5).json()
    assert [f["framework_info"]["id"]["value"] for f in operator["get_frameworks"]["frameworks"]] == [framework_id]

    # calls without the subscription's stream id are refused like Mesos does; operator calls redirect too
    scheduler = f"http://127.0.0.1:{leader}/api/v1/scheduler"
    wrong = requests.post(scheduler, json={"type": "REVIVE", "framework_id": {"value": framework_id}},
                          headers={"Mesos-Stream-Id": "not-the-stream"}, timeout=5)
    assert wrong.status_code == 400 and "stream ID" in wrong.text
    assert requests.post(scheduler, data="{", timeout=5).status_code == 400
    operator_redirect = requests.post(f"http://127.0.0.1:{follower}/api/v1", json={"type": "GET_HEALTH"},
                                      allow_redirects=False, timeout=5)
    assert (operator_redirect.status_code, operator_redirect.headers["Location"]) == (
        307, f"//127.0.0.1:{leader}/api/v1")

    # offers (test_two_level_scheduling.py) go unanswered here; TEARDOWN ends the subscription
    driver.tearDown()
    wait_for(lambda: not [f for f in frameworks() if f["id"] == framework_id], 10, what="framework removed")
    client.tearDown()
    client.disconnect_framework()
    thread.join(10)
    completed = get_json(f"http://127.0.0.1:{leader}/master/frameworks")["completed_frameworks"]
    assert framework_id in {f["id"] for f in completed}


def test_operator_api_and_maintenance_endpoints(zookeeper, daemons, tmp_path):
    (master,) = start_mesos(daemons, zookeeper, tmp_path, "mesos-op")
    base = f"http://127.0.0.1:{master}"
    wait_for(lambda: len(get_json(f"{base}/master/slaves")["slaves"]) == 1, what="agent")

    def call(kind: str, **body: object) -> dict:
        answer = requests.post(f"{base}/api/v1", json={"type": kind, **body}, timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.content else {}

    # what compare asks to tell real from emulated daemons finds the emulator's own mark
    from stackbench.compare import evaluate, logic

    answer = evaluate.http_answer(f"{base}/version")
    assert answer is not None and logic.answer_says_emulated(*answer)  # an answer, and it says so
    assert logic.answer_says_emulated({}, answer[1])  # the body alone says so too

    assert call("GET_HEALTH") == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
    assert call("GET_VERSION")["get_version"]["version_info"]["version"] == "1.11.0"
    flags = {f["name"]: f["value"] for f in call("GET_FLAGS")["get_flags"]["flags"]}
    assert flags["zk_session_timeout"] == "4secs"
    (agent,) = call("GET_AGENTS")["get_agents"]["agents"]
    cpus = next(r for r in agent["total_resources"] if r["name"] == "cpus")
    assert cpus == {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}}
    bad = requests.post(f"{base}/api/v1", json={"type": "NO_SUCH_CALL"}, timeout=5)
    assert bad.status_code == 400
    assert requests.post(f"{base}/api/v1", data="{", timeout=5, headers={"Content-Type": "application/json"}
                         ).status_code == 400

    agent_id = agent["agent_info"]["id"]["value"]
    call("DRAIN_AGENT", drain_agent={"agent_id": {"value": agent_id}})
    (slave,) = get_json(f"{base}/master/slaves")["slaves"]
    assert slave["deactivated"] is True and slave["drain_info"]["state"] in ("DRAINING", "DRAINED")

    assert get_json(f"{base}/master/roles")["roles"][0]["name"] == "*"
    assert get_json(f"{base}/quota").get("infos", []) == []
    assert get_json(f"{base}/weights") == []
    machine = {"hostname": "127.0.0.1", "ip": "127.0.0.1"}
    schedule = {"windows": [{"machine_ids": [machine],
                             "unavailability": {"start": {"nanoseconds": int(time.time() * 1e9)}}}]}
    assert requests.post(f"{base}/maintenance/schedule", data=json.dumps(schedule), timeout=5).status_code == 200
    assert get_json(f"{base}/maintenance/schedule") == schedule
    status = get_json(f"{base}/maintenance/status")
    assert status["draining_machines"][0]["id"] == machine
    assert requests.post(f"{base}/machine/down", json=[machine], timeout=5).status_code == 200
    assert get_json(f"{base}/maintenance/status")["down_machines"] == [machine]
    assert requests.post(f"{base}/machine/up", json=[machine], timeout=5).status_code == 200
    assert get_json(f"{base}/maintenance/status").get("down_machines", []) == []
    assert requests.post(f"{base}/machine/down", json=[{"hostname": "elsewhere"}], timeout=5).status_code == 400
