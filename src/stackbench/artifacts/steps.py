"""Running one step of an artifact build (go, gcc, docker, apt-get ...): the command is logged,
its output kept, and a failure becomes one StackbenchError with the output's tail as the hint."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from stackbench.errors import StackbenchError

Log = Callable[[str], object]


def run_step(cmd: list[str], cwd: Path, log: Log, env: Mapping[str, str] | None = None, what: str = "artifact") -> str:
    """Run `cmd` in `cwd`; its stdout. `what` names the build in the error ("etcd", "kubernetes", ...)."""
    log("  $ " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        shown = " ".join(cmd[:6]) + (" ..." if len(cmd) > 6 else "")
        raise StackbenchError(f"{what} build step failed: {shown}", (proc.stderr or proc.stdout).strip()[-2000:])
    return proc.stdout
