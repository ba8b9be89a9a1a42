"""`stackbench up/down STACK`: the lab when no inventory is given, a playbook either way."""

from __future__ import annotations

from pathlib import Path

from stackbench import catalog
from stackbench.errors import StackbenchError


def _parse_extra_vars(pairs: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise StackbenchError(f"bad --extra-vars {pair!r}", "use KEY=VALUE", exit_code=2)
        result[key] = value
    return result


def up(stack: str, inventory: str | None = None, nodes: int | None = None,
       extra_vars: list[str] | None = None) -> int:
    spec = catalog.get(stack)
    playbook = spec.playbook("up")
    variables = _parse_extra_vars(extra_vars or [])
    if inventory:
        inventory_path = Path(inventory)
        if not inventory_path.exists():
            raise StackbenchError(f"inventory {inventory} does not exist", "give a path to an inventory file",
                                  exit_code=2)
    else:
        inventory_path = lab_inventory(stack, nodes)
    print(f"stackbench: standing up {stack} with playbooks/{playbook} on {inventory_path}", flush=True)
    from stackbench.runner import run_playbook

    result = run_playbook(playbook, inventory_path, variables, label=f"up-{stack}")
    verdict = "done" if result.rc == 0 else "FAILED"
    print(f"stackbench: {stack} {verdict} in {result.seconds:.0f} s ({result.changed} changes)")
    if result.timings_file:
        print(f"stackbench: task timings in {result.timings_file}")
    if result.rc != 0:
        first = result.failures[0] if result.failures else result.status
        raise StackbenchError(f"{stack}: playbook failed: {first}",
                              f"re-run with: ansible-playbook -i {inventory_path} playbooks/{playbook} -v")
    return 0


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


def down(stack: str, inventory: str | None = None) -> int:
    spec = catalog.get(stack)
    if inventory:
        reset = spec.playbook("reset")
        from stackbench.runner import run_playbook

        return 0 if run_playbook(reset, Path(inventory), label=f"down-{stack}").rc == 0 else 1
    from stackbench.lab.lab import Lab

    Lab(spec.name).down()
    return 0
