"""Report filters: `node_capacity` results → capacity rows, table, CSV; `ha_failover` → table.

The logic lives in plugins/plugin_utils (controller side, unit-tested there); the filters only
give it names a playbook can call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.stackbench.cluster.plugins.plugin_utils.capacity_results import (
    format_table,
    host_rows,
    merge_views,
    to_csv,
)
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.results import clean_results, results_table


def ha_failover_table(results: Iterable[Mapping[str, Any]]) -> str:
    """ha_failover loop results → a text table (plus failures and problems)."""
    return results_table(results)


def ha_failover_clean(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """ha_failover loop results without Ansible's bookkeeping keys, for the JSON file."""
    return clean_results(results)


def capacity_rows(host_results: Mapping[str, Mapping[str, Any]],
                  cluster_views: Iterable[Mapping[str, Mapping[str, Any]]] = ()) -> list[dict[str, Any]]:
    """{host: node_capacity result} + [nodes of each cluster view] → one row per host."""
    return merge_views(host_rows(host_results), [v for v in cluster_views if v])


def capacity_table(rows: list[Mapping[str, Any]]) -> str:
    return format_table(rows)


def capacity_csv(rows: list[Mapping[str, Any]]) -> str:
    return to_csv(rows)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"capacity_rows": capacity_rows, "capacity_table": capacity_table,
                "capacity_csv": capacity_csv, "ha_failover_table": ha_failover_table,
                "ha_failover_clean": ha_failover_clean}
