"""Emulators of Apache Mesos 1.11 (master, agent) and Marathon 1.10 for the stackbench lab.

Real Mesos and Marathon cannot be obtained any more (both projects are retired and their
download hosts are gone), so the lab runs these instead. They keep the surfaces the roles
and the HA checks rely on (flags and environment loading, ZooKeeper election layouts,
HTTP endpoints and field names, exit-on-leadership-loss) and say that they are emulators
where clients do not parse it: the `X-Stackbench-Emulator: true` header on every answer,
`build_user`/`git_branch` of `/version` and `buildref` of Marathon's `/v2/info`
(`stackbench-emulator`); versions are the real ones (1.11.0, 1.10.26).

Standard library only, plus kazoo (pure Python) vendored into the archive by the
stackbench artifact builder. Never installed by the production paths of the roles.
"""

MESOS_VERSION = "1.11.0"
MARATHON_VERSION = "1.10.26"
EMULATOR_MARK = "stackbench-emulator"
