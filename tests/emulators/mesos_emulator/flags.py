"""Command-line and environment loading as the real binaries do it.

Mesos (stout `FlagsBase::load`): `--name=value`, booleans as `--name`, `--no-name` or
`--name=true|false`; `MESOS_<NAME>`/`MESOS_<name>` environment variables are read first and
the command line wins; unknown environment variables are ignored (stout only extracts known
flags), unknown command-line flags are an error; `file:///path` values are read from the file.

Marathon (scallop + the package launcher script): `--name value` or `--name=value`, booleans
`--name` / `--disable_name`; the launcher turns every `MARATHON_<NAME>` (except
`MARATHON_APP_*`) into `--<name> <value>` (empty value: boolean flag); the same option both as
environment and command line is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class FlagError(Exception):
    """A flag problem the real binary reports before it starts (usage error)."""


@dataclass(frozen=True)
class Flag:
    name: str
    kind: str = "str"  # str | int | bool | float | duration
    default: object = None
    help: str = ""


def _to_bool(name: str, value: str) -> bool:
    if value in ("true", "1", ""):
        return True
    if value in ("false", "0"):
        return False
    raise FlagError(f"Failed to load flag '{name}': Failed to parse bool from '{value}'")


def parse_duration(text: str) -> float:
    """Stout durations: `10secs`, `1mins`, `500ms`, `2hrs`, `1days` -> seconds."""
    units = (
        ("ns", 1e-9),
        ("us", 1e-6),
        ("ms", 1e-3),
        ("secs", 1.0),
        ("mins", 60.0),
        ("hrs", 3600.0),
        ("days", 86400.0),
        ("weeks", 604800.0),
    )
    for suffix, scale in sorted(units, key=lambda u: -len(u[0])):
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            try:
                return float(number) * scale
            except ValueError:
                break
    raise FlagError(f"Failed to parse duration '{text}'")


def _convert(flag: Flag, raw: str) -> object:
    if raw.startswith("file://") and flag.kind != "bool":
        try:
            with open(raw[len("file://") :], encoding="utf-8") as handle:
                raw = handle.read().strip()
        except OSError as exc:
            raise FlagError(f"Failed to load flag '{flag.name}': Failed to read '{raw}': {exc}") from exc
    try:
        if flag.kind == "int":
            return int(raw)
        if flag.kind == "float":
            return float(raw)
    except ValueError as exc:
        raise FlagError(f"Failed to load flag '{flag.name}': Failed to parse '{raw}'") from exc
    if flag.kind == "bool":
        return _to_bool(flag.name, raw)
    if flag.kind == "duration":
        return parse_duration(raw)
    return raw


def load_mesos_flags(
    specs: Sequence[Flag], argv: Sequence[str], env: Mapping[str, str], prefix: str = "MESOS_"
) -> dict[str, object]:
    """Values for every flag in `specs` (defaults filled in), loaded like stout does."""
    known = {f.name: f for f in specs}
    values: dict[str, object] = {f.name: f.default for f in specs}
    for key, raw in env.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :].lower()
        if name in known:
            values[name] = _convert(known[name], raw)
        elif name.startswith("no-") and name[3:] in known and known[name[3:]].kind == "bool":
            values[name[3:]] = not _to_bool(name, raw)
    seen: set[str] = set()
    for arg in argv:
        if not arg.startswith("--"):
            raise FlagError(f"Failed to load flag: unexpected argument '{arg}'")
        body = arg[2:]
        name, has_value, raw = body.partition("=")
        negated = False
        if name not in known and name.startswith("no-") and name[3:] in known:
            name, negated = name[3:], True
        if name not in known:
            raise FlagError(f"Failed to load unknown flag '{name}'")
        if name in seen:
            raise FlagError(f"Flag '{name}' is already loaded via command line")
        seen.add(name)
        flag = known[name]
        if flag.kind == "bool":
            if negated and has_value:
                raise FlagError(f"Failed to load boolean flag '{name}' via 'no-{name}' with value '{raw}'")
            values[name] = (not negated) if not has_value else _to_bool(name, raw)
        elif not has_value or negated:
            raise FlagError(f"Failed to load non-boolean flag '{name}': Missing value")
        else:
            values[name] = _convert(flag, raw)
    return values


def marathon_env_args(env: Mapping[str, str]) -> list[str]:
    """What the Marathon launcher script appends for `MARATHON_*` environment variables."""
    args: list[str] = []
    for key in sorted(env):
        if not key.startswith("MARATHON_") or key.startswith("MARATHON_APP_"):
            continue
        name = key[len("MARATHON_") :].lower()
        args.append(f"--{name}")
        if env[key] != "":
            args.append(env[key])
    return args


def load_marathon_flags(specs: Sequence[Flag], argv: Sequence[str], env: Mapping[str, str]) -> dict[str, object]:
    """Scallop-style parsing of the command line plus the launcher's environment args."""
    known = {f.name: f for f in specs}
    values: dict[str, object] = {f.name: f.default for f in specs}
    env_args = marathon_env_args(env)
    env_names = {a[2:] for a in env_args if a.startswith("--")}
    cli_names: set[str] = set()
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        arg = tokens[index]
        index += 1
        if not arg.startswith("--"):
            raise FlagError(f"Excess arguments provided: '{arg}'")
        name, has_value, raw = arg[2:].partition("=")
        negated = False
        if name not in known and name.startswith("disable_") and name[8:] in known:
            name, negated = name[8:], True
        if name not in known:
            raise FlagError(f"Unknown option '{arg[2:].partition('=')[0]}'")
        if name in cli_names:
            raise FlagError(f"Option '{name}' is given more than once")
        cli_names.add(name)
        flag = known[name]
        if flag.kind == "bool":
            values[name] = not negated
            continue
        if not has_value:
            if index >= len(tokens) or tokens[index].startswith("--"):
                raise FlagError(f"Option '{name}' needs a value")
            raw = tokens[index]
            index += 1
        values[name] = _convert(flag, raw)
    both = sorted(cli_names & {n.removeprefix("disable_") for n in env_names})
    if both:
        raise FlagError(f"Option(s) {', '.join(both)} given both as environment variable and command line")
    if env_args:
        env_values = load_marathon_flags(specs, env_args, {})
        for name in env_names:
            base = name.removeprefix("disable_") if name not in known else name
            values[base] = env_values[base]
    return values


DURATION_UNITS = (("weeks", 604800.0), ("days", 86400.0), ("hrs", 3600.0), ("mins", 60.0), ("secs", 1.0),
                  ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9))


def format_duration(seconds: float) -> str:
    """Stout's `Duration` output: the largest unit the value reaches (`10secs`, `10mins`, `500ms`)."""
    if seconds == 0:
        return "0ns"
    for suffix, scale in DURATION_UNITS:
        if abs(seconds) >= scale:
            return f"{seconds / scale:g}{suffix}"
    return f"{seconds / 1e-9:g}ns"


def mesos_flag_values(specs: Sequence[Flag], values: Mapping[str, object]) -> dict[str, str]:
    """`/flags` as Mesos writes it: every set flag as its stringified stout value ("true", "10secs")."""
    kinds = {f.name: f.kind for f in specs}
    out = {}
    for name, value in values.items():
        if value is None:
            continue
        kind = kinds.get(name, "str")
        if kind == "bool":
            out[name] = "true" if value else "false"
        elif kind == "duration":
            out[name] = format_duration(float(value))  # type: ignore[arg-type]
        else:
            out[name] = str(value)
    return out
