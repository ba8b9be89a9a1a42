"""`stackbench up|down|capacity|validate-ha STACK`: the lab when no inventory is given, a playbook either way.

With `-i INVENTORY` nothing here touches the lab (no Docker, no lab images, no artifact builds):
the inventory is checked (readable, the stack's groups there), then the playbook runs.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from stackbench import catalog
from stackbench.errors import StackbenchError
from stackbench.paths import collection_root
from stackbench.runner import PlaybookOptions, PlaybookResult, display_path

USAGE = 2


def check_inventory(inventory: str, spec: catalog.Stack) -> Path:
    """The inventory the operator gave, refused (exit 2) when it is missing, unreadable, holds no hosts or
    lacks the stack's groups: read the way ansible-playbook reads it (stackbench.inventory)."""
    from stackbench.inventory import read_inventory, require_groups  # lazily: only the -i path needs it

    require_groups(read_inventory(inventory), spec)
    return Path(inventory).expanduser()


def up(stack: str, inventory: str | None = None, nodes: int | None = None,
       options: PlaybookOptions | None = None) -> int:
    spec = catalog.get(stack)
    playbook = spec.playbook("up")
    options = _checked(options)
    inventory_path = check_inventory(inventory, spec) if inventory else lab_inventory(stack, nodes)
    verb = "checking" if options.check else "standing up"
    return _run(spec, "up", playbook, inventory_path, options, f"{verb} {spec.name}")


def down(stack: str, inventory: str | None = None, options: PlaybookOptions | None = None,
         confirmed: bool = False, ask: Callable[[str], str] | None = None) -> int:
    spec = catalog.get(stack)
    options = _checked(options)
    if inventory:
        reset = spec.playbook("reset")
        inventory_path = check_inventory(inventory, spec)
        if not options.check and not confirmed:
            confirm_reset(spec.label, inventory_path, ask)
        # the playbook asks too; answered here, it must not wait on a prompt nobody sees
        options = replace(options, extra_vars=[*options.extra_vars, "reset_confirmed=true"])
        return _run(spec, "down", reset, inventory_path, options, f"tearing {spec.name} down")
    from stackbench.lab.lab import Lab

    Lab(spec.name).down()
    return 0


def confirm_reset(label: str, inventory: Path, ask: Callable[[str], str] | None = None) -> None:
    """Ask for `yes` on a terminal; refuse (exit 2) without one, or on any other answer."""
    if ask is None:
        if not sys.stdin.isatty():
            raise StackbenchError(f"refusing to remove {label} from the hosts of {inventory} without confirmation",
                                  "pass --yes (or -e reset_confirmed=true to the playbook)", exit_code=USAGE)
        ask = input
    answer = ask(f"This removes {label}, with its data, from every host of {inventory}. Type yes to go on: ")
    if answer.strip() != "yes":
        raise StackbenchError("not confirmed: nothing was changed", "type yes, or pass --yes", exit_code=USAGE)


def capacity(stack: str, inventory: str | None = None, options: PlaybookOptions | None = None) -> int:
    spec = catalog.get(stack)
    playbook = spec.playbooks.get("capacity", "capacity.yml")
    options = _checked(options)
    inventory_path = check_inventory(inventory, spec) if inventory else existing_lab_inventory(spec)
    return _run(spec, "capacity", playbook, inventory_path, options, f"measuring {spec.name}'s capacity")


def validate_ha(stack: str, inventory: str | None = None, options: PlaybookOptions | None = None) -> int:
    spec = catalog.get(stack)
    playbook = spec.playbooks.get("validate-ha", "validate-ha.yml")
    options = _checked(options)
    inventory_path = check_inventory(inventory, spec) if inventory else existing_lab_inventory(spec)
    # the systems come from the catalog (as for `stackbench compare`); -e ha_systems=... still wins
    return _run(spec, "validate-ha", playbook, inventory_path, options, f"validating {spec.name}'s failover",
                {"ha_systems": spec.ha_system_names})


def _checked(options: PlaybookOptions | None) -> PlaybookOptions:
    options = options or PlaybookOptions()
    options.validate()  # before the lab or anything else runs
    return options


def _run(spec: catalog.Stack, operation: str, playbook: str, inventory: Path, options: PlaybookOptions,
         doing: str, extra_vars: dict[str, Any] | None = None) -> int:
    print(f"stackbench: {doing} with {_shown(playbook)} on {display_path(inventory)}", flush=True)
    from stackbench.runner import run_playbook

    result = run_playbook(playbook, inventory, extra_vars, label=f"{operation}-{spec.name}", options=options)
    return report(spec.name, operation, playbook, inventory, result)


def report(stack: str, operation: str, playbook: str, inventory: Path, result: PlaybookResult) -> int:
    """After the recap: verdict, time, changes and where the run's record is; a failure raised as one line."""
    verdict = "done" if result.rc == 0 else "FAILED"
    if result.check:  # in check mode ansible's "changed" is what a real run would change
        changes = "check mode: " + ("nothing changed" if result.changed == 0 else f"would change {result.changed}")
    else:
        changes = f"{result.changed} changed"
    print(f"stackbench: {stack} {operation} {verdict} in {result.seconds:.0f} s ({changes})")
    log = f"{display_path(result.run_dir)}/" if result.run_dir else "results/runs/"
    if result.rc == 0:
        print(f"stackbench: run log: {log}")
        return 0
    print(f"stackbench: full log: {log}", flush=True)
    first = result.failures[0] if result.failures else f"ansible-playbook {result.status} (rc={result.rc})"
    again = shlex.join(["ansible-playbook", "-i", display_path(inventory),
                        _shown(playbook), *[a for a in result.args if not re.fullmatch(r"-v+", a)], "-vvv"])
    raise StackbenchError(f"{stack}: playbook failed: {first}", f"all of it in {log}events.log; re-run with: {again}")


def _shown(playbook: str) -> str:
    return display_path(collection_root() / "playbooks" / playbook)


def existing_lab_inventory(spec: catalog.Stack) -> Path:
    """The lab inventory of a stack already stood up (capacity and validate-ha measure, they do not build)."""
    from stackbench.lab.lab import INVENTORY_DIR

    path = INVENTORY_DIR / f"{spec.name}.yml"
    if not path.exists():
        raise StackbenchError(f"no inventory given and no lab for {spec.name} ({display_path(path)})",
                              f"give -i INVENTORY, or stand the lab up first: stackbench up {spec.name}",
                              exit_code=USAGE)
    return path


def lab_inventory(stack: str, nodes: int | None) -> Path:
    """The lab inventory of `stack`: the lab made (or its mirror started) and its artifacts built."""
    from stackbench.artifacts import registry
    from stackbench.lab import topology
    from stackbench.lab.lab import Lab

    spec = catalog.get(stack)
    lab = Lab(spec.name)
    if not lab.inventory_path.exists():
        if lab.exists():
            lab.down(quiet=True)
        lab.up(topology.builtin(spec.name, nodes))
    else:
        lab.ensure_mirror()
    for component in spec.artifacts:
        registry.build(component)
    return lab.inventory_path
