"""Reading an inventory the way ansible-playbook does, with ansible-core's own DataLoader,
InventoryManager and VariableManager: INI, YAML, TOML, scripts, inventory plugins, inventory
directories and the group_vars/ and host_vars/ beside them all mean here what they mean to Ansible.

The controller learns groups and addresses from this one reader (compare, the stacks' checks),
so an inventory that works with `ansible-playbook -i` works with `stackbench -i`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackbench.errors import StackbenchError

# The variables a connection needs, templated when asked for (others are returned as written).
CONNECTION_VARS = (
    "ansible_host", "ansible_user", "ansible_port", "ansible_connection", "ansible_ssh_private_key_file",
    "ansible_private_key_file", "ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args",
    "ansible_ssh_executable", "ansible_python_interpreter",
)
# Groups every inventory has; listing them would make every stack's groups look present.
IMPLICIT_GROUPS = ("all", "ungrouped")
# Which plugin's complaint explains a file best, by its suffix (Ansible tries every plugin in turn).
_PLUGIN_FOR_SUFFIX = {".yml": ("yaml", "auto"), ".yaml": ("yaml", "auto"), ".json": ("yaml", "script"),
                      ".toml": ("toml",)}


@dataclass(frozen=True)
class Inventory:
    """What the controller needs of an inventory: groups (children flattened, as Ansible does) and per-host vars."""

    source: str
    groups: dict[str, list[str]]
    hosts: tuple[str, ...]
    _hostvars: Callable[[str], dict[str, Any]] | None = field(default=None, repr=False, compare=False)
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    def hostvars(self, host: str) -> dict[str, Any]:
        """The host's variables as a play sees them (inventory, group_vars, host_vars); connection vars templated."""
        if host not in self._cache:
            if host not in self.hosts:
                raise KeyError(f"host {host!r} is not in the inventory {self.source}")
            self._cache[host] = self._hostvars(host) if self._hostvars else {}
        return self._cache[host]

    def address(self, host: str) -> str:
        """Where the host is reached: its ansible_host, else its name (as Ansible's connections do)."""
        return str(self.hostvars(host).get("ansible_host") or host)

    def addresses(self) -> dict[str, str]:
        return {host: self.address(host) for host in self.hosts}


def read_inventory(source: str | Path) -> Inventory:
    """The inventory `source` (a file, a directory, or Ansible's `host1,host2,` list), read by ansible-core.

    A missing or unreadable path, a source no inventory plugin can parse, or one without hosts is a
    StackbenchError (exit code 2) in one line, instead of the warnings Ansible prints and goes on after.
    """
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    text = str(source)
    path = Path(text).expanduser()
    host_list = "," in text and not path.exists()  # Ansible's inline list, not a path
    if not host_list:
        _check_path(path, text)
        text = str(path.resolve())
    _collection_loader()
    loader = DataLoader()
    try:
        _vault_secrets(loader)
        with _captured_warnings() as warnings:
            manager = InventoryManager(loader=loader, sources=[text])
    except AnsibleError as exc:
        raise _error(source, _one_line(str(exc))) from None
    if not host_list and not manager._inventory.processed_sources:  # every plugin failed or declined
        raise _error(source, _parse_failure(warnings, path))
    hosts = tuple(host.name for host in manager.get_hosts(pattern="all"))
    if not hosts:
        raise StackbenchError(f"inventory {source} has no hosts",
                              f"add hosts to its groups (`ansible-inventory -i {source} --graph` shows what "
                              "Ansible reads)", exit_code=2)
    groups = {name: [h.name for h in group.get_hosts()] for name, group in sorted(manager.groups.items())
              if name not in IMPLICIT_GROUPS}
    variables = VariableManager(loader=loader, inventory=manager)

    def hostvars(name: str) -> dict[str, Any]:
        return _host_variables(loader, variables, manager.get_host(name), source)

    return Inventory(source=str(source), groups=groups, hosts=hosts, _hostvars=hostvars)


def require_groups(inventory: Inventory, spec: Any) -> dict[str, list[str]]:
    """The stack's groups in `inventory` (aliases such as kubespray's resolved); refused when any is missing or empty.

    `spec` is a catalog.Stack (or its name). The error names what the stack lacks and what the inventory has.
    """
    from stackbench import catalog

    stack = catalog.get(spec)
    groups = stack.resolve_groups(inventory.groups)
    missing = stack.missing_groups(groups)
    if missing:
        have = ", ".join(f"{g} ({len(h)})" for g, h in inventory.groups.items()) or "none"
        wanted = ", ".join(stack.group_label(g) for g in missing)
        raise StackbenchError(f"inventory {inventory.source} lacks {stack.name} group(s) with hosts: {wanted}",
                              f"groups it has (hosts): {have}", exit_code=2)
    return groups


# ---- helpers ----------------------------------------------------------------------------------


def _check_path(path: Path, text: str) -> None:
    if not path.exists():
        raise StackbenchError(f"inventory {text} does not exist",
                              "give -i with an inventory file or directory "
                              "(`stackbench lab up` writes inventories/lab/NAME.yml)", exit_code=2)
    if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
        raise StackbenchError(f"inventory {text} is not readable", f"check its permissions (ls -l {text})",
                              exit_code=2)


def _error(source: str | Path, reason: str) -> StackbenchError:
    return StackbenchError(f"cannot read inventory {source}: {reason}",
                           f"check it with: ansible-inventory -i {source} --graph", exit_code=2)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


@contextlib.contextmanager
def _captured_warnings() -> Iterator[list[Any]]:
    """Ansible's warnings while inside, kept (to explain a failure) instead of printed on stderr."""
    try:
        from ansible._internal._display_utils import DeferredWarningContext
    except ImportError:  # another ansible-core: its warnings reach stderr, the error line still follows
        yield []
        return
    captured: list[Any] = []
    with DeferredWarningContext(variables={}) as context:
        try:
            yield captured
        finally:
            captured.extend(context.get_warnings())


def _parse_failure(warnings: list[Any], path: Path) -> str:
    """The reason a plugin gave, from the plugin a file of this kind is meant for when it said something."""
    reasons: dict[str, str] = {}
    for warning in warnings:
        event = warning.event
        if not event.msg.startswith("Failed to parse inventory with") or event.chain is None:
            continue
        plugin = event.msg.split("'")[1] if "'" in event.msg else "?"
        causes = []
        cause = event.chain.event
        while cause is not None:
            _add_cause(causes, cause.msg.rstrip("."))
            cause = cause.chain.event if cause.chain else None
        reasons[plugin] = f"{plugin} plugin: {': '.join(causes)}"
    if not reasons and path.is_dir():
        return "the directory holds no inventory file"
    if not reasons:
        return "no inventory plugin accepted it (is the plugin enabled in ansible.cfg [inventory] enable_plugins?)"
    preferred = _PLUGIN_FOR_SUFFIX.get(path.suffix.lower(), ("ini",))
    chosen = next((reasons[p] for p in preferred if p in reasons), next(iter(reasons.values())))
    return _one_line(chosen)


def _add_cause(causes: list[str], cause: str) -> None:
    """Ansible repeats a cause as it re-raises it, sometimes with the position added: keep the fullest once."""
    for index, known in enumerate(causes):
        if cause.lower() in known.lower():
            return
        if known.lower() in cause.lower():
            causes[index] = cause
            return
    causes.append(cause)


def _collection_loader() -> None:
    """Ansible's collection loader, as its CLIs install it: inventory plugins named `ns.coll.name` need it.

    Only into a process that has imported no collection code yet: packages imported before it would
    lack the metadata it keeps and fail their next import (the unit tests import them by path first).
    """
    import sys

    from ansible.plugins.loader import init_plugin_loader
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is None and "ansible_collections" not in sys.modules:
        init_plugin_loader()


def _vault_secrets(loader: Any) -> None:
    """The vault passwords ansible.cfg names (vault_password_file, vault_identity_list), as ansible-playbook does."""
    from ansible import constants as C  # noqa: N812 - Ansible's own name for it
    from ansible.cli import CLI

    files = [C.DEFAULT_VAULT_PASSWORD_FILE] if C.DEFAULT_VAULT_PASSWORD_FILE else []
    if files or C.DEFAULT_VAULT_IDENTITY_LIST:
        secrets = CLI.setup_vault_secrets(loader, vault_ids=list(C.DEFAULT_VAULT_IDENTITY_LIST),
                                          vault_password_files=files, ask_vault_pass=False, auto_prompt=False)
        loader.set_vault_secrets(secrets)


def _host_variables(loader: Any, variables: Any, host: Any, source: str | Path) -> dict[str, Any]:
    from ansible.errors import AnsibleError
    from ansible.template import Templar

    try:
        found = variables.get_vars(host=host, include_hostvars=False)
        templar = Templar(loader=loader, variables=found)
        out = dict(found)
        for key in CONNECTION_VARS:
            if key in found:
                out[key] = templar.template(found[key])
    except AnsibleError as exc:
        raise StackbenchError(f"inventory {source}: cannot resolve the variables of {host.name}: "
                              f"{_one_line(str(exc))}", "fix the variable (or its template) it names",
                              exit_code=2) from None
    return out

