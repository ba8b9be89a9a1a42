"""Filters of the etcd role: the upgrade-policy check of a release change."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.module_utils import etcd_membership
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError


def etcd_version_errors(target: str, installed: list[str], allow_downgrade: bool = False) -> list[str]:
    """Why moving members that run `installed` to `target` is refused ([] when allowed)."""
    try:
        return etcd_membership.version_errors(str(target), list(installed), bool(allow_downgrade))
    except ParseError as exc:
        raise AnsibleFilterError(f"etcd_version_errors: {exc}") from exc


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"etcd_version_errors": etcd_version_errors}
