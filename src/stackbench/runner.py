"""Run playbooks through ansible-runner with a compact progress view, keeping each run's record.

The user sees the current play and task with the elapsed time, retries, changes (and with
--diff what changed), failures and unreachable hosts as they happen, and a final recap: never
silence, never a wall of JSON. Every run keeps its full record in results/runs/<run-id>/:
ansible-runner's artifacts (stdout, job_events/*.json, command, rc, status), events.log (the
progress lines, uncut) and timings.json.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import ansible_runner

from stackbench.errors import StackbenchError
from stackbench.paths import CHECKOUT, collection_root, results_dir

# Callbacks every run enables: task timings on the terminal, and as JSON (STACKBENCH_TIMINGS_FILE).
CALLBACKS = ("ansible.posix.profile_tasks", "stackbench.cluster.timings")

# What ansible-playbook prints when -k / -K make it ask (the patterns AWX answers too).
SSH_PROMPT = r"SSH password:\s*?$"
BECOME_PROMPT = r"BECOME password.*:\s*?$"

DIFF_SCREEN_LINES = 40  # a longer diff is cut on the terminal; events.log keeps all of it
USAGE = 2


@dataclass
class PlaybookOptions:
    """The ansible-playbook options the CLI passes through, as the operator gave them."""

    check: bool = False
    diff: bool = False
    limit: str | None = None
    tags: list[str] = field(default_factory=list)
    skip_tags: list[str] = field(default_factory=list)
    extra_vars: list[str] = field(default_factory=list)  # each as given to -e: k=v pairs, JSON/YAML or @file
    verbosity: int = 0
    become: bool = False
    become_user: str | None = None
    ask_become_pass: bool = False
    ask_pass: bool = False
    user: str | None = None
    private_key: str | None = None
    forks: int | None = None
    mitogen: bool = False  # mitogen's linear strategy (an option: pip install 'stackbench[mitogen]')
    # read by the CLI (getpass); never in args, repr, the command file or the events
    ssh_password: str | None = field(default=None, repr=False)
    become_password: str | None = field(default=None, repr=False)

    def validate(self, cwd: Path | None = None) -> None:
        """Refuse (exit 2) what ansible-playbook would refuse later: files that are not there."""
        for value in self.extra_vars:
            if value.startswith("@"):
                path = _from(cwd, value[1:])
                if not path.is_file():
                    raise StackbenchError(f"-e {value}: no such file {path}",
                                          "give -e @FILE with a YAML or JSON vars file", exit_code=USAGE)
        if self.private_key and not _from(cwd, self.private_key).is_file():
            raise StackbenchError(f"--private-key {self.private_key}: no such file",
                                  "give the path of the SSH private key", exit_code=USAGE)
        if self.forks is not None and self.forks < 1:
            raise StackbenchError(f"--forks {self.forks}: must be at least 1", "e.g. -f 10", exit_code=USAGE)
        if self.mitogen:
            mitogen_env()

    def passwords(self) -> dict[str, str]:
        """ansible-runner's `passwords`: prompt regex -> answer (ansible-runner cannot ask the user)."""
        answers: dict[str, str] = {}
        if self.ask_pass and self.ssh_password is not None:
            answers[SSH_PROMPT] = self.ssh_password
        if self.ask_become_pass and self.become_password is not None:
            answers[BECOME_PROMPT] = self.become_password
        return answers


def mitogen_env() -> dict[str, str]:
    """The environment that runs ansible-playbook with mitogen's linear strategy (ansible_mitogen installed)."""
    spec = importlib.util.find_spec("ansible_mitogen")
    if spec is None or spec.origin is None:
        raise StackbenchError("--mitogen: mitogen is not installed next to stackbench",
                              "pip install 'stackbench[mitogen]' (or leave --mitogen out)", exit_code=USAGE)
    strategies = Path(spec.origin).parent / "plugins" / "strategy"
    given = os.environ.get("ANSIBLE_STRATEGY_PLUGINS")
    return {"ANSIBLE_STRATEGY_PLUGINS": os.pathsep.join([str(strategies), *([given] if given else [])]),
            "ANSIBLE_STRATEGY": "mitogen_linear"}


def _from(cwd: Path | None, path: str) -> Path:
    """`path` as ansible-playbook would read it from the user's directory (ansible-runner runs it elsewhere)."""
    given = Path(path).expanduser()
    return given if given.is_absolute() else (cwd or Path.cwd()) / given


def playbook_args(options: PlaybookOptions | None, extra_vars: Mapping[str, Any] | None = None,
                  cwd: Path | None = None) -> list[str]:
    """The ansible-playbook arguments of a run, in one place.

    `extra_vars` (what stackbench itself sets) come first, so the operator's -e, given later,
    wins as it would with ansible-playbook. Paths are made absolute: ansible-runner runs
    ansible-playbook from the repository, not from where the user typed the command.
    """
    args: list[str] = []
    if extra_vars:
        args += ["-e", json.dumps(dict(extra_vars), sort_keys=True)]
    if options is None:
        return args
    for value in options.extra_vars:
        args += ["-e", f"@{_from(cwd, value[1:])}" if value.startswith("@") else value]
    flags = (("--check", options.check), ("--diff", options.diff), ("--become", options.become),
             ("--ask-pass", options.ask_pass), ("--ask-become-pass", options.ask_become_pass))
    args += [flag for flag, wanted in flags if wanted]
    if options.limit:
        args += ["--limit", options.limit]
    for tag in options.tags:
        args += ["--tags", tag]
    for tag in options.skip_tags:
        args += ["--skip-tags", tag]
    if options.become_user:
        args += ["--become-user", options.become_user]
    if options.user:
        args += ["--user", options.user]
    if options.private_key:
        args += ["--private-key", str(_from(cwd, options.private_key))]
    if options.forks:
        args += ["--forks", str(options.forks)]
    if options.verbosity:
        args.append("-" + "v" * options.verbosity)
    return args


def display_path(path: Path) -> str:
    """`path` relative to the current directory when inside it, else absolute."""
    path = path.resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def render_diff(diff: Any) -> list[str]:
    """The lines of an Ansible result's `diff` (a dict or a list of them), as `ansible-playbook --diff` shows it."""
    lines: list[str] = []
    for item in diff if isinstance(diff, list) else [diff]:
        if not isinstance(item, dict):
            continue
        for key, text in (("dst_binary", "destination file appears to be binary"),
                          ("src_binary", "source file appears to be binary")):
            if item.get(key):
                lines.append(f"diff skipped: {text}")
        for key, side in (("dst_larger", "destination"), ("src_larger", "source")):
            if key in item:
                lines.append(f"diff skipped: {side} file size is greater than {item[key]}")
        if "before" in item and "after" in item:
            before, after = (_diff_text(item[key]) for key in ("before", "after"))
            if before != after:
                lines += difflib.unified_diff(before.splitlines(), after.splitlines(),
                                              fromfile=str(item.get("before_header", "before")),
                                              tofile=str(item.get("after_header", "after")), lineterm="")
        if item.get("prepared"):
            lines += str(item["prepared"]).rstrip("\n").splitlines()
    return lines


# profile_tasks' line at each task start ("Tuesday 01 December 2026  16:30:41 +0000 (0:00:00.071) ... ****"):
# the progress lines already carry the time, so it goes to the log only
_PROFILE_STAMP = re.compile(r"^\w+ \d{1,2} \w+ \d{4} +[\d:]+ [+-]\d{4} \(.*\) +[\d:.]+ \*+$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _plain(text: Any) -> str:
    return _ANSI.sub("", str(text or "")).replace("\r", "")


def _diff_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"


def _failure_message(result: Mapping[str, Any]) -> str:
    """What a failed result says, the whole text (a loop's: its first failed item's)."""
    message = result.get("msg") or result.get("stderr") or result.get("reason") or ""
    items = [r for r in result.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    if items and (not message or str(message).startswith("One or more items failed")):
        message = _failure_message(items[0]) or message
    return str(message).strip() or "failed"


# ssh's note when it learns a host key: it comes before the reason ("Permission denied (publickey)")
_SSH_NOISE = re.compile(r"Warning: Permanently added .*? to the list of known hosts\.[ \t]*(\r?\n)?")


def _headline(message: str) -> tuple[str, list[str]]:
    """The line to show of a message, and the rest. A first line that only introduces the next one
    ("Validation of arguments failed:") is shown with it."""
    message = _SSH_NOISE.sub("", message)
    lines = [line.rstrip() for line in message.splitlines() if line.strip()] or ["failed"]
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[1].strip()}", lines[2:]
    return lines[0], lines[1:]


_DELEGATED = re.compile(r"^\w+: \[(\S+ -> [^\](]+)")


def _host_label(host: str, result: Mapping[str, Any], stdout: Any) -> str:
    """`host`, or `host -> delegate` for a delegated task (as ansible-playbook names it)."""
    delegated = result.get("_ansible_delegated_vars")
    if not delegated:
        return host
    match = _DELEGATED.match(_plain(stdout).strip())
    return match.group(1) if match else f"{host} -> {delegated.get('ansible_host', '?')}"


def _task_name(task: str, result: Mapping[str, Any]) -> str:
    """The task's name; a role's argument check named by its role, not by its long generated name."""
    context = result.get("validate_args_context")
    if isinstance(context, Mapping) and context.get("type") == "role" and context.get("name"):
        return f"arguments of role {context['name']}"
    return task


@dataclass
class _Changed:
    """The hosts a task changed so far: shown as one line when the task is over."""

    task_uuid: str
    hosts: list[str] = field(default_factory=list)
    diffs: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass
class Progress:
    """Turns ansible-runner events into short lines on a terminal (or any stream), and all of them into `log`."""

    out: TextIO = sys.stdout
    clock: Callable[[], float] = time.monotonic
    log: TextIO | None = None  # events.log: one line per event, messages uncut
    check: bool = False  # check mode: "changed" means "would change"
    diff: bool = False  # --diff: show what each changed task changed
    verbosity: int = 0  # -v: also show what ansible-playbook prints for each event
    inventory: str = "INVENTORY"  # named in the hint for unreachable hosts
    started: float = field(default=0.0)
    play: str = ""
    failures: list[str] = field(default_factory=list)
    recap: dict[str, dict[str, int]] = field(default_factory=dict)
    _task_started: dict[str, float] = field(default_factory=dict)
    _changed: _Changed | None = None
    _in_error: bool = False  # the verbose lines that follow are the rest of an ansible-playbook error

    def __post_init__(self) -> None:
        self.started = self.clock()

    def _stamp(self) -> str:
        elapsed = int(self.clock() - self.started)
        return f"[{elapsed // 60:02d}:{elapsed % 60:02d}]"

    def handle(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {}) or {}
        host, task = data.get("host", "?"), data.get("task", "")
        result = data.get("res", {}) or {}
        task_uuid = str(data.get("task_uuid", ""))
        if self._changed and (kind.startswith("playbook_on_")
                              or (kind.startswith("runner_") and task_uuid != self._changed.task_uuid)):
            self._flush_changed()
        if kind != "verbose":
            self._in_error = False
        if kind == "playbook_on_play_start":
            self.play = data.get("play", "")
            self._line(f"PLAY {self.play}")
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self._task_started[task_uuid] = self.clock()
            self._line(f"  {'HANDLER ' if 'handler' in kind else ''}{task}")
        elif kind == "runner_retry":
            waited = int(self.clock() - self._task_started.get(task_uuid, self.started))
            tries = f"{result.get('attempts', '?')}/{result.get('retries', '?')}"
            self._line(f"    retry {tries} ({waited} s) {host}: {task}")
        elif kind == "runner_on_unreachable" and not data.get("ignore_unreachable"):
            first, rest = _headline(_failure_message(result))
            line = f"{host}: {task}: {first}"
            self.failures.append(line)
            self._line(f"    UNREACHABLE {line} (check ansible_host/ansible_user/ssh key; "
                       f"ansible -i {self.inventory} {host} -m ping)", rest=rest)
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            first, rest = _headline(_failure_message(result))
            line = f"{host}: {_task_name(task, result)}: {first}"
            self.failures.append(line)
            self._line(f"    FAILED {line}", rest=rest)
        elif kind in ("runner_on_ok", "runner_item_on_ok"):
            self._note_change(kind, _host_label(host, result, event.get("stdout")), task_uuid, result)
            if kind == "runner_on_ok" and not self.verbosity and str(data.get("task_action", "")).endswith("debug"):
                self._show_message(host, result.get("msg"))
            self._log(f"    {'changed' if result.get('changed') else 'ok'} {host}: {task}"
                      + (f" (item {data.get('item', result.get('item'))!s:.80})" if "item" in kind else ""))
        elif kind == "verbose":
            self._verbose(_plain(event.get("stdout")))
        elif kind == "playbook_on_stats":
            # ansible-runner's stats call unreachable hosts "dark"
            for key, name_in_recap in (("ok", "ok"), ("changed", "changed"), ("failures", "failures"),
                                       ("dark", "unreachable"), ("unreachable", "unreachable"),
                                       ("skipped", "skipped"), ("rescued", "rescued"), ("ignored", "ignored")):
                for name, count in (data.get(key) or {}).items():
                    self.recap.setdefault(name, {})[name_in_recap] = count
            self._log(f"STATS {json.dumps(self.recap, sort_keys=True)}")
        else:
            self._log_other(kind, data, result)
        if self.verbosity and kind.startswith("runner_on_") and event.get("stdout"):
            self._echo(str(event["stdout"]))
        return True

    def _verbose(self, text: str) -> None:
        """What ansible-playbook prints outside tasks: errors (a bad -e, ...) on screen, the rest in the log
        (and on screen too with -v)."""
        for line in (raw.rstrip() for raw in text.splitlines()):
            if line.startswith(("[ERROR]", "ERROR!")):
                first = line.removeprefix("[ERROR]:").removeprefix("ERROR!").strip()
                self.failures.append(f"ansible-playbook: {first}")
                self._line(f"    ERROR {first}")
                self._in_error = True
            elif not line:
                continue
            elif self._in_error or not self.verbosity or _PROFILE_STAMP.match(line):
                self._log(f"      {line}", stamp=False)
            else:
                self._print(f"      {line}")

    def _show_message(self, host: str, message: Any) -> None:
        """What a playbook prints on purpose (a debug task: capacity's table, a note of a role): a text
        prefixed by its host, a list of lines (a table) as it is."""
        if not isinstance(message, list):
            message = [f"{host}: {line}" for line in str(message if message is not None else "").splitlines()]
        for line in message:
            text = line if isinstance(line, str) else json.dumps(line, default=str)
            self._print(f"      {text.rstrip()}")

    def _note_change(self, kind: str, host: str, task_uuid: str, result: Mapping[str, Any]) -> None:
        if not result.get("changed"):
            return
        if self._changed is None:
            self._changed = _Changed(task_uuid)
        if kind == "runner_on_ok" and host not in self._changed.hosts:
            self._changed.hosts.append(host)
        if self.diff and result.get("diff"):
            lines = render_diff(result["diff"])
            if lines:
                self._changed.diffs.append((host, lines))

    def _flush_changed(self) -> None:
        changed, self._changed = self._changed, None
        if changed is None:
            return
        if changed.hosts:
            self._line(f"    {'would change' if self.check else 'changed'} {', '.join(changed.hosts)}")
        for host, lines in changed.diffs:
            shown = lines[:DIFF_SCREEN_LINES]
            self._print(f"      --- {host}")
            for text in shown:
                self._print(f"      {text}")
            if len(lines) > len(shown):
                self._print(f"      ... {len(lines) - len(shown)} more lines in events.log")
            for text in lines[len(shown):]:
                self._log(f"      {text}", stamp=False)

    def _log_other(self, kind: str, data: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        """Events the terminal does not show, one line each in events.log."""
        if kind in ("runner_on_failed", "runner_on_unreachable"):  # ignored by the task
            self._log(f"    {kind.removeprefix('runner_on_')} (ignored) {data.get('host', '?')}: "
                      f"{data.get('task', '')}: {_headline(_failure_message(result))[0]}")
        elif kind.startswith("runner_") or kind.startswith("playbook_on_"):
            where = " ".join(str(data[k]) for k in ("host", "task") if data.get(k)) or data.get("playbook", "")
            self._log(f"    {kind} {where}".rstrip())

    def _echo(self, text: str) -> None:
        for line in text.strip("\r\n").splitlines():
            self._print(f"      {line.rstrip()}")

    def _line(self, text: str, rest: list[str] | None = None) -> None:
        """One line on the terminal and in the log; `rest` (more lines of a message) only in the log."""
        self._print(f"{self._stamp()} {text}")
        for more in rest or []:
            self._log(f"      {more.rstrip()}", stamp=False)

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)
        if self.log:
            print(text, file=self.log, flush=True)

    def _log(self, text: str, stamp: bool = True) -> None:
        if self.log:
            print(f"{self._stamp()} {text}" if stamp else text, file=self.log, flush=True)

    def print_recap(self) -> None:
        self._flush_changed()
        if not self.recap:
            return
        self._print(f"{self._stamp()} RECAP")
        changed = "would change" if self.check else "changed"
        for host in sorted(self.recap):
            c = self.recap[host]
            self._print(f"    {host:<16} ok={c.get('ok', 0):<4} {changed}={c.get('changed', 0):<4} "
                        f"failed={c.get('failures', 0):<3} unreachable={c.get('unreachable', 0)}")


@dataclass
class PlaybookResult:
    rc: int
    status: str
    seconds: float
    changed: int
    failures: list[str]
    timings_file: Path | None
    run_dir: Path | None = None  # results/runs/<run-id>/: the run's whole record
    check: bool = False
    args: list[str] = field(default_factory=list)  # ansible-playbook's arguments (no passwords: never in them)


def new_run_dir(label: str) -> Path:
    """results/runs/<UTC timestamp>-<label>/, made now (a second run in the same second gets -2, -3, ...)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or "run"
    runs = results_dir() / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1, 1000):
        path = runs / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise StackbenchError(f"too many runs named {safe} in one second under {runs}")


_SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|CREDENTIAL|PRIVATE|AUTH|_KEY$|^KEY", re.IGNORECASE)
_SECRET_VAR = re.compile(r"((?:pass(?:word|wd)?|secret|token)[\"']?\s*[=:]\s*[\"']?)[^\s,\"'}]+", re.IGNORECASE)
_ENV_KEPT = ("PATH", "HOME", "USER", "LANG", "VIRTUAL_ENV", "PYTHONPATH")


def _scrub_command_file(run_dir: Path) -> None:
    """ansible-runner writes the whole environment into `command`: keep what explains the run, no secrets."""
    path = run_dir / "command"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    env = record.get("env") or {}
    kept = {k: v for k, v in env.items()
            if k in _ENV_KEPT or k.startswith(("ANSIBLE_", "STACKBENCH_", "RUNNER_", "AWX_"))}
    record["env"] = {k: "<redacted>" if _SECRET_NAME.search(k) else v for k, v in sorted(kept.items())}
    record["command"] = [_SECRET_VAR.sub(r"\1<redacted>", str(arg)) for arg in record.get("command") or []]
    path.write_text(json.dumps(record, indent=2) + "\n")
    path.chmod(0o600)


def run_playbook(playbook: str, inventory: Path, extra_vars: dict[str, Any] | None = None,
                 cmdline: list[str] | None = None, label: str = "run", out: TextIO = sys.stdout,
                 options: PlaybookOptions | None = None, timeout: int | None = None) -> PlaybookResult:
    """Run `playbooks/<playbook>` (or an absolute path) against `inventory`, keeping the record in results/runs/."""
    if options:
        options.validate()
    args = playbook_args(options, extra_vars) + list(cmdline or [])
    run_dir = new_run_dir(label)
    timings = run_dir / "timings.json"
    # ansible-runner keeps what it is given (env/, passwords) in private_data_dir: a temp dir, removed after
    private = Path(tempfile.mkdtemp(prefix="stackbench-runner-"))
    root = collection_root()  # this checkout, or the installed collection
    envvars = {
        # Replaces ansible.cfg's callbacks_enabled, so its profile_tasks is named again. The timings callback
        # is found by its collection name (collections_path in ansible.cfg), not by a plugin directory.
        "ANSIBLE_CALLBACKS_ENABLED": ",".join(CALLBACKS),
        "STACKBENCH_TIMINGS_FILE": str(timings),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",  # plain text in stdout and events.log
        # ansible-playbook lives next to this interpreter (the venv), also when the venv is not activated
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    # A checkout runs with its own ansible.cfg. An installed collection ships none: then the operator's
    # configuration applies as ansible-playbook would find it (ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg),
    # named explicitly because ansible-runner changes the working directory.
    if options and options.mitogen:
        envvars.update(mitogen_env())
    if CHECKOUT is not None and (root / "ansible.cfg").is_file():
        envvars["ANSIBLE_CONFIG"] = str(root / "ansible.cfg")
    elif not os.environ.get("ANSIBLE_CONFIG") and (Path.cwd() / "ansible.cfg").is_file():
        envvars["ANSIBLE_CONFIG"] = str(Path.cwd() / "ansible.cfg")
    workdir = root if CHECKOUT is not None else Path.cwd()
    host_list = "," in str(inventory) and not inventory.exists()  # ansible's inline `host1,host2,`
    inventory_arg = str(inventory) if host_list else str(inventory.resolve())
    inventory_shown = str(inventory) if host_list else display_path(inventory)
    started = time.monotonic()
    with (run_dir / "events.log").open("w") as log:
        progress = Progress(out=out, log=log, check=bool(options and options.check),
                            diff=bool(options and options.diff), verbosity=options.verbosity if options else 0,
                            inventory=inventory_shown)
        playbook_path = root / "playbooks" / playbook
        print(f"# ansible-playbook -i {inventory_shown} {display_path(playbook_path)} {shlex.join(args)}".rstrip(),
              file=log, flush=True)
        try:
            runner = ansible_runner.run(
                private_data_dir=str(private),
                artifact_dir=str(run_dir.parent),
                ident=run_dir.name,
                rotate_artifacts=0,
                project_dir=str(workdir),
                playbook=str(playbook_path),
                inventory=inventory_arg,
                cmdline=shlex.join(args) or None,
                passwords=options.passwords() if options else None,
                envvars=envvars,
                quiet=True,
                timeout=timeout,
                event_handler=progress.handle,
            )
        finally:
            shutil.rmtree(private, ignore_errors=True)
            _scrub_command_file(run_dir)
        progress.print_recap()
    changed = sum(c.get("changed", 0) for c in progress.recap.values())
    return PlaybookResult(
        rc=runner.rc, status=runner.status, seconds=time.monotonic() - started, changed=changed,
        failures=progress.failures, timings_file=timings if timings.exists() else None, run_dir=run_dir,
        check=bool(options and options.check), args=args,
    )
