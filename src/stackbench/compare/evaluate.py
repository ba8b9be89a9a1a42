"""`stackbench compare`: stand up both stacks (reusing running ones), run the same evaluation on
each, write results/compare/<run_id>/results.json (docs/compare-results.md) and the report.

Progress goes to the terminal as `[mm:ss] <stack>: <step> ...`; playbook output goes to log files
in the run directory. A failing step is recorded with its error and the run goes on; faults the
run injects (a killed host, an unhealthy instance) are healed before it moves on.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from stackbench import catalog
from stackbench.compare import logic
from stackbench.compare.workload import NotRun, StepError
from stackbench.errors import StackbenchError
from stackbench.inventory import Inventory, read_inventory
from stackbench.paths import results_dir


def lab_lock_path(lab: str) -> Path:
    return Path(f"/tmp/stackbench-{lab}.lab.lock")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def machine() -> dict[str, Any]:
    memory = None
    with contextlib.suppress(OSError, ValueError):
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"hostname": socket.gethostname(), "cpus": os.cpu_count(), "memory_bytes": memory,
            "kernel": platform.release()}


class Run:
    """One compare run: the clock, progress lines, the run directory and results.json."""

    def __init__(self, out: TextIO, inventory_label: str, run_root: Path | None = None) -> None:
        self.out = out
        self.started = time.monotonic()
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.dir = (run_root or results_dir() / "compare") / self.run_id
        (self.dir / "raw").mkdir(parents=True, exist_ok=True)
        self.results: dict[str, Any] = {
            "schema": "stackbench.compare/1", "run_id": self.run_id, "started_at": utc_now(),
            "finished_at": None, "duration_s": None, "inventory": inventory_label, "machine": machine(),
            "stacks": {},
        }

    def say(self, text: str) -> None:
        print(f"{logic.stamp(time.monotonic() - self.started)} {text}", file=self.out, flush=True)

    def save(self) -> Path:
        path = self.dir / "results.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.results, indent=2, default=str) + "\n")
        tmp.replace(path)
        return path

    def finish(self) -> Path:
        self.results["finished_at"] = utc_now()
        self.results["duration_s"] = round(time.monotonic() - self.started, 1)
        return self.save()

    def playbook(self, playbook: str, inventory: Path, extra_vars: dict[str, Any] | None, label: str) -> Any:
        """Run a playbook with its output in the run directory; the result (rc, seconds, changed, ...)."""
        from stackbench.runner import run_playbook

        log = self.dir / f"{label}.log"
        with log.open("a") as handle:
            result = run_playbook(playbook, inventory, extra_vars, label=label, out=Echo(handle, self.say))
        self.say(f"    playbooks/{playbook}: rc={result.rc} in {result.seconds:.0f} s ({result.changed} changed), "
                 f"log {log}")
        return result


class Echo:
    """A playbook's progress stream: every line to the log file, plays and failures to the terminal too."""

    def __init__(self, log: TextIO, say: Callable[[str], None]) -> None:
        self.log = log
        self.say = say

    def write(self, text: str) -> int:
        self.log.write(text)
        line = text.strip()
        if "] PLAY " in line or "FAILED " in line:
            self.say("    " + line.split("] ", 1)[-1][:160])
        return len(text)

    def flush(self) -> None:
        self.log.flush()


class StackRun:
    """One stack's part of a run: its entry in results.json and its steps."""

    def __init__(self, run: Run, stack: str, inventory: Path, is_lab: bool, read: Inventory | None = None) -> None:
        self.run = run
        self.spec = catalog.get(stack)
        self.stack = self.spec.name
        self.inventory = inventory
        self.is_lab = is_lab
        self.groups: dict[str, list[str]] = {}
        self.addresses: dict[str, str] = {}
        if read is not None or inventory.exists():  # a lab not made yet has no inventory until stand-up
            self.use(read or read_inventory(inventory))
        # The stack's emulator-capable daemons (Mesos, Marathon) count as emulated until their own answers
        # prove them real (detect_emulated), whatever the inventory is; the others are real.
        self.components: dict[str, bool] = {name: True for name in self.spec.lab_emulated}
        self.emulated = any(self.components.values())
        self.detected = False  # whether the daemons have been asked yet (detect_emulated)
        self.entry: dict[str, Any] = {
            "label": self.spec.label, "status": "evaluated", "reason": None, "emulated": self.emulated,
            "emulated_components": [name for name, emulated in self.components.items() if emulated],
            "versions": {}, "hosts": self.host_rows(), "steps": [],
        }
        run.results["stacks"][stack] = self.entry
        self.evaluator: Any = None

    def use(self, inventory: Inventory) -> None:
        """Groups (the stack's aliases resolved, e.g. kubespray's kube_node) and addresses as Ansible reads them."""
        self.groups = self.spec.resolve_groups(inventory.groups)
        self.addresses = inventory.addresses()

    def detect_emulated(self, fetch: Callable[[str], tuple[dict[str, str], Any] | None] | None = None) -> None:
        """Ask each daemon what it is (probe_emulated) and mark the stack and the steps so far from that."""
        self.components = probe_emulated(self.spec, self.groups, self.addresses, fetch=fetch or http_answer)
        self.detected = True
        self.emulated = any(self.components.values())
        if self.components:
            self.run.say(logic.emulated_line(self.stack, self.components))
        self.entry["emulated"] = self.emulated
        self.entry["emulated_components"] = [name for name, emulated in self.components.items() if emulated]
        for step in self.entry["steps"]:  # the stand-up ran before the daemons could be asked
            step["emulated"] = self.emulated

    def system_emulated(self, system: str) -> bool:
        """Whether the ha_failover system's figures come from an emulator (its daemon's mark)."""
        daemon = logic.SYSTEM_DAEMONS.get(system)
        return bool(daemon and self.components.get(daemon, False))

    def host_rows(self) -> list[dict[str, Any]]:
        rows = []
        for host, address in self.addresses.items():
            groups = [g for g in self.spec.groups if host in self.groups.get(g, [])]
            if groups:
                rows.append({"name": host, "groups": groups, "address": address})
        return rows

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the shared lab lock while measuring or injecting faults (labs are shared between sessions)."""
        if not self.is_lab:
            yield
            return
        with lab_lock_path(self.stack).open("a") as handle:
            waited = time.monotonic()
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.run.say(f"{self.stack}: waiting for the lab lock {lab_lock_path(self.stack)} ...")
                fcntl.flock(handle, fcntl.LOCK_EX)
                self.run.say(f"{self.stack}: got the lab lock after {time.monotonic() - waited:.0f} s")
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def step(self, step_id: str, title: str, method: str, func: Callable[[], dict[str, Any]],
             emulated: bool | None = None, hosts: Callable[[], str] | str = "", locked: bool = True) -> dict:
        """Run one step; whatever happens it ends up in results.json."""
        record: dict[str, Any] = {"id": step_id, "title": title, "status": "ok", "error": None,
                                  "emulated": self.emulated if emulated is None else emulated,
                                  "method": method, "hosts": "", "figures": {}}
        self.entry["steps"].append(record)
        self.run.say(f"{self.stack}: {title} ...")
        started = time.monotonic()
        try:
            with self.lock() if locked else contextlib.nullcontext():
                record["figures"] = func() or {}
                with contextlib.suppress(Exception):
                    record["hosts"] = hosts() if callable(hosts) else hosts
        except NotRun as exc:
            record.update(status="not_run", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure of a step is recorded, and the run goes on
            name = "" if isinstance(exc, StepError | StackbenchError) else f"{exc.__class__.__name__}: "
            record.update(status="failed", error=f"{name}{getattr(exc, 'message', None) or exc}"[:500])
        record["elapsed_s"] = round(time.monotonic() - started, 1)
        if not record["hosts"]:
            with contextlib.suppress(Exception):
                record["hosts"] = hosts() if callable(hosts) else hosts
        for line in logic.step_lines(self.stack, title, record, self.components):
            self.run.say(line)
        self.entry["status"] = logic.stack_status(self.entry["steps"])
        self.run.save()
        return record


# ---- the stacks' own steps ------------------------------------------------------------------


def standup(stack_run: StackRun, known_up: bool | None) -> dict[str, Any]:
    """Run the stack's playbook; twice when it was not known to be up (cold, then warm). On real hosts
    (`known_up` None) a first run that changed nothing means the stack was already up."""
    playbook = stack_run.spec.playbook("up")
    first = stack_run.run.playbook(playbook, stack_run.inventory, None, f"up-{stack_run.stack}")
    if first.rc != 0:
        raise StepError(f"playbooks/{playbook} failed: {(first.failures or [first.status])[0]}")
    if known_up is None:
        known_up = first.changed == 0
    second = None
    if not known_up:
        second = stack_run.run.playbook(playbook, stack_run.inventory, None, f"up-{stack_run.stack}-warm")
        if second.rc != 0:
            raise StepError(f"warm re-run of playbooks/{playbook} failed: {(second.failures or [second.status])[0]}")
    figures = logic.standup_figures(timed(first), timed(second) if second else None, reused=known_up)
    figures["timings_files"] = [str(r.timings_file) for r in (first, second) if r is not None and r.timings_file]
    figures["seconds_from"] = ("stackbench.cluster.timings callback" if figures["timings_files"]
                               else "ansible-runner wall clock")
    return figures


def timed(result: Any) -> dict[str, Any]:
    """A playbook result's seconds (from the stackbench.cluster.timings callback when it wrote its file) and changes."""
    seconds = result.seconds
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if result.timings_file is not None:  # None when the callback wrote no file
            seconds = float(json.loads(result.timings_file.read_text())["duration_seconds"])
    return {"seconds": round(seconds, 1), "changed": result.changed}


def failover(stack_run: StackRun, faults: list[str]) -> dict[str, Any]:
    components = []
    for system in stack_run.spec.ha_systems:
        if not stack_run.groups.get(system.group):
            continue
        out_dir = stack_run.run.dir / "raw" / f"ha-{system.name}"
        with stack_run.lock():
            stack_run.run.say(f"{stack_run.stack}: failover of {system.name} ({', '.join(faults)}) ...")
            # the systems come from the catalog, not from the playbook's own table (ha_stack_systems)
            result = stack_run.run.playbook("validate-ha.yml", stack_run.inventory,
                                            {"ha_system": system.name, "ha_systems": [system.name],
                                             "ha_faults": faults, "ha_results_dir": str(out_dir)},
                                            f"ha-{system.name}")
        files = sorted(out_dir.glob("ha-*.json"))
        if not files:
            components.append({"system": system.name, "fault": ",".join(faults), "status": "failed",
                               "error": f"validate-ha wrote no results (rc={result.rc}: "
                                        f"{(result.failures or [result.status])[0]})",
                               "emulated": stack_run.system_emulated(system.name)})
            continue
        for run in json.loads(files[-1].read_text()):
            component = logic.failover_component(run, lab=stack_run.is_lab)
            component["emulated"] = stack_run.system_emulated(str(component["system"]))
            components.append(component)
    if not components:
        raise NotRun("no control-plane group in the inventory")
    failed = [c for c in components if c["status"] == "failed"]
    if failed and len(failed) == len(components):
        raise StepError("; ".join(f"{c['system']} {c['fault']}: {c['error']}" for c in failed)[:500])
    return {"components": components}


def capacity(stack_run: StackRun) -> dict[str, Any]:
    out_dir = stack_run.run.dir / "raw" / f"capacity-{stack_run.stack}"
    result = stack_run.run.playbook("capacity.yml", stack_run.inventory, {"capacity_results_dir": str(out_dir)},
                                    f"capacity-{stack_run.stack}")
    files = sorted(out_dir.glob("capacity-*.json"))
    if not files:
        raise StepError(f"capacity.yml wrote no report (rc={result.rc}: {(result.failures or [result.status])[0]})")
    report = json.loads(files[-1].read_text())
    workers = {h for group in stack_run.spec.worker_groups for h in stack_run.groups.get(group, [])}
    hosts = [h["name"] for h in stack_run.entry["hosts"]]
    nodes = logic.capacity_nodes(report, hosts)
    used_from = stack_run.spec.evaluator().used_from
    used = stack_run.evaluator.used_by_node() if stack_run.evaluator is not None else None
    for row in nodes:
        on_node = (used or {}).get(row["host"])
        if on_node:
            row["used_cpus"], row["used_memory_bytes"] = on_node["cpus"], on_node["memory_bytes"]
    return {"nodes": nodes, "workload_hosts": sorted(workers), "used_from": used_from,
            "unmeasured": report.get("unmeasured_hosts", [])}


def control_plane_cost(stack_run: StackRun) -> dict[str, Any]:
    out = stack_run.run.dir / "raw" / f"control-plane-cost-{stack_run.stack}.json"
    result = stack_run.run.playbook("control-plane-cost.yml", stack_run.inventory, {"cost_results_file": str(out)},
                                    f"cost-{stack_run.stack}")
    if not out.exists():
        raise StepError(f"control-plane-cost.yml wrote nothing (rc={result.rc}: "
                        f"{(result.failures or [result.status])[0]})")
    samples = json.loads(out.read_text())
    daemons = []
    for host in sorted(samples):
        daemons.extend(logic.daemon_costs(host, samples[host], [d.name for d in stack_run.spec.daemons]))
    if not daemons:
        raise StepError("no control-plane daemon found on any host")
    return {"daemons": daemons, "interval_s": next(iter(samples.values())).get("interval"),
            "total_cpu_percent": round(sum(d["cpu_percent"] for d in daemons), 1),
            "total_rss_bytes": sum(d["rss_bytes"] for d in daemons)}


# ---- evaluators ------------------------------------------------------------------------------


def make_evaluator(stack_run: StackRun, lab: Any) -> Any:
    return stack_run.spec.evaluator().connect(stack_run.spec, stack_run.groups, stack_run.addresses, lab=lab,
                                              log=stack_run.run.say, inventory=stack_run.inventory)


def evaluate_stack(run: Run, stack: str, inventory: Path | None, instances: int, faults: list[str],
                   skip: set[str], read: Inventory | None = None) -> None:
    is_lab = inventory is None
    lab = None
    lab_existed = True
    if is_lab:
        from stackbench.lab.lab import Lab

        lab = Lab(stack)
        lab_existed = lab.inventory_path.exists() and lab.exists()
        inventory_path = lab.inventory_path
    else:
        inventory_path = inventory
    stack_run = StackRun(run, stack, inventory_path, is_lab, read)
    if not is_lab:
        missing = logic.missing_groups(stack, stack_run.groups)
        if missing:
            labels = ", ".join(stack_run.spec.group_label(g) for g in missing)
            stack_run.entry.update(status="not_evaluated", reason=f"inventory lacks groups: {labels}")
            run.say(f"{stack}: not evaluated: {stack_run.entry['reason']}")
            run.save()
            return
    all_hosts = ", ".join(h["name"] for h in stack_run.host_rows()) or "(new lab)"

    def stand_up() -> dict[str, Any]:
        if is_lab:
            from stackbench.stacks import lab_inventory

            if not lab_existed:
                run.say(f"{stack}: creating the lab (no {stack} lab is up)")
            started = time.monotonic()
            lab_inventory(stack, None)
            lab_seconds = round(time.monotonic() - started, 1)
            stack_run.use(read_inventory(inventory_path))
            stack_run.entry["hosts"] = stack_run.host_rows()
            figures = standup(stack_run, lab_existed)
            stack_run.detect_emulated()  # before the step's line is printed: its mark comes from the daemons
            # creating the lab's machines (and building artifacts) is not part of the stack's stand-up
            return {**figures, "lab_prepare_s": lab_seconds}
        figures = standup(stack_run, None)
        stack_run.detect_emulated()
        return figures

    if "standup" not in skip:
        record = stack_run.step("standup", "Stand up (cold when new, then warm)",
                                f"playbooks/{stack_run.spec.playbook('up')} through ansible-runner; seconds from the "
                                "run (task timings in timings_files)",
                                stand_up, emulated=stack_run.emulated, hosts=lambda: all_hosts_now(stack_run))
        if record["status"] == "failed" and not inventory_path.exists():
            stack_run.entry.update(status="not_evaluated", reason=record["error"])
            run.save()
            return

    if not stack_run.detected:  # from the daemons themselves, on a lab or on any inventory
        stack_run.detect_emulated()
    try:
        with stack_run.lock():
            stack_run.evaluator = make_evaluator(stack_run, lab)
            stack_run.entry["versions"] = versions(stack_run.evaluator)
    except (StepError, OSError, KeyError, ValueError) as exc:
        stack_run.entry.update(status="partial", reason=f"cannot reach the stack's API: {exc}")
        run.say(f"{stack}: cannot reach the stack's API: {exc}")
        stack_run.evaluator = None
    ev = stack_run.evaluator
    methods = stack_run.spec.evaluator().METHODS

    def workload(step_id: str, title: str, func: Callable[[], dict[str, Any]], prepare: bool = True) -> None:
        if step_id in skip:
            return
        if ev is None:
            stack_run.entry["steps"].append({"id": step_id, "title": title, "status": "not_run",
                                             "error": "the stack's API could not be reached", "emulated":
                                             stack_run.emulated, "method": methods[step_id], "hosts": "",
                                             "figures": {}})
            return

        def body() -> dict[str, Any]:
            if prepare:
                ev.ensure_instances()
            return func()

        stack_run.step(step_id, title, methods[step_id], body, hosts=ev.hosts)

    workload("deploy", f"Deploy {instances} instances", lambda: ev.deploy(instances), prepare=False)
    workload("discovery", "Service discovery and load balancing", lambda: ev.discovery())
    workload("scale", f"Scale 1 -> {instances} -> 1", lambda: ev.scale(instances))
    workload("rolling_update", "Rolling update to a new version", lambda: ev.rolling_update())
    workload("rollback", "Roll back to the previous version", lambda: ev.rollback())
    workload("kill_instance", "Kill an instance", lambda: ev.kill_instance())
    workload("health_check", "Failing health check detected and replaced", lambda: ev.health_check())
    if "capacity" not in skip:
        stack_run.step("capacity", "Node capacity", "playbooks/capacity.yml (node_capacity on every host, the "
                       "cluster's own view of offered resources), with the workload running",
                       lambda: capacity(stack_run), hosts=all_hosts)
    if "control_plane_cost" not in skip:
        stack_run.step("control_plane_cost", "Control-plane cost (CPU, RSS per daemon)",
                       "playbooks/control-plane-cost.yml: /proc/<pid>/stat and status of each daemon sampled twice "
                       "5 s apart on every host (CPU % of one core), with the workload running",
                       lambda: control_plane_cost(stack_run), hosts=all_hosts)
    workload("kill_host", "Kill a whole worker host", lambda: ev.kill_host())
    if ev is not None:
        with contextlib.suppress(Exception), stack_run.lock():
            run.say(f"{stack}: removing the workload")
            ev.cleanup()
    if "failover" not in skip:
        stack_run.step("failover", "Control-plane failover (ha_failover)",
                       f"playbooks/validate-ha.yml per system, faults: {', '.join(faults)} (leader taken down while "
                       "a client writes; time to a new leader, write outage, lost acknowledged writes)",
                       lambda: failover(stack_run, faults), emulated=stack_run.emulated, hosts=all_hosts,
                       locked=False)


def http_answer(url: str, timeout: float = 5.0) -> tuple[dict[str, str], Any] | None:
    """(headers, JSON body or None) of GET `url`; None when it gives no successful answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the stack's own daemons
            headers, raw = dict(response.headers.items()), response.read()
    except (OSError, ValueError):  # refused, timed out, an HTTP error status, a bad URL
        return None
    try:
        return headers, json.loads(raw)
    except ValueError:
        return headers, None


def probe_emulated(spec: Any, groups: dict[str, list[str]], addresses: dict[str, str],
                   ports: dict[str, int] | None = None,
                   fetch: Callable[[str], tuple[dict[str, str], Any] | None] = http_answer) -> dict[str, bool]:
    """{daemon: emulated} for the stack's emulator-capable daemons, from what each of its hosts answers on
    the daemon's version/info endpoint (logic.DAEMON_PROBES); a daemon that cannot prove it is real counts
    as emulated."""
    out: dict[str, bool] = {}
    for daemon in spec.lab_emulated:
        probe = logic.DAEMON_PROBES.get(daemon)
        if probe is None:
            out[daemon] = True
            continue
        group, port_name, path = probe
        port = (ports or {}).get(port_name) or spec.port(port_name)
        hosts = groups.get(group) or []
        out[daemon] = logic.daemon_emulated(fetch(f"http://{addresses.get(h, h)}:{port}{path}") for h in hosts)
    return out


def all_hosts_now(stack_run: StackRun) -> str:
    return ", ".join(h["name"] for h in stack_run.host_rows())


def versions(evaluator: Any) -> dict[str, Any]:
    """What the stack's API says it is: describe() is "<Product> <version> ..."."""
    out: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        text = evaluator.describe()
        out["api"] = text
        product, version = text.split()[:2]
        out[product.lower()] = version
    return out


def compare(inventory: str | None, stacks: list[str], instances: int, out_dir: str | None, faults: list[str],
            skip: set[str], out: TextIO) -> Path:
    stacks = [s.name for s in catalog.compared(stacks)]
    if instances < 2:
        raise StackbenchError(f"--instances {instances} is too small", "use 2 or more (scaling goes 1 -> N -> 1)",
                              exit_code=2)
    inventory_path = Path(inventory) if inventory else None
    # read once, before the run directory is made: a bad inventory is a usage error (exit 2), not a run
    read = read_inventory(inventory) if inventory else None
    run = Run(out, inventory or "lab", Path(out_dir) if out_dir else None)
    run.say(f"compare: run {run.run_id} on {inventory or 'the lab'}; stacks {', '.join(stacks)}; "
            f"{instances} instances; results in {run.dir}")
    try:
        for stack in stacks:
            evaluate_stack(run, stack, inventory_path, instances, faults, skip, read)
    finally:
        path = run.finish()
        run.say(f"compare: results in {path}")
        with contextlib.suppress(ImportError):
            from stackbench.compare import report

            if hasattr(report, "write_report"):
                try:
                    written = report.write_report(run.dir)
                    names = [str(w) for w in written] if isinstance(written, list | tuple) else [str(written or "")]
                    run.say(f"compare: report written: {', '.join(n for n in names if n)}")
                except Exception as exc:  # noqa: BLE001 - the figures are saved; say why the report is not
                    run.say(f"compare: the report could not be rendered: {exc}")
    return run.dir


def summarize(run_dir: Path, out: TextIO) -> bool:
    """One line per stack (status, failed and skipped steps); True when every stack was fully evaluated."""
    results = json.loads((run_dir / "results.json").read_text())
    complete = True
    for stack, entry in results["stacks"].items():
        failed = [s["id"] for s in entry.get("steps", []) if s["status"] == "failed"]
        not_run = [s["id"] for s in entry.get("steps", []) if s["status"] == "not_run"]
        detail = entry.get("reason") or ""
        if failed:
            detail += f" failed: {', '.join(failed)}"
        if not_run:
            detail += f" not run: {', '.join(not_run)}"
        emulated = ""
        if entry.get("emulated"):
            emulated = f" (emulated: {', '.join(entry.get('emulated_components') or []) or 'yes'})"
        print(f"stackbench: {stack}: {entry['status']}{' (' + detail.strip() + ')' if detail.strip() else ''}"
              f"{emulated}", file=out)
        complete = complete and entry["status"] == "evaluated"
    return complete
