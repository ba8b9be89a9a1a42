"""Render a `stackbench compare` run (results.json, see docs/compare-results.md) side by side.

`render_markdown` and `render_html` share one model: headline rows, one cell per stack.
A cell knows whether its figure came from an emulator; a row names a winner only when both
figures are real, measured the same way (same instances, same n, same fault) and a direction
("lower is better") makes sense. Emulated figures are shown, marked, and never ranked.
"""

from __future__ import annotations

import argparse
import html
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackbench import catalog
from stackbench.compare.svg import Bar, bar_chart
from stackbench.errors import StackbenchError

SCHEMA = "stackbench.compare/1"
# Column order of every table: (key in results["stacks"], heading).
STACKS = tuple((s.name, s.comparison.heading) for s in catalog.report_columns())  # type: ignore[union-attr]
WINNER = "✓"
EMULATED = "(emulated)"
MIB, GIB = 1024**2, 1024**3

Json = dict[str, Any]


# --------------------------------------------------------------------------- loading


def load_results(path: Path | str) -> Json:
    """Read and check a results.json; a run directory is accepted for its results.json."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    hint_rerun = "run `stackbench compare` to produce it, or give a run directory that holds results.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackbenchError(f"no results file at {path}", hint_rerun) from None
    except OSError as exc:
        raise StackbenchError(f"cannot read {path}: {exc.strerror}", hint_rerun) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackbenchError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            "the run may have been interrupted while writing it; run `stackbench compare` again",
        ) from None
    if not isinstance(data, dict):
        raise StackbenchError(f"{path} holds a {type(data).__name__}, not a results object", hint_rerun)
    if data.get("schema") != SCHEMA:
        raise StackbenchError(
            f"{path} has schema {data.get('schema')!r}, expected {SCHEMA!r}",
            "it was written by another version of stackbench; re-run `stackbench compare` with this one",
        )
    if not isinstance(data.get("stacks"), dict):
        raise StackbenchError(f"{path} has no 'stacks' object", hint_rerun)
    return data


# --------------------------------------------------------------------------- formatting


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _bytes(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / GIB:.2f} GiB" if value >= GIB else f"{value / MIB:.0f} MiB"


def _num(value: Any) -> float | None:
    """A figure as a float; None for missing, booleans and text (never ranked, never charted)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fmt_unit(value: float, unit: str) -> str:
    return {"s": _secs, "bytes": _bytes}.get(unit, lambda v: f"{v:.3g} {unit}".strip())(value)


# --------------------------------------------------------------------------- model


@dataclass
class Cell:
    text: str
    value: float | None = None
    emulated: bool = False
    state: str = "ok"  # ok | failed | not_run | not_evaluated | missing
    same_as: Any = None  # ranked only when both cells have the same (instances, n, fault)


@dataclass
class Row:
    key: str
    dimension: str
    unit: str  # of `value`: "s", "bytes", "%", "" (also how spreads are shown)
    better: str | None  # "lower", "higher", or None: never ranked
    cells: dict[str, Cell] = field(default_factory=dict)
    note: str = ""
    winner: str | None = None


def _stack(results: Json, stack: str) -> Json | None:
    data = results.get("stacks", {}).get(stack)
    return data if isinstance(data, dict) else None


def _step(stack_data: Json, step_id: str) -> Json | None:
    return next((s for s in stack_data.get("steps") or [] if s.get("id") == step_id), None)


def _status_cell(results: Json, stack: str, step_id: str) -> tuple[Cell | None, Json | None]:
    """The cell for a stack or step that has no figure to show, else (None, the step)."""
    data = _stack(results, stack)
    if data is None:
        return Cell("not in this run", state="missing"), None
    if data.get("status") == "not_evaluated":
        return Cell(f"not evaluated: {data.get('reason') or 'no reason given'}", state="not_evaluated"), None
    step = _step(data, step_id)
    if step is None:
        return Cell("not measured", state="missing"), None
    emulated = bool(step.get("emulated"))
    if step.get("status") == "failed":
        return Cell(f"failed: {step.get('error') or 'no error given'}", state="failed", emulated=emulated), step
    if step.get("status") == "not_run":
        return Cell(f"not run: {step.get('error') or 'no reason given'}", state="not_run"), step
    return None, step


def _mark(cell: Cell) -> Cell:
    if cell.emulated and EMULATED not in cell.text:
        cell.text = f"{cell.text} {EMULATED}"
    return cell


Extract = Callable[[Json], Cell]


def _step_row(results: Json, key: str, dimension: str, step_id: str, unit: str, better: str | None,
              extract: Extract, note: str = "") -> Row:
    row = Row(key, dimension, unit, better, note=note)
    for stack, _ in STACKS:
        cell, step = _status_cell(results, stack, step_id)
        if cell is None and step is not None:
            cell = extract(step.get("figures") or {})
            cell.emulated = bool(step.get("emulated"))
        row.cells[stack] = _mark(cell)  # type: ignore[arg-type]
    return _rank(row)


def _rank(row: Row) -> Row:
    """Name a winner only when both figures are real, present and measured alike."""
    if row.better is None:
        return row
    cells = [row.cells.get(stack) for stack, _ in STACKS]
    if any(c is None or c.state != "ok" or c.value is None for c in cells):
        return row
    reason = ""
    if any(c.emulated for c in cells):  # type: ignore[union-attr]
        reason = "not ranked: emulated figures are not compared with real ones"
    elif len({repr(c.same_as) for c in cells}) > 1:  # type: ignore[union-attr]
        reason = "not ranked: measured on different sizes"
    if reason:
        row.note = "; ".join(x for x in (row.note, reason) if x)
        return row
    values = {stack: c.value for (stack, _), c in zip(STACKS, cells, strict=True)}  # type: ignore[union-attr]
    if len(set(values.values())) == 1:
        row.note = "; ".join(x for x in (row.note, "tie (both real)") if x)
        return row
    pick = min if row.better == "lower" else max
    row.winner = pick(values, key=values.__getitem__)  # type: ignore[arg-type]
    label = dict(STACKS)[row.winner]
    row.note = "; ".join(x for x in (row.note, f"{WINNER} {label} ({row.better} is better; both real)") if x)
    return row


def _timed(name: str, extra: Callable[[Json], str] | None = None, same: str | None = None) -> Extract:
    """A cell from a seconds figure, with an optional suffix and the figure runs must share."""

    def extract(fig: Json) -> Cell:
        value = _num(fig.get(name))
        text = _secs(value) + (f" ({extra(fig)})" if extra else "")
        return Cell(text, value, same_as=fig.get(same) if same else None)

    return extract


def _failed_requests(fig: Json) -> Cell:
    requests, failed = _num(fig.get("requests")), _num(fig.get("failed_requests"))
    if requests is None or failed is None:
        return Cell("—")
    share = failed / requests if requests else None
    return Cell(f"{failed:.0f} of {requests:.0f} failed", None if share is None else share * 100)


def _standup_cold(fig: Json) -> Cell:
    if fig.get("cold_s") is None and fig.get("reused"):
        return Cell("reused: the stack was already up (not measured)")
    return _timed("cold_s")(fig)


def _share(used: float | None, whole: float | None) -> float | None:
    return None if used is None or not whole else used / whole * 100


def _capacity(resource: str, unit_fmt: Callable[[float | None], str]) -> Extract:
    """Offered share of the machine per node; the headline value is the share over all nodes."""
    total_key = "cpus" if resource == "cpus" else "memory_bytes"
    offered_key = f"offered_{total_key}"

    def extract(fig: Json) -> Cell:
        nodes = [n for n in fig.get("nodes") or [] if isinstance(n, dict)]
        parts, total, offered = [], 0.0, 0.0
        for node in nodes:
            whole, off = _num(node.get(total_key)), _num(node.get(offered_key))
            share = _share(off, whole)
            parts.append(f"{node.get('host')} {unit_fmt(off)} of {unit_fmt(whole)}"
                         + ("" if share is None else f" ({share:.0f}%)"))
            if whole and off is not None:
                total, offered = total + whole, offered + off
        value = _share(offered, total)
        head = "—" if value is None else f"{value:.0f}% offered"
        return Cell(f"{head}: " + ", ".join(parts) if parts else "no nodes", value)

    return extract


def _cpus(value: float | None) -> str:
    return "—" if value is None else f"{value:g} CPU"


def _per_host(fig: Json, name: str) -> dict[str, float]:
    sums: dict[str, float] = {}
    for daemon in fig.get("daemons") or []:
        value = _num(daemon.get(name))
        if value is not None:
            sums[str(daemon.get("host"))] = sums.get(str(daemon.get("host")), 0.0) + value
    return sums


def _cost(name: str, fmt: Callable[[float], str]) -> Extract:
    """Control-plane cost summed per host; the headline value is the busiest host."""

    def extract(fig: Json) -> Cell:
        sums = _per_host(fig, name)
        if not sums:
            return Cell("—")
        top = max(sums, key=sums.__getitem__)
        others = ", ".join(f"{h} {fmt(v)}" for h, v in sorted(sums.items()) if h != top)
        return Cell(f"{fmt(sums[top])} on {top}" + (f" (also {others})" if others else ""), sums[top])

    return extract


def _discovery(fig: Json) -> Cell:
    spread = fig.get("spread") or {}
    answered = ", ".join(f"{k} {v}" for k, v in spread.items())
    text = f"{fig.get('mechanism') or '—'}; {fig.get('requests')} requests"
    return Cell(text + (f", answered by {answered}" if answered else ""))


# Failover components are paired by the role they play (catalog.HaSystem.role), so etcd faces
# ZooKeeper and the Kubernetes scheduler faces Marathon; anything else gets a row of its own.
def _system_role(system: str) -> str:
    known = catalog.ha_system(system)
    return known.role if known else system


def _failover_text(comp: Json) -> str:
    lost = comp.get("lost_writes")
    parts = [f"{comp.get('system')}: {_secs(_num(comp.get('time_to_new_leader_s')))} to new leader"]
    if comp.get("write_unavailable_s") is not None:
        parts.append(f"writes unavailable {_secs(_num(comp.get('write_unavailable_s')))}")
    parts.append("no client writes" if lost is None else f"{lost} lost writes")
    if comp.get("bound_s") is not None:
        parts.append(f"bound {_secs(_num(comp.get('bound_s')))}")
    return "; ".join(parts)


def _failover_rows(results: Json) -> list[Row]:
    per_stack: dict[str, dict[tuple[str, str], list[Json]]] = {}
    status: dict[str, Cell] = {}
    for stack, _ in STACKS:
        cell, step = _status_cell(results, stack, "failover")
        if cell is not None:
            status[stack] = cell
        groups: dict[tuple[str, str], list[Json]] = {}
        if cell is None and step is not None:
            for comp in (step.get("figures") or {}).get("components") or []:
                system = str(comp.get("system"))
                comp = {**comp, "emulated": comp.get("emulated", step.get("emulated"))}
                groups.setdefault((_system_role(system), str(comp.get("fault"))), []).append(comp)
        per_stack[stack] = groups
    keys = list(dict.fromkeys(k for stack, _ in STACKS for k in per_stack[stack]))
    if not keys:
        keys = [("all components", "")]
    rows = []
    for role, fault in keys:
        title = f"Failover: {role}" + (f" ({fault})" if fault else "")
        row = Row(f"failover/{role}/{fault}", title, "s", "lower",
                  note="time to new leader; paired by role" if fault else "")
        for stack, _ in STACKS:
            comps = per_stack[stack].get((role, fault), [])
            if stack in status:
                row.cells[stack] = _mark(Cell(status[stack].text, state=status[stack].state,
                                              emulated=status[stack].emulated))
            elif not comps:
                row.cells[stack] = Cell("not measured", state="missing")
            else:
                value = _num(comps[0].get("time_to_new_leader_s")) if len(comps) == 1 else None
                row.cells[stack] = _mark(Cell("; ".join(_failover_text(c) for c in comps), value,
                                              emulated=any(bool(c.get("emulated")) for c in comps)))
        rows.append(_rank(row))
    return rows


def headline_rows(results: Json) -> list[Row]:
    """Every measured dimension, one row each, cells for both stacks, winners where fair."""
    r = results
    rows = [
        _step_row(r, "standup/cold", "Stand-up (cold)", "standup", "s", "lower", _standup_cold),
        _step_row(r, "standup/warm", "Stand-up (warm re-run)", "standup", "s", "lower",
                  _timed("warm_s", lambda f: f"{f.get('warm_changed')} changed")),
        _step_row(r, "deploy", "Deploy N instances", "deploy", "s", "lower",
                  _timed("seconds", lambda f: f"{f.get('instances')} instances", same="instances"),
                  note="until all run and answer"),
        _step_row(r, "scale/up", "Scale up 1 → n", "scale", "s", "lower",
                  _timed("up_s", lambda f: f"n={f.get('n')}", same="n")),
        _step_row(r, "scale/down", "Scale down n → 1", "scale", "s", "lower",
                  _timed("down_s", lambda f: f"n={f.get('n')}", same="n")),
        _step_row(r, "rolling_update/time", "Rolling update: time", "rolling_update", "s", "lower",
                  _timed("seconds")),
        _step_row(r, "rolling_update/failed", "Rolling update: failed requests", "rolling_update", "%",
                  "lower", _failed_requests, note="compared as a share of requests"),
        _step_row(r, "rollback", "Rollback", "rollback", "s", "lower",
                  _timed("seconds", lambda f: _failed_requests(f).text)),
        _step_row(r, "kill_instance", "Kill an instance", "kill_instance", "s", "lower", _timed("seconds"),
                  note="until a replacement runs and answers"),
        _step_row(r, "kill_host", "Kill a host", "kill_host", "s", "lower",
                  _timed("seconds", lambda f: f"host {f.get('host')}"),
                  note="until every lost instance is replaced elsewhere"),
        _step_row(r, "health/detect", "Health check: detect", "health_check", "s", "lower", _timed("detect_s"),
                  note="until marked unhealthy"),
        _step_row(r, "health/replace", "Health check: replace", "health_check", "s", "lower",
                  _timed("replace_s"), note="until healthy again"),
        *_failover_rows(r),
        _step_row(r, "capacity/cpu", "Capacity: CPU offered", "capacity", "%", "higher",
                  _capacity("cpus", _cpus), note="allocatable / offered share of each machine"),
        _step_row(r, "capacity/memory", "Capacity: memory offered", "capacity", "%", "higher",
                  _capacity("memory", _bytes)),
        _step_row(r, "cost/cpu", "Control-plane CPU per host", "control_plane_cost", "%", "lower",
                  _cost("cpu_percent", lambda v: f"{v:.1f}%"), note="daemons summed per host; busiest host"),
        _step_row(r, "cost/rss", "Control-plane RSS per host", "control_plane_cost", "bytes", "lower",
                  _cost("rss_bytes", _bytes), note="daemons summed per host; busiest host"),
        _step_row(r, "discovery", "Discovery / load balancing", "discovery", "", None, _discovery,
                  note="not ranked: the mechanisms differ"),
    ]
    return rows


# --------------------------------------------------------------------------- qualitative


@dataclass(frozen=True)
class Statement:
    text: str
    sources: tuple[str, ...]


# Dimensions this toolkit cannot measure: short statements, each with the official page it rests on.
QUALITATIVE: tuple[tuple[str, Statement, Statement], ...] = (
    ("How an application is defined",
     Statement("Declarative API objects, e.g. a Deployment (replicas, Pod template, rollout strategy), "
               "written as YAML or JSON and applied to the API server; controllers converge the cluster to them.",
               ("https://kubernetes.io/docs/concepts/workloads/controllers/deployment/",)),
     Statement("A JSON app definition (command or container, cpus, mem, instances, health checks, "
               "upgrade strategy) posted to Marathon's REST API (/v2/apps).",
               ("https://github.com/mesosphere/marathon/blob/master/docs/docs/application-basics.md",))),
    ("Storage / volumes",
     Statement("Volumes in the Pod spec; PersistentVolumes and PersistentVolumeClaims with StorageClasses "
               "for dynamic provisioning; storage drivers plug in through CSI.",
               ("https://kubernetes.io/docs/concepts/storage/persistent-volumes/",)),
     Statement("Local persistent volumes (disk reserved on one agent, the task pinned to it) and external "
               "volumes through the DVDI isolator (e.g. REX-Ray), the latter documented as beta.",
               ("https://github.com/mesosphere/marathon/blob/master/docs/docs/persistent-volumes.md",
                "https://github.com/mesosphere/marathon/blob/master/docs/docs/external-volumes.md"))),
    ("Autoscaling",
     Statement("Built in: the HorizontalPodAutoscaler changes a workload's replicas from resource or custom "
               "metrics (it needs a metrics source such as metrics-server).",
               ("https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/",)),
     Statement("Not built into Marathon: scaling is a change of `instances` through the REST API; "
               "autoscalers were separate programs such as mesosphere/marathon-autoscale.",
               ("https://github.com/mesosphere/marathon-autoscale",))),
    ("Networking model",
     Statement("Every Pod gets its own cluster-wide IP and reaches other Pods without NAT, through a network "
               "plugin (CNI); Services give stable virtual IPs, load-balanced by kube-proxy.",
               ("https://kubernetes.io/docs/concepts/services-networking/",)),
     Statement("Networking modes host (the agent's network namespace and ports), container/bridge (port "
               "mappings) and container (an IP per task on a virtual network); service ports for an "
               "external load balancer such as marathon-lb.",
               ("https://github.com/mesosphere/marathon/blob/master/docs/docs/networking.md",))),
    ("Project status and community",
     Statement("Active CNCF graduated project; a minor release about every four months, each maintained "
               "for about 14 months.",
               ("https://kubernetes.io/releases/", "https://www.cncf.io/projects/kubernetes/")),
     Statement("Apache Mesos is retired to the Apache Attic (no further releases; the last is 1.11.0); "
               "Marathon's GitHub repository is archived and read-only.",
               ("https://attic.apache.org/projects/mesos.html", "https://github.com/mesosphere/marathon"))),
)


def source_urls() -> set[str]:
    """Every external address a report may link to (tests hold the HTML to this list)."""
    return {url for _, *statements in QUALITATIVE for s in statements for url in s.sources}


# --------------------------------------------------------------------------- spread


def _item_id(item: Mapping[str, Any]) -> str:
    """Name a list entry (a failover component, a node, a daemon) so runs can be matched."""
    for keys in (("system", "fault"), ("host", "daemon"), ("host",)):
        if all(item.get(k) is not None for k in keys):
            return ":".join(str(item[k]) for k in keys)
    return json.dumps(item, sort_keys=True)[:60]


def _marked_figures(results: Json) -> dict[str, tuple[float, bool]]:
    """Every numeric figure of a run by path (stack/step/figure...), plus the headline values, each with
    whether it came from an emulated daemon (_item_emulated)."""
    out: dict[str, tuple[float, bool]] = {}

    def walk(prefix: str, value: Any, data: Json, step: Json, item: Json | None = None, key: str = "") -> None:
        if (number := _num(value)) is not None:
            emulated = _item_emulated(data, step, item, key) if item is not None else bool(step.get("emulated"))
            out[prefix] = (number, emulated)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}/{k}", v, data, step, item, k)
        elif isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict):
                    walk(f"{prefix}/{_item_id(entry)}", dict(entry), data, step, entry)

    for stack, data in (results.get("stacks") or {}).items():
        for step in (data or {}).get("steps") or []:
            if step.get("status") == "ok":
                walk(f"{stack}/{step.get('id')}", step.get("figures") or {}, data or {}, step)
    for row in headline_rows(results):
        for stack, cell in row.cells.items():
            if cell.state == "ok" and cell.value is not None:
                out[f"headline/{row.key}/{stack}"] = (cell.value, cell.emulated)
    return out


def figures_of(results: Json) -> dict[str, float]:
    """Every numeric figure of a run by path (stack/step/figure...), plus the headline values."""
    return {path: value for path, (value, _) in _marked_figures(results).items()}


def _item_emulated(data: Json, step: Json, item: Json, key: str = "") -> bool:
    """Whether figure `key` of a list entry of a step came from an emulated daemon: a failover component
    carries its own mark, a daemon's cost its daemon's (emulated_components), a node's machine figures
    are the host's own (real) and what the cluster offers or counts as used is the step's."""
    if "system" in item:
        return bool(item.get("emulated", step.get("emulated")))
    if "daemon" in item:
        return _daemon_emulated(data, step, item)
    if "host" in item and key:
        return bool(step.get("emulated")) and key.startswith(("offered_", "used_"))
    return bool(step.get("emulated"))


def spread(runs: list[Json]) -> Json:
    """min, max and max−min of every figure over several runs of one inventory."""
    if not runs:
        raise StackbenchError("no runs to compute a spread over", "give two or more run directories")
    inventories = {str(r.get("inventory")) for r in runs}
    if len(inventories) > 1:
        raise StackbenchError(
            f"runs are of different inventories ({', '.join(sorted(inventories))}); their spread means nothing",
            "give runs of one inventory",
        )
    series: dict[str, list[float]] = {}
    emulated: set[str] = set()
    for run in runs:
        for path, (value, is_emulated) in _marked_figures(run).items():
            series.setdefault(path, []).append(value)
            if is_emulated:
                emulated.add(path)
    return {
        "inventory": inventories.pop(),
        "runs": len(runs),
        "run_ids": [r.get("run_id") for r in runs],
        # emulated: the figure came from an emulated daemon in at least one of the runs
        "figures": {p: {"n": len(v), "min": min(v), "max": max(v), "spread": max(v) - min(v),
                        "emulated": p in emulated}
                    for p, v in sorted(series.items())},
    }


def _spread_rows(spread_data: Json) -> list[list[str]]:
    """The rows of the "spread of every figure" table (not yet escaped), emulated figures marked."""
    return [[p + (f" {EMULATED}" if s.get("emulated") else ""), str(s["n"]), f"{s['min']:g}", f"{s['max']:g}",
             f"{s['spread']:g}"]
            for p, s in spread_data["figures"].items() if not p.startswith("headline/")]


def _spread_text(row: Row, spread_data: Json | None) -> str:
    if not spread_data:
        return ""
    parts = []
    for stack, label in STACKS:
        stats = spread_data["figures"].get(f"headline/{row.key}/{stack}")
        if stats and stats["n"] > 1:
            lo, hi = _fmt_unit(stats["min"], row.unit), _fmt_unit(stats["max"], row.unit)
            parts.append(f"{label} {lo} – {hi} (±{_fmt_unit(stats['spread'] / 2, row.unit)}, n={stats['n']})"
                         + (f" {EMULATED}" if stats.get("emulated") else ""))
    return "; ".join(parts)


# --------------------------------------------------------------------------- markdown


def _md(text: Any) -> str:
    """One table cell: no line breaks, no pipes, no raw HTML."""
    s = " ".join(str(text).split())
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _md_table(head: list[str], rows: Iterable[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return out


def _header_facts(results: Json, spread_data: Json | None = None) -> list[tuple[str, str]]:
    m = results.get("machine") or {}
    memory = _num(m.get("memory_bytes"))
    machine = (f"{m.get('hostname', '?')}: {m.get('cpus', '?')} CPUs, {_bytes(memory)} memory, "
               f"kernel {m.get('kernel', '?')}")
    return [
        ("run", str(results.get("run_id"))),
        ("when", f"{results.get('started_at')} → {results.get('finished_at')}"),
        ("duration", _secs(_num(results.get("duration_s")))),
        ("inventory", str(results.get("inventory"))),
        ("machine", machine),
    ] + ([("spread over", f"{spread_data['runs']} runs ({', '.join(map(str, spread_data['run_ids']))})")]
         if spread_data else [])


def _headline_cells(row: Row) -> list[str]:
    return [row.cells[s].text + (f" {WINNER}" if row.winner == s else "") for s, _ in STACKS]


def _stack_facts(data: Json) -> list[tuple[str, str]]:
    facts = [("status", str(data.get("status")) + (f": {data.get('reason')}" if data.get("reason") else ""))]
    if data.get("emulated"):
        facts.append(("emulated components", ", ".join(data.get("emulated_components") or []) or "yes"))
    versions = data.get("versions") or {}
    if versions:
        facts.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    hosts = data.get("hosts") or []
    if hosts:
        facts.append(("hosts", "; ".join(
            f"{h.get('name')} ({', '.join(h.get('groups') or [])}) {h.get('address') or ''}".strip() for h in hosts)))
    return facts


def _val(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_val(v)}" for k, v in value.items()) or "—"
    return str(value)


Table = tuple[str, list[str], list[list[str]]]


def _figure_lines(step: Json, data: Json | None = None) -> tuple[list[tuple[str, str]], list[Table]]:
    """Scalars as (name, text); lists of objects as (name, columns, rows) for a table of their own. A figure
    that came from an emulated daemon is marked: scalars of an emulated step; in a list, per entry and
    figure (_item_emulated), or in an `emulated` column for the entries that carry one."""
    figures = step.get("figures") or {}
    emulated = bool(step.get("emulated"))
    scalars: list[tuple[str, str]] = []
    tables: list[Table] = []
    for name, value in figures.items():
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            tables.append(_item_table(name, value, step, data or {}))
        elif emulated and (_num(value) is not None or (isinstance(value, dict) and any(
                _num(v) is not None for v in value.values()))):
            scalars.append((name, f"{_val(value)} {EMULATED}"))
        else:
            scalars.append((name, _val(value)))
    return scalars, tables


def _item_table(name: str, items: list[Json], step: Json, data: Json) -> Table:
    cols = list(dict.fromkeys(k for item in items for k in item))
    per_entry = any("system" in item or "daemon" in item for item in items)  # one daemon per entry
    if per_entry and "emulated" not in cols and step.get("emulated"):
        cols.append("emulated")
    rows = []
    for item in items:
        row = []
        for col in cols:
            if col == "emulated" and per_entry:
                row.append(EMULATED if _item_emulated(data, step, item) else "real")
                continue
            text = _val(item.get(col))
            if not per_entry and _num(item.get(col)) is not None and _item_emulated(data, step, item, col):
                text += f" {EMULATED}"
            row.append(text)
        rows.append(row)
    return name, cols, rows


def _step_mark(step: Json, data: Json | None = None) -> str:
    """ (emulated) after a step's title when its figures came from emulated daemons; "partly" when some of its
    entries are real (ZooKeeper beside emulated Mesos, a host's own CPUs beside what Mesos offers)."""
    if not step.get("emulated"):
        return ""
    flags = []
    for value in (step.get("figures") or {}).values():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    flags += [_item_emulated(data or {}, step, item, k) for k in item if _num(item.get(k)) is not None]
    if flags and not all(flags):
        return " (partly emulated: each emulated figure is marked)"
    return f" {EMULATED}"


def _step_title(step: Json, data: Json | None = None) -> str:
    status = str(step.get("status"))
    if step.get("error"):
        status += f": {step.get('error')}"
    return f"{step.get('title') or step.get('id')} — {status}" + _step_mark(step, data)


LEGEND = (f"{EMULATED} marks figures measured against Mesos/Marathon emulators, not real daemons: the daemons "
          "say so (their X-Stackbench-Emulator header, /version or /v2/info), or could not prove they are real; "
          f"they are never ranked against real figures. {WINNER} marks the better figure only when both are real "
          "and measured alike.")


def render_markdown(results: Json, spread_data: Json | None = None) -> str:
    out = [f"# Kubernetes vs Mesos+Marathon — run {_md(results.get('run_id'))}", ""]
    out += [f"- **{k}**: {_md(v)}" for k, v in _header_facts(results, spread_data)]
    out += ["", LEGEND, "", "## Headline", ""]
    head = ["dimension", *(label for _, label in STACKS), "note"] + (["spread (min – max)"] if spread_data else [])
    rows = headline_rows(results)
    out += _md_table(head, ([r.dimension, *_headline_cells(r), r.note]
                            + ([_spread_text(r, spread_data)] if spread_data else []) for r in rows))
    out += ["", "## Not measured here", "",
            "These differ between the stacks but cannot be measured by a run; each statement is sourced.", ""]
    out += _md_table(["dimension", *(label for _, label in STACKS)], (
        [dim, *(f"{s.text} ({', '.join(s.sources)})" for s in statements)] for dim, *statements in QUALITATIVE))
    for stack, label in STACKS:
        data = _stack(results, stack)
        out += ["", f"## {label}: every step", ""]
        if data is None:
            out.append("Not in this run.")
            continue
        out += [f"- **{k}**: {_md(v)}" for k, v in _stack_facts(data)]
        for step in data.get("steps") or []:
            out += ["", f"### {_md(_step_title(step, data))}", "",
                    f"- method: {_md(step.get('method') or '—')}", f"- hosts: {_md(step.get('hosts') or '—')}"]
            scalars, tables = _figure_lines(step, data)
            out += [f"- {_md(k)}: {_md(v)}" for k, v in scalars]
            for name, cols, table_rows in tables:
                out += ["", f"{_md(name)}:", ""]
                out += _md_table(cols, table_rows)
    if spread_data:
        out += ["", f"## Spread of every figure over {spread_data['runs']} runs", ""]
        out += _md_table(["figure", "runs", "min", "max", "max − min"], _spread_rows(spread_data))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- HTML

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;width:100%}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}
td.win{background:#e5f4e0;font-weight:600}
td.emulated{background:repeating-linear-gradient(45deg,#fff,#fff 6px,#f3f3f3 6px,#f3f3f3 12px)}
td.failed{color:#a40000}
td.not_run,td.not_evaluated,td.missing{color:#777;font-style:italic}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 12px}
dl.facts dt{font-weight:600}
svg.chart{display:block;margin:1em 0;font:12px system-ui,sans-serif}
svg.chart .ct{font-weight:600;font-size:14px}
svg.chart .na{fill:#777;font-style:italic}
.legend{background:#fafafa;border-left:4px solid #999;padding:6px 10px}
"""


def _h_table(head: list[str], rows: Iterable[list[str]], classes: Iterable[list[str]] | None = None) -> str:
    """A table from already-escaped cells (class lists per cell, optional)."""
    cls_rows = list(classes) if classes is not None else None
    out = ["<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = cls_rows[i] if cls_rows else [""] * len(row)
        out.append("<tr>" + "".join(f'<td class="{c}">{v}</td>' if c else f"<td>{v}</td>"
                                    for v, c in zip(row, cls, strict=True)) + "</tr>")
    return "\n".join(out + ["</tbody></table>"])


def _facts(items: list[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items) + "</dl>"


def _sourced(statement: Statement) -> str:
    links = ", ".join(f'<a href="{html.escape(u)}">{html.escape(u)}</a>' for u in statement.sources)
    return f"{html.escape(statement.text)} <small>({links})</small>"


def _cell_class(row: Row, stack: str) -> str:
    cell = row.cells[stack]
    names = [cell.state] if cell.state != "ok" else []
    names += ["emulated"] if cell.emulated else []
    names += ["win"] if row.winner == stack else []
    return " ".join(names)


def _step_bars(results: Json, rows: list[Row], keys: dict[str, str]) -> list[Bar]:
    bars = []
    by_key = {r.key: r for r in rows}
    for key, label in keys.items():
        for stack, stack_label in STACKS:
            cell = by_key[key].cells[stack]
            if cell.state in ("not_evaluated", "missing"):
                continue
            text = cell.text if len(cell.text) <= 80 else cell.text[:79] + "…"
            bars.append(Bar(f"{label} · {stack_label}", cell.value, stack_label, cell.emulated,
                            "" if cell.value is not None else text))
    return bars


def _charts(results: Json, rows: list[Row]) -> list[str]:
    charts = []
    leader, unavailable = [], []
    for stack, label in STACKS:
        data = _stack(results, stack) or {}
        step = _step(data, "failover") or {}
        if step.get("status") != "ok":
            continue
        for comp in (step.get("figures") or {}).get("components") or []:
            emulated = bool(comp.get("emulated", step.get("emulated")))
            name = f"{comp.get('system')} ({comp.get('fault')})"
            leader.append(Bar(name, _num(comp.get("time_to_new_leader_s")), label, emulated))
            unavailable.append(Bar(name, _num(comp.get("write_unavailable_s")), label, emulated,
                                   "" if comp.get("write_unavailable_s") is not None else "no client writes"))
    if leader:
        charts.append(bar_chart("Failover: fault → new leader, per component", "seconds", leader))
        charts.append(bar_chart("Failover: writes unavailable, per component", "seconds", unavailable))
    ops = _step_bars(results, rows, {
        "deploy": "deploy", "scale/up": "scale up", "scale/down": "scale down",
        "rolling_update/time": "rolling update", "rollback": "rollback", "kill_instance": "kill instance",
        "kill_host": "kill host", "health/detect": "health detect", "health/replace": "health replace"})
    if ops:
        charts.append(bar_chart("Deploy, scale and rollout times", "seconds", ops))
    cpu, mem, rss = [], [], []
    for stack, label in STACKS:
        data = _stack(results, stack) or {}
        for step_id, target in (("capacity", "nodes"), ("control_plane_cost", "daemons")):
            step = _step(data, step_id) or {}
            if step.get("status") != "ok":
                continue
            emulated = bool(step.get("emulated"))
            for item in (step.get("figures") or {}).get(target) or []:
                host = f"{item.get('host')} · {label}"
                if target == "nodes":
                    cpu += [Bar(f"{host} machine", _num(item.get("cpus")), "machine"),
                            Bar(f"{host} offered", _num(item.get("offered_cpus")), "offered", emulated)]
                    mem += [Bar(f"{host} machine", _gib(item.get("memory_bytes")), "machine"),
                            Bar(f"{host} offered", _gib(item.get("offered_memory_bytes")), "offered", emulated)]
                else:
                    rss.append(Bar(f"{item.get('host')} / {item.get('daemon')}", _mib(item.get("rss_bytes")),
                                   label, _daemon_emulated(data, step, item)))
    if cpu:
        charts.append(bar_chart("Capacity: CPUs of the machine vs offered to workloads, per node", "CPUs", cpu))
        charts.append(bar_chart("Capacity: memory of the machine vs offered to workloads, per node", "GiB", mem))
    if rss:
        charts.append(bar_chart("Control plane: resident memory per daemon", "MiB", rss))
    return charts


def _daemon_emulated(data: Json, step: Json, daemon: Json) -> bool:
    """A daemon is emulated when the stack names it so (ZooKeeper is real beside emulated Mesos)."""
    names = data.get("emulated_components")
    if names is None:
        return bool(step.get("emulated"))
    return str(daemon.get("daemon")) in names


def _gib(value: Any) -> float | None:
    number = _num(value)
    return None if number is None else number / GIB


def _mib(value: Any) -> float | None:
    number = _num(value)
    return None if number is None else number / MIB


def render_html(results: Json, spread_data: Json | None = None) -> str:
    esc = html.escape
    rows = headline_rows(results)
    title = f"Kubernetes vs Mesos+Marathon — run {results.get('run_id')}"
    facts = _header_facts(results, spread_data)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{esc(title)}</title>",
           f"<style>{CSS}</style></head><body>", f"<h1>{esc(title)}</h1>", _facts(facts),
           f'<p class="legend">{esc(LEGEND)}</p>', "<h2>Headline</h2>"]
    head = ["dimension", *(label for _, label in STACKS), "note"] + (["spread (min – max)"] if spread_data else [])
    out.append(_h_table(
        head,
        ([esc(r.dimension), *(esc(t) for t in _headline_cells(r)), esc(r.note)]
         + ([esc(_spread_text(r, spread_data))] if spread_data else []) for r in rows),
        (["", *(_cell_class(r, s) for s, _ in STACKS), ""] + ([""] if spread_data else []) for r in rows)))
    out.append("<h2>Charts</h2>")
    out += _charts(results, rows) or ["<p>No figures to chart.</p>"]
    out.append("<h2>Not measured here</h2><p>These differ between the stacks but cannot be measured by a run; "
               "each statement links the page it rests on.</p>")
    out.append(_h_table(["dimension", *(label for _, label in STACKS)],
                        ([esc(dim), *(_sourced(s) for s in statements)] for dim, *statements in QUALITATIVE)))
    for stack, label in STACKS:
        data = _stack(results, stack)
        out.append(f"<h2>{esc(label)}: every step</h2>")
        if data is None:
            out.append("<p>Not in this run.</p>")
            continue
        out.append(_facts(_stack_facts(data)))
        for step in data.get("steps") or []:
            out.append(f"<h3>{esc(_step_title(step, data))}</h3>")
            scalars, tables = _figure_lines(step, data)
            out.append(_facts([("method", step.get("method") or "—"), ("hosts", step.get("hosts") or "—"),
                               *scalars]))
            for name, cols, table_rows in tables:
                out.append(f"<p>{esc(name)}:</p>")
                out.append(_h_table(cols, ([esc(c) for c in row] for row in table_rows)))
    if spread_data:
        out.append(f"<h2>Spread of every figure over {spread_data['runs']} runs</h2>")
        out.append(_h_table(["figure", "runs", "min", "max", "max − min"],
                            ([esc(c) for c in row] for row in _spread_rows(spread_data))))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- files and CLI


def write_report(run_dir: Path) -> list[Path]:
    """Render run_dir/results.json into report.md and report.html beside it."""
    results = load_results(run_dir / "results.json")
    md, page = run_dir / "report.md", run_dir / "report.html"
    md.write_text(render_markdown(results), encoding="utf-8")
    page.write_text(render_html(results), encoding="utf-8")
    return [md, page]


def compare_root() -> Path:
    from stackbench.paths import results_dir

    return results_dir() / "compare"


def latest_run(root: Path | None = None) -> Path:
    root = root or compare_root()
    runs = sorted(p.parent for p in root.glob("*/results.json"))  # run ids are UTC timestamps: names sort by time
    if not runs:
        raise StackbenchError(f"no runs under {root}", "run `stackbench compare` first, or give RUN_DIR")
    return runs[-1]


def cmd_report(args: argparse.Namespace) -> int:
    dirs = [Path(d) for d in args.run_dirs]
    dirs = [d.parent if d.name == "results.json" else d for d in dirs]
    if args.latest or not dirs:
        dirs.append(latest_run())
    dirs = list(dict.fromkeys(dirs))
    runs = []
    for run_dir in dirs:
        runs.append(load_results(run_dir))  # check every run before writing anything
    for run_dir in dirs:
        for path in write_report(run_dir):
            print(f"wrote {path}")
    if len(runs) > 1:
        data = spread(runs)
        newest = max(runs, key=lambda r: str(r.get("run_id")))
        out_dir = dirs[0].parent
        md, page = out_dir / "spread.md", out_dir / "spread.html"
        md.write_text(render_markdown(newest, data), encoding="utf-8")
        page.write_text(render_html(newest, data), encoding="utf-8")
        for row in headline_rows(newest):
            text = _spread_text(row, data)
            if text:
                print(f"{row.dimension}: {text}")
        print(f"wrote {md}\nwrote {page}")
    return 0


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    """`stackbench report`: kept here so cli.py needs one line (it is edited by others too)."""
    p = sub.add_parser("report", help="render report.md and report.html from saved compare results")
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR",
                   help="results/compare/<run_id> directories (default: the newest); several: also their spread")
    p.add_argument("--latest", action="store_true", help="also the newest run under results/compare/")
    p.set_defaults(func=cmd_report)
