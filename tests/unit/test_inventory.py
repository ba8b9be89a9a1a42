"""src/stackbench/inventory.py: inventories read by ansible-core itself (INI, YAML, directories with
group_vars/ and host_vars/, inventory plugins), the stacks' groups required (kubespray's names too),
and one clear error line for what Ansible would only warn about."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import FIXTURES

from stackbench import catalog
from stackbench.errors import StackbenchError
from stackbench.inventory import read_inventory, require_groups

INVENTORIES = FIXTURES / "inventories"
ZOOKEEPER = {"zookeeper": ["zk1", "zk2", "zk3"]}
ADDRESSES = {"zk1": "10.0.0.1", "zk2": "10.0.0.2", "zk3": "zk3"}


@pytest.mark.parametrize("source", ["zookeeper.ini", "zookeeper.yml", "zookeeper-dir"])
def test_ini_yaml_and_a_directory_read_alike(source):
    inventory = read_inventory(INVENTORIES / source)
    assert {g: h for g, h in inventory.groups.items() if g != "spare"} == ZOOKEEPER
    assert "all" not in inventory.groups and "ungrouped" not in inventory.groups
    assert {h: inventory.address(h) for h in ZOOKEEPER["zookeeper"]} == ADDRESSES
    zk2 = inventory.hostvars("zk2")
    assert (zk2["ansible_user"], zk2["ansible_port"]) == ("admin", 2222)
    assert inventory.source == str(INVENTORIES / source)


def test_group_vars_templates_and_host_vars_of_a_directory_apply():
    inventory = read_inventory(INVENTORIES / "zookeeper-dir")
    # ansible_host and ansible_user are templates in group_vars/all.yml; host_vars/zk2.yml overrides the user
    assert [inventory.hostvars(h)["ansible_user"] for h in ("zk1", "zk2", "zk3")] == ["deploy", "admin", "deploy"]
    assert inventory.hostvars("zk1")["ansible_host"] == "10.0.0.1"
    assert inventory.hostvars("zk1")["group_names"] == ["zookeeper"]
    with pytest.raises(KeyError, match="not in the inventory"):
        inventory.hostvars("nope")


def test_a_template_that_cannot_resolve_is_one_error_naming_the_host(tmp_path):
    (tmp_path / "hosts.ini").write_text("[zookeeper]\nzk1 ansible_host='{{ undefined_address }}'\n")
    inventory = read_inventory(tmp_path / "hosts.ini")
    with pytest.raises(StackbenchError, match="cannot resolve the variables of zk1: .*undefined_address") as err:
        inventory.address("zk1")
    assert err.value.exit_code == 2 and "\n" not in err.value.message


def test_an_inventory_plugin_source(tmp_path):
    (tmp_path / "generated.yml").write_text(textwrap.dedent("""\
        plugin: generator
        hosts:
          name: "zk{{ n }}"
          parents: [{name: zookeeper}]
        layers:
          n: ["1", "2", "3"]
        """))
    assert read_inventory(tmp_path / "generated.yml").groups == ZOOKEEPER


def test_an_inventory_plugin_by_its_collection_name_in_a_fresh_process(tmp_path):
    # as the CLI runs: no collection code imported yet, so the collection loader can be installed
    (tmp_path / "generated.yml").write_text(
        'plugin: ansible.builtin.generator\nhosts: {name: "zk{{ n }}", parents: [{name: zookeeper}]}\n'
        'layers: {n: ["1", "2"]}\n')
    code = ("import json, sys; from stackbench.inventory import read_inventory; "
            "print(json.dumps(read_inventory(sys.argv[1]).groups))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "generated.yml")], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert json.loads(out) == {"zookeeper": ["zk1", "zk2"]}


def test_a_kubespray_inventory_serves_the_kubernetes_stack():
    inventory = read_inventory(INVENTORIES / "kubespray.ini")
    groups = require_groups(inventory, catalog.get("kubernetes"))
    assert groups["kube_nodes"] == ["node3", "node4"]  # from kubespray's kube_node
    assert groups["kube_control_plane"] == ["node1", "node2"] and groups["etcd"] == ["node1", "node2", "node3"]
    assert groups["k8s_cluster"] == ["node1", "node2", "node3", "node4"]


def test_require_groups_names_the_missing_and_what_the_inventory_has():
    inventory = read_inventory(INVENTORIES / "zookeeper.ini")
    assert require_groups(inventory, "zookeeper")["zookeeper"] == ZOOKEEPER["zookeeper"]
    with pytest.raises(StackbenchError) as err:
        require_groups(inventory, "kubernetes")
    assert err.value.exit_code == 2
    assert err.value.message.endswith("lacks kubernetes group(s) with hosts: etcd, kube_control_plane, "
                                      "kube_nodes (or kube_node)")
    assert err.value.hint == "groups it has (hosts): spare (1), zookeeper (3)"


def test_an_empty_group_counts_as_missing(tmp_path):
    (tmp_path / "hosts.ini").write_text("[zookeeper]\n\n[other]\nx\n")
    with pytest.raises(StackbenchError, match="with hosts: zookeeper"):
        require_groups(read_inventory(tmp_path / "hosts.ini"), "zookeeper")


@pytest.mark.parametrize(("name", "text", "reason"), [
    ("broken.ini", "[zookeeper\nzk1 = = =\n", "ini plugin: "),
    ("broken.yml", "all:\n  hosts: [\n", "yaml plugin: YAML parsing failed"),
])
def test_an_unparsable_inventory_is_one_line_and_ansibles_warnings_are_silenced(tmp_path, capfd, name, text,
                                                                                reason):
    (tmp_path / name).write_text(text)
    with pytest.raises(StackbenchError) as err:
        read_inventory(tmp_path / name)
    assert err.value.exit_code == 2 and "\n" not in err.value.message
    assert err.value.message.startswith(f"cannot read inventory {tmp_path / name}: {reason}")
    assert "ansible-inventory -i" in err.value.hint
    captured = capfd.readouterr()
    assert "WARNING" not in captured.err and "Unable to parse" not in captured.err + captured.out


@pytest.mark.parametrize("text", ["", "# no hosts\n", "[zookeeper]\n"])
def test_an_inventory_without_hosts_is_refused(tmp_path, text):
    (tmp_path / "hosts.ini").write_text(text)
    with pytest.raises(StackbenchError, match="has no hosts") as err:
        read_inventory(tmp_path / "hosts.ini")
    assert err.value.exit_code == 2


def test_missing_unreadable_and_empty_directory_sources(tmp_path, monkeypatch):
    with pytest.raises(StackbenchError, match="does not exist") as err:
        read_inventory(tmp_path / "missing.ini")
    assert err.value.exit_code == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(StackbenchError, match="the directory holds no inventory file"):
        read_inventory(tmp_path / "empty")
    secret = tmp_path / "secret.ini"
    secret.write_text("[zookeeper]\nzk1\n")
    secret.chmod(0)
    if os.access(secret, os.R_OK):  # root reads anything: make the check see what a user would
        monkeypatch.setattr("stackbench.inventory.os.access", lambda path, mode: False)
    with pytest.raises(StackbenchError, match="is not readable") as err:
        read_inventory(secret)
    assert err.value.exit_code == 2


def test_ansibles_inline_host_list():
    inventory = read_inventory("zk1,zk2,")
    assert inventory.hosts == ("zk1", "zk2") and inventory.groups == {}
