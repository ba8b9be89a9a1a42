"""The write probe of the lifecycle checks: failed, retried and lost acknowledged writes, counted right."""

import time

from kazoo.exceptions import ConnectionLoss, NodeExistsError

from stackbench.bench.zookeeper_writes import ZooKeeperWrites


class FakeClient:
    """Creates znodes in a dict; `lose_after_apply` makes create raise ConnectionLoss after applying it once."""

    def __init__(self, lose_after_apply=(), refuse=(), forget=()):
        self.nodes = {}
        self.lose_after_apply, self.refuse, self.forget = set(lose_after_apply), set(refuse), set(forget)

    def start(self, timeout):
        pass

    def ensure_path(self, path):
        pass

    def create(self, path, value):
        name = path.rsplit("/", 1)[1]
        if name in self.refuse:
            raise ConnectionLoss()
        if name in self.nodes:
            raise NodeExistsError()
        if name not in self.forget:
            self.nodes[name] = value
        if name in self.lose_after_apply:
            self.lose_after_apply.discard(name)
            raise ConnectionLoss()

    def retry(self, func, *args):
        return func(*args)

    def get_children(self, path):
        return list(self.nodes)

    def stop(self):
        pass

    def close(self):
        pass


def probe(client, writes=5):
    p = ZooKeeperWrites("zk:2181", "/t", interval=0.001, deadline=0.3)
    p.client = client
    with p:
        while p.figures.attempted < writes:
            time.sleep(0.01)
    return p


def test_a_retry_that_finds_its_own_write_counts_as_one_success():
    p = probe(FakeClient(lose_after_apply={"w-00000002"}))
    assert p.figures.failed == 0 and p.figures.retried == 1 and p.figures.lost_acknowledged == 0
    assert p.figures.succeeded == p.figures.attempted


def test_writes_that_never_go_through_are_failed_not_lost():
    p = probe(FakeClient(refuse={"w-00000003"}))
    assert p.figures.failed == 1 and p.figures.lost_acknowledged == 0
    assert "write 3: " in p.figures.failures[0]


def test_an_acknowledged_write_missing_afterwards_is_lost():
    p = probe(FakeClient(forget={"w-00000001", "w-00000004"}))
    assert p.figures.failed == 0 and p.figures.lost_acknowledged == 2
