"""Filters that turn `node_capacity` results into the capacity report (rows, table, CSV).

The logic lives in plugins/module_utils/stackbench_capacity.py (shared with the module and
unit-tested there). Controller-side plugins cannot import custom module_utils through
`ansible.module_utils`, so this file loads it from its path in the checkout.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

_UTILS = Path(__file__).resolve().parent.parent / "module_utils" / "stackbench_capacity.py"


def _capacity() -> ModuleType:
    name = "stackbench_capacity"
    module = sys.modules.get(name)
    if module is None or not hasattr(module, "merge_views"):
        spec = importlib.util.spec_from_file_location(name, _UTILS)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


def capacity_rows(host_results: Mapping[str, Mapping[str, Any]],
                  cluster_views: Iterable[Mapping[str, Mapping[str, Any]]] = ()) -> list[dict[str, Any]]:
    """{host: node_capacity result} + [nodes of each cluster view] → one row per host."""
    capacity = _capacity()
    return capacity.merge_views(capacity.host_rows(host_results), [v for v in cluster_views if v])


def capacity_table(rows: list[Mapping[str, Any]]) -> str:
    return _capacity().format_table(rows)


def capacity_csv(rows: list[Mapping[str, Any]]) -> str:
    return _capacity().to_csv(rows)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"capacity_rows": capacity_rows, "capacity_table": capacity_table,
                "capacity_csv": capacity_csv}
