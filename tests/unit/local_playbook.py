"""Run a playbook against local-connection hosts, to test preflight checks without machines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_local_playbook(tmp_path: Path, playbook: str, groups: dict[str, list[str]], extra: dict[str, str],
                       ungrouped: tuple[str, ...] = (), env: dict[str, str] | None = None,
                       timeout: int = 300, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`ansible-playbook playbooks/<playbook> ARGS` with every host local, in the given groups."""
    hosts = {h for members in groups.values() for h in members} | set(ungrouped)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {
        "all": {
            "hosts": {h: dict(local) for h in sorted(hosts)},
            "children": {g: {"hosts": {h: {} for h in members}} for g, members in groups.items()},
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    full_env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_NOCOLOR": "1",
        **(env or {}),
    }
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(path), str(ROOT / "playbooks" / playbook)]
    for key, value in extra.items():  # as JSON, so lists and dicts stay lists and dicts
        argv += ["-e", json.dumps({key: value})]
    return subprocess.run([*argv, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


def assert_stopped_early(result: subprocess.CompletedProcess, message: str, first_changing_play: str) -> None:
    """Failed with `message`, changed nothing, and never reached `first_changing_play`."""
    assert result.returncode != 0, result.stdout
    assert message in result.stdout, result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout
    assert f"PLAY [{first_changing_play}]" not in result.stdout


@dataclass(frozen=True)
class Case:
    """The inputs of one ansible-playbook run that a test asserts on (see `run_cases`)."""

    groups: dict[str, list[str]]
    extra: dict[str, Any]
    ungrouped: tuple[str, ...] = ()
    args: tuple[str, ...] = ()  # appended to the command: --limit, --check, -e ...


def case(build: Callable[..., Case]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a test with the run it asserts on: `build(**fixed, **its parametrize values)`."""

    def attach(test: Callable[..., None]) -> Callable[..., None]:
        test.playbook_case = build  # type: ignore[attr-defined]
        return test

    return attach


# A run is one serial controller process and its forked workers, idle in turn: two cores stay
# busier with more runs at once than with one (STACKBENCH_TEST_PLAYBOOK_JOBS=1 for one at a time).
JOBS = int(os.environ.get("STACKBENCH_TEST_PLAYBOOK_JOBS", "0")) or max(3, (os.cpu_count() or 1) + 1)


def run_cases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, playbook: str,
              fixed: dict[str, Any] | None = None, **options: Any) -> Iterator[dict[str, Future]]:
    """For a module-scoped fixture: start the run of every selected test of the module that has a
    `case`, JOBS at a time in collection order, and yield {test node id: future of its result}.

    Each run is exactly the one the test used to start itself (own inventory and temporary
    directory); only the waiting overlaps. Deselected tests start nothing.
    """
    items = [item for item in request.session.items
             if item.module is request.module and hasattr(getattr(item, "function", None), "playbook_case")]
    with ThreadPoolExecutor(max_workers=max(1, min(JOBS, len(items)))) as pool:
        futures: dict[str, Future] = {}
        for item in items:
            params = item.callspec.params if hasattr(item, "callspec") else {}
            spec: Case = item.function.playbook_case(**(fixed or {}), **params)
            tmp = tmp_path_factory.mktemp(re.sub(r"\W+", "_", item.name)[:40])
            futures[item.nodeid] = pool.submit(run_local_playbook, tmp, playbook, spec.groups, spec.extra,
                                               spec.ungrouped, args=spec.args, **options)
        try:
            yield futures
        finally:  # a run no test will read (an earlier one failed the session) is not started
            for future in futures.values():
                future.cancel()
