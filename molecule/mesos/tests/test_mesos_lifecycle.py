"""Day two of the Mesos stack, chained on the one cluster this scenario stood up (after test_mesos.py):

1. ZooKeeper grown from 3 to 5 members (dynamic reconfiguration) while a client writes, then
   mesos.yml rolls Mesos and Marathon onto the 5-member connect string, its ZooKeeper play changing
   nothing (the re-run check of the grown ensemble);
2. ZooKeeper upgraded 3.8.5 -> 3.8.6, followers first and the leader last, a snapshot kept first;
3. ZooKeeper shrunk from 5 to 3 (a removal that would lose quorum refused first);
4. Mesos 1.10.0 -> 1.11.0 and Marathon 1.9.109 -> 1.10.26 rolled (leader last) onto the 3 members,
   the ZooKeeper play of that run changing nothing (the re-run check of the shrunk ensemble);
5. agent3 added with --limit (nothing else touched);
6. agent1 drained (Marathon's tasks moved first, a client requesting the app every 100 ms) and removed;
7. `stackbench down mesos -i` (refused without --yes), and nothing of the stack left on any host.

Each step is an ansible-playbook run (or the CLI) against this scenario's hosts, checked with testinfra
after it (a re-run check rides on the next run that includes the play rather than costing a run of its
own); the figures go to results/test/mesos-lifecycle.json. Mesos and Marathon are the emulators
(tests/emulators): every figure that involves them is marked emulated there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import testinfra
import testinfra.utils.ansible_runner
from playbook_runs import changed, ok, plain_env, run_playbook

from stackbench.bench.zookeeper_writes import ZooKeeperWrites

REPO = Path(__file__).resolve().parents[3]
SCENARIO = REPO / "molecule" / "mesos"
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
BASE_ZK = RUNNER.get_hosts("zookeeper")
MASTERS = RUNNER.get_hosts("mesos_masters")
MARATHONS = RUNNER.get_hosts("marathon")
AGENTS = RUNNER.get_hosts("mesos_agents")
NEW_ZK = ["zk4", "zk5"]
NEW_AGENT = "agent3"
ALL_HOSTS = sorted({*BASE_ZK, *MASTERS, *AGENTS, *NEW_ZK, NEW_AGENT})
ADDRESS = {name: RUNNER.get_variables(name)["ansible_host"] for name in ALL_HOSTS}
RESULTS = REPO / "results" / "test" / "mesos-lifecycle.json"
FIGURES: dict[str, dict] = {}
# versions after each upgrade: every later run passes them, as an operator edits group_vars
CURRENT: dict[str, str] = {}

def node(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def each(check, names) -> dict:
    """{name: check(name)} for every name, run at once: each is a round trip (testinfra, zkCli) of its own."""
    names = list(names)
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        return dict(zip(names, pool.map(check, names), strict=True))


def file_content(name: str, path: str) -> str:
    with node(name).sudo():
        return node(name).file(path).content_string


def inventory(tmp: Path, name: str, groups: dict[str, list[str]]) -> Path:
    """A directory inventory: molecule's (hosts, connection) plus `groups` added, and the scenario's group_vars."""
    path = tmp / name
    path.mkdir(exist_ok=True)
    (path / "00-molecule.yml").write_text(Path(INVENTORY).read_text())
    extra = {"all": {"children": {g: {"hosts": {h: {} for h in hosts}} for g, hosts in groups.items()}}}
    (path / "10-lifecycle.yml").write_text(json.dumps(extra))
    if not (path / "group_vars").exists():
        (path / "group_vars").symlink_to(SCENARIO / "group_vars")
    return path


def playbook(inv: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    ssh = "-o ControlMaster=auto -o ControlPersist=120s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    return run_playbook(inv, name, *[f"-e{k}={v}" for k, v in CURRENT.items()], *args,
                        env=plain_env(ANSIBLE_SSH_ARGS=ssh))


def role_changes(run: subprocess.CompletedProcess, role: str) -> dict[str, list[str]]:
    """{host: [task, ...]}: the tasks and handlers of `role` that reported a change in the run's output."""
    found: dict[str, list[str]] = {}
    task, seen = "", 0
    for line in run.stdout.splitlines():
        if heading := re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*)\]", line):
            task = heading.group(1)
            seen += task.startswith(f"{role} : ")
        elif (change := re.match(r"^changed: \[([^\]\s]+)", line)) and task.startswith(f"{role} : "):
            found.setdefault(change.group(1), []).append(task)
    assert seen, f"no task of {role} in the output"
    return found


def restarted(run: subprocess.CompletedProcess, task: str) -> list[str]:
    return re.findall(rf"^TASK \[(?:[^\]]* : )?{re.escape(task)} (\S+?)\s*\]", run.stdout, re.M)


def four_letter(name: str, command: str) -> str:
    with socket.create_connection((ADDRESS[name], 2181), timeout=3) as sock:
        sock.sendall(command.encode())
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out.decode()


def zk_hosts(members: list[str]) -> str:
    return ",".join(f"{ADDRESS[m]}:2181" for m in members)


def membership(name: str) -> list[str]:
    """The ensemble's voting members as `name` sees them (its config znode), as server ids."""
    out = node(name).check_output("/opt/zookeeper/current/bin/zkCli.sh -server 127.0.0.1:2181 config 2>/dev/null")
    return sorted(re.findall(r"^server\.(\d+)=\S+:participant", out, re.M))


def modes(members: list[str]) -> dict[str, str]:
    out = {}
    for name in members:
        try:
            out[name] = re.search(r"^Mode: (\S+)", four_letter(name, "srvr"), re.M).group(1)
        except (OSError, AttributeError):
            out[name] = "down"
    return out


def get(url: str, timeout: float = 5) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}),
                                timeout=timeout) as response:
        return json.loads(response.read())


def send(method: str, url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def wait_for(check, timeout: float = 90, interval: float = 0.5):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out; last answer: {last!r}")


def leading_master() -> str:
    def one():
        leaders = [m for m in MASTERS if get(f"http://{ADDRESS[m]}:5050/metrics/snapshot")["master/elected"] == 1.0]
        return leaders[0] if len(leaders) == 1 else None
    return wait_for(one)


def agents_registered() -> list[str]:
    return sorted(s["hostname"] for s in get(f"http://{ADDRESS[leading_master()]}:5050/master/slaves")["slaves"])


def emulated() -> bool:
    """Decided by the daemons: the master and Marathon say so in a header and their build fields."""
    with urllib.request.urlopen(f"http://{ADDRESS[MASTERS[0]]}:5050/version", timeout=5) as response:
        master = response.headers.get("X-Stackbench-Emulator") == "true"
    return master or get(f"http://{ADDRESS[MARATHONS[0]]}:8080/v2/info").get("buildref") == "stackbench-emulator"


def record(step: str, **figures) -> None:
    FIGURES[step] = figures
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(FIGURES, indent=2) + "\n")
    print(f"{step}: {json.dumps(figures)}")


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lifecycle")


@pytest.fixture(scope="module")
def grown(tmp) -> Path:
    return inventory(tmp, "grown", {"zookeeper": NEW_ZK})


@pytest.fixture(scope="module")
def base(tmp) -> Path:
    return inventory(tmp, "base", {})


@pytest.fixture(scope="module")
def with_agent3(tmp) -> Path:
    return inventory(tmp, "with-agent3", {"mesos_agents": [NEW_AGENT]})


# ---- 1. grow ZooKeeper 3 -> 5 ------------------------------------------------------------------


def test_zookeeper_grows_from_3_to_5_members_while_a_client_writes(grown):
    assert list(each(membership, BASE_ZK).values()) == [["1", "2", "3"]] * 3
    with ZooKeeperWrites(zk_hosts(BASE_ZK), "/stackbench/lifecycle/grow") as writes:
        run = playbook(grown, "zookeeper.yml")
    ok(run)
    figures = writes.result()
    record("zookeeper_grow_3_to_5", playbook_seconds=run.seconds, **figures)
    assert figures["lost_acknowledged"] == 0
    for name, seen in each(membership, [*BASE_ZK, *NEW_ZK]).items():
        assert seen == ["1", "2", "3", "4", "5"], name
    assert sorted(modes([*BASE_ZK, *NEW_ZK]).values()) == ["follower"] * 4 + ["leader"]
    assert restarted(run, "Restart ZooKeeper on") == []  # the running members keep running


def test_mesos_and_marathon_are_rolled_onto_the_5_member_connect_string(grown):
    run = playbook(grown, "mesos.yml")
    ok(run)
    assert role_changes(run, "stackbench.cluster.zookeeper") == {}  # the grown ensemble as the role left it
    assert set(changed(run)) >= {*BASE_ZK, *NEW_ZK}  # the ZooKeeper play ran on all 5
    url = "zk://" + zk_hosts([*BASE_ZK, *NEW_ZK])
    wanted = {name: {"/etc/default/mesos-master": f"MESOS_ZK={url}/mesos"} for name in MASTERS}
    for name in MARATHONS:
        wanted.setdefault(name, {})["/etc/default/marathon"] = f"{url}/marathon"
    # one thread per host (a host's sudo() is its own state), its files read in turn
    found = each(lambda name: {path: file_content(name, path) for path in wanted[name]}, wanted)
    for name, files in wanted.items():
        for path, text in files.items():
            assert text in found[name][path], (name, path)
    order = restarted(run, "Restart the master on")
    assert len(order) == len(MASTERS)
    record("clients_rolled_to_5", playbook_seconds=run.seconds, master_restart_order=order, emulated=emulated())
    assert sorted(agents_registered()) == sorted(AGENTS)


# ---- 2. upgrade ZooKeeper ---------------------------------------------------------------------


def test_zookeeper_upgrades_3_8_5_to_3_8_6_followers_first_leader_last(grown):
    members = [*BASE_ZK, *NEW_ZK]
    assert all("version: 3.8.5" in four_letter(m, "srvr") for m in members)
    leader = next(m for m, mode in modes(members).items() if mode == "leader")
    CURRENT["zookeeper_version"] = "3.8.6"
    with ZooKeeperWrites(zk_hosts(members), "/stackbench/lifecycle/upgrade") as writes:
        run = playbook(grown, "zookeeper.yml")
    ok(run)
    figures = writes.result()
    order = restarted(run, "Restart ZooKeeper on")
    record("zookeeper_upgrade_3_8_5_to_3_8_6", playbook_seconds=run.seconds, restart_order=order,
           leader_before=leader, **figures)
    assert figures["lost_acknowledged"] == 0
    assert sorted(order) == sorted(members) and order[-1] == leader
    for name, snapshots in each(backups, members).items():
        assert "version: 3.8.6" in four_letter(name, "srvr")
        assert "3.8.5" in snapshots, snapshots


def backups(name: str) -> str:
    with node(name).sudo():
        return node(name).check_output("ls /var/backups/zookeeper")


# ---- 3. shrink ZooKeeper 5 -> 3 ---------------------------------------------------------------


def test_a_removal_that_would_lose_quorum_is_refused_before_any_change(grown):
    # with zk5 down, removing the 3 first members would leave zk4 alone serving of {zk4, zk5}
    members = [*BASE_ZK, *NEW_ZK]
    with node("zk5").sudo():
        node("zk5").check_output("systemctl stop zookeeper")
    try:
        # zk5 may have led (the upgrade restarts the leader last): the other four elect one first
        wait_for(lambda: sorted(modes(members).values()) == ["down"] + ["follower"] * 3 + ["leader"])
        run = playbook(grown, "zookeeper-remove.yml", f"-ezookeeper_remove_members={','.join(BASE_ZK)}")
        assert run.returncode != 0
        assert "quorum" in run.stdout
        assert all(c == 0 for c in changed(run).values()), changed(run)
        assert membership("mesos1") == ["1", "2", "3", "4", "5"]
    finally:
        with node("zk5").sudo():
            node("zk5").check_output("systemctl start zookeeper")
        # the next tests start from five serving members, also when this one failed
        wait_for(lambda: sorted(modes(members).values()) == ["follower"] * 4 + ["leader"])


def test_zookeeper_shrinks_from_5_to_3_members_while_a_client_writes(grown, base):
    with ZooKeeperWrites(zk_hosts(BASE_ZK), "/stackbench/lifecycle/shrink") as writes:
        run = playbook(grown, "zookeeper-remove.yml", "-ezookeeper_remove_members=zk4,zk5")
    ok(run)
    figures = writes.result()
    record("zookeeper_shrink_5_to_3", playbook_seconds=run.seconds, **figures)
    assert figures["lost_acknowledged"] == 0
    for name, seen in each(membership, BASE_ZK).items():
        assert seen == ["1", "2", "3"], name
    for name, running in each(lambda n: node(n).service("zookeeper").is_running, NEW_ZK).items():
        assert not running, name


# ---- 4. Mesos and Marathon upgraded, and rolled onto 3 ZooKeeper members again -------------------


def test_mesos_and_marathon_upgrade_leader_last_onto_3_members_again(base):
    before = {get(f"http://{ADDRESS[m]}:5050/version")["version"] for m in MASTERS}
    assert before == {"1.10.0"}
    leader = leading_master()
    marathon_leader = get(f"http://{ADDRESS[MARATHONS[0]]}:8080/v2/leader")["leader"].split(":")[0]
    CURRENT.update(mesos_version="1.11.0", marathon_version="1.10.26")
    run = playbook(base, "mesos.yml")
    ok(run)
    assert role_changes(run, "stackbench.cluster.zookeeper") == {}  # the shrunk ensemble as the role left it
    order = restarted(run, "Restart the master on")
    marathon_order = restarted(run, "Restart Marathon on")
    record("mesos_marathon_upgrade", playbook_seconds=run.seconds, master_restart_order=order, leader_before=leader,
           marathon_restart_order=marathon_order, marathon_leader_before=marathon_leader, emulated=emulated())
    assert sorted(order) == sorted(MASTERS) and order[-1] == leader
    assert sorted(marathon_order) == sorted(MARATHONS) and marathon_order[-1] == marathon_leader
    assert {get(f"http://{ADDRESS[m]}:5050/version")["version"] for m in MASTERS} == {"1.11.0"}
    assert {get(f"http://{ADDRESS[m]}:8080/v2/info")["version"] for m in MARATHONS} == {"1.10.26"}
    url = "zk://" + zk_hosts(BASE_ZK) + "/mesos"
    with node(MASTERS[0]).sudo():
        assert f"MESOS_ZK={url}" in node(MASTERS[0]).file("/etc/default/mesos-master").content_string
    assert sorted(agents_registered()) == sorted(AGENTS)


# ---- 5. add an agent with --limit ---------------------------------------------------------------


def test_an_agent_added_with_limit_registers_and_nothing_else_changes(with_agent3):
    started = time.monotonic()
    run = playbook(with_agent3, "mesos.yml", "--limit", NEW_AGENT)
    ok(run)
    wait_for(lambda: NEW_AGENT in agents_registered())
    seconds = round(time.monotonic() - started, 1)
    record("agent_added", seconds_until_registered=seconds, emulated=emulated())
    assert set(changed(run)) <= {NEW_AGENT, "localhost"}, changed(run)
    assert node(NEW_AGENT).service("mesos-agent").is_running


# ---- 6. drain and remove an agent ---------------------------------------------------------------


class AppClient:
    """Requests the app every 100 ms at one of its healthy tasks (Marathon's own task list, read before
    each request, as a discovery client or load balancer reads it), counting failed requests."""

    def __init__(self, marathon: str, app: str) -> None:
        self.marathon, self.app = marathon, app
        self.attempted = self.failed = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        turn = 0
        while not self._stop.wait(0.1):
            try:
                # as a load balancer for Marathon does: running tasks whose health checks pass
                tasks = [t for t in get(f"{self.marathon}/v2/apps{self.app}/tasks")["tasks"]
                         if t.get("state", "TASK_RUNNING") == "TASK_RUNNING" and t.get("ports")
                         and t.get("healthCheckResults") and all(h.get("alive") for h in t["healthCheckResults"])]
            except (OSError, ValueError, KeyError):
                continue  # Marathon itself, not the app: not a failed request to the app
            if not tasks:
                self.attempted += 1
                self.failed += 1
                self.errors.append("no running task")
                continue
            task = tasks[turn % len(tasks)]
            turn += 1
            self.attempted += 1
            try:
                urllib.request.urlopen(f"http://{ADDRESS.get(task['host'], task['host'])}:{task['ports'][0]}/",
                                       timeout=2).read()
            except (OSError, urllib.error.URLError) as exc:
                self.failed += 1
                self.errors.append(f"{task['host']}: {exc}")


def test_agent1_is_drained_with_its_tasks_moved_first_and_removed(with_agent3):
    marathon = f"http://{ADDRESS[MARATHONS[0]]}:8080"
    app = {"id": "/lifecycle/web", "cmd": "exec python3 -m http.server $PORT0 --bind 0.0.0.0", "cpus": 0.1,
           "mem": 32, "instances": 2, "constraints": [],
           "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "intervalSeconds": 2,
                             "gracePeriodSeconds": 10, "maxConsecutiveFailures": 3}],
           "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0}}
    send("PUT", f"{marathon}/v2/apps/lifecycle/web?force=true", app)
    wait_for(lambda: (a := get(f"{marathon}/v2/apps/lifecycle/web")["app"])["tasksHealthy"] == 2 and a, 120)
    victim = sorted(t["host"] for t in get(f"{marathon}/v2/apps/lifecycle/web/tasks")["tasks"])[0]
    assert victim in AGENTS  # an original agent, with a task to move
    bad = playbook(with_agent3, "mesos-remove-agent.yml", "-eagent=nosuch")
    assert bad.returncode != 0 and "nosuch" in bad.stdout and "mesos_agents" in bad.stdout
    started = time.monotonic()
    with AppClient(marathon, "/lifecycle/web") as client:
        run = playbook(with_agent3, "mesos-remove-agent.yml", f"-eagent={victim}")
        ok(run)
        moved = round(time.monotonic() - started, 1)
        time.sleep(2)
    tasks = get(f"{marathon}/v2/apps/lifecycle/web/tasks")["tasks"]
    record("agent_drained_and_removed", playbook_seconds=run.seconds, seconds_until_tasks_elsewhere=moved,
           requests=client.attempted, failed_requests=client.failed, errors=client.errors[:10], emulated=emulated())
    assert len(tasks) == 2 and victim not in {t["host"] for t in tasks}
    assert victim not in agents_registered()
    assert not node(victim).file("/etc/systemd/system/mesos-agent.service").exists
    assert not node(victim).file("/var/lib/mesos").exists


# ---- 7. reset ---------------------------------------------------------------------------------


def test_stackbench_down_refuses_without_yes_then_leaves_nothing_of_the_stack(tmp):
    everything = inventory(tmp, "everything", {"zookeeper": NEW_ZK, "mesos_agents": [NEW_AGENT]})
    cli = [shutil.which("stackbench", path=str(Path(sys.executable).parent)) or "stackbench", "down", "mesos",
           "-i", str(everything)]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOST_KEY_CHECKING="False")
    refused = subprocess.run(cli, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, check=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert node(MASTERS[0]).service("mesos-master").is_running
    started = time.monotonic()
    down = subprocess.run([*cli, "--yes"], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env,
                          cwd=REPO, check=False)
    assert down.returncode == 0, down.stdout[-6000:] + down.stderr[-3000:]
    record("reset", seconds=round(time.monotonic() - started, 1))
    assert each(leftovers, ALL_HOSTS) == {name: [] for name in ALL_HOSTS}


def leftovers(name: str) -> list[str]:
    """What the Mesos stack left on the host, a line each, from one shell run (not a round trip per path)."""
    with node(name).sudo():
        result = node(name).run(LEFTOVERS)
    lines = result.stdout.splitlines()
    assert result.rc == 0 and lines[-1:] == ["checked"], (name, result.stdout, result.stderr)
    return lines[:-1]


LEFTOVERS = r"""
for unit in zookeeper mesos-master mesos-agent marathon; do
  [ -e /etc/systemd/system/$unit.service ] && echo "unit file: $unit"
  systemctl is-active --quiet $unit && echo "unit active: $unit"
done
for path in /opt/zookeeper /opt/mesos /opt/marathon /etc/zookeeper /var/lib/zookeeper /var/log/zookeeper \
    /var/lib/mesos /var/cache/mesos /var/cache/zookeeper /var/cache/marathon /etc/default/mesos-master \
    /etc/default/mesos-agent /etc/default/marathon /var/backups/zookeeper; do
  [ -e $path ] && echo "path: $path"
done
for user in zookeeper mesos marathon; do getent passwd $user >/dev/null && echo "user: $user"; done
sockets=$(ss -Hltn) || echo "ss failed"
printf '%s\n' "$sockets" | awk '{print $4}' | grep -E ':(2181|2888|3888|5050|5051|8080)$' | sed 's/^/listening: /'
processes=$(pgrep -af 'QuorumPeerMain|mesos-master|mesos-agent|marathon|http.server')
[ $? -le 1 ] || echo "pgrep failed"
# this script's own shell and its sudo name the patterns too
printf '%s\n' "$processes" | grep -v -e "^$$ " -e "^$PPID " -e '^$' | sed 's/^/process: /'
echo checked
"""
