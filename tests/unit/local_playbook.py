"""Run a playbook against local-connection hosts, to test preflight checks without machines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_local_playbook(tmp_path: Path, playbook: str, groups: dict[str, list[str]], extra: dict[str, str],
                       ungrouped: tuple[str, ...] = (), env: dict[str, str] | None = None,
                       timeout: int = 300) -> subprocess.CompletedProcess:
    """`ansible-playbook playbooks/<playbook>` with every host local, in the given groups."""
    hosts = {h for members in groups.values() for h in members} | set(ungrouped)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {
        "all": {
            "hosts": {h: dict(local) for h in sorted(hosts)},
            "children": {g: {"hosts": {h: {} for h in members}} for g, members in groups.items()},
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    full_env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_NOCOLOR": "1",
        **(env or {}),
    }
    args = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(path), str(ROOT / "playbooks" / playbook)]
    for key, value in extra.items():  # as JSON, so lists and dicts stay lists and dicts
        args += ["-e", json.dumps({key: value})]
    return subprocess.run(args, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


def assert_stopped_early(result: subprocess.CompletedProcess, message: str, first_changing_play: str) -> None:
    """Failed with `message`, changed nothing, and never reached `first_changing_play`."""
    assert result.returncode != 0, result.stdout
    assert message in result.stdout, result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout
    assert f"PLAY [{first_changing_play}]" not in result.stdout
