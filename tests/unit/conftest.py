"""Make the plugins importable without an Ansible collection install.

`plugins/module_utils` goes on sys.path so `stackbench_*` modules import directly, and an
alias maps `ansible.module_utils.stackbench_*` (how modules and action plugins import them)
to the same files. `plugins/filter` and `plugins/callback` go on sys.path for their tests.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

for sub in ("plugins/module_utils", "plugins/filter", "plugins/callback"):
    path = str(ROOT / sub)
    if path not in sys.path:
        sys.path.insert(0, path)

import ansible.module_utils  # noqa: E402

for util in sorted((ROOT / "plugins/module_utils").glob("stackbench_*.py")):
    name = util.stem
    try:
        module = importlib.import_module(name)
    except ImportError:  # its own tests will show why; don't break everyone else's
        continue
    sys.modules.setdefault(f"ansible.module_utils.{name}", module)
    setattr(ansible.module_utils, name, sys.modules[f"ansible.module_utils.{name}"])


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()
