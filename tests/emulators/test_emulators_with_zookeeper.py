"""The emulators against a real ZooKeeper, checked with a third-party client (kazoo) and plain
HTTP against the reference (api-surfaces §1.5-1.9, §2.3-2.4)."""

from __future__ import annotations

import json
import signal
import time

from conftest import free_port, get_json, wait_for
from kazoo.client import KazooClient
from mesos_emulator import zk as zkl

MASTERS = 3


def http(method: str, url: str, body: object = None) -> tuple[int, dict | str, dict]:
    from mesos_emulator.web import call

    status, payload, headers = call(method, url, body)
    try:
        return status, json.loads(payload or b"null"), headers
    except ValueError:
        return status, payload.decode(), headers


def start_stack(daemons, zookeeper, tmp_path):
    masters = {}
    for i in range(MASTERS):
        port = free_port()
        proc = daemons.start(
            "mesos-master",
            [
                f"--zk=zk://{zookeeper}/mesos",
                "--quorum=2",
                f"--work_dir={tmp_path}/m{i}",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--hostname=127.0.0.1",
                "--cluster=emu",
                "--zk_session_timeout=4secs",
            ],
        )
        masters[port] = proc
    agents = {}
    for i in range(2):
        port = free_port()
        agents[port] = daemons.start(
            "mesos-agent",
            ["--ip=127.0.0.1", f"--port={port}", "--hostname=127.0.0.1"],
            env={
                "MESOS_MASTER": f"zk://{zookeeper}/mesos",
                "MESOS_WORK_DIR": f"{tmp_path}/a{i}",
                "MESOS_RESOURCES": "cpus:2;mem:1024;disk:2048",
            },
        )
    return masters, agents


def leaders(ports):
    return [p for p in ports if get_json(f"http://127.0.0.1:{p}/metrics/snapshot")["master/elected"] == 1.0]


def test_mesos_election_layout_endpoints_and_failover(zookeeper, daemons, tmp_path):
    masters, agents = start_stack(daemons, zookeeper, tmp_path)
    (leader,) = wait_for(lambda: leaders(masters) if len(leaders(masters)) == 1 else None, what="one leader")

    # ZooKeeper layout, read with a third-party client: ephemeral sequential json.info_ nodes,
    # MasterInfo JSON, leader = smallest sequence.
    client = KazooClient(hosts=zookeeper)
    client.start()
    try:
        children = wait_for(
            lambda: (
                [c for c in client.get_children("/mesos") if c.startswith("json.info_")]
                if len(client.get_children("/mesos")) >= MASTERS
                else None
            ),
            what="3 members",
        )
        assert len(children) == MASTERS
        first = min(children, key=zkl.sequence_of)
        data, stat = client.get(f"/mesos/{first}")
        assert stat.ephemeralOwner != 0
        info = json.loads(data)
        assert info["address"]["port"] == leader
        assert info["pid"] == f"master@127.0.0.1:{leader}"
    finally:
        client.stop()

    # Endpoints: leader-only state with redirects on the others, /master/redirect always 307.
    follower = next(p for p in masters if p != leader)
    status, _, headers = http("GET", f"http://127.0.0.1:{follower}/master/state")
    assert status == 307
    assert headers["Location"] == f"//127.0.0.1:{leader}/master/state"
    status, _, headers = http("GET", f"http://127.0.0.1:{leader}/master/redirect")
    assert (status, headers["Location"]) == (307, f"//127.0.0.1:{leader}")
    assert http("GET", f"http://127.0.0.1:{follower}/health")[0] == 200
    # the real version (clients parse it as integers); the emulator mark in build_user and a header
    status, version, headers = http("GET", f"http://127.0.0.1:{leader}/version")
    assert version["version"] == "1.11.0" and "emulator" not in version
    assert version["build_user"] == "stackbench-emulator" and headers["X-Stackbench-Emulator"] == "true"

    def registered():
        state = get_json(f"http://127.0.0.1:{leader}/master/state")
        return state if len(state["slaves"]) == 2 else None

    state = wait_for(registered, what="two agents")
    assert state["leader"] == f"master@127.0.0.1:{leader}"
    assert state["cluster"] == "emu"
    assert state["leader_info"]["port"] == leader
    for slave in state["slaves"]:
        assert (slave["resources"]["cpus"], slave["resources"]["mem"], slave["resources"]["disk"]) == (2, 1024, 2048)
        assert slave["resources"]["ports"] == "[31000-32000]"
        assert slave["used_resources"]["cpus"] == 0
    for port in agents:
        agent_state = get_json(f"http://127.0.0.1:{port}/state")
        assert agent_state["id"] in {s["id"] for s in state["slaves"]}
        assert get_json(f"http://127.0.0.1:{port}/metrics/snapshot")["slave/registered"] == 1.0
    metrics = get_json(f"http://127.0.0.1:{leader}/metrics/snapshot")
    assert metrics["master/cpus_total"] == 4.0
    assert metrics["registrar/log/recovered"] == 1.0

    # Kill -9 the leader: its session expires, a new leader is elected, agents re-register.
    masters[leader].send_signal(signal.SIGKILL)
    rest = [p for p in masters if p != leader]
    started = time.monotonic()
    (new_leader,) = wait_for(lambda: leaders(rest) if len(leaders(rest)) == 1 else None, 30, what="new leader")
    elapsed = time.monotonic() - started
    assert elapsed < 4 + 10  # session timeout plus a margin
    wait_for(
        lambda: len(get_json(f"http://127.0.0.1:{new_leader}/master/slaves")["slaves"]) == 2,
        what="agents re-registered",
    )


def test_master_exits_when_its_znode_disappears(zookeeper, daemons, tmp_path):
    port = free_port()
    proc = daemons.start(
        "mesos-master",
        [f"--zk=zk://{zookeeper}/solo", "--quorum=1", f"--work_dir={tmp_path}/m", "--ip=127.0.0.1", f"--port={port}"],
    )
    wait_for(lambda: get_json(f"http://127.0.0.1:{port}/metrics/snapshot")["master/elected"] == 1.0, what="elected")
    client = KazooClient(hosts=zookeeper)
    client.start()
    try:
        for child in client.get_children("/solo"):
            if child.startswith("json.info_"):
                client.delete(f"/solo/{child}")
    finally:
        client.stop()
    assert proc.wait(15) == 1


def test_unknown_flag_is_refused(daemons):
    proc = daemons.start("mesos-master", ["--no_such_flag=1"])
    assert proc.wait(10) == 1
    proc = daemons.start("marathon", ["--master", "zk://x:1/mesos", "--no_such_flag", "1"])
    assert proc.wait(10) == 112


def test_marathon_latch_apps_and_abdication(zookeeper, daemons, tmp_path):
    masters, _ = start_stack(daemons, zookeeper, tmp_path)
    (leader,) = wait_for(lambda: leaders(masters) if len(leaders(masters)) == 1 else None, what="mesos leader")
    wait_for(lambda: len(get_json(f"http://127.0.0.1:{leader}/master/slaves")["slaves"]) == 2, what="agents")
    marathons = {}
    for _ in range(2):
        port = free_port()
        marathons[port] = daemons.start(
            "marathon",
            ["--master", f"zk://{zookeeper}/mesos", "--http_port", str(port), "--hostname", "127.0.0.1"],
            env={"MARATHON_ZK": f"zk://{zookeeper}/marathon", "MARATHON_ZK_SESSION_TIMEOUT": "4000"},
        )
    ports = list(marathons)

    def one_leader():
        answers = {get_json(f"http://127.0.0.1:{p}/v2/leader")["leader"] for p in ports}
        return answers.pop() if len(answers) == 1 else None

    m_leader = wait_for(one_leader, what="marathon leader")
    m_port = int(m_leader.split(":")[1])
    standby = next(p for p in ports if p != m_port)

    client = KazooClient(hosts=zookeeper)
    client.start()
    try:
        latch = client.get_children("/marathon/leader-curator")
        assert len(latch) == 2 and all("-latch-" in c for c in latch)
        first = min(latch, key=zkl.sequence_of)
        assert client.get(f"/marathon/leader-curator/{first}")[0].decode() == m_leader
    finally:
        client.stop()

    info = get_json(f"http://127.0.0.1:{standby}/v2/info")  # proxied to the leader
    assert info["elected"] is True and info["leader"] == m_leader and info["version"] == "1.10.26"
    assert info["buildref"] == "stackbench-emulator" and "emulator" not in info  # no key real Marathon lacks
    assert "http_port" not in info["marathon_config"] and info["http_config"]["http_port"] == m_port
    status, _, headers = http("GET", f"http://127.0.0.1:{standby}/ping")
    assert status == 200 and headers["X-Marathon-Leader"] == f"http://{m_leader}" and "Via" in headers

    app = {"id": "/sleepy", "cmd": "sleep 300", "cpus": 1.5, "mem": 100, "instances": 1}
    assert http("POST", f"http://127.0.0.1:{standby}/v2/apps", app)[0] == 201
    assert http("POST", f"http://127.0.0.1:{standby}/v2/apps", app)[0] == 409
    # the creation's deployment still runs: Marathon refuses a change without force (409)
    assert http("PUT", f"http://127.0.0.1:{m_port}/v2/apps/sleepy", {"instances": 2})[0] == 409
    assert http("PUT", f"http://127.0.0.1:{m_port}/v2/apps/sleepy?force=true", {"instances": 2})[0] == 200

    def running(n):
        def check():
            got = get_json(f"http://127.0.0.1:{m_port}/v2/apps/sleepy")["app"]
            return got if got["tasksRunning"] == n else None

        return check

    app_state = wait_for(running(2), what="2 instances")
    assert len({t["slaveId"] for t in app_state["tasks"]}) == 2  # 1.5 cpus each: one per 2-cpu agent
    metrics = get_json(f"http://127.0.0.1:{leader}/metrics/snapshot")
    assert (metrics["master/cpus_used"], metrics["master/mem_used"]) == (3.0, 200.0)
    # A third instance does not fit anywhere (0.5 cpus left per agent).
    http("PUT", f"http://127.0.0.1:{m_port}/v2/apps/sleepy", {"instances": 3})
    time.sleep(5)
    assert get_json(f"http://127.0.0.1:{m_port}/v2/apps/sleepy")["app"]["tasksRunning"] == 2

    # Abdication: the leader exits (105) and the standby takes over with the apps from ZooKeeper.
    assert http("DELETE", f"http://127.0.0.1:{standby}/v2/leader")[1] == {"message": "Leadership abdicated"}
    # Writes sent to the standby throughout the failover: every acknowledged one must survive.
    acknowledged = []
    deadline = time.monotonic() + 4
    index = 0
    while time.monotonic() < deadline:
        index += 1
        body = {"id": f"/w{index}", "cmd": "true", "cpus": 0.01, "mem": 1, "instances": 0}
        try:
            if http("POST", f"http://127.0.0.1:{standby}/v2/apps", body)[0] == 201:
                acknowledged.append(f"/w{index}")
        except OSError:
            pass
        time.sleep(0.05)
    assert marathons[m_port].wait(15) == 105
    wait_for(
        lambda: get_json(f"http://127.0.0.1:{standby}/v2/leader")["leader"] == f"127.0.0.1:{standby}",
        what="standby elected",
    )
    wait_for(
        lambda: get_json(f"http://127.0.0.1:{standby}/v2/apps/sleepy")["app"]["tasksRunning"] == 2, what="apps kept"
    )
    listed = {a["id"] for a in get_json(f"http://127.0.0.1:{standby}/v2/apps")["apps"]}
    assert acknowledged and set(acknowledged) <= listed
    assert http("DELETE", f"http://127.0.0.1:{standby}/v2/apps/sleepy")[0] == 200
    wait_for(
        lambda: get_json(f"http://127.0.0.1:{leader}/metrics/snapshot")["master/tasks_running"] == 0,
        what="tasks killed",
    )


def test_agent_recovers_running_tasks_across_a_restart(zookeeper, daemons, tmp_path):
    master_port, agent_port = free_port(), free_port()
    daemons.start(
        "mesos-master",
        [
            f"--zk=zk://{zookeeper}/recover",
            "--quorum=1",
            f"--work_dir={tmp_path}/m",
            "--ip=127.0.0.1",
            f"--port={master_port}",
            "--hostname=127.0.0.1",
        ],
    )
    agent_args = [
        f"--master=zk://{zookeeper}/recover",
        f"--work_dir={tmp_path}/a",
        "--ip=127.0.0.1",
        f"--port={agent_port}",
        "--resources=cpus:1;mem:256",
    ]
    first = daemons.start("mesos-agent", agent_args)
    master = f"http://127.0.0.1:{master_port}"
    wait_for(lambda: len(get_json(f"{master}/master/slaves")["slaves"]) == 1, what="agent registered")
    agent_id = get_json(f"{master}/master/slaves")["slaves"][0]["id"]
    status, fw, _ = http("POST", f"{master}/master/emulator/framework", {"name": "test"})
    assert status == 200
    task = {
        "task_id": "t1",
        "name": "t1",
        "agent_id": agent_id,
        "resources": {"cpus": 0.5, "mem": 64},
        "command": {"value": "sleep 300"},
    }
    assert http("POST", f"{master}/master/emulator/launch", {"framework_id": fw["id"], "task": task})[0] == 200
    wait_for(lambda: get_json(f"{master}/master/tasks")["tasks"][0]["state"] == "TASK_RUNNING", what="running")

    first.send_signal(signal.SIGTERM)
    first.wait(10)
    daemons.start("mesos-agent", agent_args)
    wait_for(
        lambda: get_json(f"http://127.0.0.1:{agent_port}/metrics/snapshot")["slave/registered"] == 1.0,
        what="agent re-registered",
    )
    state = get_json(f"http://127.0.0.1:{agent_port}/state")
    assert state["id"] == agent_id  # checkpointed id kept
    assert get_json(f"{master}/metrics/snapshot")["master/cpus_used"] == 0.5
    (listed,) = get_json(f"{master}/master/tasks")["tasks"]
    assert (listed["id"], listed["state"]) == ("t1", "TASK_RUNNING")
    assert http("POST", f"{master}/master/emulator/kill", {"framework_id": fw["id"], "task_id": "t1"})[0] == 200
    wait_for(lambda: get_json(f"{master}/metrics/snapshot")["master/cpus_used"] == 0.0, what="task killed")


def test_marathon_leaves_the_election_cleanly_on_sigterm(zookeeper, daemons):
    port = free_port()
    proc = daemons.start(
        "marathon",
        [
            "--master",
            f"zk://{zookeeper}/nomesos",
            "--zk",
            f"zk://{zookeeper}/mt-term",
            "--http_port",
            str(port),
            "--hostname",
            "127.0.0.1",
        ],
    )
    wait_for(lambda: get_json(f"http://127.0.0.1:{port}/v2/leader")["leader"] == f"127.0.0.1:{port}", what="elected")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    client = KazooClient(hosts=zookeeper)
    client.start()
    try:
        assert client.get_children("/mt-term/leader-curator") == []
    finally:
        client.stop()


def test_marathon_ports_health_checks_rolling_upgrade_and_rollback(zookeeper, daemons, tmp_path):
    """$PORT0 from the agent's ports, HTTP health checks (unhealthy tasks are killed and replaced),
    a config change replaces tasks without going below the healthy count, scaling does not, and
    PUT {"version"} rolls back (api-surfaces §2: healthChecks, upgradeStrategy, versions)."""
    from stackbench.compare.marathon_eval import app_definition

    master = free_port()
    daemons.start(
        "mesos-master",
        [
            f"--zk=zk://{zookeeper}/mesos-hc",
            "--quorum=1",
            f"--work_dir={tmp_path}/m",
            "--ip=127.0.0.1",
            f"--port={master}",
            "--hostname=127.0.0.1",
        ],
    )
    for i, ports in enumerate(("[31000-31009]", "[31010-31019]")):
        daemons.start(
            "mesos-agent",
            ["--ip=127.0.0.1", f"--port={free_port()}", "--hostname=127.0.0.1"],
            env={
                "MESOS_MASTER": f"zk://{zookeeper}/mesos-hc",
                "MESOS_WORK_DIR": f"{tmp_path}/a{i}",
                "MESOS_RESOURCES": f"cpus:2;mem:1024;disk:2048;ports:{ports}",
            },
        )
    wait_for(lambda: len(get_json(f"http://127.0.0.1:{master}/master/slaves")["slaves"]) == 2, what="agents")
    port = free_port()
    daemons.start(
        "marathon",
        ["--master", f"zk://{zookeeper}/mesos-hc", "--http_port", str(port), "--hostname", "127.0.0.1"],
        env={"MARATHON_ZK": f"zk://{zookeeper}/marathon-hc"},
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: get_json(f"{base}/v2/leader")["leader"], what="marathon leader")

    def app():
        return get_json(f"{base}/v2/apps/stackbench-web")["app"]

    def answers(version):
        tasks = app()["tasks"]
        if len(tasks) != 2 or app()["tasksHealthy"] != 2 or app()["deployments"]:
            return None
        bodies = [get(f"http://127.0.0.1:{t['ports'][0]}/host") for t in tasks]
        return tasks if all(b.split()[2:3] == [version] for b in bodies) else None

    assert http("POST", f"{base}/v2/apps", app_definition(2))[0] == 201
    try:
        tasks = wait_for(lambda: answers("1"), 60, what="2 healthy tasks")
        ports = sorted(t["ports"][0] for t in tasks)
        assert ports in ([31000, 31010], [31000, 31001], [31010, 31011])
        assert all(t["healthCheckResults"][0]["alive"] for t in tasks)
        first_version = app()["version"]

        # scaling is not a new configuration: the running tasks stay
        http("PUT", f"{base}/v2/apps/stackbench-web", {"instances": 3})
        wait_for(lambda: app()["tasksHealthy"] == 3, 60, what="3 healthy tasks")
        assert {t["id"] for t in tasks} <= {t["id"] for t in app()["tasks"]}
        http("PUT", f"{base}/v2/apps/stackbench-web?force=true", {"instances": 2})  # the scale-up may still finish
        wait_for(lambda: answers("1"), 60, what="back to 2")

        # a new configuration replaces every task, never below 2 healthy ones
        old_ids = {t["id"] for t in app()["tasks"]}
        http("PUT", f"{base}/v2/apps/stackbench-web", {"env": {"WORKLOAD_VERSION": "2"}})
        lowest = 2
        deadline = time.monotonic() + 60
        while not answers("2"):
            lowest = min(lowest, app()["tasksHealthy"])
            assert time.monotonic() < deadline, "rolling upgrade did not finish"
            time.sleep(0.1)
        assert lowest >= 2 and not old_ids & {t["id"] for t in app()["tasks"]}
        versions = get_json(f"{base}/v2/apps/stackbench-web/versions")["versions"]
        assert first_version in versions and len(versions) >= 4
        assert get_json(f"{base}/v2/apps/stackbench-web/versions/{first_version}")["env"] == {"WORKLOAD_VERSION": "1"}

        # rollback to the first version
        assert http("PUT", f"{base}/v2/apps/stackbench-web", {"version": first_version})[0] == 200
        wait_for(lambda: answers("1"), 60, what="rolled back")
        assert http("PUT", f"{base}/v2/apps/stackbench-web", {"version": "1999-01-01T00:00:00.000Z"})[0] == 404

        # a failing health check: reported, then the task is killed and replaced
        victim = app()["tasks"][0]
        get(f"http://127.0.0.1:{victim['ports'][0]}/sick")

        def unhealthy():
            task = next((t for t in app()["tasks"] if t["id"] == victim["id"]), None)
            return task is None or not task["healthCheckResults"][0]["alive"]

        wait_for(unhealthy, 20, what="unhealthy")
        wait_for(lambda: answers("1") and victim["id"] not in {t["id"] for t in app()["tasks"]}, 60, what="replaced")
    finally:
        # the tasks are processes of their own (new sessions): have Marathon kill them, or they outlive the test
        http("DELETE", f"{base}/v2/apps/stackbench-web?force=true")
        wait_for(
            lambda: get_json(f"http://127.0.0.1:{master}/metrics/snapshot")["master/tasks_running"] == 0,
            30,
            what="tasks killed",
        )


def get(url: str) -> str:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local test servers
            return response.read().decode()
    except OSError:
        return ""
