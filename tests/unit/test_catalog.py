"""The stack catalog (src/stackbench/catalog.py) against the tree it describes: playbooks, groups,
artifact builders, role defaults and validate-ha's own default table."""

from __future__ import annotations

import re

import pytest
import yaml

from stackbench import catalog, cli, roles
from stackbench.artifacts import registry
from stackbench.compare import logic
from stackbench.errors import StackbenchError
from stackbench.lab import topology
from stackbench.paths import REPO_ROOT

STACKS = list(catalog.STACKS.values())
PLAYBOOKS = REPO_ROOT / "playbooks"


def host_patterns(playbook: str, seen: set[str] | None = None) -> set[str]:
    """The group names in the `hosts:` patterns of a playbook and of the playbooks it imports."""
    seen = seen if seen is not None else set()
    if playbook in seen:
        return set()
    seen.add(playbook)
    names: set[str] = set()
    for play in yaml.safe_load((PLAYBOOKS / playbook).read_text()) or []:
        imported = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if imported:
            names |= host_patterns(imported, seen)
            continue
        for part in re.split(r"[:,]", str(play.get("hosts", ""))):
            name = re.sub(r"\[.*\]$", "", part.strip().lstrip("!&"))
            if name:
                names.add(name)
    return names


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_every_playbook_of_a_stack_exists(stack):
    assert "up" in stack.playbooks
    for operation, name in stack.playbooks.items():
        assert (PLAYBOOKS / name).is_file(), f"{stack.name} {operation}: playbooks/{name}"
        assert stack.playbook(operation) == name


def test_every_stack_playbook_in_the_tree_is_in_the_catalog():
    known = {name for stack in STACKS for name in stack.playbooks.values()}
    for path in PLAYBOOKS.glob("*.yml"):
        stack, _, _ = path.stem.partition("-")
        if stack in catalog.STACKS:
            assert path.name in known, f"playbooks/{path.name} is not in catalog.{stack}.playbooks"


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_every_group_a_stack_names_is_used_by_its_playbook(stack):
    used = host_patterns(stack.playbook("up"))
    assert set(stack.groups) <= used, f"{stack.playbook('up')} never runs on {set(stack.groups) - used}"


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_the_groups_a_stack_refers_to_are_its_own(stack):
    groups = set(stack.groups)
    assert set(stack.quorum_groups) <= groups and set(stack.worker_groups) <= groups
    assert {system.group for system in stack.ha_systems} <= groups
    assert set(stack.lab.core_groups) <= groups
    assert len(set(stack.groups)) == len(stack.groups)


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_the_artifacts_a_stack_needs_are_registered_builders(stack):
    for name in stack.artifacts:
        assert name in registry.BUILDERS, f"{stack.name} needs unknown artifact {name!r}"
        module = registry._module(name)
        assert callable(module.build) and name == module.NAME and module.DESCRIPTION


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_ports_are_the_role_defaults(stack):
    for port in stack.ports:
        assert isinstance(roles.default(port.role, port.variable), int)
        assert stack.port(port.name) == port.number > 0
    with pytest.raises(KeyError):
        stack.port("no_such_port")


def test_a_stack_on_another_has_the_bases_parts_first():
    mesos, zookeeper = catalog.get("mesos"), catalog.get("zookeeper")
    assert mesos.groups[:1] == zookeeper.groups and mesos.artifacts[:1] == zookeeper.artifacts
    assert mesos.ha_system_names == ["zookeeper", "mesos_masters", "marathon"]
    assert catalog.get("kubernetes").ha_system_names[0] == "etcd"
    assert catalog.quorum_groups() == ("zookeeper", "etcd", "mesos_masters")


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_group_aliases_stand_for_the_stacks_own_groups(stack):
    for group, aliases in stack.group_aliases.items():
        assert group in stack.groups and aliases
        assert not set(aliases) & set(stack.groups), f"{group}: an alias may not be another of its groups"


def test_kubesprays_kube_node_stands_for_kube_nodes():
    kubernetes = catalog.get("kubernetes")
    kubespray = {"etcd": ["n1"], "kube_control_plane": ["n1"], "kube_node": ["n2", "n3"], "k8s_cluster": ["n1"]}
    assert kubernetes.resolve_groups(kubespray)["kube_nodes"] == ["n2", "n3"]
    assert kubernetes.missing_groups(kubespray) == []
    assert kubernetes.resolve_groups({**kubespray, "kube_nodes": ["n4"]})["kube_nodes"] == ["n4"]  # ours first
    assert kubernetes.resolve_groups({**kubespray, "kube_nodes": []})["kube_nodes"] == ["n2", "n3"]
    assert "kube_nodes" not in kubernetes.resolve_groups({"etcd": ["n1"]})
    assert kubernetes.missing_groups({"etcd": ["n1"], "kube_node": []}) == ["kube_control_plane", "kube_nodes"]
    assert kubernetes.group_label("kube_nodes") == "kube_nodes (or kube_node)"
    assert kubernetes.group_label("etcd") == "etcd" and not catalog.get("zookeeper").group_aliases


def test_validate_ha_default_table_is_the_catalog():
    plays = yaml.safe_load((PLAYBOOKS / "validate-ha.yml").read_text())
    play = next(p for p in plays if "ha_stack_systems" in p.get("vars", {}))
    assert play["vars"]["ha_stack_systems"] == {s.name: s.ha_system_names for s in STACKS}


def test_daemons_are_recognised_by_their_command_line():
    for daemon in catalog.daemons():
        if daemon.name == "zookeeper":
            continue
        assert logic.match_daemon(f"/usr/local/bin/{daemon.name} --flag") == daemon.name
    assert logic.match_daemon("/usr/bin/containerd-shim-runc-v2 -namespace k8s.io") is None
    assert catalog.get("mesos").lab_emulated == ("mesos-master", "mesos-agent", "marathon")
    assert catalog.get("kubernetes").lab_emulated == ()


def test_compared_stacks_have_an_evaluator_with_the_same_steps():
    stacks = catalog.compared()
    assert [s.name for s in stacks] == ["mesos", "kubernetes"]
    assert [s.name for s in catalog.report_columns()] == ["kubernetes", "mesos"]
    steps = [set(stack.evaluator().METHODS) for stack in stacks]
    assert steps[0] == steps[1] and "deploy" in steps[0]
    with pytest.raises(StackbenchError, match="not compared") as err:
        catalog.compared(["mesos", "etcd"])
    assert err.value.exit_code == 2


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_the_lab_layout_is_a_valid_topology_of_the_stacks_groups(stack):
    topo = topology.builtin(stack.name)
    topo.validate()
    assert len(topo.hosts) == stack.lab.default_nodes
    assert set(topo.groups()) == set(stack.groups)


def test_unknown_stack_is_one_error_with_the_list():
    with pytest.raises(StackbenchError) as err:
        catalog.get("nomad")
    assert err.value.message == "unknown stack 'nomad'"
    assert err.value.hint == "use one of: zookeeper, etcd, mesos, kubernetes"
    assert err.value.exit_code == 2


@pytest.mark.parametrize("argv", [["up", "nosuchstack"], ["down", "nosuchstack"],
                                  ["compare", "--stacks", "nosuchstack"]])
def test_the_cli_refuses_an_unknown_stack_with_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["stackbench: error: unknown stack 'nosuchstack'",
                   "  hint: use one of: zookeeper, etcd, mesos, kubernetes"]


def test_a_missing_lifecycle_playbook_is_refused_by_name():
    with pytest.raises(StackbenchError, match=r"no upgrade playbook for mesos yet \(playbooks/mesos-upgrade.yml\)"):
        catalog.get("mesos").playbook("upgrade")


def test_role_defaults_are_read_as_yaml(tmp_path):
    defaults = tmp_path / "main.yml"
    defaults.write_text('---\na_version: "v1.2.3"  # noqa: var-naming\nb_version: "{{ a_version }}"\nport: 99\n')
    assert roles.release_in(defaults, "a_version") == "1.2.3"
    assert roles.release_in(defaults, "b_version") is None and roles.release_in(defaults, "c_version") is None
    assert roles.release_in(tmp_path / "missing.yml", "a_version") is None
    assert roles.default_in(defaults, "port") == 99
    with pytest.raises(StackbenchError, match="no no_such_variable in roles/etcd/defaults/main.yml"):
        roles.default("etcd", "no_such_variable")
