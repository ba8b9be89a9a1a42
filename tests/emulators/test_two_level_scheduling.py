"""Two-level scheduling on the emulated masters, through a third-party framework library: the master's
allocator offers each agent's free resources to v1 frameworks (DRF, refuse filters, offer timeout),
and a batch framework written with `avmesos` places its tasks by accepting those offers beside a
Marathon app. The allocator's ordering rules are checked directly in the unit tests at the top."""

from __future__ import annotations

import collections
import collections.abc
import threading
import time

import avmesos.client as avmesos_client
import pytest
import requests
from conftest import free_port, get_json, wait_for
from marathon import MarathonClient
from marathon.models import MarathonApp
from mesos_emulator import allocator
from test_client_contracts import start_mesos

TOTAL = {"cpus": 4.0, "mem": 2048.0, "disk": 4096.0}


def test_drf_orders_roles_by_weighted_share_then_frameworks():
    light = allocator.Candidate("b", "*", {"cpus": 0.5})
    heavy = allocator.Candidate("a", "*", {"mem": 1024.0})  # half the memory: the larger dominant share
    assert [c.id for c in allocator.drf_order([heavy, light], TOTAL, {})] == ["b", "a"]
    # a role's share counts all its frameworks; a weight of 8 makes the batch role's 0.5 count as 0.0625
    batch = allocator.Candidate("c", "batch", {"cpus": 2.0})
    assert [c.id for c in allocator.drf_order([batch, light], TOTAL, {})] == ["b", "c"]
    assert [c.id for c in allocator.drf_order([batch, light], TOTAL, {"batch": 8.0})] == ["c", "b"]


def test_allocate_gives_each_agent_to_one_framework_and_counts_what_it_offers():
    free = {"a1": {"cpus": 2.0, "mem": 1024.0}, "a2": {"cpus": 2.0, "mem": 1024.0}, "a3": {"cpus": 0.0, "mem": 8.0}}
    first, second = allocator.Candidate("f1"), allocator.Candidate("f2")
    offers = allocator.allocate(free, [first, second], TOTAL, {}, {}, now=0.0)
    # a1 to f1 (tie broken by id), then f1 holds half the cluster and a2 goes to f2; a3 is below the minimum
    assert [(f, a) for f, a, _ in offers] == [("f1", "a1"), ("f2", "a2")]
    assert offers[0][2] == free["a1"] and first.allocated == {}  # the callers' candidates are untouched


def test_refusal_filter_holds_for_a_subset_until_it_expires_and_suppress_stops_offers():
    free = {"a1": {"cpus": 1.0, "mem": 512.0}}
    only = [allocator.Candidate("f1")]
    refused = {("f1", "a1"): (10.0, {"cpus": 1.0, "mem": 512.0})}
    assert allocator.allocate(free, only, TOTAL, {}, refused, now=5.0) == []
    assert len(allocator.allocate(free, only, TOTAL, {}, refused, now=10.5)) == 1  # the filter ran out
    more = {"a1": {"cpus": 1.5, "mem": 512.0}}  # a task ended: more than was refused is offered again
    assert len(allocator.allocate(more, only, TOTAL, {}, refused, now=5.0)) == 1
    others = [allocator.Candidate("f1", offerable=False), allocator.Candidate("f2")]
    assert [f for f, _, _ in allocator.allocate(free, others, TOTAL, {}, refused, now=5.0)] == ["f2"]


class BatchFramework:
    """A small batch framework on avmesos: N short command tasks, packed into the offers it gets."""

    def __init__(self, master: str, name: str, count: int, cpus: float = 0.1, mem: float = 16.0) -> None:
        self.pending = [f"{name}-{i}" for i in range(count)]
        self.cpus, self.mem = cpus, mem
        self.states: dict[str, str] = {}
        self.placed: dict[str, str] = {}  # task id: agent id
        self.offers_seen = 0
        self.lock = threading.Lock()
        self.client = avmesos_client.MesosClient(mesos_urls=[master], frameworkName=name)
        self.client.on(self.client.SUBSCRIBED, self._subscribed)
        self.client.on(self.client.OFFERS, self._offers)
        self.client.on(self.client.UPDATE, self._update)
        self.driver = None
        self.thread = threading.Thread(target=self.client.register, daemon=True)
        self.thread.start()

    def _subscribed(self, driver) -> None:  # noqa: ANN001
        self.driver = driver

    def _offers(self, offers) -> None:  # noqa: ANN001
        for offer in offers:
            info = offer.get_offer()
            have = {r["name"]: r["scalar"]["value"] for r in info["resources"] if r["type"] == "SCALAR"}
            tasks = []
            with self.lock:
                self.offers_seen += 1
                while self.pending and have.get("cpus", 0) >= self.cpus and have.get("mem", 0) >= self.mem:
                    task_id = self.pending.pop(0)
                    have["cpus"] -= self.cpus
                    have["mem"] -= self.mem
                    self.placed[task_id] = info["agent_id"]["value"]
                    tasks.append({
                        "name": task_id, "task_id": {"value": task_id}, "agent_id": info["agent_id"],
                        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": self.cpus}},
                                      {"name": "mem", "type": "SCALAR", "scalar": {"value": self.mem}}],
                        "command": {"value": "sleep 0.2"},
                    })
            if tasks:
                offer.accept(tasks, {"filters": {"refuse_seconds": 1}})
            else:
                offer.decline({"filters": {"refuse_seconds": 60}})

    def _update(self, update: dict) -> None:
        status = update["status"]
        with self.lock:
            self.states[status["task_id"]["value"]] = status["state"]

    def finished(self) -> int:
        with self.lock:
            return sum(state == "TASK_FINISHED" for state in self.states.values())

    def summary(self) -> str:
        with self.lock:
            return f"{len(self.pending)} pending, states {collections.Counter(self.states.values())}"

    def stop(self) -> None:
        if self.driver is not None:
            self.driver.tearDown()
        self.client.tearDown()
        self.client.disconnect_framework()
        self.thread.join(10)


@pytest.fixture
def cluster(zookeeper, daemons, tmp_path, monkeypatch):
    """One master, two agents (2 cpus each) and a Marathon with a two-instance app."""
    # the marathon client's encoder still tests collections.Iterable (gone in Python 3.10)
    monkeypatch.setattr(collections, "Iterable", collections.abc.Iterable, raising=False)
    name = f"2l-{tmp_path.name}"  # one ZooKeeper for the session: paths of their own per test
    (master,) = start_mesos(daemons, zookeeper, tmp_path, f"mesos-{name}", agents=2)
    base = f"http://127.0.0.1:{master}"
    wait_for(lambda: len(get_json(f"{base}/master/slaves")["slaves"]) == 2, what="agents")
    port = free_port()
    daemons.start("marathon", ["--master", f"zk://{zookeeper}/mesos-{name}", "--http_port", str(port),
                               "--hostname", "127.0.0.1"], env={"MARATHON_ZK": f"zk://{zookeeper}/marathon-{name}"})
    marathon = MarathonClient(f"http://127.0.0.1:{port}", timeout=10)
    wait_for(lambda: _quiet(marathon.ping), 30, what="marathon")
    marathon.create_app("/long", MarathonApp(cmd="sleep 600", cpus=0.5, mem=64, instances=2))
    wait_for(lambda: marathon.get_app("/long").tasks_running == 2, 30, what="the long-running app")
    return base, marathon


def _quiet(call):  # noqa: ANN001, ANN202
    try:
        return call()
    except Exception:  # noqa: BLE001
        return None


def test_batch_framework_places_50_tasks_through_offers_beside_marathon(cluster):
    base, marathon = cluster
    before = sorted(t.id for t in marathon.get_app("/long").tasks)
    started = time.monotonic()
    batch = BatchFramework(base, "batch", 50)
    try:
        try:
            wait_for(lambda: batch.finished() == 50, 90, what="50 batch tasks finished")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {batch.summary()}") from None
        elapsed = time.monotonic() - started
        print(f"50 batch tasks placed through offers and finished in {elapsed:.1f} s (emulated)")
        # packed into offers from both agents, never more than an offer held
        assert set(batch.placed.values()) == {s["id"] for s in get_json(f"{base}/master/slaves")["slaves"]}
        assert set(batch.states.values()) == {"TASK_FINISHED"}
        # the long-running app kept its tasks
        app = marathon.get_app("/long")
        assert app.tasks_running == 2 and sorted(t.id for t in app.tasks) == before
        # nothing pending: the framework declines for 60 s, so its offers stop and nothing stays offered
        # (avmesos reads an event once the next one starts, so the last offers wait for a heartbeat, 15 s)
        wait_for(lambda: all(not s["offered_resources"]["cpus"]
                             for s in get_json(f"{base}/master/slaves")["slaves"]), 40, what="offers declined")
        (fw,) = [f for f in get_json(f"{base}/master/frameworks")["frameworks"] if f["name"] == "batch"]
        assert fw["tasks"] == [] and fw["used_resources"]["cpus"] == 0 and fw["offered_resources"]["cpus"] == 0
        seen = batch.offers_seen
        time.sleep(3)
        assert batch.offers_seen == seen  # the 60 s refuse filter holds
        batch.driver.revive()  # REVIVE clears the filters: offers come again
        wait_for(lambda: batch.offers_seen > seen, 40, what="offers after REVIVE")
    finally:
        batch.stop()


def test_stale_or_oversized_launches_are_reported_not_run(cluster):
    base, _ = cluster
    offers: list[dict] = []
    updates: list[dict] = []
    client = avmesos_client.MesosClient(mesos_urls=[base], frameworkName="strict")
    client.on(client.OFFERS, lambda got: offers.extend(o.get_offer() for o in got))
    client.on(client.UPDATE, updates.append)
    thread = threading.Thread(target=client.register, daemon=True)
    thread.start()
    try:
        wait_for(lambda: offers, 20, what="an offer")
        driver = client.get_driver()
        offer = offers[0]
        cpus = next(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")
        assert offer["hostname"] == "127.0.0.1" and cpus > 0

        def accept(task_id: str, offer_id: str, wanted: float) -> None:
            task = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
                    "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": wanted}}],
                    "command": {"value": "sleep 30"}}
            answer = requests.post(f"{base}/api/v1/scheduler", timeout=5, headers={"Mesos-Stream-Id": driver.streamId},
                                   json={"type": "ACCEPT", "framework_id": {"value": driver.frameworkId},
                                         "accept": {"offer_ids": [{"value": offer_id}],
                                                    "operations": [{"type": "LAUNCH",
                                                                    "launch": {"task_infos": [task]}}]}})
            assert answer.status_code == 202

        accept("too-big", offer["id"]["value"], cpus + 1)
        accept("stale", offer["id"]["value"], 0.1)  # the offer was used by the accept before
        wait_for(lambda: len(updates) >= 2, 10, what="two updates")
        states = {u["status"]["task_id"]["value"]: (u["status"]["state"], u["status"]["reason"]) for u in updates}
        assert states == {"too-big": ("TASK_ERROR", "REASON_TASK_INVALID"),
                          "stale": ("TASK_DROPPED", "REASON_INVALID_OFFERS")}
        assert not [t for t in get_json(f"{base}/master/tasks")["tasks"] if t["id"] in states]
    finally:
        client.tearDown()
        client.disconnect_framework()
        thread.join(10)
