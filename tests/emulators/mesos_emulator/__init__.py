"""Emulators of Apache Mesos 1.11 (master, agent) and Marathon 1.10 for the stackbench lab.

Real Mesos and Marathon cannot be obtained any more (both projects are retired and their
download hosts are gone), so the lab runs these instead. They keep the surfaces the roles
and the HA checks rely on (flags and environment loading, ZooKeeper election layouts,
HTTP endpoints and field names, exit-on-leadership-loss) and say that they are emulators
where clients do not parse it: the `X-Stackbench-Emulator: true` header on every answer,
`build_user`/`git_branch` of `/version` and `buildref` of Marathon's `/v2/info`
(`stackbench-emulator`); versions are the real ones: the version an archive was packaged as
(`VERSION.json` beside this file, written by `stackbench artifacts build emulators`: Mesos 1.10.0
or 1.11.0, Marathon 1.9.109 or 1.10.26), else 1.11.0 and 1.10.26 (run from the repository).

Standard library only, plus kazoo (pure Python) vendored into the archive by the
stackbench artifact builder. Never installed by the production paths of the roles.
"""

from __future__ import annotations

import json as _json
import os as _os

DEFAULT_MESOS_VERSION = "1.11.0"
DEFAULT_MARATHON_VERSION = "1.10.26"
VERSION_FILE = "VERSION.json"


def packaged_versions(directory: str | None = None) -> dict[str, str]:
    """{"mesos": V} or {"marathon": V} as the archive builder wrote it; {} in the repository."""
    path = _os.path.join(directory or _os.path.dirname(_os.path.abspath(__file__)), VERSION_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            data = _json.load(handle)
    except FileNotFoundError:
        return {}
    return {k: str(v) for k, v in data.items() if k in ("mesos", "marathon")} if isinstance(data, dict) else {}


_PACKAGED = packaged_versions()
MESOS_VERSION = _PACKAGED.get("mesos", DEFAULT_MESOS_VERSION)
MARATHON_VERSION = _PACKAGED.get("marathon", DEFAULT_MARATHON_VERSION)
EMULATOR_MARK = "stackbench-emulator"
