"""The side-by-side report: marking, (no) ranking, failures, HTML shape, escaping, spread."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import FIXTURES

from stackbench.cli import main
from stackbench.compare import report
from stackbench.errors import StackbenchError

FIXTURE = FIXTURES / "compare-results.json"
HOSTILE = '<script>alert("x")</script> | <img src=http://evil.example/x>'


@pytest.fixture
def results() -> dict:
    return report.load_results(FIXTURE)


def headline(markdown: str) -> dict[str, list[str]]:
    """The headline table as {dimension: [kubernetes, mesos, note]} (pipes escaped as \\|)."""
    section = markdown.split("## Headline", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| dimension"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0]] = cells[1:]
    return rows


def rows_by_key(results: dict) -> dict[str, report.Row]:
    return {r.key: r for r in report.headline_rows(results)}


def step(results: dict, stack: str, step_id: str) -> dict:
    return next(s for s in results["stacks"][stack]["steps"] if s["id"] == step_id)


def make_real(results: dict) -> dict:
    """The fixture as if Mesos and Marathon had been real daemons."""
    real = copy.deepcopy(results)
    mesos = real["stacks"]["mesos"]
    mesos["emulated"], mesos["emulated_components"] = False, []
    for s in mesos["steps"]:
        s["emulated"] = False
        for comp in (s.get("figures") or {}).get("components", []):
            comp["emulated"] = False
    return real


# --------------------------------------------------------------------------- loading


def test_load_results_errors(tmp_path: Path) -> None:
    with pytest.raises(StackbenchError) as missing:
        report.load_results(tmp_path / "nope")
    assert "no results file" in missing.value.message and missing.value.hint
    (tmp_path / "results.json").write_text('{"schema": "stackbench.compare/1", "stacks": {')
    with pytest.raises(StackbenchError) as garbled:
        report.load_results(tmp_path)
    assert "not valid JSON" in garbled.value.message and "line 1" in garbled.value.message
    (tmp_path / "results.json").write_text('{"schema": "other/9", "stacks": {}}')
    with pytest.raises(StackbenchError, match="expected 'stackbench.compare/1'"):
        report.load_results(tmp_path)
    (tmp_path / "results.json").write_text("[1, 2]")
    with pytest.raises(StackbenchError, match="holds a list"):
        report.load_results(tmp_path)


# --------------------------------------------------------------------------- marking and ranking


def test_emulated_figures_marked_and_never_ranked(results: dict) -> None:
    table = headline(report.render_markdown(results))
    k8s, mesos, note = table["Deploy N instances"]
    assert mesos == "4.20 s (3 instances) (emulated)"
    assert k8s == "6.80 s (3 instances)"  # real: no mark
    assert "not ranked: emulated" in note
    # Mesos is faster in every emulated row, yet no row names a winner against an emulated figure.
    for key, row in rows_by_key(results).items():
        if any(c.emulated for c in row.cells.values()):
            assert row.winner is None, key
            assert report.WINNER not in " ".join(table[row.dimension]), key
    assert "faster" not in report.render_markdown(results)


def test_ranked_when_both_real(results: dict) -> None:
    # etcd and ZooKeeper are real in both stacks: the one row where a winner is allowed.
    state_store = rows_by_key(results)["failover/state store/kill"]
    assert state_store.winner == "mesos"
    k8s, mesos, note = headline(report.render_markdown(results))["Failover: state store (kill)"]
    assert mesos.endswith(report.WINNER) and report.WINNER not in k8s
    assert "both real" in note
    real = rows_by_key(make_real(results))
    assert real["deploy"].winner == "mesos"  # 4.2 s < 6.8 s
    assert real["capacity/memory"].winner == "kubernetes"  # higher is better: 88 % > 75 %
    assert real["rolling_update/failed"].winner == "kubernetes"  # 0/368 < 3/246
    assert real["discovery"].winner is None  # a mechanism is not a number


def test_no_ranking_when_measured_differently(results: dict) -> None:
    real = make_real(results)
    step(real, "mesos", "deploy")["figures"]["instances"] = 5
    row = rows_by_key(real)["deploy"]
    assert row.winner is None and "different sizes" in row.note


def test_failed_not_run_not_evaluated(results: dict) -> None:
    k8s, mesos, _ = headline(report.render_markdown(results))["Kill a host"]
    assert k8s.startswith("failed: timed out after 300 s")
    assert mesos == "not run: one agent only: no other host to move instances to"
    skipped = copy.deepcopy(results)
    skipped["stacks"]["mesos"] = {"label": "ZooKeeper + Mesos + Marathon", "status": "not_evaluated",
                                  "reason": "inventory lacks groups: mesos_agents", "emulated": True, "steps": []}
    md = report.render_markdown(skipped)
    for dimension, (_, mesos, _) in headline(md).items():
        assert mesos == "not evaluated: inventory lacks groups: mesos_agents", dimension
    assert "not_evaluated: inventory lacks groups: mesos_agents" in md  # the per-stack section says why
    assert "<svg" in report.render_html(skipped)


def test_per_stack_sections_show_every_step(results: dict) -> None:
    md = report.render_markdown(results)
    for stack in ("kubernetes", "mesos"):
        for s in results["stacks"][stack]["steps"]:
            assert f"- method: {report._md(s['method'])}" in md
    assert "### Kill a host — failed: timed out" in md
    assert "### Deploy 3 instances — ok (emulated)" in md
    assert "| zookeeper | kill | master3 | master2 | 0.42 | 0.61 | 0 | 4.0 | real |" in md  # its own mark


def test_header_and_qualitative(results: dict) -> None:
    md = report.render_markdown(results)
    assert "2026-11-22T06:00:00Z → 2026-11-22T06:21:40Z" in md and "**inventory**: lab" in md
    assert "ci: 2 CPUs" in md and "1300.2 s" in md
    for dimension in ("How an application is defined", "Storage / volumes", "Autoscaling", "Networking model",
                      "Project status and community"):
        assert f"| {dimension} |" in md
    assert "https://attic.apache.org/projects/mesos.html" in md and "https://github.com/mesosphere/marathon" in md
    assert all(statement.sources for _, *pair in report.QUALITATIVE for statement in pair)


# --------------------------------------------------------------------------- HTML


class Checker(HTMLParser):
    """Tags must nest and close; collects tags and every attribute that names an address."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "line", "path"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: set[str] = set()
        self.urls: list[tuple[str, str, str]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if value and re.search(r"(https?:)?//", value):
                self.urls.append((tag, name, value))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_html(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert checker.stack == ["html"] or not checker.stack, checker.stack
    return checker


def test_html_is_self_contained_and_well_formed(results: dict) -> None:
    page = report.render_html(results)
    checker = check_html(page)
    assert "svg" in checker.tags and page.count("<svg") >= 5  # failover x2, operations, capacity x2, RSS
    assert "script" not in checker.tags and "<script" not in page.lower()
    assert all(tag == "a" and name == "href" and url in report.source_urls() for tag, name, url in checker.urls)
    assert "url(http" not in page and "@import" not in page
    # Emulated bars are labelled; the state-store row is highlighted as the winner.
    assert "3.8 seconds (emulated)" in page and "emulated (not a real measurement)" in page
    assert 'class="win"' in page and page.count('class="win"') == 1


def test_hostile_strings_are_escaped(results: dict) -> None:
    evil = copy.deepcopy(results)
    step(evil, "kubernetes", "kill_host")["error"] = HOSTILE
    step(evil, "mesos", "deploy")["method"] = HOSTILE
    evil["stacks"]["kubernetes"]["hosts"][0]["name"] = HOSTILE
    step(evil, "kubernetes", "control_plane_cost")["figures"]["daemons"][0]["daemon"] = HOSTILE
    page = report.render_html(evil)
    checker = check_html(page)
    assert "script" not in checker.tags and "img" not in checker.tags
    assert "&lt;script&gt;" in page
    md = report.render_markdown(evil)
    assert "<script>" not in md and "<img" not in md
    k8s, mesos, _ = headline(md)["Kill a host"]  # the pipe did not split the row
    assert k8s.startswith("failed: &lt;script&gt;") and "\\|" in k8s
    assert mesos.startswith("not run:")


# --------------------------------------------------------------------------- spread


def test_spread_math(results: dict) -> None:
    second, third = copy.deepcopy(results), copy.deepcopy(results)
    step(second, "kubernetes", "deploy")["figures"]["seconds"] = 7.6
    step(third, "kubernetes", "deploy")["figures"]["seconds"] = 6.0
    second["run_id"], third["run_id"] = "20261122T070000Z", "20261122T080000Z"
    data = report.spread([results, second, third])
    assert data["runs"] == 3 and data["inventory"] == "lab"
    deploy = data["figures"]["kubernetes/deploy/seconds"]
    assert deploy["n"] == 3 and deploy["min"] == 6.0 and deploy["max"] == 7.6
    assert deploy["spread"] == pytest.approx(1.6)
    assert data["figures"]["mesos/deploy/seconds"]["spread"] == 0
    assert data["figures"]["mesos/failover/components/zookeeper:kill/time_to_new_leader_s"]["min"] == 0.42
    assert data["figures"]["kubernetes/control_plane_cost/daemons/cp1:etcd/rss_bytes"]["n"] == 3
    assert "kubernetes/kill_host/seconds" not in data["figures"]  # failed steps are not figures
    k8s_spread = headline(report.render_markdown(results, data))["Deploy N instances"][3]
    assert "Kubernetes 6.00 s – 7.60 s (±0.80 s, n=3)" in k8s_spread
    check_html(report.render_html(results, data))


def test_spread_refuses_other_inventories(results: dict) -> None:
    other = copy.deepcopy(results)
    other["inventory"] = "inventories/prod.yml"
    with pytest.raises(StackbenchError, match="different inventories"):
        report.spread([results, other])


# --------------------------------------------------------------------------- files and CLI


def test_cli_report_writes_reports_and_spread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str], results: dict) -> None:
    monkeypatch.setenv("STACKBENCH_RESULTS", str(tmp_path))
    first, second = tmp_path / "compare/20261122T060000Z", tmp_path / "compare/20261123T060000Z"
    for run_dir, seconds in ((first, 6.8), (second, 7.2)):
        run_dir.mkdir(parents=True)
        data = copy.deepcopy(results)
        data["run_id"] = run_dir.name
        step(data, "kubernetes", "deploy")["figures"]["seconds"] = seconds
        (run_dir / "results.json").write_text(json.dumps(data))
    assert main(["report"]) == 0  # the newest run only
    assert (second / "report.md").exists() and (second / "report.html").exists()
    assert not (first / "report.md").exists()
    assert main(["report", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert "Deploy N instances: Kubernetes 6.80 s – 7.20 s" in out
    assert "20261123T060000Z" in (tmp_path / "compare/spread.md").read_text()
    (second / "results.json").write_text("{")
    assert main(["report", str(second)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("stackbench: error:") and "hint:" in err and "Traceback" not in err
