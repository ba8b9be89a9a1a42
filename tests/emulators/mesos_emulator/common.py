"""Pieces shared by the three daemons: identity, addresses, exiting like the real ones."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import socket
import sys
import time
import uuid

from . import EMULATOR_MARK

log = logging.getLogger("emulator")

# The emulator mark lives where clients do not parse it: the build user and the git branch
# (and the X-Stackbench-Emulator header); the version itself stays the real one, since
# clients (pymesos) parse it as integers.
BUILD_USER = EMULATOR_MARK
BUILD_DATE = "2020-11-16 00:00:00"
BUILD_TIME = 1605484800.0


def version_info(version: str) -> dict[str, object]:
    """The `/version` document of `src/version/version.cpp`."""
    return {
        "version": version,
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": BUILD_USER,
        "git_branch": BUILD_USER,
        "git_tag": version,
    }


def resolve_ip(hostname: str | None = None) -> str:
    """What libprocess advertises without --ip: the address the host name resolves to."""
    name = hostname or socket.gethostname()
    try:
        return socket.gethostbyname(name)
    except OSError:
        return "127.0.0.1"


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> float:
    return time.time()


def iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def die(message: str, code: int = 1) -> None:
    """Exit at once, as the real daemons do (no clean ZooKeeper session close)."""
    log.error(message)
    sys.stderr.flush()
    os._exit(code)


def usage_error(program: str, message: str, code: int = 1) -> None:
    sys.stderr.write(f"{message}\n\nUsage: {program} [options]\n\nSee '{program} --help' for the flags.\n")
    sys.stderr.flush()
    sys.exit(code)
