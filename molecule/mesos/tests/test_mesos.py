"""Behaviour of the Mesos stack built by playbooks/mesos.yml (testinfra over SSH, HTTP from the controller).

In the lab the Mesos and Marathon daemons are the emulators from tests/emulators (real
Mesos/Marathon cannot be obtained); ZooKeeper is the real Apache release.
"""

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import testinfra
import testinfra.utils.ansible_runner
import yaml

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
MASTERS = RUNNER.get_hosts("mesos_masters")
AGENTS = RUNNER.get_hosts("mesos_agents")
MARATHONS = RUNNER.get_hosts("marathon")
ZOOKEEPERS = RUNNER.get_hosts("zookeeper")
ADDRESSES = {name: RUNNER.get_variables(name)["ansible_host"] for name in MASTERS + AGENTS}
# the scenario starts one release behind (its group_vars), for the lifecycle's upgrade
STARTING = yaml.safe_load((Path(__file__).parents[1] / "group_vars" / "all" / "lifecycle.yml").read_text())
testinfra_hosts = MASTERS + AGENTS


def node(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def get(url, timeout=5):
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def send(method, url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def wait_for(check, timeout=60, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError, KeyError, urllib.error.URLError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out; last answer: {last!r}")


def snapshots(masters=MASTERS):
    out = {}
    for name in masters:
        try:
            out[name] = get(f"http://{ADDRESSES[name]}:5050/metrics/snapshot", timeout=2)
        except (OSError, ValueError):
            out[name] = None
    return out


def elected(masters=MASTERS):
    snaps = snapshots(masters)
    return [n for n, s in snaps.items() if s and s["master/elected"] == 1.0 and s["registrar/log/recovered"] == 1.0]


def leader_address():
    (leader,) = wait_for(lambda: elected() if len(elected()) == 1 else None)
    return leader, f"http://{ADDRESSES[leader]}:5050"


def marathon_url(name):
    return f"http://{ADDRESSES[name]}:8080"


def test_services_run_under_systemd_with_restart_always(host):
    name = host.backend.get_hostname()
    unit = "mesos-master" if name in MASTERS else "mesos-agent"
    service = host.service(unit)
    assert service.is_running and service.is_enabled
    assert "Restart=always" in host.file(f"/etc/systemd/system/{unit}.service").content_string
    with host.sudo():
        env = host.file(f"/etc/default/{unit}").content_string
    zk_url = "zk://" + ",".join(f"{RUNNER.get_variables(z)['ansible_host']}:2181" for z in ZOOKEEPERS) + "/mesos"
    if unit == "mesos-master":
        assert f"MESOS_ZK={zk_url}" in env
        assert "MESOS_QUORUM=2" in env
        assert "MESOS_WORK_DIR=/var/lib/mesos/master" in env
        assert host.process.filter(user="mesos", comm="mesos-master") or host.process.filter(user="mesos")
    else:
        assert f"MESOS_MASTER={zk_url}" in env
        cgroup_v2 = host.file("/sys/fs/cgroup/cgroup.controllers").exists
        expected = "posix/cpu,posix/mem" if cgroup_v2 else "cgroups/cpu,cgroups/mem"
        assert f"MESOS_ISOLATION={expected}" in env


def test_daemons_are_the_emulators_and_say_so():
    for name in MASTERS:
        url = f"http://{ADDRESSES[name]}:5050/version"
        version = get(url)
        # the real version (clients parse it as integers); the mark in build_user and a header
        assert version["version"] == STARTING["mesos_version"] and version["build_user"] == "stackbench-emulator"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.headers["X-Stackbench-Emulator"] == "true"


def test_exactly_one_leading_master_and_the_others_redirect():
    leader, url = leader_address()
    state = get(f"{url}/master/state")
    assert state["leader"] == state["pid"]
    assert state["cluster"] == "stackbench"
    for name in MASTERS:
        if name == leader:
            continue
        try:
            urllib.request.build_opener(NoRedirect).open(f"http://{ADDRESSES[name]}:5050/master/state", timeout=5)
            raise AssertionError(f"{name} served /master/state without being the leader")
        except urllib.error.HTTPError as exc:
            assert exc.code == 307
            assert exc.headers["Location"] == f"//{leader}:5050/master/state"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_both_agents_registered_with_their_resources():
    _, url = leader_address()
    slaves = wait_for(lambda: (s := get(f"{url}/master/slaves")["slaves"]) and len(s) == len(AGENTS) and s)
    assert sorted(s["hostname"] for s in slaves) == sorted(AGENTS)
    for slave in slaves:
        agent = node(slave["hostname"])
        cpus = int(agent.check_output("nproc --all"))
        mem_total_mb = int(agent.check_output("awk '/MemTotal/ {print $2}' /proc/meminfo")) // 1024
        expected_mem = mem_total_mb - 1024 if mem_total_mb >= 2048 else mem_total_mb // 2
        assert slave["resources"]["cpus"] == cpus
        assert slave["resources"]["mem"] == expected_mem
        assert slave["resources"]["ports"] == "[31000-32000]"
        assert slave["active"] is True


def test_one_marathon_leader_that_every_instance_agrees_on():
    leaders = {get(f"{marathon_url(m)}/v2/leader")["leader"] for m in MARATHONS}
    assert len(leaders) == 1
    (leader,) = leaders
    assert leader.split(":")[0] in MARATHONS
    info = get(f"{marathon_url(MARATHONS[0])}/v2/info")
    assert info["buildref"] == "stackbench-emulator" and info["elected"] is True and info["leader"] == leader
    assert "emulator" not in info and "http_port" not in info["marathon_config"]  # keys real Marathon lacks


def test_an_app_scaled_to_two_instances_runs_on_the_agents():
    base = marathon_url(MARATHONS[-1])
    app = {"id": "/molecule/sleeper", "cmd": "sleep 3600", "cpus": 0.1, "mem": 32, "instances": 1}
    try:
        status, _ = send("POST", f"{base}/v2/apps", app)
        assert status == 201
    except urllib.error.HTTPError as exc:
        assert exc.code == 409  # left from an earlier verify run
    # force: the creation's deployment may still run, and Marathon answers 409 to a change without it
    status, _ = send("PUT", f"{base}/v2/apps/molecule/sleeper?force=true", {"instances": 2})
    assert status in (200, 201)
    got = wait_for(lambda: (a := get(f"{base}/v2/apps/molecule/sleeper")["app"])["tasksRunning"] == 2 and a)
    assert len(got["tasks"]) == 2
    _, url = leader_address()
    metrics = get(f"{url}/metrics/snapshot")
    assert metrics["master/tasks_running"] == 2.0
    assert abs(metrics["master/cpus_used"] - 0.2) < 1e-6 and metrics["master/mem_used"] == 64.0
    running = sum(int(node(a).run("pgrep -c -f '^sleep 3600$'").stdout.strip() or 0) for a in AGENTS)
    assert running == 2


def test_killing_the_leading_master_elects_a_new_one():
    leader, _ = leader_address()
    rest = [m for m in MASTERS if m != leader]
    with node(leader).sudo():
        node(leader).check_output("systemctl kill --signal=SIGKILL mesos-master")
    started = time.monotonic()
    new = wait_for(lambda: elected(rest) if len(elected(rest)) == 1 else None, timeout=60, interval=0.2)
    seconds = time.monotonic() - started
    assert new[0] != leader
    print(f"mesos master failover (emulators, real ZooKeeper): {seconds:.1f} s")
    results = Path(os.environ.get("STACKBENCH_RESULTS", Path(__file__).resolve().parents[3] / "results"))
    results.mkdir(parents=True, exist_ok=True)
    record = {
        "killed": leader,
        "new_leader": new[0],
        "seconds": round(seconds, 2),
        "emulators": True,
        "note": "Mesos masters are the stackbench emulators; ZooKeeper is real (session timeout 10 s)",
    }
    (results / "molecule-mesos-master-failover.json").write_text(json.dumps(record) + "\n")
    # The killed master comes back (Restart=always) as a follower; the agents re-register.
    wait_for(lambda: len(elected()) == 1 and all(snapshots().values()), timeout=60)
    url = f"http://{ADDRESSES[new[0]]}:5050"
    wait_for(lambda: len(get(f"{url}/master/slaves")["slaves"]) == len(AGENTS), timeout=60)
