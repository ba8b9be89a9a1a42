"""inventories/sample/<stack>/ are inventory directories Ansible loads, with the groups the catalog
says each stack needs; inventories/sample/kubespray/ runs the kubernetes playbook unrenamed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stackbench import catalog

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "inventories" / "sample"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "default",
       "ANSIBLE_NOCOLOR": "1"}


def inventory(path: Path) -> dict:
    result = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(path), "--list"], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr  # a file Ansible could not parse is only a warning
    return json.loads(result.stdout)


def group_hosts(listing: dict, group: str) -> set[str]:
    """The hosts of `group`, its children's included."""
    entry = listing.get(group, {})
    return set(entry.get("hosts", [])).union(*(group_hosts(listing, c) for c in entry.get("children", [])))


@pytest.mark.parametrize("stack", catalog.names())
def test_each_stack_has_an_inventory_directory_with_its_groups(stack):
    listing = inventory(SAMPLE / stack)
    for group in catalog.get(stack).groups:
        assert group_hosts(listing, group), f"inventories/sample/{stack}: no hosts in {group}"
    for group in catalog.get(stack).quorum_groups:
        assert len(group_hosts(listing, group)) % 2 == 1, f"{group} needs an odd size"
    hostvars = listing["_meta"]["hostvars"]
    assert all(v.get("ansible_user") == "ops" for v in hostvars.values()), "group_vars/all/ was not loaded"


def commented_settings(path: Path) -> list[str]:
    """The variables a sample shows commented out (`# name: value`)."""
    return re.findall(r"^# ([a-z_]+):", path.read_text(), re.MULTILINE)


def role_variables() -> set[str]:
    names: set[str] = set()
    for defaults in ROOT.glob("roles/*/defaults/main.yml"):
        names.update(yaml.safe_load(defaults.read_text()) or {})
    return names


LAB_MIRROR = yaml.safe_load((ROOT / "inventories/lab/group_vars/all/mirror.yml").read_text())


@pytest.mark.parametrize("path", sorted(SAMPLE.glob("*/group_vars/**/*.yml")), ids=lambda p: str(p.relative_to(SAMPLE)))
def test_sample_settings_name_real_variables(path):
    """A commented setting that no role reads would do nothing when uncommented."""
    known = role_variables() | set(LAB_MIRROR) | {"ansible_ssh_private_key_file", "ansible_become_password"}
    assert set(commented_settings(path)) <= known, path


@pytest.mark.parametrize("path", sorted(SAMPLE.glob("*/group_vars/all/mirror.yml")), ids=lambda p: p.parts[-4])
def test_mirror_settings_are_commented_out_and_the_labs(path):
    assert yaml.safe_load(path.read_text()) is None, "air-gapped settings stay commented out in the samples"
    shown = commented_settings(path)
    assert "stackbench_mirror_url" in shown
    # the mirror's base URLs are the lab's; the checksum lines are what a site without upstream pins
    pins = {name for name in shown if "checksum" in name}
    assert set(shown) - pins <= set(LAB_MIRROR), "the lab's mirror.yml sets the same variables"
    assert pins <= role_variables()


def test_the_old_sample_paths_are_gone():
    assert sorted(p.name for p in SAMPLE.iterdir() if p.is_file()) == []
    for doc in [ROOT / "README.md", *ROOT.glob("docs/*.md")]:
        assert "group_vars-airgapped" not in doc.read_text(), doc
        assert not re.search(r"inventories/sample/\w+\.yml", doc.read_text()), doc


def test_the_kubespray_sample_has_kubesprays_layout():
    listing = inventory(SAMPLE / "kubespray")
    assert (SAMPLE / "kubespray" / "hosts.yaml").is_file()
    assert (SAMPLE / "kubespray" / "group_vars" / "k8s_cluster").is_dir()
    assert set(listing["k8s_cluster"]["children"]) == {"kube_control_plane", "kube_node"}
    assert "kube_nodes" not in listing  # unrenamed: the alias play fills it
    assert group_hosts(listing, "kube_node") == {"worker1", "worker2"}


def first_play_with_a_probe(tmp_path: Path, playbook: str) -> Path:
    """The playbook's own first play, then a play on kube_nodes that prints what each host is."""
    first = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())[0]
    probe = {
        "name": "Probe",
        "hosts": "kube_nodes",
        "gather_facts": False,
        "tasks": [{"ansible.builtin.debug": {"msg": (
            "probe {{ inventory_hostname }} groups={{ group_names | sort | join(',') }} host={{ ansible_host }}"
            " kube_nodes={{ groups['kube_nodes'] | sort | join(',') }}")}}],
    }
    path = tmp_path / "probe.yml"
    path.write_text(yaml.safe_dump([first, probe], sort_keys=False))
    return path


def probe(tmp_path: Path, playbook: str, *args: str) -> list[str]:
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(SAMPLE / "kubespray"), "-c", "local",
                             str(first_play_with_a_probe(tmp_path, playbook)), *args],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=1" not in result.stdout  # filling a group in memory changes no host
    return sorted(re.findall(r'"msg": "probe (.*)"', result.stdout))


@pytest.mark.parametrize("playbook", ["kubernetes.yml", "capacity.yml"])
@pytest.mark.parametrize("args", [(), ("--check",)], ids=["run", "check"])
def test_the_kubespray_sample_resolves_to_our_groups(tmp_path, playbook, args):
    assert probe(tmp_path, playbook, *args) == [
        f"worker{n} groups=k8s_cluster,kube_node,kube_nodes host=192.0.2.4{n} kube_nodes=worker1,worker2"
        for n in (1, 2)]


def test_the_alias_holds_under_limit(tmp_path):
    """--limit leaves localhost out of the play: the alias play must still run (on worker1)."""
    assert probe(tmp_path, "kubernetes.yml", "--limit", "worker1") == [
        "worker1 groups=k8s_cluster,kube_node,kube_nodes host=192.0.2.41 kube_nodes=worker1,worker2"]


def test_the_role_knows_the_catalogs_aliases():
    """The playbooks (roles/inventory_groups) and the CLI (catalog) accept the same other names."""
    defaults = yaml.safe_load((ROOT / "roles/inventory_groups/defaults/main.yml").read_text())
    cli: dict[str, list[str]] = {}
    for stack in catalog.names():
        for group, aliases in getattr(catalog.get(stack), "group_aliases", {}).items():
            cli.setdefault(group, []).extend(a for a in aliases if a not in cli.get(group, []))
    assert cli, "the catalog names the kubespray aliases"
    assert defaults["inventory_groups_aliases"] == cli
