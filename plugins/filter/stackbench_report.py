"""Report filters: `node_capacity` results → capacity rows, table, CSV; `ha_failover` → table.

The logic lives in plugins/module_utils/stackbench_{capacity,failover}.py (shared with the
plugins and unit-tested there). Controller-side plugins cannot import custom module_utils through
`ansible.module_utils`, so this file loads it from its path in the checkout.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

_UTILS = Path(__file__).resolve().parent.parent / "module_utils"


def _load(name: str) -> ModuleType:
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, _UTILS / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


def _capacity() -> ModuleType:
    return _load("stackbench_capacity")


def ha_failover_table(results: Iterable[Mapping[str, Any]]) -> str:
    """ha_failover loop results → a text table (plus failures and problems)."""
    return _load("stackbench_failover").results_table(results)


def ha_failover_clean(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return _load("stackbench_failover").clean_results(results)


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
                "capacity_csv": capacity_csv, "ha_failover_table": ha_failover_table,
                "ha_failover_clean": ha_failover_clean}
