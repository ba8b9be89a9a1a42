"""Reaching hosts from the controller: shell commands through `ansible` (so every connection plugin
works, paramiko too), local commands (the stackbench CLI), and an SSH tunnel to a host's loopback
built from the options Ansible's own ssh connection plugin resolves for that host."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SshOptions:
    """How Ansible's ssh connection plugin reaches a host: its options as resolved for that host."""

    host: str  # the address (ansible_host, else the inventory name)
    executable: str = "ssh"  # ansible_ssh_executable
    user: str | None = None
    port: int | None = None
    private_key_file: str | None = None
    ssh_args: str = ""  # ansible_ssh_args, else ansible.cfg [ssh_connection] ssh_args
    common_args: str = ""  # ansible_ssh_common_args (ProxyJump/ProxyCommand usually live here)
    extra_args: str = ""  # ansible_ssh_extra_args
    host_key_checking: bool = True
    timeout: int | None = None


# Connections whose hosts an ssh tunnel reaches the same way (paramiko speaks ssh with the same options).
_SSH_CONNECTIONS = ("ssh", "ansible.builtin.ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.paramiko_ssh")


def ssh_options(hostvars: Mapping[str, Any], host: str) -> SshOptions:
    """The options Ansible's ssh connection plugin would use for `host`, from its vars (hostvars[host]).

    The plugin itself resolves them, so precedence is Ansible's: host vars, then the command line
    (-u, --private-key, --ssh-common-args, ...), then ANSIBLE_* environment, then ansible.cfg, then
    the plugin's defaults.
    """
    from ansible import constants as C  # noqa: N812 - Ansible's own name for it
    from ansible.errors import AnsibleError
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    connection = str(hostvars.get("ansible_connection") or C.DEFAULT_TRANSPORT)
    if connection not in _SSH_CONNECTIONS:
        raise Failure(f"{host} is reached with the {connection} connection, not ssh: no ssh tunnel to it "
                      "(use kube_client_via=direct)")
    plugin = connection_loader.get("ssh", PlayContext(), new_stdin=None)
    names = C.config.get_plugin_vars("connection", "ssh")
    try:  # hostvars template on access: a broken template of the host's is its error, not a traceback
        plugin.set_options(var_options={name: hostvars[name] for name in names if name in hostvars})
    except AnsibleError as exc:
        raise Failure(f"cannot resolve how ssh reaches {host}: {' '.join(str(exc).split())[:300]}") from None
    port = plugin.get_option("port")
    return SshOptions(
        host=str(plugin.get_option("host") or host), executable=str(plugin.get_option("ssh_executable") or "ssh"),
        user=plugin.get_option("remote_user") or None, port=int(port) if port else None,
        private_key_file=plugin.get_option("private_key_file") or None, ssh_args=plugin.get_option("ssh_args") or "",
        common_args=plugin.get_option("ssh_common_args") or "", extra_args=plugin.get_option("ssh_extra_args") or "",
        host_key_checking=bool(plugin.get_option("host_key_checking")), timeout=plugin.get_option("timeout"))


def split_ssh_args(text: str) -> list[str]:
    """Arguments as Ansible's ssh plugin splits them (shell words, so a quoted ProxyCommand stays one)."""
    return [word.strip() for word in shlex.split(text) if word.strip()]


def tunnel_command(options: SshOptions, local_port: int, remote_port: int) -> list[str]:
    """`ssh -N -L` to `127.0.0.1:remote_port` on the host, built as Ansible's ssh plugin builds its command.

    The options the tunnel depends on come first, since ssh keeps the first value it is given: no
    password prompt, fail when the port cannot be forwarded, and a process of its own (no ControlMaster
    to hand the forward to, so closing the tunnel ends it).
    """
    cmd = [options.executable, "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes",
           "-o", "ControlMaster=no", "-o", "ControlPath=none"]
    cmd += split_ssh_args(options.ssh_args)
    if not options.host_key_checking:
        cmd += ["-o", "StrictHostKeyChecking=no"]
    if options.port is not None:
        cmd += ["-o", f"Port={options.port}"]
    if options.private_key_file:
        cmd += ["-o", f'IdentityFile="{os.path.expanduser(options.private_key_file)}"']
    if options.user:
        cmd += ["-o", f'User="{options.user}"']
    if options.timeout is not None:
        cmd += ["-o", f"ConnectTimeout={options.timeout}"]
    cmd += split_ssh_args(options.common_args) + split_ssh_args(options.extra_args)
    # a keepalive only where the inventory and ansible.cfg set none (theirs came first, so theirs counts)
    return cmd + ["-o", "ServerAliveInterval=5", "-N", "-L", f"127.0.0.1:{local_port}:127.0.0.1:{remote_port}",
                  options.host]


def ssh_tunnel_command(hv: Mapping[str, Any], host: str, local_port: int, remote_port: int) -> list[str]:
    """`ssh -N -L` from the controller to `127.0.0.1:remote_port` on `host`, reaching it as Ansible does."""
    return tunnel_command(ssh_options(hv, host), local_port, remote_port)


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
