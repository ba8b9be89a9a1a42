"""Marathon's placement `constraints` and COMMAND health checks, through the PyPI `marathon` client
(issue #16; Marathon docs `constraints.md`, `health-checks.md`; api-surfaces §2).

One Mesos master, three agents with their own hostnames and attributes, and one Marathon, shared by
the tests of this module; each test uses its own apps and deletes them.
"""

from __future__ import annotations

import collections
import collections.abc
import contextlib
import time
from pathlib import Path

import pytest
from conftest import Daemons, free_port, get_json, wait_for

marathon = pytest.importorskip("marathon")

from marathon import MarathonClient  # noqa: E402
from marathon.exceptions import MarathonError, MarathonHttpError  # noqa: E402
from marathon.models import MarathonApp, MarathonConstraint, MarathonHealthCheck  # noqa: E402

# hostname -> attributes (`--attributes`): two agents in rack r1, one in r2 without a `gen` attribute
AGENTS = {
    "127.0.0.2": "rack:r1;gen:2",
    "127.0.0.3": "rack:r1;gen:3",
    "127.0.0.4": "rack:r2",
}
RACK = {"127.0.0.2": "r1", "127.0.0.3": "r1", "127.0.0.4": "r2"}


class RawConstraint(MarathonConstraint):
    """A constraint sent as given (the client's model cannot hold a wrong number of fields)."""

    def __init__(self, *parts: str) -> None:
        super().__init__(*(list(parts) + [None, None])[:3])
        self.parts = list(parts)

    def json_repr(self, minimal=False):  # noqa: ANN001, ANN201, ARG002
        return self.parts


def quietly(call):  # noqa: ANN001, ANN201
    try:
        return call()
    except MarathonError:
        return None


@pytest.fixture(scope="module")
def client(zookeeper, tmp_path_factory):  # noqa: ANN201
    workdir = tmp_path_factory.mktemp("constraints")
    group = Daemons(workdir)
    try:
        master = free_port()
        group.start("mesos-master", [f"--zk=zk://{zookeeper}/mesos-cc", "--quorum=1", f"--work_dir={workdir}/m",
                                     "--ip=127.0.0.1", f"--port={master}", "--hostname=127.0.0.1"])
        for i, (hostname, attributes) in enumerate(AGENTS.items()):
            group.start(
                "mesos-agent",
                ["--ip=127.0.0.1", f"--port={free_port()}", f"--hostname={hostname}", f"--attributes={attributes}"],
                env={"MESOS_MASTER": f"zk://{zookeeper}/mesos-cc", "MESOS_WORK_DIR": f"{workdir}/a{i}",
                     "MESOS_RESOURCES": f"cpus:2;mem:1024;disk:2048;ports:[{31000 + 100 * i}-{31099 + 100 * i}]"},
            )
        wait_for(lambda: len(get_json(f"http://127.0.0.1:{master}/master/slaves")["slaves"]) == len(AGENTS),
                 what="agents")
        port = free_port()
        group.start("marathon", ["--master", f"zk://{zookeeper}/mesos-cc", "--http_port", str(port),
                                 "--hostname", "127.0.0.1"], env={"MARATHON_ZK": f"zk://{zookeeper}/marathon-cc"})
        marathon_client = MarathonClient(f"http://127.0.0.1:{port}", timeout=10)
        wait_for(lambda: quietly(lambda: marathon_client.get_leader()), what="marathon leader")
        yield marathon_client
    finally:
        group.stop()


def sleeper(instances: int, constraints: list[list[str]] | None = None, **extra) -> MarathonApp:  # noqa: ANN003
    return MarathonApp(cmd="sleep 300", cpus=0.1, mem=16, instances=instances,
                       constraints=[MarathonConstraint(*c) for c in constraints or []], **extra)


def settle(client, app_id: str, running: int, seconds: float = 30):  # noqa: ANN001, ANN201
    """The app once `running` tasks run and nothing is staging (it may still be deploying)."""
    def check():  # noqa: ANN202
        app = client.get_app(app_id, embed_tasks=True)
        return app if app.tasks_running == running and app.tasks_staged == 0 and len(app.tasks) == running else None

    return wait_for(check, seconds, what=f"{running} running instances of {app_id}")


def hosts(app) -> list[str]:  # noqa: ANN001
    return sorted(t.host for t in app.tasks)


@pytest.fixture(autouse=True)
def _client_encoder_on_python_310(monkeypatch):  # noqa: ANN001, ANN202, PT004
    """The client's JSON encoder tests `collections.Iterable` (gone in Python 3.10) for any list or dict a
    model's json_repr gives (a constraint, a check's command): put the alias back while a test runs (the
    contract tests show the bug itself)."""
    monkeypatch.setattr(collections, "Iterable", collections.abc.Iterable, raising=False)


@pytest.fixture
def apps(client):  # noqa: ANN001, ANN201
    created: list[str] = []
    yield created
    for app_id in created:
        with contextlib.suppress(MarathonError):
            client.delete_app(app_id, force=True)


def test_unique_hostname_leaves_the_excess_queued_and_the_deployment_open(client, apps):
    apps.append("/cc/unique")
    client.create_app("/cc/unique", sleeper(5, [["hostname", "UNIQUE"]]))
    app = settle(client, "/cc/unique", 3)
    assert hosts(app) == sorted(AGENTS)  # one per host, never two on one
    time.sleep(3)  # several reconciliation rounds: still not placed anyway
    app = client.get_app("/cc/unique", embed_tasks=True)
    assert app.tasks_running == 3 and len(app.tasks) == 3
    assert app.deployments, "the deployment must not finish with instances unplaced"
    (item,) = [q for q in client.list_queue() if q.app.id == "/cc/unique"]
    assert item.count == 2
    assert client.get_app("/cc/unique").constraints[0].json_repr() == ["hostname", "UNIQUE"]

    # scaled down to what the constraint allows: the queue empties and the deployment finishes
    client.scale_app("/cc/unique", instances=3, force=True)
    wait_for(lambda: not client.get_app("/cc/unique").deployments, 20, what="deployment finished")
    assert not [q for q in client.list_queue() if q.app.id == "/cc/unique"]


def test_cluster_pins_every_instance_to_one_host(client, apps):
    apps += ["/cc/cluster-any", "/cc/cluster-fixed"]
    client.create_app("/cc/cluster-any", sleeper(4, [["hostname", "CLUSTER"]]))
    client.create_app("/cc/cluster-fixed", sleeper(3, [["hostname", "CLUSTER", "127.0.0.3"]]))
    anywhere = settle(client, "/cc/cluster-any", 4)
    assert len(set(hosts(anywhere))) == 1  # spreading would have used the three agents
    fixed = settle(client, "/cc/cluster-fixed", 3)
    assert hosts(fixed) == ["127.0.0.3"] * 3
    wait_for(lambda: not client.get_app("/cc/cluster-any").deployments, 20, what="deployment finished")


@pytest.mark.parametrize(
    ("name", "constraints", "instances", "placed", "expect"),
    [
        # attribute LIKE (a full match): r1 only; `r` alone would not match `r1`
        ("like", [["rack", "LIKE", "r[0-9]"], ["rack", "LIKE", "r1"]], 4, 4,
         lambda hs: {RACK[h] for h in hs} == {"r1"}),
        ("like-partial", [["rack", "LIKE", "r"]], 2, 0, None),
        # UNLIKE also accepts the agent without the attribute (127.0.0.4 has no `gen`)
        ("unlike", [["gen", "UNLIKE", "2"], ["hostname", "UNIQUE"]], 3, 2,
         lambda hs: sorted(hs) == ["127.0.0.3", "127.0.0.4"]),
        # IS on an attribute, and the scalar attribute compared in Marathon's format (`3`, not `3.0`)
        ("is", [["rack", "IS", "r2"]], 2, 2, lambda hs: hs == ["127.0.0.4"] * 2),
        ("is-scalar", [["gen", "IS", "3"]], 2, 2, lambda hs: hs == ["127.0.0.3"] * 2),
        # MAX_PER per rack: one in r1, one in r2, the third queued
        ("max-per", [["rack", "MAX_PER", "1"]], 3, 2, lambda hs: sorted(RACK[h] for h in hs) == ["r1", "r2"]),
        # GROUP_BY over 2 racks: even, although r1 has two agents
        ("group-by", [["rack", "GROUP_BY", "2"]], 4, 4,
         lambda hs: collections.Counter(RACK[h] for h in hs) == {"r1": 2, "r2": 2}),
        # an attribute no agent has: only UNLIKE would accept
        ("missing", [["ssd", "CLUSTER", "true"]], 1, 0, None),
    ],
)
def test_attribute_constraints_place_as_marathon_does(client, apps, name, constraints, instances, placed, expect):
    app_id = f"/cc/attr-{name}"
    apps.append(app_id)
    client.create_app(app_id, sleeper(instances, constraints))
    if placed:
        app = settle(client, app_id, placed)
        assert expect(hosts(app)), hosts(app)
    time.sleep(2.5)  # a few more rounds: nothing else placed
    app = client.get_app(app_id, embed_tasks=True)
    assert len(app.tasks) == placed
    queued = [q.count for q in client.list_queue() if q.app.id == app_id]
    assert queued == ([instances - placed] if instances > placed else [])


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        (["hostname", "BOGUS"], "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER"),
        (["hostname"], "Each constraint must have either 2 or 3 fields"),
        (["hostname", "UNIQUE", "x", "y"], "Each constraint must have either 2 or 3 fields"),
        (["hostname", "UNIQUE", "x"], "UNIQUE does not accept a value"),
        (["rack", "MAX_PER", "two"], "MAX_PER requires an integer value"),
        (["rack", "LIKE", "r[1"], "is not a valid regular expression"),
    ],
)
def test_an_invalid_constraint_is_refused_with_422(client, constraint, message):
    with pytest.raises(MarathonHttpError) as refused:
        client.create_app("/cc/invalid", MarathonApp(cmd="sleep 300", cpus=0.1, mem=16,
                                                     constraints=[RawConstraint(*constraint)]))
    assert refused.value.status_code == 422
    assert refused.value.error_message == "Object is not valid"
    (detail,) = refused.value.error_details
    assert detail["path"] == "/constraints(0)" and detail["errors"][0].startswith(message)
    assert "/cc/invalid" not in [a.id for a in client.list_apps()]


def test_a_lower_case_operator_is_accepted_and_stored_in_upper_case(client, apps):
    apps.append("/cc/lower")
    client.create_app("/cc/lower", sleeper(1, [["hostname", "unique"]]))
    assert client.get_app("/cc/lower").constraints[0].json_repr() == ["hostname", "UNIQUE"]


def test_command_health_check_runs_in_the_task_environment_and_replaces_a_failing_task(client, apps, tmp_path: Path):
    """`test -e` of a file named after $PORT0 (so the task's environment is used) and of a file the task
    made in its sandbox (the check's working directory): unhealthy until the file exists, healthy, then
    killed and replaced after maxConsecutiveFailures failures once the file is gone."""
    apps.append("/cc/command")
    command = f'test -e made-by-task && test "$HOST" = 127.0.0.4 && test -e {tmp_path}/$PORT0'
    check = MarathonHealthCheck(protocol="COMMAND", command=command,
                                grace_period_seconds=60, interval_seconds=1, timeout_seconds=2,
                                max_consecutive_failures=2)
    client.create_app("/cc/command", MarathonApp(cmd="touch made-by-task && sleep 300", cpus=0.1, mem=16,
                                                 instances=1, health_checks=[check],
                                                 constraints=[MarathonConstraint("hostname", "IS", "127.0.0.4")]))
    stored = client.get_app("/cc/command").health_checks[0]
    assert stored.protocol == "COMMAND" and stored.command == {"value": check.command["value"]}

    def results():  # noqa: ANN202
        app = client.get_app("/cc/command", embed_tasks=True)
        tasks = [t for t in app.tasks if t.state == "TASK_RUNNING" and t.health_check_results]
        return (app, tasks[0]) if len(app.tasks) == 1 and tasks else None

    # the file does not exist yet: checked and failing, but not killed within the grace period
    app, task = wait_for(lambda: (r := results()) and not r[1].health_check_results[0].alive and r, 20,
                         what="a failing COMMAND check")
    assert task.health_check_results[0].consecutive_failures >= 1
    assert app.tasks_unhealthy == 1 and app.tasks_healthy == 0 and app.deployments
    first = task.id
    time.sleep(2.5)
    assert [t.id for t in client.get_app("/cc/command", embed_tasks=True).tasks] == [first]

    flag = tmp_path / str(task.ports[0])
    flag.touch()
    app, task = wait_for(lambda: (r := results()) and r[1].health_check_results[0].alive and r, 20,
                         what="a healthy COMMAND check")
    assert task.id == first and app.tasks_healthy == 1 and app.tasks_unhealthy == 0
    assert task.health_check_results[0].consecutive_failures == 0
    wait_for(lambda: not client.get_app("/cc/command").deployments, 10, what="deployment finished")

    flag.unlink()  # healthy before: the grace period no longer protects it
    wait_for(lambda: (r := results()) is None or r[1].id != first or not r[1].health_check_results[0].alive,
             10, what="unhealthy again")
    replaced = wait_for(lambda: (r := results()) and r[1].id != first and r[1], 30, what="replacement task")
    assert first not in [t.id for t in client.list_tasks("/cc/command")]
    assert replaced.host == "127.0.0.4"
