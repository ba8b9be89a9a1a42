"""A client that writes to ZooKeeper every interval while something changes the ensemble, and then
checks that nothing it was told was written has gone.

Each write creates its own znode (`<path>/w-<n>`), so that a lost acknowledged write shows as a
missing child afterwards: failed writes (not done within the deadline, kazoo retrying meanwhile),
the longest gap between two successful writes, and acknowledged writes that are gone.

    with ZooKeeperWrites("10.0.0.1:2181,10.0.0.2:2181", "/stackbench/lifecycle/grow") as probe:
        ...  # change the ensemble
    print(probe.result())
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.retry import KazooRetry, RetryFailedError

from stackbench.bench.rolling import every, longest_gap


@dataclass
class WriteFigures:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    lost_acknowledged: int = 0
    longest_gap_seconds: float = 0.0
    slowest_write_seconds: float = 0.0
    wall_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


class ZooKeeperWrites:
    """Writes every `interval` seconds from start to stop (a context manager), then verifies them."""

    def __init__(self, hosts: str, path: str, interval: float = 0.1, deadline: float = 10.0) -> None:
        self.hosts, self.path, self.interval, self.deadline = hosts, path.rstrip("/"), interval, deadline
        self.client = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": -1, "max_delay": 1})
        self.figures = WriteFigures()
        self._acknowledged: list[int] = []
        self._done: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=every, args=(interval, self._stop, self._write_once), daemon=True)
        self._started = self._ended = 0.0

    def __enter__(self) -> ZooKeeperWrites:
        self.client.start(timeout=30)
        self.client.ensure_path(self.path)
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._ended = time.monotonic()
        try:
            present = set(self.client.retry(self.client.get_children, self.path))
            self.figures.lost_acknowledged = sum(f"w-{n:08d}" not in present for n in self._acknowledged)
        finally:
            self.client.stop()
            self.client.close()
        self.figures.longest_gap_seconds = round(longest_gap(self._done, self._started, self._ended), 3)
        self.figures.slowest_write_seconds = round(self.figures.slowest_write_seconds, 3)
        self.figures.wall_seconds = round(self._ended - self._started, 1)

    def _write_once(self) -> None:
        figures = self.figures
        figures.attempted += 1
        number, attempts = figures.attempted, 0

        def write() -> None:
            nonlocal attempts
            attempts += 1
            try:
                self.client.create(f"{self.path}/w-{number:08d}", f"{time.time():.3f}".encode())
            except NodeExistsError:
                if attempts == 1:
                    raise
                # a retry after a lost connection: the first attempt was applied

        began = time.monotonic()
        retry = KazooRetry(max_tries=-1, delay=0.1, backoff=1.5, max_delay=1.0, deadline=self.deadline,
                           ignore_expire=False)
        try:
            retry(write)
            figures.succeeded += 1
            self._acknowledged.append(number)
            self._done.append(time.monotonic())
        except (RetryFailedError, KazooException) as exc:
            figures.failed += 1
            figures.failures.append(f"{time.strftime('%H:%M:%S')} write {number}: {type(exc).__name__}: {exc}")
        figures.retried += attempts > 1
        figures.slowest_write_seconds = max(figures.slowest_write_seconds, time.monotonic() - began)

    def result(self) -> dict[str, Any]:
        out = asdict(self.figures)
        out["failures"] = out["failures"][:20]
        return out
