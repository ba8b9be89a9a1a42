"""The collection's rooms: one home per kind of code, and the import rules between them."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
PACKAGE = "ansible_collections.stackbench.cluster.plugins"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


# module_utils of modules that only ever run on the controller (delegate_to: localhost), with the
# libraries they may import there and the module using them: it signs with the cluster CA, which
# never leaves the controller.
CONTROLLER_ONLY = {"pki.py": {"cryptography"}}
CONTROLLER_ONLY_MODULES = {"pki.py": "pki_certificates"}


@pytest.mark.parametrize("path", sorted((PLUGINS / "module_utils").glob("*.py")), ids=lambda p: p.name)
def test_module_utils_run_on_hosts_with_the_standard_library_only(path):
    for name in _imports(path):
        top = name.split(".", 1)[0]
        assert top in sys.stdlib_module_names or name.startswith(f"{PACKAGE}.module_utils.") \
            or top in CONTROLLER_ONLY.get(path.name, set()), \
            f"{path.name} imports {name}: what runs on managed hosts imports no controller code"


def test_controller_only_module_utils_are_used_by_delegated_tasks_only():
    for module in CONTROLLER_ONLY_MODULES.values():
        files = (ROOT / "roles").rglob("tasks/*.yml")
        tasks = [task for path in files for task in yaml.safe_load(path.read_text()) or []
                 if f"stackbench.cluster.{module}" in task]
        assert tasks, f"no task uses stackbench.cluster.{module}"
        assert all(task.get("delegate_to") == "localhost" for task in tasks), f"{module} runs on a managed host"


@pytest.mark.parametrize("path", sorted((PLUGINS / "modules").glob("*.py")), ids=lambda p: p.name)
def test_modules_import_only_module_utils(path):
    for name in _imports(path):
        assert not name.startswith(("stackbench", f"{PACKAGE}.plugin_utils")), f"{path.name} imports {name}"


def test_no_role_keeps_its_own_plugins():
    local = [str(p.relative_to(ROOT)) for kind in ("library", "module_utils", "filter_plugins", "action_plugins")
             for p in (ROOT / "roles").glob(f"*/{kind}")]
    assert local == [], "role-local plugin directories: move them to plugins/"


def test_no_plugin_loads_code_by_path():
    for path in PLUGINS.rglob("*.py"):
        text = path.read_text()
        assert "spec_from_file_location" not in text and "sys.path" not in text, path


def test_every_module_has_docs_and_a_main():
    for path in (PLUGINS / "modules").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                 if isinstance(t, ast.Name)}
        assert {"DOCUMENTATION", "EXAMPLES", "RETURN"} <= names, path.name
        assert any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body), path.name
