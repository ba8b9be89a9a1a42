"""Reaching hosts from the controller: shell commands through `ansible` (so every connection plugin
works, paramiko too), local commands (the stackbench CLI), and an SSH tunnel to a host's loopback."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible import context
from ansible_collections.stackbench.cluster.plugins.plugin_utils.failover.base import Failure


class HostRunner:
    """Runs a shell command on an inventory host with `ansible` and the same inventory/connection."""

    def __init__(self, inventory_sources: list[str], timeout: float = 120) -> None:
        self.inventory_sources = inventory_sources
        self.timeout = timeout

    def _base(self) -> list[str]:
        cmd = [str(Path(sys.executable).with_name("ansible"))]
        for source in self.inventory_sources:
            cmd += ["-i", source]
        args = context.CLIARGS
        if args.get("connection") and args["connection"] not in ("smart",):
            cmd += ["-c", args["connection"]]
        if args.get("private_key_file"):
            cmd += ["--private-key", args["private_key_file"]]
        if args.get("remote_user"):
            cmd += ["-u", args["remote_user"]]
        for extra in args.get("extra_vars") or ():
            cmd += ["-e", extra]
        for vault in args.get("vault_password_files") or ():
            cmd += ["--vault-password-file", vault]
        if args.get("become_method"):
            cmd += ["--become-method", args["become_method"]]
        return cmd

    def shell(self, host: str, command: str, become: bool = True) -> tuple[int, str, str]:
        cmd = self._base() + [host, "-m", "ansible.builtin.shell", "-a", command]
        if become:
            cmd.append("-b")
        env = {**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, env=env, check=False,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 255, "", f"timed out after {self.timeout}s"
        try:  # other enabled callbacks (profile_tasks) may print after the JSON document
            start = run.stdout.index("{")
            document, _ = json.JSONDecoder().raw_decode(run.stdout[start:])
            result = document["plays"][0]["tasks"][0]["hosts"][host]
        except (ValueError, KeyError, IndexError):
            return 255, "", (run.stdout + run.stderr).strip()[-500:]
        if result.get("unreachable"):
            return 255, "", result.get("msg", "unreachable")
        return int(result.get("rc", 1 if result.get("failed") else 0)), result.get("stdout", ""), \
            result.get("stderr", "") or (result.get("msg", "") if result.get("failed") else "")


def stackbench_cli() -> str:
    """The stackbench CLI next to this Python (the venv), else from PATH."""
    beside = Path(sys.executable).with_name("stackbench")
    return str(beside) if beside.exists() else "stackbench"


def run_local(cmd: list[str], timeout: float = 120) -> tuple[int, str]:
    """(returncode, stdout+stderr) of a command on the controller; 255 when it cannot run."""
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 255, str(exc)
    return run.returncode, (run.stdout + run.stderr).strip()


def ssh_tunnel_command(hv: Any, host: str, local_port: int, remote_port: int) -> list[str]:
    """`ssh -N -L` from the controller to `127.0.0.1:remote_port` on `host`, with the inventory's SSH settings."""
    cmd = ["ssh", "-N", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=5",
           "-L", f"127.0.0.1:{local_port}:127.0.0.1:{remote_port}"]
    if hv.get("ansible_port"):
        cmd += ["-p", str(hv["ansible_port"])]
    key = hv.get("ansible_ssh_private_key_file") or hv.get("ansible_private_key_file")
    if key:
        cmd += ["-i", str(key)]
    for extra in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        if hv.get(extra):
            cmd += shlex.split(str(hv[extra]))
    address = hv.get("ansible_host") or host
    user = hv.get("ansible_user")
    return cmd + [f"{user}@{address}" if user else str(address)]


class SshTunnel:
    """A local port forwarded over SSH to a port on a host's loopback (its local API endpoint)."""

    def __init__(self, command: Callable[[int], list[str]]) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def open(self, timeout: float = 30) -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(self.command(self.port), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                error = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                raise Failure(f"ssh tunnel exited (rc={self.process.returncode}): {error.strip()[-300:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return self.port
            time.sleep(0.2)
        self.close()
        raise Failure(f"ssh tunnel did not listen on 127.0.0.1:{self.port} within {timeout:.0f}s")

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
