"""What a re-run costs against the first run, on the lab, measured in one go.

For each stack: the lab's hosts are made anew, then the stack's playbook runs three times:

1. cold: fresh hosts (the mirror's artifacts already built: their build is not the playbook's cost),
2. warm: the same playbook again, nothing to change (changed=0 expected),
3. warm with --mitogen (mitogen's linear strategy), nothing to change either;

and prints each as a ratio of the cold run (and mitogen's against the plain warm run), since
absolute times on a shared machine are noisy. Where the warm run spends its time comes from
the timings callback (per role). Saves results/bench-rerun-<time>.json.

    scripts/bench-rerun.py mesos kubernetes [--keep]

The goal (issue: faster re-runs) is a warm run of at most 0.20 of the cold one.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

from stackbench import catalog
from stackbench.bench.rolling import save
from stackbench.runner import PlaybookOptions, PlaybookResult, run_playbook

GOAL = 0.20


def role_seconds(result: PlaybookResult, top: int = 6) -> dict[str, float]:
    """The roles that took longest in the run, in seconds (from the timings callback's file)."""
    if not result.timings_file:
        return {}
    roles = json.loads(Path(result.timings_file).read_text()).get("roles", {})
    ranked = sorted(roles.items(), key=lambda item: -item[1]["duration_seconds"])[:top]
    return {name.split(".")[-1]: round(role["duration_seconds"], 1) for name, role in ranked}


def measure(stack: str, keep: bool) -> dict[str, Any]:
    from stackbench.lab.lab import Lab
    from stackbench.stacks import lab_inventory

    spec = catalog.get(stack)
    Lab(spec.name).down(quiet=True)
    inventory = lab_inventory(stack, None)
    runs: dict[str, dict[str, Any]] = {}
    for name, options in (("cold", PlaybookOptions()), ("warm", PlaybookOptions()),
                          ("warm_mitogen", PlaybookOptions(mitogen=True))):
        result = run_playbook(spec.playbook("up"), inventory, label=f"bench-rerun-{stack}-{name}",
                              out=io.StringIO(), options=options)
        if result.rc != 0:
            raise SystemExit(f"{stack} {name} run failed (rc={result.rc}): {result.run_dir}")
        runs[name] = {"seconds": round(result.seconds, 1), "changed": result.changed,
                      "slowest_roles": role_seconds(result), "run_dir": str(result.run_dir)}
    if not keep:
        Lab(spec.name).down(quiet=True)
    cold, warm, mitogen = (runs[n]["seconds"] for n in ("cold", "warm", "warm_mitogen"))
    return {"runs": runs, "warm_of_cold": round(warm / cold, 2), "warm_mitogen_of_cold": round(mitogen / cold, 2),
            "warm_mitogen_of_warm": round(mitogen / warm, 2), "goal_warm_of_cold": GOAL}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", nargs="+", choices=catalog.names())
    parser.add_argument("--keep", action="store_true", help="leave the labs up afterwards")
    args = parser.parse_args(argv)
    figures = {}
    for stack in args.stacks:
        figures[stack] = found = measure(stack, args.keep)
        runs = found["runs"]
        print(f"{stack}: cold {runs['cold']['seconds']} s ({runs['cold']['changed']} changed); "
              f"warm {runs['warm']['seconds']} s ({runs['warm']['changed']} changed) = "
              f"{found['warm_of_cold']} of cold; "
              f"warm --mitogen {runs['warm_mitogen']['seconds']} s ({runs['warm_mitogen']['changed']} changed) = "
              f"{found['warm_mitogen_of_cold']} of cold, {found['warm_mitogen_of_warm']} of warm "
              f"(goal: warm <= {GOAL} of cold)")
        print(f"  warm run, slowest roles (s): {runs['warm']['slowest_roles']}")
    print(f"saved {save('bench-rerun', figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
