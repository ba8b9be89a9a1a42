"""Run a playbook against local-connection hosts, to test preflight checks without machines."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


def write_inventory(path: Path, groups: dict[str, list[str]], ungrouped: tuple[str, ...] = (),
                    host_vars: dict[str, dict[str, Any]] | None = None) -> Path:
    """An inventory at `path`: every host local (but for its `host_vars`), in the given groups."""
    hosts = {h for members in groups.values() for h in members} | set(ungrouped)
    inventory = {
        "all": {
            "hosts": {h: {**LOCAL, **(host_vars or {}).get(h, {})} for h in sorted(hosts)},
            "children": {g: {"hosts": {h: {} for h in members}} for g, members in groups.items()},
        }
    }
    path.write_text(yaml.safe_dump(inventory))
    return path


def ansible_env(env: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_NOCOLOR": "1",
        **(env or {}),
    }


def run_local_playbook(tmp_path: Path, playbook: str, groups: dict[str, list[str]], extra: dict[str, str],
                       ungrouped: tuple[str, ...] = (), env: dict[str, str] | None = None,
                       timeout: int = 300, args: tuple[str, ...] = (),
                       host_vars: dict[str, dict[str, Any]] | None = None) -> subprocess.CompletedProcess:
    """`ansible-playbook playbooks/<playbook> ARGS` with every host local (but for its `host_vars`),
    in the given groups."""
    path = write_inventory(tmp_path / "inventory.yml", groups, ungrouped, host_vars)
    full_env = ansible_env(env)
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
    # inventory variables of single hosts (-e would override them for every host): one run can give
    # each host another bad value for a check that runs per host, and several tests assert on it
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)

    def key(self) -> str:
        """Equal for equal runs: tests whose cases are equal share one run."""
        return json.dumps([self.groups, self.extra, self.ungrouped, self.args, self.host_vars], sort_keys=True)


def case(build: Callable[..., Case]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a test with the run it asserts on: `build(**fixed, **its parametrize values)`."""

    def attach(test: Callable[..., None]) -> Callable[..., None]:
        test.playbook_case = build  # type: ignore[attr-defined]
        return test

    return attach


# A run is one serial controller process and its forked workers, idle in turn: two cores stay
# busier with more runs at once than with one (STACKBENCH_TEST_PLAYBOOK_JOBS=1 for one at a time).
JOBS = int(os.environ.get("STACKBENCH_TEST_PLAYBOOK_JOBS", "0")) or max(3, (os.cpu_count() or 1) + 1)


# Settings of every run that `run_cases` starts (on top of its `env`). No role reads a fact as a
# top-level variable (ansible_default_ipv4 ...; deprecated in ansible-core 2.19): without the
# injection every task skips copying each host's facts into its variables, a tenth of a run's
# CPU. A role that did read one would fail here on an undefined variable, not pass silently.
CASE_ENV = {"ANSIBLE_INJECT_FACT_VARS": "false"}


def fact_cache(tmp_path: Path, hosts: set[str], env: dict[str, str]) -> dict[str, str]:
    """Gather the facts of `hosts` once, as a play's own fact gathering does (same settings), into a
    jsonfile cache under `tmp_path`, and return the environment that makes a run read them instead
    (`gathering = smart`: a play's gathering skips hosts already in the cache; a `setup` task still
    runs). Every host is local, so each run's gathering would collect the same facts again: a
    quarter of a run's CPU. Each run gets its own copy of the cache (see `with_fact_cache`).
    """
    cache = tmp_path / "facts"
    settings = {"ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache),
                "ANSIBLE_GATHERING": "smart"}
    (tmp_path / "gather.yml").write_text(yaml.safe_dump([{"name": "Gather the facts", "hosts": "all",
                                                           "gather_facts": True, "tasks": []}]))
    inventory = write_inventory(tmp_path / "inventory.yml", {}, tuple(sorted(hosts)))
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(tmp_path / "gather.yml")]
    result = subprocess.run(argv, cwd=ROOT, env=ansible_env({**env, **settings}), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and len(list(cache.iterdir())) == len(hosts), result.stdout
    return settings


def with_fact_cache(settings: dict[str, str], run: Callable[..., subprocess.CompletedProcess], tmp_path: Path,
                    *args: Any, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess:
    """`run(tmp_path, *args, env=...)` reading a copy of the gathered facts of `settings` in `tmp_path`:
    runs at once never write into one cache, and no run sees what another one changed."""
    own = shutil.copytree(settings["ANSIBLE_CACHE_PLUGIN_CONNECTION"], tmp_path / "facts")
    return run(tmp_path, *args, env={**env, **settings, "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(own)}, **kwargs)


def run_cases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, playbook: str,
              fixed: dict[str, Any] | None = None, gathered_facts: bool = False,
              env: dict[str, str] | None = None, **options: Any) -> Iterator[dict[str, Future]]:
    """For a module-scoped fixture: start the run of every selected test of the module that has a
    `case`, JOBS at a time in collection order, and yield {test node id: future of its result}.

    Each run is exactly the one the test used to start itself (own inventory and temporary
    directory); only the waiting overlaps. Tests with equal cases share one run. Deselected tests
    start nothing. With `gathered_facts` (for playbooks whose checks do not ask whether a host
    has facts yet), the hosts' facts are gathered once before the runs, which then read them.
    """
    items = [item for item in request.session.items
             if item.module is request.module and hasattr(getattr(item, "function", None), "playbook_case")]
    specs = {}
    for item in items:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        specs[item.nodeid] = (item.name, item.function.playbook_case(**(fixed or {}), **params))
    env = {**CASE_ENV, **(env or {})}
    run: Callable[..., subprocess.CompletedProcess] = run_local_playbook
    if gathered_facts and specs:
        hosts = {h for _, spec in specs.values()
                 for members in [*spec.groups.values(), spec.ungrouped] for h in members}
        run = functools.partial(with_fact_cache, fact_cache(tmp_path_factory.mktemp("facts"), hosts, env), run)
    with ThreadPoolExecutor(max_workers=max(1, min(JOBS, len(items)))) as pool:
        futures: dict[str, Future] = {}
        started: dict[str, Future] = {}
        for nodeid, (name, spec) in specs.items():
            if spec.key() not in started:
                tmp = tmp_path_factory.mktemp(re.sub(r"\W+", "_", name)[:40])
                started[spec.key()] = pool.submit(run, tmp, playbook, spec.groups, spec.extra, spec.ungrouped,
                                                  args=spec.args, host_vars=spec.host_vars, env=env, **options)
            futures[nodeid] = started[spec.key()]
        try:
            yield futures
        finally:  # a run no test will read (an earlier one failed the session) is not started
            for future in futures.values():
                future.cancel()
