"""Every module, filter and callback of the collection explains itself through ansible-doc, and each
module's documented options are its argument spec (fragments merged in, as ansible-doc shows them)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DOC = str(Path(sys.executable).with_name("ansible-doc"))
# every module file, so that a new module cannot go undocumented (a list here collided between changes)
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if not p.name.startswith("_"))


def _doc(*args: str) -> dict:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    run = subprocess.run([ANSIBLE_DOC, "--json", *args], capture_output=True, text=True, timeout=300, check=False,
                         cwd=ROOT, env=env)
    assert run.returncode == 0 and "[WARNING]" not in run.stderr, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def module_docs() -> dict:
    listed = _doc("-t", "module", "-l", "stackbench.cluster")
    assert sorted(listed) == [f"stackbench.cluster.{m}" for m in MODULES]
    return _doc("-t", "module", *listed)


def test_every_filter_is_documented():
    listed = _doc("-t", "filter", "-l", "stackbench.cluster")
    # one doc file per filter (a count here collided whenever two changes each added a filter)
    documented = sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("*.yml"))
    assert sorted(n.rsplit(".", 1)[1] for n in listed) == documented, listed
    assert all(text != "UNDOCUMENTED" for text in listed.values()), listed
    docs = _doc("-t", "filter", *listed)
    for name, doc in docs.items():
        assert doc["doc"]["short_description"] and doc["doc"]["options"]["_input"], name
        assert doc["examples"] and doc["return"]["_value"], name
        assert name.rsplit(".", 1)[1] in doc["examples"], f"{name}: the examples call another filter"


def test_the_callback_is_documented():
    assert list(_doc("-t", "callback", "-l", "stackbench.cluster")) == ["stackbench.cluster.timings"]
    doc = _doc("-t", "callback", "stackbench.cluster.timings")["stackbench.cluster.timings"]["doc"]
    assert doc["name"] == "timings" and "output_file" in doc["options"]


@pytest.mark.parametrize("name", MODULES)
def test_module_docs_are_complete(module_docs, name):
    doc = module_docs[f"stackbench.cluster.{name}"]
    assert doc["doc"]["short_description"] and doc["examples"] and doc["return"]
    assert f"stackbench.cluster.{name}" in doc["examples"]  # examples call the module by its full name


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_are_the_argument_spec(module_docs, name):
    if name == "ha_failover":  # an action plugin: the spec the action validates with
        source = "ansible_collections.stackbench.cluster.plugins.action.ha_failover"
    else:
        source = f"ansible_collections.stackbench.cluster.plugins.modules.{name}"
    spec = importlib.import_module(source).ARGUMENT_SPEC
    options = module_docs[f"stackbench.cluster.{name}"]["doc"]["options"]
    assert sorted(options) == sorted(spec)
    for option, wanted in spec.items():
        doc = options[option]
        for key in ("type", "choices", "default", "elements"):
            assert doc.get(key) == wanted.get(key), f"{name} {option}.{key}: {doc.get(key)!r} != {wanted.get(key)!r}"
        assert bool(doc.get("required")) == bool(wanted.get("required")), f"{name} {option}.required"
