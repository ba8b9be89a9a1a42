"""The emulator archives: layout the roles expect, executables, reproducibility, caching."""

from __future__ import annotations

import io
import tarfile

from stackbench.artifacts import emulators


def test_mesos_archive_layout_and_modes(tmp_path):
    written = emulators.build(tmp_path, log=lambda _msg: None)
    tarball = tmp_path / emulators.mesos_relpath()
    assert tarball in written
    with tarfile.open(tarball) as tar:
        names = {m.name: m for m in tar.getmembers()}
    top = f"mesos-{emulators.MESOS_VERSION}"
    assert names[f"{top}/sbin/mesos-master"].mode == 0o755
    assert names[f"{top}/sbin/mesos-agent"].mode == 0o755
    # the programs lie beside the packages they import; sbin/ links to them
    for program in ("mesos-master", "mesos-agent"):
        link = names[f"{top}/sbin/{program}"]
        assert link.issym() and link.linkname == f"../lib/mesos-emulator/{program}"
        assert names[f"{top}/lib/mesos-emulator/{program}"].isfile()
        assert names[f"{top}/lib/mesos-emulator/{program}"].mode == 0o755
    assert f"{top}/lib/mesos-emulator/mesos_emulator/master.py" in names
    assert f"{top}/lib/mesos-emulator/kazoo/client.py" in names
    assert not any("/kazoo/tests/" in n for n in names)
    assert all(n.split("/")[0] == top for n in names)


def test_marathon_archive_and_checksum_file(tmp_path):
    emulators.build(tmp_path, log=lambda _msg: None)
    tarball = tmp_path / emulators.marathon_relpath()
    assert tarball.name == f"marathon-{emulators.MARATHON_VERSION}-emulator.tgz"
    checksum = tarball.with_name(tarball.name + ".sha256").read_text()
    import hashlib

    assert checksum == f"{hashlib.sha256(tarball.read_bytes()).hexdigest()}  {tarball.name}\n"
    with tarfile.open(tarball) as tar:
        assert tar.getmember(f"marathon-{emulators.MARATHON_VERSION}/bin/marathon").mode == 0o755
        assert tar.getmember(f"marathon-{emulators.MARATHON_VERSION}/bin/marathon").linkname == (
            "../lib/mesos-emulator/marathon")


def test_archives_are_reproducible_and_cached(tmp_path):
    emulators.build(tmp_path, log=lambda _msg: None)
    first = (tmp_path / emulators.mesos_relpath()).read_bytes()
    messages: list[str] = []
    emulators.build(tmp_path, log=messages.append)
    assert (tmp_path / emulators.mesos_relpath()).read_bytes() == first
    assert all("up to date" in m for m in messages)


def test_archive_bytes_owner_and_mtime():
    data = emulators.archive_bytes([("top/a/b.txt", b"x", 0o644)])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["top", "top/a", "top/a/b.txt"]
    assert {(m.uid, m.mtime) for m in members} == {(0, emulators.SOURCE_DATE_EPOCH)}


def test_the_unpacked_programs_find_their_packages_through_the_links(tmp_path):
    """As the roles run them: the link in sbin/ (bin/), through a `current` link, no PYTHONPATH."""
    import os
    import subprocess
    import sys

    emulators.build(tmp_path / "mirror", log=lambda _msg: None)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for relpath, program, argv, code in (
        (emulators.mesos_relpath(), "sbin/mesos-master", ["--no_such_flag=1"], 1),
        (emulators.mesos_relpath(), "sbin/mesos-agent", ["--no_such_flag=1"], 1),
        (emulators.marathon_relpath(), "bin/marathon", ["--master", "zk://x:1/mesos", "--no_such_flag", "1"], 112),
    ):
        install = tmp_path / "opt" / relpath.name
        if not install.exists():
            with tarfile.open(tmp_path / "mirror" / relpath) as tar:
                tar.extractall(install, filter="data")
            (top,) = install.iterdir()
            (install / "current").symlink_to(top.name)
        proc = subprocess.run([sys.executable, str(install / "current" / program), *argv], env=env,
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == code, proc.stderr
        assert "no_such_flag" in proc.stderr + proc.stdout
        assert "ModuleNotFoundError" not in proc.stderr
