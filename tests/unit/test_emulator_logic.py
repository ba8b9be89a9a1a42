"""The Mesos/Marathon emulators' pure logic against the reference (api-surfaces §1, §2)."""

from __future__ import annotations

import pytest

# mesos_emulator is importable through pyproject's pytest `pythonpath` (tests/emulators)
from mesos_emulator import agent, marathon, master, resources, zk
from mesos_emulator.flags import FlagError, load_marathon_flags, load_mesos_flags

GB = 1024 * 1024 * 1024


# ---- Mesos flag loading (stout) ---------------------------------------------------------
def test_mesos_env_is_read_and_command_line_wins():
    flags = load_mesos_flags(master.FLAGS, ["--port=6000"], {"MESOS_PORT": "5999", "MESOS_cluster": "lab"})
    assert flags["port"] == 6000
    assert flags["cluster"] == "lab"


def test_mesos_unknown_env_is_ignored_but_unknown_flag_is_an_error():
    load_mesos_flags(master.FLAGS, [], {"MESOS_NOT_A_FLAG": "1"})
    with pytest.raises(FlagError, match="Failed to load unknown flag 'not_a_flag'"):
        load_mesos_flags(master.FLAGS, ["--not_a_flag=1"], {})


def test_mesos_boolean_forms_and_file_values(tmp_path):
    assert load_mesos_flags(master.FLAGS, ["--no-hostname_lookup"], {})["hostname_lookup"] is False
    assert load_mesos_flags(master.FLAGS, ["--hostname_lookup=false"], {})["hostname_lookup"] is False
    zk_file = tmp_path / "zk"
    zk_file.write_text("zk://a:2181/mesos\n")
    assert load_mesos_flags(master.FLAGS, [f"--zk=file://{zk_file}"], {})["zk"] == "zk://a:2181/mesos"
    with pytest.raises(FlagError):
        load_mesos_flags(master.FLAGS, ["--port"], {})


def test_mesos_durations():
    flags = load_mesos_flags(master.FLAGS, ["--zk_session_timeout=15secs", "--registry_fetch_timeout=2mins"], {})
    assert flags["zk_session_timeout"] == 15.0
    assert flags["registry_fetch_timeout"] == 120.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--zk=zk://a:2181/mesos", "--work_dir=/w"], "Need to specify --quorum"),
        (["--zk=zk://a:2181/mesos", "--quorum=2"], "--work_dir needed"),
        (["--ip=1.2.3.4", "--ip_discovery_command=x", "--work_dir=/w"], "Only one of `--ip`"),
    ],
)
def test_master_refuses_missing_required_flags(argv, message):
    with pytest.raises(FlagError, match=message):
        master.validate(load_mesos_flags(master.FLAGS, argv, {}))


def test_master_accepts_a_complete_ha_command_line():
    master.validate(
        load_mesos_flags(
            master.FLAGS,
            ["--zk=zk://a:2181,b:2181/mesos", "--quorum=2", "--work_dir=/var/lib/mesos/master"],
            {},
        )
    )


def test_agent_requires_master_and_work_dir():
    with pytest.raises(FlagError, match="--master"):
        agent.validate(load_mesos_flags(agent.FLAGS, ["--work_dir=/w"], {}), euid=0)
    with pytest.raises(FlagError, match="work_dir"):
        agent.validate(load_mesos_flags(agent.FLAGS, ["--master=zk://a:2181/mesos"], {}), euid=0)


def test_agent_cgroups_isolation_needs_root_and_v1_hierarchy(tmp_path):
    flags = load_mesos_flags(
        agent.FLAGS,
        ["--isolation=cgroups/cpu,cgroups/mem"],
        {"MESOS_MASTER": "zk://a:2181/mesos", "MESOS_WORK_DIR": "/w"},
    )
    with pytest.raises(FlagError, match="requires root"):
        agent.validate(flags, euid=1000, hierarchy=str(tmp_path))
    with pytest.raises(FlagError, match="cgroup v1"):
        agent.validate(flags, euid=0, hierarchy=str(tmp_path))  # no cpu/ memory/ here
    (tmp_path / "cpu").mkdir()
    (tmp_path / "memory").mkdir()
    agent.validate(flags, euid=0, hierarchy=str(tmp_path))
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")  # a cgroup v2 unified root
    with pytest.raises(FlagError, match="cgroup v1"):
        agent.validate(flags, euid=0, hierarchy=str(tmp_path))


def test_agent_posix_isolation_and_unknown_isolator(tmp_path):
    base = ["--master=zk://a:2181/mesos", "--work_dir=/w"]
    agent.validate(
        load_mesos_flags(agent.FLAGS, [*base, "--isolation=posix/cpu,posix/mem"], {}),
        euid=1000,
        hierarchy=str(tmp_path),
    )
    with pytest.raises(FlagError, match="Unknown or unsupported isolator"):
        agent.validate(load_mesos_flags(agent.FLAGS, [*base, "--isolation=magic/x"], {}), euid=0)


def test_agent_attributes():
    assert agent.parse_attributes("rack:2;zone:a") == {"rack": 2.0, "zone": "a"}


# ---- resources (api-surfaces §1.4) -------------------------------------------------------
def test_auto_detected_memory_and_disk_rules():
    assert resources.detected_mem_mb(24 * GB) == 23 * 1024
    assert resources.detected_mem_mb(1 * GB) == 512
    assert resources.detected_mem_mb(None) == 1024
    assert resources.detected_disk_mb(100 * GB) == 95 * 1024
    assert resources.detected_disk_mb(8 * GB) == 4 * 1024
    assert resources.detected_disk_mb(None) == 10 * 1024


def test_explicit_resources_disable_detection_per_name():
    total = resources.agent_resources("cpus:0;mem:512", 8, 24 * GB, 100 * GB)
    assert total["cpus"] == 0.0
    assert total["mem"] == 512.0
    assert total["disk"] == 95 * 1024
    assert total["ports"] == "[31000-32000]"


def test_resource_text_and_json_forms():
    assert resources.parse_resources("cpus(web):2;ports:[1-10]") == {"cpus": 2.0, "ports": "[1-10]"}
    assert resources.parse_resources('[{"name":"mem","type":"SCALAR","scalar":{"value":64}}]') == {"mem": 64.0}
    with pytest.raises(resources.ResourceError):
        resources.parse_resources("cpus:lots")


def test_resource_json_always_has_the_four_scalars():
    encoded = resources.encode({"cpus": 1.0})
    assert {"cpus", "gpus", "mem", "disk"} <= set(encoded)


def test_fits_and_subtract():
    free = resources.subtract({"cpus": 2.0, "mem": 1024.0, "ports": "[1-2]"}, {"cpus": 1.5, "mem": 1000.0})
    assert resources.fits({"cpus": 0.5, "mem": 24.0}, free)
    assert not resources.fits({"cpus": 0.6}, free)


# ---- ZooKeeper layouts (§1.5, §2.3) -----------------------------------------------------
def test_zk_url_forms():
    assert zk.parse_zk_url("zk://a:2181,b:2181/mesos") == zk.ZkUrl("a:2181,b:2181", "/mesos", None)
    assert zk.parse_zk_url("zk://u:p@a:2181/m").auth == "u:p"
    with pytest.raises(ValueError):
        zk.parse_zk_url("zk://a:2181/")


def test_mesos_leader_is_smallest_json_info_sequence():
    children = ["json.info_0000000012", "log_replicas", "json.info_0000000003", "info_0000000001"]
    assert zk.mesos_leader_child(children) == "json.info_0000000003"
    assert zk.mesos_leader_child(["log_replicas"]) is None


def test_latch_leader_is_lowest_sequence_regardless_of_uuid_prefix():
    children = ["_c_ffff-latch-0000000007", "_c_0000-latch-0000000009"]
    assert zk.latch_leader_child(children) == "_c_ffff-latch-0000000007"


def test_master_info_fields():
    info = zk.master_info("id1", "10.0.0.1", 5050, "m1", "1.11.0")
    assert info["pid"] == "master@10.0.0.1:5050"
    assert info["address"] == {"hostname": "m1", "ip": "10.0.0.1", "port": 5050}
    assert {"id", "ip", "port", "pid", "hostname", "version", "address", "capabilities"} <= set(info)


# ---- Marathon (§2.2, §2.4) ----------------------------------------------------------------
def test_marathon_env_becomes_flags_and_conflicts_with_cli():
    env = {"MARATHON_ZK": "zk://z:2181/marathon", "MARATHON_DISABLE_HA": "", "MARATHON_APP_ID": "/x"}
    flags = load_marathon_flags(marathon.FLAGS, ["--master", "zk://z:2181/mesos"], env)
    assert flags["zk"] == "zk://z:2181/marathon"
    assert flags["ha"] is False
    with pytest.raises(FlagError, match="both"):
        load_marathon_flags(marathon.FLAGS, ["--zk", "zk://y:2181/m"], {"MARATHON_ZK": "zk://z:2181/m"})


def test_marathon_refuses_unknown_and_missing_master():
    with pytest.raises(FlagError, match="Unknown option"):
        load_marathon_flags(marathon.FLAGS, ["--bogus", "1"], {})
    with pytest.raises(FlagError, match="master"):
        marathon.validate(load_marathon_flags(marathon.FLAGS, [], {}))


def test_app_defaults_and_ids():
    app = marathon.normalize_app({"id": "group/web", "cmd": "sleep 1"})
    assert (app["id"], app["cpus"], app["mem"], app["instances"]) == ("/group/web", 1.0, 128.0, 1)
    assert marathon.app_of_task(marathon.task_id_for("/group/web")) == "/group/web"
    with pytest.raises(ValueError):
        marathon.normalize_app({"id": "/x", "cpus": 0})


def test_placement_respects_free_resources_and_spreads():
    agents = [
        {
            "id": "a",
            "hostname": "a",
            "resources": {"cpus": 1.0, "mem": 512.0},
            "used_resources": {"cpus": 1.0},
        },
        {
            "id": "b",
            "hostname": "b",
            "resources": {"cpus": 2.0, "mem": 512.0},
            "used_resources": {"cpus": 0.0},
        },
        {
            "id": "c",
            "hostname": "c",
            "resources": {"cpus": 2.0, "mem": 512.0},
            "used_resources": {"cpus": 0.0},
        },
    ]
    request = {"cpus": 0.5, "mem": 64.0}
    assert marathon.choose_agent(agents, request, {"b": 1})["id"] == "c"
    assert marathon.choose_agent(agents, {"cpus": 4.0}, {}) is None


class _BlockingZk:
    """Just enough of a KazooClient for a Marathon leader taking over: state loading blocks until released."""

    def __init__(self, participant: str, app: dict) -> None:
        import threading

        self.release = threading.Event()
        self.participant = participant
        self.app = app

    def get(self, path):
        import json

        if path.endswith("/apps/web"):
            return json.dumps(self.app).encode(), None
        return self.participant.encode(), None

    def exists(self, path):
        return None

    def get_children(self, path):
        self.release.wait(10)
        return ["web"]


def test_a_new_marathon_leader_serves_only_after_loading_its_state(monkeypatch):
    import time

    flags = load_marathon_flags(
        marathon.FLAGS, ["--master", "zk://z:2181/mesos", "--zk", "zk://z:2181/marathon", "--hostname", "h"], {}
    )
    instance = marathon.Marathon(flags)
    monkeypatch.setattr(instance, "_reconcile", lambda: None)
    instance.zk = _BlockingZk(instance.participant, {"id": "/web", "instances": 1})
    instance.my_node = "_c_x-latch-0000000001"
    instance._children([instance.my_node])
    time.sleep(0.2)
    assert instance.leader_id == "h:8080"
    assert not instance.elected()  # still loading: no request may be served from a stale view
    instance.zk.release.set()
    deadline = time.monotonic() + 5
    while not instance.elected() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert instance.elected()
    assert set(instance.apps) == {"/web"}


# ---- Marathon deployments, ports, health checks (api-surfaces §2: upgradeStrategy, healthChecks) -------
def _t(task_id, version, ready=True):
    return {"id": task_id, "version": version, "ready": ready}


def test_marathon_rolling_upgrade_keeps_capacity_and_bounds_overcapacity():
    strategy = {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0}
    old = [_t("a", "v1"), _t("b", "v1")]
    # start: launch all new instances, kill nothing while none of them is ready
    assert marathon.upgrade_plan(2, "v2", old, strategy) == (2, [])
    # one new ready: one old may go
    assert marathon.upgrade_plan(2, "v2", [*old, _t("c", "v2"), _t("d", "v2", ready=False)], strategy) == (0, ["a"])
    # all new ready: the rest goes
    assert marathon.upgrade_plan(2, "v2", [old[1], _t("c", "v2"), _t("d", "v2")], strategy) == (0, ["b"])
    # no old tasks: plain scaling, the last launched go first
    assert marathon.upgrade_plan(1, "v2", [_t("c", "v2"), _t("d", "v2")], strategy) == (0, ["d"])
    assert marathon.upgrade_plan(3, "v2", [_t("c", "v2")], strategy) == (2, [])


def test_marathon_rolling_upgrade_with_zero_minimum_health_capacity_replaces_at_once():
    strategy = {"minimumHealthCapacity": 0.0, "maximumOverCapacity": 0.0}
    assert marathon.upgrade_plan(2, "v2", [_t("a", "v1"), _t("b", "v1")], strategy) == (2, ["a", "b"])


def test_marathon_scaling_is_not_a_config_change():
    app = marathon.normalize_app({"id": "/web", "cmd": "x", "instances": 1})
    app["version"] = "t1"
    app["versionInfo"] = marathon.version_info_for(None, app, "t1")
    scaled = {**app, "instances": 3, "version": "t2"}
    assert marathon.version_info_for(app, scaled, "t2") == {"lastScalingAt": "t2", "lastConfigChangeAt": "t1"}
    changed = {**app, "env": {"V": "2"}, "version": "t3"}
    assert marathon.version_info_for(app, changed, "t3") == {"lastScalingAt": "t3", "lastConfigChangeAt": "t3"}


def test_marathon_health_check_defaults_and_kill_rule():
    app = marathon.normalize_app({"id": "/web", "cmd": "x", "healthChecks": [{"path": "/health"}]})
    check = app["healthChecks"][0]
    assert (check["protocol"], check["maxConsecutiveFailures"], check["gracePeriodSeconds"]) == ("HTTP", 3, 300)
    record = {}
    for _ in range(3):
        record = marathon.health_update(record, False, "t", "HTTP 503")
    assert record["consecutiveFailures"] == 3 and record["alive"] is False
    # within the grace period and never healthy: kept
    assert not marathon.should_kill_unhealthy(record, check, started=100.0, at=110.0)
    assert marathon.should_kill_unhealthy(record, check, started=100.0, at=500.0)
    healthy_once = marathon.health_update(marathon.health_update({}, True, "t0"), False, "t1")
    assert healthy_once["firstSuccess"] == "t0"
    assert not marathon.should_kill_unhealthy(healthy_once, check, 100.0, 110.0)
    assert marathon.should_kill_unhealthy({**healthy_once, "consecutiveFailures": 3}, check, 100.0, 110.0)
    assert not marathon.should_kill_unhealthy(
        {**healthy_once, "consecutiveFailures": 9}, {**check, "maxConsecutiveFailures": 0}, 100.0, 110.0
    )


def test_marathon_picks_free_host_ports_from_the_agent_range():
    assert marathon.pick_port("[31000-32000]", set()) == 31000
    assert marathon.pick_port("[31000-31001, 31005-31006]", {31000, 31001}) == 31005
    assert marathon.pick_port("[31000-31000]", {31000}) is None
