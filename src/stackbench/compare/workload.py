"""The client side of the evaluation: HTTP requests to the workload, a background client that
requests throughout a change, and polling with a deadline."""

from __future__ import annotations

import itertools
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackbench.compare.logic import first_word, spread, spread_evenness


class StepError(Exception):
    """A step failed; the message goes into results.json."""


class NotRun(Exception):
    """A step cannot run here; the message says why."""


def get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    """(status, body) of a GET; status 0 when the connection failed."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - lab/workload URLs
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (OSError, ValueError):
        return 0, ""


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> float:
    """Poll `check` until it returns something truthy; the seconds it took. StepError on timeout."""
    started = time.monotonic()
    last_error = None
    while time.monotonic() - started < timeout:
        try:
            if check():
                return round(time.monotonic() - started, 2)
        except (OSError, ValueError, KeyError) as exc:  # a transient API error while polling
            last_error = exc
        time.sleep(interval)
    raise StepError(f"timed out after {timeout:.0f} s waiting for {what}"
                    + (f" (last error: {last_error})" if last_error else ""))


@dataclass
class Client:
    """Requests `path` from the endpoints `endpoints()` gives, round robin, until stopped."""

    endpoints: Callable[[], list[str]]
    path: str = "/"
    pause: float = 0.05
    refresh: float = 1.0
    requests: int = 0
    failed: int = 0
    responders: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Client:
        self._thread = threading.Thread(target=self._run, name="workload-client", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        urls: list[str] = []
        fetched = 0.0
        cycle: itertools.cycle | None = None
        while not self._stop.is_set():
            if time.monotonic() - fetched > self.refresh or not urls:
                try:
                    new = self.endpoints()
                except Exception:  # noqa: BLE001 - keep the old list when discovery fails for a moment
                    new = urls
                if new != urls or cycle is None:
                    urls, cycle = new, itertools.cycle(new) if new else None
                fetched = time.monotonic()
            if cycle is None:
                self._count(0, "no endpoint")
                time.sleep(self.pause)
                continue
            status, body = get(next(cycle) + self.path)
            self._count(status, body)
            time.sleep(self.pause)

    def _count(self, status: int, body: str) -> None:
        self.requests += 1
        if status == 200:
            self.responders.append(first_word(body))
        else:
            self.failed += 1
            key = "no endpoint" if body == "no endpoint" else (f"HTTP {status}" if status else "connection failed")
            self.errors[key] = self.errors.get(key, 0) + 1

    def figures(self) -> dict[str, Any]:
        return {"requests": self.requests, "failed_requests": self.failed,
                **({"errors": dict(self.errors)} if self.errors else {})}

    def spread(self) -> dict[str, int]:
        return spread(self.responders)


class Evaluator:
    """The steps both stacks share; a stack supplies its API calls (`set_instances`, `wait_settled`,
    `endpoints`, `placement`, `heal_host`, ...)."""

    stack = ""  # set by connect() from the catalog
    host_path = "/"
    # How each workload step is measured on this stack (results.json `method`), by step id.
    METHODS: Mapping[str, str] = {}
    # Where capacity's "used" figures come from.
    used_from = ""

    def __init__(self, lab: Any = None, log: Callable[[str], None] = print, instances: int = 3) -> None:
        self.lab = lab  # the lab, for host faults; None on real inventories
        self.log = log
        self.instances = instances

    @classmethod
    def connect(cls, stack: Any, groups: Mapping[str, list[str]], addresses: Mapping[str, str], lab: Any = None,
                log: Callable[[str], None] = print) -> Evaluator:
        """An evaluator for `stack` (a catalog.Stack) on the hosts of an inventory's groups."""
        raise NotImplementedError

    def used_by_node(self) -> dict[str, dict[str, float]] | None:
        """{node: {cpus, memory_bytes}} in use as the stack counts it, when capacity's report does not say."""
        return None

    def set_instances(self, n: int) -> None:
        raise NotImplementedError

    def wait_settled(self, instances: int, timeout: float, what: str, version: str | None = None,
                     extra: Callable[[Any], bool] | None = None) -> float:
        raise NotImplementedError

    def endpoints(self) -> list[str]:
        raise NotImplementedError

    def placement(self) -> Counter:
        """Instances per host."""
        raise NotImplementedError

    def choose_host(self, placed: Counter) -> str:
        return placed.most_common(1)[0][0]

    def heal_host(self, host: str) -> None:
        raise NotImplementedError

    def mechanism(self) -> str:
        raise NotImplementedError

    def hosts(self) -> str:
        return ", ".join(sorted(h for h in self.placement() if h))

    def scale(self, n: int) -> dict[str, Any]:
        timed = {}
        for target, key in ((1, None), (n, "up_s"), (1, "down_s"), (self.instances, None)):
            started = time.monotonic()
            self.set_instances(target)
            self.wait_settled(target, 180, f"{target} instances")
            if key:
                timed[key] = round(time.monotonic() - started, 2)
        return {"n": n, **timed}

    def change(self, apply: Callable[[], None], version: str) -> dict[str, Any]:
        """Apply a new version while a client requests throughout; until every instance runs it."""
        with Client(self.endpoints, path=self.host_path) as client:
            time.sleep(1)
            started = time.monotonic()
            apply()
            self.wait_settled(self.instances, 240, f"every instance on version {version}", version=version)
            seconds = round(time.monotonic() - started, 2)
            time.sleep(1)
        return {"seconds": seconds, **client.figures()}

    def discovery(self, requests: int = 60) -> dict[str, Any]:
        with Client(self.endpoints, path=self.host_path, pause=0.02) as client:
            wait_for(lambda: client.requests >= requests, 60, f"{requests} requests")
        counts = client.spread()
        return {"mechanism": self.mechanism(), **client.figures(), "spread": counts,
                "evenness": spread_evenness(counts)}

    def kill_host(self) -> dict[str, Any]:
        if self.lab is None:
            raise NotRun("killing a whole host needs the lab (a real host is not powered off)")
        placed = self.placement()
        host = self.choose_host(placed)
        lost = placed[host]
        self.log(f"{self.stack}: killing host {host} ({lost} instances)")
        started = time.monotonic()
        self.lab.kill(host)
        try:
            self.wait_settled(self.instances, 300, f"replacements of the {lost} instances on {host}",
                              extra=lambda _: host not in self.placement())
            seconds = round(time.monotonic() - started, 2)
        finally:
            self.lab.start(host)
            self.log(f"{self.stack}: {host} started again, waiting for it to rejoin")
            self.heal_host(host)
        return {"host": host, "lost_instances": lost, "seconds": seconds}
