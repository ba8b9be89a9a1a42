from pathlib import Path

from ansible_collections.stackbench.cluster.plugins.plugin_utils.controller_state import inventory_state_dir


def test_a_file_inventory_keeps_state_in_its_directory(tmp_path: Path):
    inventory = tmp_path / "site" / "hosts.yml"
    inventory.parent.mkdir()
    inventory.write_text("all: {}\n")
    assert inventory_state_dir([str(inventory), "/elsewhere"]) == str(tmp_path / "site" / ".stackbench")


def test_an_inventory_directory_keeps_state_inside_it(tmp_path: Path):
    assert inventory_state_dir([str(tmp_path)]) == str(tmp_path / ".stackbench")


def test_a_host_list_keeps_state_in_the_working_directory(tmp_path: Path):
    assert inventory_state_dir(["h1,h2,"], cwd=str(tmp_path)) == str(tmp_path / ".stackbench")
    assert inventory_state_dir(None, cwd=str(tmp_path)) == str(tmp_path / ".stackbench")


def test_a_single_source_string_is_accepted(tmp_path: Path):
    assert inventory_state_dir(str(tmp_path)) == str(tmp_path / ".stackbench")
