"""What the read-only cluster status modules share in their documentation (ansible-doc merges it in)."""

from __future__ import annotations


class ModuleDocFragment:
    # stackbench.cluster.status: the modules ask every member over the network and never change anything.
    DOCUMENTATION = r"""
options:
  timeout:
    description: Seconds to wait for each member's answer (per request).
    type: float
    default: 3
notes:
  - Read-only; supports check mode (it reports the same data).
  - Members that do not answer are reported as such, not as a module failure, so that a task can
    C(retry) C(until) the cluster is healthy.
"""
