"""Where the controller keeps a cluster's state (CA, admin kubeconfig, backups): next to the inventory.

An installed collection must never write into its own directory, and one inventory is one set of
clusters, so the state lives in `<inventory dir>/.stackbench` (kubespray keeps its artifacts the
same way). Every host of a run sees the same first inventory source, so all plays agree on it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

STATE_DIR_NAME = ".stackbench"


def inventory_state_dir(sources: Sequence[str] | str | None, cwd: str | None = None) -> str:
    """`<dir of the first inventory source>/.stackbench`; the working directory for host lists ("h1,h2,")."""
    if isinstance(sources, str):
        sources = [sources]
    first = next(iter(sources or []), "") or ""
    base = cwd or os.getcwd()
    if first and os.path.isdir(first):
        base = first
    elif first and os.path.exists(first):
        base = os.path.dirname(os.path.abspath(first))
    return os.path.join(os.path.abspath(base), STATE_DIR_NAME)
