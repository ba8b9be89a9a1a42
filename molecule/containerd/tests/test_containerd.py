"""containerd on a node: running, configured for the host, images preloaded, runs containers."""

import pytest


@pytest.fixture
def sudo_host(host):
    with host.sudo():
        yield host


def test_containerd_is_running_and_enabled(sudo_host):
    service = sudo_host.service("containerd")
    assert service.is_running and service.is_enabled
    assert sudo_host.socket("unix:///run/containerd/containerd.sock").is_listening


def test_config_matches_the_host(sudo_host):
    config = sudo_host.file("/etc/containerd/config.toml").content_string
    assert 'sandbox_image = "stackbench.local/pause:1.0"' in config
    assert "SystemdCgroup = true" in config
    assert 'bin_dir = "/usr/lib/cni"' in config
    cap_bnd = int(sudo_host.run("awk '/CapBnd/ {print $2}' /proc/self/status").stdout.strip(), 16)
    has_sys_resource = bool(cap_bnd & (1 << 24))
    assert f"restrict_oom_score_adj = {str(not has_sys_resource).lower()}" in config


def test_images_are_preloaded_in_the_kubernetes_namespace(sudo_host):
    images = sudo_host.check_output("ctr --namespace k8s.io images list --quiet").splitlines()
    assert "stackbench.local/pause:1.0" in images
    assert "stackbench.local/workload:1.0" in images


def test_a_container_runs_from_a_preloaded_image(sudo_host):
    name = "verify-" + sudo_host.run("date +%s%N").stdout.strip()
    image = "stackbench.local/workload:1.0"
    out = sudo_host.run(f"ctr --namespace k8s.io run --rm {image} {name} /bin/busybox echo nested-ok")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "nested-ok"
