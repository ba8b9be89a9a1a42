"""Issue #16: every figure that came from an emulated daemon carries "(emulated)" on stdout, in the
report's tables, in the charts and in the spread; figures of real daemons never do.

The runs are built the way `stackbench compare` builds them (evaluate.StackRun, its steps, failover()
and control_plane_cost() reading what their playbooks wrote), and which daemons are emulated is
decided by detect_emulated() from a fake fetch: a daemon answers like an emulator (the
X-Stackbench-Emulator header, or the mark in /version's build_user / Marathon's buildref) or like a
real one, or not at all.
"""

from __future__ import annotations

import html
import io
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from stackbench import catalog
from stackbench.cli import main
from stackbench.compare import evaluate, report

MARK = "(emulated)"
REAL_VERSION = {"version": "1.11.0", "build_user": "root", "git_tag": "1.11.0"}
REAL_INFO = {"name": "marathon", "version": "1.10.26", "buildref": "0a1b2c3d"}
HEADER = {"X-Stackbench-Emulator": "true"}
GIB = 1024**3


def fake_fetch(emulated: set[str], silent: frozenset[str] = frozenset()):  # noqa: ANN201
    """http_answer as the daemons would give it: those in `emulated` answer like the emulators (the master by
    its header only, the agent and Marathon by the mark in their body only), those in `silent` not at all."""
    spec = catalog.get("mesos")
    by_port = {spec.port("mesos_master"): "mesos-master", spec.port("mesos_agent"): "mesos-agent",
               spec.port("marathon_http"): "marathon"}

    def fetch(url: str):  # noqa: ANN202
        daemon = by_port[int(url.split(":")[2].split("/")[0])]
        if daemon in silent:
            return None
        if daemon == "marathon":
            return {}, {**REAL_INFO, "buildref": "stackbench-emulator"} if daemon in emulated else REAL_INFO
        if daemon == "mesos-master" and daemon in emulated:
            return {**HEADER, "Content-Type": "application/json"}, REAL_VERSION
        return {}, {**REAL_VERSION, "build_user": "stackbench-emulator"} if daemon in emulated else REAL_VERSION

    return fetch


INVENTORY = """[zookeeper]
m1 ansible_host=10.0.0.1
[mesos_masters]
m1
[marathon]
m1
[mesos_agents]
a1 ansible_host=10.0.0.2
[etcd]
c1 ansible_host=10.0.0.3
[kube_control_plane]
c1
[kube_nodes]
w1 ansible_host=10.0.0.4
"""
SKIP = {"scale", "rolling_update", "rollback", "kill_instance", "health_check", "kill_host"}


def fake_playbook(leader_s: float):  # noqa: ANN201
    """Run.playbook as if the stand-up found the stacks up, and validate-ha.yml, capacity.yml and
    control-plane-cost.yml wrote their files (Mesos' figures 1 s / 0.5 s slower than Kubernetes')."""

    def playbook(self, name: str, inventory: Path, extra: dict | None, label: str) -> SimpleNamespace:  # noqa: ANN001, ARG001
        mesos = label.endswith("mesos") or label in ("ha-zookeeper", "ha-mesos_masters", "ha-marathon")
        if name == "validate-ha.yml":
            out = Path(extra["ha_results_dir"])
            out.mkdir(parents=True, exist_ok=True)
            system, seconds = extra["ha_system"], leader_s + mesos
            (out / f"ha-{system}.json").write_text(json.dumps([{
                "system": system, "fault": "kill", "time_to_new_leader_seconds": seconds,
                "write_unavailable_seconds": seconds / 2, "lost_acknowledged_writes": 0,
                "bounds_seconds": {"session": 30}}]))
        elif name == "capacity.yml":
            out = Path(extra["capacity_results_dir"])
            out.mkdir(parents=True, exist_ok=True)
            offered = ({"mesos_resources_cpus": 3.0, "mesos_resources_mem_bytes": 6 * GIB} if mesos else
                       {"kubernetes_allocatable_cpu_cores": 3.5, "kubernetes_allocatable_memory_bytes": 7 * GIB})
            (out / "capacity-1.json").write_text(json.dumps({"hosts": [
                {"host": "a1" if mesos else "w1", "logical_cpus": 4, "memory_total_bytes": 8 * GIB, **offered}]}))
        elif name == "control-plane-cost.yml":
            programs = (["java -cp zk.jar org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg",
                         "/usr/sbin/mesos-master --zk=zk://m1:2181/mesos", "/usr/bin/marathon --master zk://m1/mesos"]
                        if mesos else ["/usr/local/bin/etcd --name c1", "/usr/bin/kube-apiserver"])
            processes = [{"cmdline": c, "ticks_before": 0, "ticks_after": 10 * (i + 1), "rss_kb": 100_000 * (i + 1)}
                         for i, c in enumerate(programs)]
            Path(extra["cost_results_file"]).write_text(json.dumps(
                {"m1" if mesos else "c1": {"clk_tck": 100, "interval": 5, "processes": processes}}))
        return SimpleNamespace(rc=0, failures=[], status="successful", seconds=30.0, changed=0, timings_file=None)

    return playbook


class FakeEvaluator:
    """The stack's API as make_evaluator would connect it: deploy and discovery answered at once."""

    def __init__(self, stack: str, seconds: float) -> None:
        self.stack, self.seconds = stack, seconds

    def describe(self) -> str:
        return "Marathon 1.10.26" if self.stack == "mesos" else "Kubernetes v1.35.4"

    def ensure_instances(self) -> None:
        pass

    def hosts(self) -> str:
        return "a1" if self.stack == "mesos" else "w1"

    def deploy(self, instances: int) -> dict:
        return {"instances": instances, "seconds": self.seconds}

    def discovery(self) -> dict:
        return {"mechanism": "dns", "requests": 4, "failed_requests": 0, "spread": {"web-a": 2, "web-b": 2}}

    def used_by_node(self) -> dict:
        return {}

    def cleanup(self) -> None:
        pass


def one_run(root: Path, out, fetch, leader_s: float = 4.0, inventory: Path | None = None) -> Path:  # noqa: ANN001
    """`stackbench compare -i <inventory>` of both stacks through evaluate.compare(): the playbooks and the
    stacks' APIs faked, the Mesos daemons asked what they are through `fetch` (in place of HTTP)."""
    root.mkdir(parents=True, exist_ok=True)
    inventory = inventory or root / "inventory.ini"
    inventory.write_text(INVENTORY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluate, "http_answer", fetch)
        patch.setattr(evaluate.Run, "playbook", fake_playbook(leader_s))
        patch.setattr(evaluate, "make_evaluator", lambda stack_run, lab: FakeEvaluator(  # noqa: ARG005
            stack_run.stack, leader_s + (0.5 if stack_run.stack == "mesos" else 0.0)))
        return evaluate.compare(str(inventory), ["kubernetes", "mesos"], 3, str(root), ["kill"], SKIP, out)


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


# --------------------------------------------------------------------------- stdout


def test_stdout_marks_exactly_the_figures_of_emulated_daemons(tmp_path, capsys):
    run_dir = one_run(tmp_path, sys.stdout, fake_fetch({"mesos-master", "marathon"}))
    assert evaluate.summarize(run_dir, sys.stdout)
    out = capsys.readouterr().out

    (said,) = lines_with(out, "mesos: the daemons' own answers say:")
    assert said.endswith("mesos: the daemons' own answers say: emulated mesos-master, marathon; real mesos-agent")
    # Kubernetes: no emulator-capable daemon, not one mark on any of its lines
    kubernetes = [line for line in out.splitlines() if "kubernetes:" in line or "etcd (" in line
                  or "kube_" in line]
    assert kubernetes and not [line for line in kubernetes if MARK in line]
    # Mesos: the stand-up, workload, capacity and cost figures are marked (a step of a partly emulated stack)
    for title in ("Stand up (cold when new, then warm): ok", "Deploy 3 instances: ok",
                  "Service discovery and load balancing: ok", "Control-plane cost (CPU, RSS per daemon): ok"):
        (line,) = lines_with(out, f"mesos: {title}")
        assert line.endswith(MARK), line
    # the requests spread over the instances: Kubernetes first, then Mesos
    assert [MARK in line for line in lines_with(out, "answered by web-a 2, web-b 2")] == [False, True]
    # capacity: the machine's own figures are real, what Mesos offers is marked; Kubernetes' not
    (node,) = lines_with(out, "a1: machine 4 CPUs, 8.0 GiB; offered")
    assert node.endswith(f"offered 3.0 CPUs, 6.0 GiB {MARK}")
    (node,) = lines_with(out, "w1: machine 4 CPUs, 8.0 GiB; offered")
    assert node.endswith("offered 3.5 CPUs, 7.0 GiB")
    # control-plane cost per daemon: ZooKeeper is real beside the emulated master and Marathon
    (zookeeper,) = lines_with(out, "m1 zookeeper: 2.0% CPU")
    (master,) = lines_with(out, "m1 mesos-master: 4.0% CPU")
    (marathon,) = lines_with(out, "m1 marathon: 6.0% CPU")
    assert MARK not in zookeeper and master.endswith(MARK) and marathon.endswith(MARK)
    # failover: one line per component, each with its own daemon's mark (ZooKeeper is real)
    (zookeeper,) = lines_with(out, "zookeeper (kill): 5 s to a new leader")
    (master,) = lines_with(out, "mesos_masters (kill): 5 s to a new leader")
    (marathon,) = lines_with(out, "marathon (kill): 5 s to a new leader")
    assert MARK not in zookeeper and master.endswith(MARK) and marathon.endswith(MARK)
    (etcd,) = lines_with(out, "etcd (kill): 4 s to a new leader")
    assert MARK not in etcd
    # the summary at the end
    assert "stackbench: mesos: evaluated (emulated: mesos-master, marathon)" in out
    (summary,) = lines_with(out, "stackbench: kubernetes:")
    assert "emulated" not in summary


def test_stdout_has_no_mark_when_every_daemon_answers_as_real(tmp_path, capsys):
    run_dir = one_run(tmp_path, sys.stdout, fake_fetch(set()))
    evaluate.summarize(run_dir, sys.stdout)
    out = capsys.readouterr().out
    assert "mesos: the daemons' own answers say: real mesos-master, mesos-agent, marathon" in out
    assert MARK not in out and "(emulated:" not in out
    # the stand-up ran before the daemons were asked: it counted as emulated then, and is real now
    results = json.loads((run_dir / "results.json").read_text())
    assert [s["emulated"] for s in results["stacks"]["mesos"]["steps"]] == [False] * 6
    assert results["stacks"]["mesos"]["emulated_components"] == []


def test_a_daemon_that_does_not_answer_marks_its_figures(tmp_path):
    out = io.StringIO()
    one_run(tmp_path, out, fake_fetch(set(), silent=frozenset({"marathon"})))
    text = out.getvalue()
    (marathon,) = lines_with(text, "marathon (kill):")
    (master,) = lines_with(text, "mesos_masters (kill):")
    assert marathon.endswith(MARK) and MARK not in master
    assert lines_with(text, "mesos: Deploy 3 instances: ok")[0].endswith(MARK)


# --------------------------------------------------------------------------- HTML tables and charts


def svg_texts(page: str, title: str) -> list[str]:
    """The texts of the chart titled `title`, in order."""
    chart = next(c for c in page.split("<svg ")[1:] if f'class="ct">{title}' in c)
    return [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>(.*?)</text>", chart)]


def after(texts: list[str], label: str) -> str:
    """The text after a bar's label (its figure)."""
    return texts[texts.index(label) + 1]


def headline_cells(page: str) -> dict[str, list[str]]:
    table = page.split("<h2>Headline</h2>", 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]:
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


@pytest.fixture
def mixed_page(tmp_path) -> str:
    run_dir = one_run(tmp_path, io.StringIO(), fake_fetch({"mesos-master", "marathon"}))
    return report.render_html(report.load_results(run_dir))


def test_html_tables_mark_the_emulated_figures_only(mixed_page):
    cells = headline_cells(mixed_page)
    kubernetes, mesos = 0, 1  # report.STACKS order
    assert report.STACKS[kubernetes][0] == "kubernetes" and report.STACKS[mesos][0] == "mesos"
    assert not [row for row, c in cells.items() if MARK in c[kubernetes]]
    assert MARK not in cells["Failover: state store (kill)"][mesos]  # ZooKeeper, real
    assert cells["Failover: API / master (kill)"][mesos].endswith(MARK)
    assert cells["Failover: scheduler (kill)"][mesos].endswith(MARK)
    assert cells["Deploy N instances"][mesos].endswith(MARK)
    assert cells["Discovery / load balancing"][mesos].endswith(MARK)  # the requests spread over instances
    assert "answered by web-a 2, web-b 2" in cells["Discovery / load balancing"][kubernetes]

    mesos_part = mixed_page.split("Mesos+Marathon: every step</h2>", 1)[1]
    kubernetes_part = mixed_page.split("Kubernetes: every step</h2>", 1)[1].split("Mesos+Marathon: every step")[0]
    assert MARK not in kubernetes_part and "partly emulated" not in kubernetes_part
    assert "Deploy 3 instances — ok (emulated)</h3>" in mesos_part
    assert "<dt>seconds</dt><dd>4.5 (emulated)</dd>" in mesos_part
    assert "<dt>spread</dt><dd>web-a=2, web-b=2 (emulated)</dd>" in mesos_part
    partly = "(partly emulated: each emulated figure is marked)"
    assert f"Control-plane failover (ha_failover) — ok {partly}</h3>" in mesos_part
    rows = {re.sub(r"<[^>]+>", " ", r).split()[0]: r for r in re.findall(r"<tr>(.*?)</tr>", mesos_part)
            if re.sub(r"<[^>]+>", "", r).strip()}  # (an empty list is an empty table)
    assert "<td>real</td>" in rows["zookeeper"] and MARK not in rows["zookeeper"]
    assert f"<td>{MARK}</td>" in rows["mesos_masters"] and f"<td>{MARK}</td>" in rows["marathon"]
    # the cost of each daemon: ZooKeeper real, Mesos master and Marathon emulated
    cost = mesos_part.split("Control-plane cost (CPU, RSS per daemon) — ", 1)[1].split(
        "Control-plane failover (ha_failover) — ", 1)[0]
    daemons = {d: r for r in re.findall(r"<tr>(.*?)</tr>", cost) for d in ("zookeeper", "mesos-master", "marathon")
               if f"<td>{d}</td>" in r}
    assert MARK not in daemons["zookeeper"] and MARK in daemons["mesos-master"] and MARK in daemons["marathon"]
    # capacity: the host's own CPUs are real, what Mesos offers is not
    (node,) = [r for r in re.findall(r"<tr>(.*?)</tr>", mesos_part) if r.startswith("<td>a1</td>")]
    assert "<td>4</td>" in node and f"<td>3.0 {MARK}</td>" in node


def test_chart_labels_and_titles_mark_the_emulated_bars_only(mixed_page):
    leader = svg_texts(mixed_page, "Failover: fault → new leader, per component")
    assert after(leader, "zookeeper (kill)") == "5 seconds"
    assert after(leader, "etcd (kill)") == "4 seconds"
    assert after(leader, "mesos_masters (kill)") == f"5 seconds {MARK}"
    assert after(leader, "marathon (kill)") == f"5 seconds {MARK}"
    assert "emulated (not a real measurement)" in leader  # the legend
    # the chart's accessible name lists the emulated bars, not the real ones
    name = re.search(r"<title>(Failover: fault → new leader[^<]*)</title>", mixed_page).group(1)
    assert name.endswith(f"{MARK}: mesos_masters (kill), marathon (kill)")

    ops = svg_texts(mixed_page, "Deploy, scale and rollout times")
    assert after(ops, "deploy · Kubernetes") == "4 seconds"
    assert after(ops, "deploy · Mesos+Marathon") == f"4.5 seconds {MARK}"
    cpu = svg_texts(mixed_page, "Capacity: CPUs of the machine vs offered to workloads, per node")
    assert after(cpu, "a1 · Mesos+Marathon machine") == "4 CPUs"
    assert after(cpu, "a1 · Mesos+Marathon offered") == f"3 CPUs {MARK}"
    assert after(cpu, "w1 · Kubernetes offered") == "3.5 CPUs"
    rss = svg_texts(mixed_page, "Control plane: resident memory per daemon")
    assert MARK not in after(rss, "m1 / zookeeper") and MARK not in after(rss, "c1 / etcd")
    assert after(rss, "m1 / mesos-master").endswith(MARK) and after(rss, "m1 / marathon").endswith(MARK)


def test_no_mark_anywhere_in_the_report_of_real_daemons(tmp_path):
    run_dir = one_run(tmp_path, io.StringIO(), fake_fetch(set()))
    page = report.render_html(report.load_results(run_dir))
    body = page.replace(html.escape(report.LEGEND), "")
    assert MARK not in body and "partly emulated" not in body
    assert "emulated (not a real measurement)" not in body  # no chart legend for a hatch no bar has
    md = report.render_markdown(report.load_results(run_dir)).replace(report.LEGEND, "")
    assert MARK not in md


# --------------------------------------------------------------------------- spread over runs


def test_spread_marks_the_emulated_figures_in_its_tables_and_stdout(tmp_path, capsys):
    fetch = fake_fetch({"mesos-master", "marathon"})
    inventory = tmp_path / "inventory.ini"
    first = one_run(tmp_path / "r1", io.StringIO(), fetch, leader_s=4.0, inventory=inventory)
    second = one_run(tmp_path / "r2", io.StringIO(), fetch, leader_s=6.0, inventory=inventory)
    data = report.spread([report.load_results(first), report.load_results(second)])
    figures = data["figures"]
    assert figures["mesos/failover/components/zookeeper:kill/time_to_new_leader_s"]["emulated"] is False
    assert figures["mesos/failover/components/marathon:kill/time_to_new_leader_s"]["emulated"] is True
    assert figures["mesos/capacity/nodes/a1/cpus"]["emulated"] is False
    assert figures["mesos/capacity/nodes/a1/offered_cpus"]["emulated"] is True
    assert figures["mesos/control_plane_cost/daemons/m1:zookeeper/rss_bytes"]["emulated"] is False
    assert figures["mesos/control_plane_cost/daemons/m1:marathon/rss_bytes"]["emulated"] is True
    assert figures["mesos/discovery/spread/web-a"]["emulated"] is True
    assert not [p for p, s in figures.items() if s["emulated"] and not p.startswith("mesos/")
                and not p.endswith("/mesos")]
    assert not [p for p, s in figures.items() if p.startswith("kubernetes/") and s["emulated"]]

    assert main(["report", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    (deploy,) = lines_with(out, "Deploy N instances:")
    assert re.fullmatch(r"Deploy N instances: Kubernetes 4\.00 s – 6\.00 s \(±1\.00 s, n=2\); "
                        r"Mesos\+Marathon 4\.50 s – 6\.50 s \(±1\.00 s, n=2\) \(emulated\)", deploy), deploy
    (state_store,) = lines_with(out, "Failover: state store (kill):")
    (master,) = lines_with(out, "Failover: API / master (kill):")
    assert MARK not in state_store and master.endswith(MARK)

    page = (tmp_path / "r1" / "spread.html").read_text()
    table = page.split("Spread of every figure over 2 runs</h2>", 1)[1]
    assert "<td>mesos/failover/components/marathon:kill/time_to_new_leader_s (emulated)</td>" in table
    assert "<td>mesos/failover/components/zookeeper:kill/time_to_new_leader_s</td>" in table
    assert "<td>kubernetes/deploy/seconds</td>" in table and "<td>mesos/deploy/seconds (emulated)</td>" in table
    assert "<td>mesos/capacity/nodes/a1/cpus</td>" in table
    headline = headline_cells(page)
    assert headline["Deploy N instances"][-1].endswith(MARK)
    assert MARK not in headline["Failover: state store (kill)"][-1]
    md = (tmp_path / "r1" / "spread.md").read_text()
    assert "| mesos/deploy/seconds (emulated) | 2 |" in md and "| kubernetes/deploy/seconds | 2 |" in md


def test_a_chart_of_emulated_bars_only_says_so_in_its_title():
    from stackbench.compare.svg import Bar, bar_chart

    emulated = bar_chart("Failover", "seconds", [Bar("marathon (kill)", 5.0, "Mesos", True),
                                                 Bar("mesos_masters (kill)", None, "Mesos", True, "no client writes")])
    assert "<title>Failover (emulated)</title>" in emulated and 'class="ct">Failover (emulated)</text>' in emulated
    assert ">5 seconds (emulated)</text>" in emulated and ">no client writes (emulated)</text>" in emulated
    real = bar_chart("Failover", "seconds", [Bar("etcd (kill)", 4.0, "Kubernetes"),
                                             Bar("kube_scheduler (kill)", None, "Kubernetes", text="no writes")])
    assert "emulated" not in real
