"""Every control-plane host: daemons as the unprivileged user, health, leader election."""

import time

import pytest
from conftest import ADDRESSES, CONTROL_PLANE, get_host, https_status, kubectl, kubectl_json

testinfra_hosts = CONTROL_PLANE


@pytest.mark.parametrize("daemon", ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])
def test_daemon_runs_as_kube(host, daemon):
    with host.sudo():
        assert host.service(daemon).is_enabled
        # a controller that loses its lease on a starved machine exits and systemd starts it again:
        # the process may be between two lives at one instant, so give it up to 30 s to be there
        deadline = time.monotonic() + 30
        while not (processes := host.process.filter(comm=daemon[:15])) and time.monotonic() < deadline:
            time.sleep(2)
    assert processes, f"{daemon} is not running"
    assert {p.user for p in processes} == {"kube"}


def test_readyz_and_livez_answer_200_on_this_apiserver(host):
    address = ADDRESSES[host.backend.get_hostname()]
    for check in ("readyz", "livez"):
        assert https_status(host, f"https://{address}:6443/{check}") == 200


def test_private_keys_are_readable_by_kube_only(host):
    with host.sudo():
        for name in ("apiserver", "service-account", "controller-manager", "scheduler"):
            key = host.file(f"/etc/kubernetes/pki/{name}.key")
            assert key.user == "kube" and key.mode == 0o600
        assert host.file("/etc/kubernetes/pki/etcd/apiserver-etcd-client.key").mode == 0o600


def test_anonymous_requests_cannot_read_the_api(host):
    address = ADDRESSES[host.backend.get_hostname()]
    assert https_status(host, f"https://{address}:6443/api/v1/secrets") == 403


@pytest.mark.parametrize("lease", ["kube-controller-manager", "kube-scheduler"])
def test_one_leader_per_component_among_control_plane_hosts(host, lease):
    spec = kubectl_json(host, f"-n kube-system get lease {lease}")["spec"]
    holder = spec["holderIdentity"].split("_")[0]
    assert holder in CONTROL_PLANE
    assert kubectl(get_host(holder), "version").rc == 0


def test_apiserver_runs_with_graceful_shutdown(host):
    # without these a restart closes the listener before the balancers take the host out, and waits
    # 60 s for open watches (see roles/kubernetes_control_plane/defaults/main.yml)
    with host.sudo():
        pid = host.check_output("systemctl show -p MainPID --value kube-apiserver")
        flags = host.check_output(f"tr '\\0' '\\n' < /proc/{pid}/cmdline").splitlines()
    assert "--shutdown-delay-duration=5s" in flags
    assert "--shutdown-watch-termination-grace-period=10s" in flags
