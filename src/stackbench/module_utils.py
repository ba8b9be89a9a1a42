"""The plugins' pure module_utils, loaded by path for controller code (they are not a package)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from stackbench.paths import REPO_ROOT

MODULE_UTILS = REPO_ROOT / "plugins" / "module_utils"


def load(name: str) -> ModuleType:
    """plugins/module_utils/NAME.py as module NAME (the same object the action plugins load)."""
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, MODULE_UTILS / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module
