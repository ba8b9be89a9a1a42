"""Filters of the Kubernetes roles: the version-skew check of an upgrade."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.module_utils import kubernetes
from ansible_collections.stackbench.cluster.plugins.module_utils.common import ParseError


def kubernetes_version_errors(target: str, apiservers: list[str], kubelets: list[str],
                              allow_downgrade: bool = False) -> list[str]:
    """Why moving the installed apiservers and kubelets to `target` is refused ([] when allowed)."""
    try:
        return kubernetes.version_skew_errors(str(target), list(apiservers), list(kubelets), bool(allow_downgrade))
    except ParseError as exc:
        raise AnsibleFilterError(f"kubernetes_version_errors: {exc}") from exc


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"kubernetes_version_errors": kubernetes_version_errors}
