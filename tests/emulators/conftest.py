"""A real ZooKeeper (Apache jars from Maven Central, run with the controller's Java) and
helpers to run the emulators as processes on 127.0.0.1 against it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BIN = HERE / "bin"
# The programs in bin/ import mesos_emulator from here (pytest itself has it from pyproject's pythonpath).
PROGRAM_ENV = {"PYTHONPATH": str(HERE)}

ZOOKEEPER_VERSION = "3.8.4"
POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>stackbench</groupId><artifactId>emulator-test-zookeeper</artifactId><version>1</version>
<dependencies>
<dependency><groupId>org.apache.zookeeper</groupId><artifactId>zookeeper</artifactId>
<version>{ZOOKEEPER_VERSION}</version></dependency>
<dependency><groupId>io.dropwizard.metrics</groupId><artifactId>metrics-core</artifactId>
<version>4.1.12.1</version></dependency>
<dependency><groupId>org.xerial.snappy</groupId><artifactId>snappy-java</artifactId>
<version>1.1.10.5</version></dependency>
<dependency><groupId>ch.qos.logback</groupId><artifactId>logback-classic</artifactId>
<version>1.2.13</version></dependency>
</dependencies></project>
"""
LOGBACK = """<configuration><appender name="O" class="ch.qos.logback.core.ConsoleAppender">
<encoder><pattern>%d %level %logger{20} %msg%n</pattern></encoder></appender>
<root level="WARN"><appender-ref ref="O"/></root></configuration>
"""


def zookeeper_lib() -> Path:
    """The jars of a real ZooKeeper server, fetched once with Maven into the build cache."""
    from stackbench.paths import build_dir

    work = build_dir("emulator-tests-zookeeper")
    lib = work / "lib"
    if not (lib / f"zookeeper-{ZOOKEEPER_VERSION}.jar").exists():
        if not shutil.which("mvn") or not shutil.which("java"):
            pytest.fail("the emulator tests need java and mvn to run a real ZooKeeper")
        (work / "pom.xml").write_text(POM)
        subprocess.run(
            ["mvn", "-q", "-B", "dependency:copy-dependencies", f"-DoutputDirectory={lib}"], cwd=work, check=True
        )
    (work / "logback.xml").write_text(LOGBACK)
    return lib


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError, KeyError, urllib.error.URLError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="session")
def zookeeper(tmp_path_factory) -> Iterator[str]:
    lib = zookeeper_lib()
    data = tmp_path_factory.mktemp("zk")
    port = free_port()
    proc = subprocess.Popen(
        [
            "java",
            f"-Dlogback.configurationFile={lib.parent / 'logback.xml'}",
            "-Dzookeeper.admin.enableServer=false",
            "-cp",
            f"{lib}/*",
            "org.apache.zookeeper.server.ZooKeeperServerMain",
            str(port),
            str(data),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def serving() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"srvr")
            return b"Mode" in sock.recv(1024)

    wait_for(serving, 60, what="ZooKeeper")
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


class Daemons:
    """Emulator processes started by a test; all stopped at teardown."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []

    def start(self, program: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.workdir / f"{program}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, str(BIN / program), *args], stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **PROGRAM_ENV, **(env or {})},
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def daemons(tmp_path) -> Iterator[Daemons]:
    group = Daemons(tmp_path)
    yield group
    group.stop()
