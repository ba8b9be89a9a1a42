"""stackbench: controller-side tooling (CLI, lab, artifacts, runner, report)."""

__version__ = "0.1.0"
