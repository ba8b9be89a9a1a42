"""Shared helpers for the Kubernetes scenario's testinfra tests."""

from __future__ import annotations

import json
import os

import testinfra
import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
CONTROL_PLANE = RUNNER.get_hosts("kube_control_plane")
NODES = RUNNER.get_hosts("kube_nodes")
ADDRESSES = {name: RUNNER.get_variables(name)["ansible_host"] for name in NODES + CONTROL_PLANE}
ADMIN = "/etc/kubernetes/admin.kubeconfig"
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


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "runs_last: tears the cluster down; runs after every other test of the session")


def pytest_collection_modifyitems(session, config, items) -> None:
    """The tests marked runs_last (test_zz_reset.py: the reset) go to the end, in their own order, whatever order
    the modules were collected in: every other module checks the running cluster."""
    last = [item for item in items if item.get_closest_marker("runs_last")]
    items[:] = [item for item in items if not item.get_closest_marker("runs_last")] + last
