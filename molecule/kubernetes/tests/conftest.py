"""Shared helpers for the Kubernetes scenario's testinfra tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import testinfra
import testinfra.utils.ansible_runner
import yaml

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
CONTROL_PLANE = RUNNER.get_hosts("kube_control_plane")
NODES = RUNNER.get_hosts("kube_nodes")
ADDRESSES = {name: RUNNER.get_variables(name)["ansible_host"] for name in NODES + CONTROL_PLANE}
ADMIN = "/etc/kubernetes/admin.kubeconfig"
# the scenario's release (group_vars/all/lifecycle.yml), and the one test_lifecycle.py upgrades to
STARTING_VERSION = RUNNER.get_variables(CONTROL_PLANE[0])["kubernetes_version"]
UPGRADED_VERSION = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "roles" / "kubernetes" / "defaults" / "main.yml").read_text()
)["kubernetes_version"]
LB_SERVER = "https://127.0.0.1:6543"


def get_host(name: str):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}", sudo=True)


def kubectl(host, args: str, server: str | None = None):
    flags = f"--kubeconfig={ADMIN} --request-timeout=10s"
    if server:
        flags += f" --server={server}"
    with host.sudo():
        return host.run(f"kubectl {flags} {args}")


def applied_manifest(host, name: str, manifest: str, wait: str):
    """Apply manifest as /root/verify/NAME.yaml, run `kubectl WAIT` until it holds; a generator
    for module fixtures (yield from it): the objects are deleted afterwards."""
    path = f"/root/verify/{name}.yaml"
    with host.sudo():
        host.run("install -d -m 0700 /root/verify")
        host.run(f"cat > {path} <<'EOF'\n{manifest}\nEOF")
    applied = kubectl(host, f"apply -f {path}")
    assert applied.rc == 0, applied.stderr
    settled = kubectl(host, wait)
    assert settled.rc == 0, settled.stdout + settled.stderr
    yield
    kubectl(host, f"delete -f {path} --wait=false")


def kubectl_json(host, args: str):
    out = kubectl(host, f"{args} -o json")
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def _python(host, code: str):
    return host.run(f"python3 - <<'PYEOF'\n{code}\nPYEOF")


def http_get(host, url: str, timeout: int = 5):
    """GET url from host with Python (no curl on the nodes); returns the CommandResult."""
    return _python(
        host,
        f"import sys, urllib.request\n"
        f"sys.stdout.write(urllib.request.urlopen({url!r}, timeout={timeout}).read().decode())",
    )


def https_status(host, url: str, cafile: str = "/etc/kubernetes/admin/ca.crt") -> int:
    """HTTP status of an anonymous GET of url from host, verifying the server against cafile."""
    code = (
        "import ssl, urllib.error, urllib.request\n"
        f"context = ssl.create_default_context(cafile={cafile!r})\n"
        "try:\n"
        f"    print(urllib.request.urlopen({url!r}, context=context, timeout=5).status)\n"
        "except urllib.error.HTTPError as error:\n"
        "    print(error.code)\n"
    )
    with host.sudo():
        out = _python(host, code)
    assert out.rc == 0, out.stderr
    return int(out.stdout.strip())


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
    /etc/cni /var/lib/cni /var/lib/kubernetes-pod-network /usr/lib/cni \
    /etc/haproxy /var/lib/haproxy /run/haproxy /var/cache/stackbench \
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


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "runs_last: tears the cluster down; runs after every other test of the session")


def pytest_collection_modifyitems(session, config, items) -> None:
    """The tests marked runs_last (test_zz_reset.py: the reset) go to the end, in their own order, whatever order
    the modules were collected in: every other module checks the running cluster."""
    last = [item for item in items if item.get_closest_marker("runs_last")]
    items[:] = [item for item in items if not item.get_closest_marker("runs_last")] + last
