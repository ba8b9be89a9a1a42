"""Filters about the controller's own files."""

from __future__ import annotations

from typing import Any

from ansible_collections.stackbench.cluster.plugins.plugin_utils.controller_state import inventory_state_dir


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"inventory_state_dir": inventory_state_dir}
