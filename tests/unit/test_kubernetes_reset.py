"""`stackbench down kubernetes|etcd -i INV` and the reset playbooks they run (playbooks/kubernetes-reset.yml,
etcd-reset.yml): the catalog entries, the CLI path (confirmation, the extra vars passed through), and the
playbooks' shape (confirmation first, every role's reset entry point with its argument spec and README line)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from stackbench import catalog, cli, stacks
from stackbench.errors import StackbenchError
from stackbench.runner import PlaybookResult

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
KUBERNETES_RESET_ROLES = ("coredns", "kubernetes_node", "kubernetes_pod_network", "containerd", "kube_apiserver_lb",
                          "kubernetes_control_plane", "etcd", "pki")


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  children:\n    etcd: {hosts: {cp1: {}}}\n    kube_control_plane: {hosts: {cp1: {}}}\n"
                    "    kube_nodes: {hosts: {cp1: {}, worker1: {}}}\n")
    return path


@pytest.fixture
def runs(monkeypatch, tmp_path):
    calls = []

    def fake(playbook, inventory, extra_vars=None, cmdline=None, label="run", out=sys.stdout, options=None,
             timeout=None):
        calls.append({"playbook": playbook, "inventory": inventory, "label": label, "options": options})
        run_dir = tmp_path / "results" / "runs" / label
        run_dir.mkdir(parents=True, exist_ok=True)
        return PlaybookResult(rc=0, status="successful", seconds=2.0, changed=0, failures=[], timings_file=None,
                              run_dir=run_dir, check=bool(options and options.check), args=[])

    monkeypatch.setattr("stackbench.runner.run_playbook", fake)
    return calls


def test_the_catalog_knows_the_reset_playbooks():
    assert catalog.get("kubernetes").playbook("reset") == "kubernetes-reset.yml"
    assert catalog.get("etcd").playbook("reset") == "etcd-reset.yml"
    assert catalog.get("kubernetes").playbook("certs") == "kubernetes-certs.yml"
    # a stack on another keeps its own playbooks: Kubernetes' reset is not etcd's
    assert catalog.get("kubernetes").playbooks["up"] == "kubernetes.yml"


@pytest.mark.parametrize(("stack", "playbook"), [("kubernetes", "kubernetes-reset.yml"), ("etcd", "etcd-reset.yml")])
def test_down_with_an_inventory_runs_the_stacks_reset_once_confirmed(stack, playbook, inventory, groups_checked, runs,
                                                                      capsys):
    assert cli.main(["down", stack, "-i", str(inventory), "--yes",
                     "-e", "kubernetes_reset_keep_etcd_snapshot=true"]) == 0
    (call,) = runs
    assert Path(call["playbook"]).name == playbook and call["label"] == f"down-{stack}"
    assert call["inventory"] == inventory
    assert call["options"].extra_vars == ["kubernetes_reset_keep_etcd_snapshot=true", "reset_confirmed=true"]
    assert groups_checked == [("read", inventory), ("require", stack)]
    assert f"tearing {stack} down" in capsys.readouterr().out


def test_down_kubernetes_asks_and_anything_but_yes_changes_nothing(inventory, groups_checked, runs):
    asked = []
    with pytest.raises(StackbenchError, match="not confirmed: nothing was changed"):
        stacks.down("kubernetes", inventory=str(inventory), ask=lambda q: asked.append(q) or "no")
    assert runs == [] and "etcd + Kubernetes" in asked[0]


def plays(name: str) -> list[dict]:
    return yaml.safe_load((PLAYBOOKS / name).read_text())


@pytest.mark.parametrize("name", ["kubernetes-reset.yml", "etcd-reset.yml"])
def test_the_first_play_asks_for_confirmation_on_localhost_before_any_host_changes(name):
    first = plays(name)[0]
    assert first["hosts"] == "localhost" and first["any_errors_fatal"] is True
    assert "always" in first["tags"]
    (role,) = first["roles"]
    assert role["role"] == "stackbench.cluster.confirm"
    assert role["confirm_given"] == "{{ reset_confirmed | default(false) }}"


@pytest.mark.parametrize(("name", "variable"), [("kubernetes-reset.yml", "kubernetes_reset_keep_etcd_snapshot"),
                                                ("etcd-reset.yml", "etcd_reset_keep_snapshot")])
def test_the_snapshot_is_etcd_backup_yml_taken_only_when_asked_and_before_any_reset(name, variable):
    entries = plays(name)
    (index, snapshot), = [(i, p) for i, p in enumerate(entries) if "ansible.builtin.import_playbook" in p]
    assert snapshot["ansible.builtin.import_playbook"] == "etcd-backup.yml"
    assert variable in snapshot["when"] and "not ansible_check_mode" in snapshot["when"]
    resets = [i for i, p in enumerate(entries) if "reset.yml" in str(p.get("tasks", ""))]
    assert resets and index < min(resets)


def included_roles(name: str, tasks_from: str = "reset.yml") -> list[str]:
    """The roles whose `tasks_from` the playbook includes, in order, through its task files too."""
    return [role for play in plays(name) for role in _included(play.get("tasks", []), tasks_from)]


def _included(tasks: list[dict], tasks_from: str) -> list[str]:
    found = []
    for task in tasks:
        if (include := task.get("ansible.builtin.include_role")) and include.get("tasks_from") == tasks_from:
            found.append(include["name"].removeprefix("stackbench.cluster."))
        elif file := task.get("ansible.builtin.include_tasks", {}).get("file"):
            found += _included(yaml.safe_load((PLAYBOOKS / file).read_text()), tasks_from)
        elif "block" in task:
            found += _included(task["block"], tasks_from)
    return found


def test_the_kubernetes_reset_runs_every_roles_reset_pods_first_etcd_last():
    assert included_roles("kubernetes-reset.yml") == list(KUBERNETES_RESET_ROLES)


def test_a_removal_checks_quorum_drops_the_balancers_backend_drains_removes_the_member_then_resets():
    removal = plays("kubernetes-remove-node.yml")
    assert [p["name"] for p in removal] == [
        "Check the inventory and the host before any host changes",
        "Check that etcd keeps quorum without the member (check mode, through the other members)",
        "Drop the control-plane host from every other node's API balancer",
        "Drain the node and delete its Node",
        "Stop the etcd member on the host before its removal",
        "Remove the etcd member from the cluster (through the other members)",
        "Take the stack off the host",
    ]
    assert all(p["any_errors_fatal"] for p in removal[:6])
    node, others = "{{ node | default('no_node_given') }}", "etcd:!{{ node | default('no_node_given') }}"
    assert [p["hosts"] for p in removal[1:]] == [others, "kube_nodes:!{{ node | default('no_node_given') }}",
                                                 node, node, others, node]
    # stopped, the member finishes its requests and hands leadership over before the removal
    (stop,) = removal[4]["tasks"]
    assert stop["ansible.builtin.systemd_service"] == {"name": "etcd", "state": "stopped"}
    assert removal[1]["tasks"][0]["block"][1]["vars"]["etcd_member_remove_check_only"] is True
    assert included_roles("kubernetes-remove-node.yml", "drain.yml") == ["kubernetes_node"]
    # the host's part of the full reset, in its order (no CoreDNS, the controller's PKI stays)
    assert included_roles("kubernetes-remove-node.yml") == [
        r for r in KUBERNETES_RESET_ROLES if r not in ("coredns", "pki")]
    (control_plane,) = [t for t in removal[6]["tasks"] if "control plane" in t["name"]]
    assert control_plane["vars"] == {"kubernetes_control_plane_reset_admin_kubeconfig": False}


@pytest.mark.parametrize("role", KUBERNETES_RESET_ROLES)
def test_every_reset_has_its_argument_spec_and_a_readme_line(role):
    assert (ROOT / "roles" / role / "tasks" / "reset.yml").is_file()
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    assert specs["reset"]["short_description"] and "options" in specs["reset"]
    assert "reset" in (ROOT / "roles" / role / "README.md").read_text()


def test_every_option_the_reset_specs_name_is_used_by_the_reset_tasks():
    for role in KUBERNETES_RESET_ROLES:
        spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        tasks = (ROOT / "roles" / role / "tasks" / "reset.yml").read_text()
        for option in spec["argument_specs"]["reset"]["options"]:
            assert option in tasks or option == "pki_cluster_name", f"{role}: {option} is not used by tasks/reset.yml"
