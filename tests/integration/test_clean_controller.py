"""A controller that is not this machine: one lab host gets Python's wheels and the collection
tarballs from the lab mirror only, and from there runs ZooKeeper and etcd on the other hosts.

The controller host is a plain lab host (Debian 12 with python3, no Docker, no Go, no gcc, no
python3-venv package, no clone of this repository). It installs:

    python3 -m venv --without-pip ~/venv                       (the stdlib, nothing from apt)
    <pip wheel from the mirror> install --no-index --find-links <mirror>/python/wheels/ stackbench
    ansible-galaxy collection install <mirror>/collections/*.tar.gz  (the collection + its dependencies)

and then, as the unprivileged `stackbench` user, against an INI inventory directory with
group_vars (how an operator writes one): `ansible-playbook stackbench.cluster.zookeeper`,
`stackbench up etcd`, a limited check run of zookeeper (would change nothing),
`stackbench capacity`, `stackbench validate-ha` and `stackbench report`. Wall times and what
the controller had installed land in results/test/clean-controller.json.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

from stackbench.artifacts import registry
from stackbench.lab.lab import LAB_USER, MIRROR_NAME, Lab
from stackbench.lab.topology import HostSpec, Topology
from stackbench.paths import results_dir

ROOT = Path(__file__).resolve().parents[2]
LAB = f"ctl{uuid.uuid4().hex[:6]}"
HOME = f"/home/{LAB_USER}"
MIRROR = f"http://{MIRROR_NAME}"
MEMBERS = ("node1", "node2", "node3")
FIXTURE_RUN = ROOT / "tests" / "unit" / "fixtures" / "compare-results.json"
TIMES: dict[str, float] = {}


def put_files(container, directory: str, files: dict[str, bytes], mode: int = 0o644) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uname, info.gname = len(data), mode, LAB_USER, LAB_USER
            tar.addfile(info, io.BytesIO(data))
    container.exec_run(["mkdir", "-p", directory], user=LAB_USER)
    assert container.put_archive(directory, buf.getvalue())
    container.exec_run(["chown", "-R", f"{LAB_USER}:{LAB_USER}", directory])


class Controller:
    def __init__(self, lab: Lab, host: str) -> None:
        self.container = lab.client.containers.get(lab.container_name(host))

    def sh(self, command: str, timeout_label: str | None = None) -> tuple[int, str]:
        """Run a shell command as the operator (the venv first on PATH); its exit code and combined output."""
        started = time.monotonic()
        result = self.container.exec_run(["bash", "-c", command], user=LAB_USER, workdir=f"{HOME}/work",
                                         environment={"PATH": f"{HOME}/venv/bin:/usr/local/bin:/usr/bin:/bin",
                                                      "ANSIBLE_NOCOLOR": "1", "PWD": f"{HOME}/work"})
        if timeout_label:
            TIMES[timeout_label] = round(time.monotonic() - started, 1)
        return result.exit_code, result.output.decode(errors="replace")


def inventory_files(lab: Lab) -> dict[str, bytes]:
    """An INI inventory directory with group_vars, as an operator would write it for these hosts."""
    lab_inventory = yaml.safe_load(lab.inventory_path.read_text())
    addresses = {name: vars_["ansible_host"] for name, vars_ in lab_inventory["all"]["hosts"].items()}
    lines = ["[zookeeper]"] + [f"{h} ansible_host={addresses[h]}" for h in MEMBERS]
    lines += ["", "[etcd]"] + list(MEMBERS)
    connection = {
        "ansible_user": LAB_USER,
        "ansible_ssh_private_key_file": f"{HOME}/.ssh/lab_key",
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    }
    files = {
        "hosts.ini": ("\n".join(lines) + "\n").encode(),
        "group_vars/all/connection.yml": ("---\n" + yaml.safe_dump(connection)).encode(),
    }
    # The base URLs (and the mirror's checksum opt-in) an air-gapped site sets; not the lab's
    # controller-state file, so the roles' default (next to this inventory) is what runs.
    for path in sorted((ROOT / "inventories" / "lab" / "group_vars" / "all").glob("*.yml")):
        if path.name != "controller-state.yml":
            files[f"group_vars/all/{path.name}"] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def controller():
    for component in ("zookeeper", "etcd", "controller"):
        registry.build(component, log=lambda _msg: None)
    lab = Lab(LAB, log=lambda _msg: None)
    hosts = [HostSpec("ctl", ("controllers",))] + [HostSpec(h, ("zookeeper", "etcd")) for h in MEMBERS]
    started = time.monotonic()
    lab.up(Topology(LAB, hosts))
    TIMES["lab_up_s"] = round(time.monotonic() - started, 1)
    ctl = Controller(lab, "ctl")
    put_files(ctl.container, f"{HOME}/.ssh", {"lab_key": lab.key_path.read_bytes()}, mode=0o600)
    put_files(ctl.container, f"{HOME}/site", inventory_files(lab))
    put_files(ctl.container, f"{HOME}/work/saved-run", {"results.json": FIXTURE_RUN.read_bytes()})
    # What an operator's ansible.cfg usually says (pipelining: one SSH round trip per task).
    put_files(ctl.container, f"{HOME}/work", {"ansible.cfg": b"[ssh_connection]\npipelining = True\n"})
    yield ctl
    _, freeze = ctl.sh("pip list --format=freeze 2>/dev/null; ansible-galaxy collection list 2>/dev/null")
    record = {"times_s": TIMES, "controller_installed": freeze.split("\n")}
    (results_dir() / "test").mkdir(parents=True, exist_ok=True)
    (results_dir() / "test" / "clean-controller.json").write_text(json.dumps(record, indent=2) + "\n")
    lab.down(quiet=True)


def test_the_controller_has_neither_docker_nor_go_nor_this_repository(controller):
    rc, out = controller.sh("command -v docker go gcc; test -e ~/work/galaxy.yml || echo no-checkout")
    assert out.strip() == "no-checkout", out
    rc, out = controller.sh("python3 -c 'import ensurepip'")
    assert rc != 0, out  # not even Debian's python3-venv: the venv is made --without-pip


def test_the_controller_installs_from_the_mirror_only(controller):
    wheels, collections = f"{MIRROR}/python/wheels/", f"{MIRROR}/collections/"
    fetch = ("import re, sys, urllib.request as u\n"
             "base = sys.argv[1]\n"
             "page = u.urlopen(base).read().decode()\n"
             "for name in sorted(set(re.findall(r'href=\"([^\"/?]+\\.(?:whl|tar\\.gz))\"', page))):\n"
             "    if re.match(sys.argv[2], name):\n"
             "        u.urlretrieve(base + name, sys.argv[3] + '/' + name); print(name)\n")
    script = " && ".join([
        "mkdir -p ~/downloads",
        "python3 -m venv --without-pip ~/venv",
        f"python3 -c {shlex.quote(fetch)} {wheels} '^pip-' ~/downloads",
        # pip runs from its own wheel to install itself and the CLI: nothing but the mirror is asked
        f"~/venv/bin/python \"$(ls ~/downloads/pip-*.whl)/pip\" install -q --no-index "
        f"--trusted-host {MIRROR_NAME} --find-links {wheels} pip stackbench",
        f"python3 -c {shlex.quote(fetch)} {collections} '.*' ~/downloads",
        "ansible-galaxy collection install --offline ~/downloads/*.tar.gz",
        "stackbench --help >/dev/null",
        "ansible-galaxy collection list stackbench.cluster",
    ])
    rc, out = controller.sh(script, "install_s")
    assert rc == 0, out[-3000:]
    assert re.search(r"stackbench\.cluster\s+1\.", out), out[-2000:]


def test_ansible_playbook_runs_the_installed_collection_by_name(controller):
    rc, out = controller.sh("ansible-playbook -i ~/site stackbench.cluster.zookeeper", "zookeeper_playbook_s")
    assert rc == 0, out[-4000:]
    assert re.search(r"node1\s+: ok=\d+\s+changed=[1-9]", out), out[-2000:]


def test_the_cli_from_the_wheel_stands_up_etcd_with_its_ca_next_to_the_inventory(controller):
    rc, out = controller.sh("stackbench up etcd -i ~/site", "etcd_up_s")
    assert rc == 0, out[-4000:]
    rc, out = controller.sh("ls ~/site/.stackbench/pki/*/ca.key && ls ~/work/results/runs/")
    assert rc == 0, out


def test_a_limited_check_run_with_a_vars_file_changes_nothing(controller):
    controller.sh("printf 'zookeeper_tick_time: 2000\\n' > ~/work/vars.yml")
    rc, out = controller.sh("stackbench up zookeeper -i ~/site --check --diff -e @vars.yml --limit node1",
                            "zookeeper_check_limit_s")
    assert rc == 0, out[-4000:]
    # the CLI's own re-run of the stood-up ensemble: the role would change nothing, and only node1 ran
    recap = re.findall(r"^\s+(node\d)\s+ok=\d+\s+would change=(\d+)", out, flags=re.M)
    assert recap == [("node1", "0")], out[-2000:]
    assert "check mode: nothing changed" in out


def test_capacity_and_validate_ha_run_from_the_controller(controller):
    rc, out = controller.sh("stackbench capacity zookeeper -i ~/site", "capacity_s")
    assert rc == 0, out[-4000:]
    rc, out = controller.sh("stackbench validate-ha zookeeper -i ~/site -e ha_faults=kill", "validate_ha_s")
    assert rc == 0, out[-4000:]


def test_report_renders_a_saved_run_on_the_controller(controller):
    rc, out = controller.sh("stackbench report saved-run && ls saved-run", "report_s")
    assert rc == 0, out[-3000:]
    assert "report.html" in out and "report.md" in out, out
