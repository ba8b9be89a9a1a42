"""Where compare's "emulated" mark comes from: the daemons' own answers (issue #16), not the inventory.

A Mesos-stack daemon is emulated when its answer says so (the X-Stackbench-Emulator header, the mark in
/version's build_user or Marathon's buildref) and when it cannot prove it is real (no answer)."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stackbench import catalog
from stackbench.compare import evaluate, logic

REAL_VERSION = {"version": "1.11.0", "build_user": "root", "git_tag": "1.11.0", "build_date": "2020-11-16"}
EMULATED_VERSION = {**REAL_VERSION, "build_user": "stackbench-emulator"}
REAL_INFO = {"name": "marathon", "version": "1.10.26", "buildref": "0a1b2c3d"}
GROUPS = {"mesos_masters": ["m1", "m2"], "mesos_agents": ["a1"], "marathon": ["m1"]}
ADDRESSES = {"m1": "127.0.0.1", "m2": "127.0.0.1", "a1": "127.0.0.1"}


def test_an_answer_says_emulated_by_its_header_or_its_build_fields():
    assert logic.answer_says_emulated({"X-Stackbench-Emulator": "true"}, REAL_VERSION)
    assert logic.answer_says_emulated({}, EMULATED_VERSION)
    assert logic.answer_says_emulated({}, {**REAL_INFO, "buildref": "stackbench-emulator"})
    assert logic.answer_says_emulated({}, {"version": "1.11.0-emulator", "emulator": True})  # older emulators
    assert not logic.answer_says_emulated({"Content-Type": "application/json"}, REAL_VERSION)
    assert not logic.answer_says_emulated({}, REAL_INFO)
    assert not logic.answer_says_emulated({"X-Stackbench-Emulator": "false"}, None)


def test_a_daemon_that_cannot_prove_it_is_real_counts_as_emulated():
    real = ({}, REAL_VERSION)
    assert logic.daemon_emulated([real, real]) is False
    assert logic.daemon_emulated([real, ({"X-Stackbench-Emulator": "true"}, REAL_VERSION)]) is True
    assert logic.daemon_emulated([real, None]) is True  # one host did not answer
    assert logic.daemon_emulated([]) is True  # no host to ask


class _Server:
    """A local HTTP server answering every GET with `body`, and the emulator header when `header`."""

    def __init__(self, body: dict, header: bool) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if header:
                    self.send_header("X-Stackbench-Emulator", "true")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def servers() -> Iterator[dict[str, _Server]]:
    made = {"real": _Server(REAL_VERSION, header=False), "header": _Server(REAL_VERSION, header=True),
            "info": _Server(REAL_INFO, header=False)}
    yield made
    for server in made.values():
        server.httpd.shutdown()
        server.httpd.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_probe_asks_each_daemon_over_http(servers):
    spec = catalog.get("mesos")
    ports = {"mesos_master": servers["real"].port, "mesos_agent": servers["header"].port,
             "marathon_http": servers["info"].port}
    assert evaluate.probe_emulated(spec, GROUPS, ADDRESSES, ports) == {
        "mesos-master": False, "mesos-agent": True, "marathon": False}
    # a daemon that does not answer cannot prove it is real
    ports["marathon_http"] = closed_port()
    assert evaluate.probe_emulated(spec, GROUPS, ADDRESSES, ports)["marathon"] is True
    # no host in the group: nothing proves it real either
    assert evaluate.probe_emulated(spec, {**GROUPS, "mesos_agents": []}, ADDRESSES, ports)["mesos-agent"] is True


def stack_run(tmp_path: Path, stack: str = "mesos", is_lab: bool = False) -> evaluate.StackRun:
    run = evaluate.Run(io.StringIO(), "test", run_root=tmp_path)
    made = evaluate.StackRun(run, stack, tmp_path / "missing.yml", is_lab)
    made.groups, made.addresses = dict(GROUPS), dict(ADDRESSES)
    return made


def test_any_inventory_starts_emulated_until_the_daemons_answer(tmp_path):
    # an inventory that is not the lab's is no proof of real daemons (compare -i inventories/lab/mesos.yml)
    fresh = stack_run(tmp_path, is_lab=False)
    assert fresh.entry["emulated"] is True
    assert fresh.entry["emulated_components"] == ["mesos-master", "mesos-agent", "marathon"]
    assert stack_run(tmp_path, "kubernetes").entry["emulated"] is False


def test_detect_marks_the_stack_and_its_failover_systems_from_the_answers(tmp_path):
    real = stack_run(tmp_path)
    real.entry["steps"].append({"id": "standup", "emulated": True})
    answers = {"/version": ({}, REAL_VERSION), "/v2/info": ({}, REAL_INFO)}
    real.detect_emulated(fetch=lambda url: answers["/v2/info" if url.endswith("/v2/info") else "/version"])
    assert (real.entry["emulated"], real.entry["emulated_components"]) == (False, [])
    assert real.entry["steps"][0]["emulated"] is False
    assert not real.system_emulated("mesos_masters") and not real.system_emulated("marathon")

    emulated = stack_run(tmp_path)
    marked = {"X-Stackbench-Emulator": "true"}

    def fetch(url: str):
        return (marked, REAL_INFO) if url.endswith("/v2/info") else ({}, REAL_VERSION)

    emulated.detect_emulated(fetch=fetch)
    assert emulated.entry["emulated"] is True and emulated.entry["emulated_components"] == ["marathon"]
    assert emulated.system_emulated("marathon") and not emulated.system_emulated("mesos_masters")
