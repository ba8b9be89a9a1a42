"""The end of the scenario, on the cluster the other modules checked: the certificate report, then the
reset (`stackbench down kubernetes -i`, refused without --yes, a check-mode run first that changes no
host), then nothing of the stack left on any host, then a second reset that changes nothing.

It tears the cluster down, so it runs after every other test module of the scenario: conftest.py moves
the tests marked `runs_last` to the end of the session, whatever order pytest collected them in (the
file name only keeps a plain listing tidy). Figures (reset time) go to results/test/kubernetes-reset.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CONTROL_PLANE, INVENTORY, NODES, RUNNER, get_host, leftovers
from playbook_runs import changed, ok, plain_env, run_playbook

pytestmark = pytest.mark.runs_last

REPO = Path(__file__).resolve().parents[3]
ETCD = RUNNER.get_hosts("etcd")
HOSTS = sorted({*CONTROL_PLANE, *NODES, *ETCD})
RESULTS = REPO / "results" / "test" / "kubernetes-reset.json"
FIGURES: dict[str, float] = {}


def env() -> dict[str, str]:
    return plain_env()


def playbook(name: str, *args: str) -> subprocess.CompletedProcess:
    return run_playbook(INVENTORY, name, *args)


def record(step: str, seconds: float) -> None:
    FIGURES[step] = seconds
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(FIGURES, indent=2) + "\n")


# ---- 1. the certificate report, while the cluster runs --------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("certs")
    run = playbook("kubernetes-certs.yml", f"-ekubernetes_certs_results_dir={out}")
    ok(run)
    (written,) = sorted(out.glob("kubernetes-certs-*.json"))
    data = json.loads(written.read_text())
    data["files"] = sorted(p.name for p in out.iterdir())
    data["stdout"] = run.stdout
    return data


def test_the_certificate_report_has_every_host_and_the_controller_with_fresh_certificates(report):
    rows = report["certificates"]
    assert {r["host"] for r in rows} == {*HOSTS, "controller"}
    assert report["unreachable_hosts"] == []
    stem = report["files"][0].rsplit(".", 1)[0]
    assert report["files"] == [f"{stem}.csv", f"{stem}.json", f"{stem}.txt"]
    for row in rows:
        assert set(row) >= {"host", "path", "subject", "issuer", "not_after", "days_left"}
        # issued a few minutes ago for pki_cert_validity_days (365); the CAs for ten years
        assert row["days_left"] > 300, row
    paths = {(r["host"], r["path"]) for r in rows}
    for name in ETCD:
        assert (name, "/etc/etcd/pki/member.crt") in paths
    for name in CONTROL_PLANE:
        assert {(name, f"/etc/kubernetes/pki/{c}.crt") for c in ("apiserver", "apiserver-kubelet-client",
                                                                 "controller-manager", "scheduler")} <= paths
    for name in NODES:
        assert {(name, "/etc/kubernetes/kubelet/kubelet.crt"), (name, "/etc/kubernetes/kube-proxy/kube-proxy.crt")} \
            <= paths
    node = next(r for r in rows if r["path"] == "/etc/kubernetes/kubelet/kubelet.crt" and r["host"] == NODES[-1])
    assert node["subject"] == f"O=system:nodes, CN=system:node:{NODES[-1]}"
    assert node["issuer"] == "CN=stackbench-kubernetes cluster CA"
    controller = [r for r in rows if r["host"] == "controller"]
    assert any(r["path"].endswith("/pki/stackbench-kubernetes/ca.crt") and r["days_left"] > 3000 for r in controller)
    assert any(r["path"].endswith("/pki/stackbench-etcd/ca.crt") for r in controller)
    assert any("(client-certificate-data of kubernetes-admin)" in r["path"] for r in controller)
    assert "days left" in report["stdout"] and report["summary"]["expiring"] == []


# ---- 2. the reset: check mode, refusal, the real run ---------------------------------------------------


def test_a_reset_in_check_mode_changes_no_host():
    run = playbook("kubernetes-reset.yml", "-ereset_confirmed=true", "--check")
    ok(run)
    assert get_host(CONTROL_PLANE[0]).service("kube-apiserver").is_running
    assert get_host(NODES[-1]).service("kubelet").is_running
    assert get_host(ETCD[0]).service("etcd").is_running


def test_stackbench_down_refuses_without_yes_then_takes_the_stack_off(report):
    cli = [shutil.which("stackbench", path=str(Path(sys.executable).parent)) or "stackbench", "down", "kubernetes",
           "-i", INVENTORY]
    refused = subprocess.run(cli, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env(), cwd=REPO,
                             check=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr, refused.stdout + refused.stderr
    assert get_host(NODES[-1]).service("kubelet").is_running
    started = time.monotonic()
    down = subprocess.run([*cli, "--yes"], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env(),
                          cwd=REPO, check=False)
    assert down.returncode == 0, down.stdout[-6000:] + down.stderr[-3000:]
    record("reset", round(time.monotonic() - started, 1))
    admin = [r["path"].split(" (")[0] for r in report["certificates"] if "client-certificate-data" in r["path"]]
    assert admin and not any(Path(p).exists() for p in admin), "the admin kubeconfig is still on the controller"


def test_nothing_of_the_stack_is_left_on_any_host():
    assert {name: leftovers(name) for name in HOSTS} == {name: [] for name in HOSTS}


def test_a_second_reset_changes_nothing():
    run = playbook("kubernetes-reset.yml", "-ereset_confirmed=true")
    ok(run)
    record("reset_again", run.seconds)  # type: ignore[attr-defined]
    assert {h: c for h, c in changed(run).items() if h in HOSTS} == {h: 0 for h in HOSTS}
