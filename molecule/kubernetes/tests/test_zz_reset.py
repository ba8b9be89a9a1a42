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
from conftest import CONTROL_PLANE, INVENTORY, NODES, RUNNER, get_host
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


def leftovers(name: str) -> list[str]:
    """What the Kubernetes stack left on the host, a line each, from one shell run (not a round trip per check)."""
    host = get_host(name)
    with host.sudo():
        result = host.run(f"bash -s <<'LEFTOVERS_EOF'\n{LEFTOVERS}\nLEFTOVERS_EOF")
    lines = result.stdout.splitlines()
    assert result.rc == 0 and lines[-1:] == ["checked"], (name, result.stdout, result.stderr)
    return lines[:-1]


# Every check prints what it finds; the last line proves the script ran to its end (a broken script
# that printed nothing would otherwise pass).
LEFTOVERS = r"""
set -u
for unit in kubelet kube-proxy kube-apiserver kube-controller-manager kube-scheduler etcd containerd haproxy \
    kubernetes-pod-network kubernetes-pod-network-reconcile; do
  for file in /etc/systemd/system/$unit.service /etc/systemd/system/$unit.timer /lib/systemd/system/$unit.service; do
    [ -e "$file" ] && echo "unit file: $file"
  done
  systemctl is-active --quiet "$unit.service" && echo "unit active: $unit"
done
systemctl is-active --quiet kubernetes-pod-network-reconcile.timer && echo "unit active: reconcile timer"
systemctl list-units --all --plain --no-legend 'kubepods*' 'cri-containerd-*' | awk '{print "unit: " $1}'
for path in /etc/kubernetes /var/lib/kubelet /var/lib/kube-proxy /var/lib/kubernetes /var/log/pods \
    /var/log/containers \
    /etc/etcd /var/lib/etcd /var/lib/etcd-backup /opt/etcd /etc/containerd /run/containerd /opt/containerd \
    /etc/cni /var/lib/cni /usr/lib/cni /etc/haproxy /var/lib/haproxy /run/haproxy /var/cache/stackbench \
    /usr/local/sbin/kubernetes-pod-network /usr/bin/containerd /usr/sbin/runc /usr/sbin/haproxy \
    /usr/local/bin/kubelet /usr/local/bin/kube-proxy /usr/local/bin/kubectl /usr/local/bin/kube-apiserver \
    /usr/local/bin/kube-controller-manager /usr/local/bin/kube-scheduler /usr/local/bin/etcd \
    /usr/local/bin/etcdctl /usr/local/bin/etcdutl; do
  { [ -e "$path" ] || [ -L "$path" ]; } && echo "path: $path"
done
[ -n "$(ls -A /var/lib/containerd 2>/dev/null)" ] && echo "path: /var/lib/containerd is not empty"
for package in containerd runc containernetworking-plugins haproxy; do
  dpkg-query -W -f '${Status}\n' "$package" 2>/dev/null | grep -q ' installed$' && echo "package: $package"
done
for user in etcd kube haproxy; do
  getent passwd "$user" >/dev/null && echo "user: $user"
  getent group "$user" >/dev/null && echo "group: $user"
done
sockets=$(ss -Hltn) || echo "ss failed"
printf '%s\n' "$sockets" | awk '{print $4}' \
  | grep -E ':(2379|2380|6443|6543|10248|10249|10250|10256|10257|10259)$' | sed 's/^/listening: /'
# by exact process name (ps: pgrep refuses patterns longer than a name's 15 characters)
ps -e -o pid=,comm= | awk '$2 ~ /^(kubelet|kube-proxy|kube-apiserver|kube-controller|kube-scheduler|etcd)$/ ||
  $2 ~ /^(containerd|containerd-shim|haproxy|coredns|pause|httpd|busybox)$/ {print "process: " $1 " " $2}'
ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(cni0|flannel\.|kube-ipvs0|veth)' \
  | sed 's/^/interface: /'
ip -4 route show root 10.244.0.0/16 | sed 's/^/route: /'
[ -d /run/netns ] && ls -A /run/netns | sed 's/^/netns: /'
for save in iptables-nft-save ip6tables-nft-save iptables-legacy-save ip6tables-legacy-save; do
  command -v "$save" >/dev/null || continue
  dump=$("$save" 2>/dev/null) || continue
  printf '%s\n' "$dump" | grep -E '^:(KUBE-|CNI-)' | awk -v s="$save" '{print "chain: " s " " $1}'
  printf '%s\n' "$dump" | grep -E 'stackbench-pod-egress|-j (KUBE-|CNI-)' | sed "s/^/rule: $save /"
done
if command -v nft >/dev/null; then nft list tables 2>/dev/null | grep kube-proxy | sed 's/^/nft: /'; fi
findmnt --raw --noheadings --output TARGET \
  | grep -E '^(/var/lib/kubelet|/run/containerd|/run/netns|/var/lib/containerd/)' | sed 's/^/mount: /'
echo checked
"""
