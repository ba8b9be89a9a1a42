"""`stackbench up/down STACK`: the lab when no inventory is given, a playbook either way."""

from __future__ import annotations

from pathlib import Path

from stackbench.errors import StackbenchError
from stackbench.paths import REPO_ROOT

STACK_PLAYBOOKS = {
    "zookeeper": "zookeeper.yml",
    "etcd": "etcd.yml",
    "mesos": "mesos.yml",
    "kubernetes": "kubernetes.yml",
}


def _check_stack(stack: str) -> str:
    if stack not in STACK_PLAYBOOKS:
        raise StackbenchError(f"unknown stack {stack!r}", f"use one of: {', '.join(STACK_PLAYBOOKS)}",
                              exit_code=2)
    playbook = STACK_PLAYBOOKS[stack]
    if not (REPO_ROOT / "playbooks" / playbook).exists():
        raise StackbenchError(f"stack {stack!r} has no playbook yet (playbooks/{playbook})",
                              "see the open issues for its status")
    return playbook


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
    playbook = _check_stack(stack)
    variables = _parse_extra_vars(extra_vars or [])
    if inventory:
        inventory_path = Path(inventory)
        if not inventory_path.exists():
            raise StackbenchError(f"inventory {inventory} does not exist", "give a path to an inventory file",
                                  exit_code=2)
    else:
        inventory_path = _lab_inventory(stack, nodes)
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


def _lab_inventory(stack: str, nodes: int | None) -> Path:
    from stackbench.artifacts import registry
    from stackbench.lab import topology
    from stackbench.lab.lab import Lab

    lab = Lab(stack)
    if not lab.inventory_path.exists():
        if lab.exists():
            lab.down(quiet=True)
        lab.up(topology.builtin(stack, nodes))
    else:
        lab.ensure_mirror()
    for component in registry.STACK_ARTIFACTS.get(stack, ()):
        registry.build(component)
    return lab.inventory_path


def down(stack: str, inventory: str | None = None) -> int:
    if stack not in STACK_PLAYBOOKS:
        raise StackbenchError(f"unknown stack {stack!r}", f"use one of: {', '.join(STACK_PLAYBOOKS)}",
                              exit_code=2)
    if inventory:
        reset = REPO_ROOT / "playbooks" / f"{stack}-reset.yml"
        if not reset.exists():
            raise StackbenchError(f"no reset playbook for {stack} on real hosts yet (playbooks/{reset.name})")
        from stackbench.runner import run_playbook

        return 0 if run_playbook(reset.name, Path(inventory), label=f"down-{stack}").rc == 0 else 1
    from stackbench.lab.lab import Lab

    Lab(stack).down()
    return 0
