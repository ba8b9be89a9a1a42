"""The emulators' pure pieces that third-party clients depend on (issue #16): Mesos' own flag and
version forms, RecordIO, Marathon's validation errors, service ports, deployments, groups, SSE."""

from __future__ import annotations

import json

import pytest
from mesos_emulator import marathon, master, resources, v1
from mesos_emulator.common import version_info
from mesos_emulator.flags import format_duration, load_mesos_flags, mesos_flag_values


def test_version_is_the_real_one_and_the_mark_is_in_the_build_fields():
    doc = version_info("1.11.0")
    assert tuple(int(x) for x in doc["version"].split(".")) == (1, 11, 0)  # what pymesos parses
    assert doc["build_user"] == "stackbench-emulator" and "emulator" not in doc


@pytest.mark.parametrize(("seconds", "text"), [(10.0, "10secs"), (600.0, "10mins"), (0.5, "500ms"),
                                               (1.5, "1.5secs"), (86400.0, "1days"), (0.0, "0ns")])
def test_durations_print_like_stout(seconds, text):
    assert format_duration(seconds) == text


def test_flags_are_written_in_mesos_form():
    flags = load_mesos_flags(master.FLAGS, ["--zk_session_timeout=4secs", "--no-hostname_lookup", "--port=5050"], {})
    shown = mesos_flag_values(master.FLAGS, flags)
    assert (shown["zk_session_timeout"], shown["hostname_lookup"], shown["port"]) == ("4secs", "false", "5050")
    assert shown["registry_fetch_timeout"] == "1mins" and "zk" not in shown  # unset flags are left out


def test_recordio_frames_a_record_by_its_byte_length():
    record = v1.recordio({"type": "HEARTBEAT", "text": "é"})
    length, _, data = record.partition(b"\n")
    assert int(length) == len(data) and json.loads(data)["text"] == "é"


def test_v1_resources_encode_scalars_and_ranges():
    encoded = v1.resources({"cpus": 2, "ports": "[31000-31000, 31005-31006]"})
    assert encoded[0] == {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}}
    assert encoded[1]["ranges"]["range"] == [{"begin": 31000, "end": 31000}, {"begin": 31005, "end": 31006}]


def test_v1_calls_refuse_bad_bodies_with_mesos_codes():
    assert v1.parse_call(b"{", "application/json")[1][0] == 400
    assert v1.parse_call(b"{}", "application/json")[1][0] == 400
    assert v1.parse_call(b"x", "application/x-protobuf")[1][0] == 415
    assert v1.parse_call(b'{"type": "GET_HEALTH"}', "application/json") == ({"type": "GET_HEALTH"}, None)


def test_task_port_ranges_must_lie_inside_the_agent_ones():
    assert resources.fits({"cpus": 1.0, "ports": "[31000-31000]"}, {"cpus": 2.0, "ports": "[31000-32000]"})
    assert not resources.fits({"ports": "[8080-8080]"}, {"ports": "[31000-32000]"})
    assert marathon.ports_range([31002, 31000]) == "[31000-31000, 31002-31002]"


def test_wrong_types_give_marathons_422_details():
    with pytest.raises(marathon.InvalidApp) as error:
        marathon.normalize_app({"id": "/x", "cpus": "2", "instances": 1.5, "env": []})
    assert error.value.details == [
        {"path": "/cpus", "errors": ["error.expected.jsnumber"]},
        {"path": "/instances", "errors": ["error.expected.jsnumber"]},
        {"path": "/env", "errors": ["error.expected.jsobject"]},
    ]
    with pytest.raises(marathon.InvalidApp):
        marathon.normalize_app(["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(marathon.InvalidApp):
        marathon.normalize_app({"id": "/x", "instances": True})  # a bool is not a number in JSON


def test_an_app_without_port_definitions_gets_the_default_one():
    assert marathon.normalize_app({"id": "/a", "cmd": "x"})["portDefinitions"] == [
        {"port": 0, "protocol": "tcp", "name": "default", "labels": {}}]
    assert marathon.normalize_app({"id": "/a", "cmd": "x", "portDefinitions": []})["portDefinitions"] == []


def test_service_ports_come_from_10000_up_and_stay_across_versions():
    app = marathon.normalize_app({"id": "/a", "portDefinitions": [{"port": 0}, {"port": 0}, {"port": 9000}]})
    first = marathon.assign_service_ports(app, None, {10000}, 10000, 20000)
    assert [d["port"] for d in first["portDefinitions"]] == [10001, 10002, 9000]
    again = marathon.assign_service_ports(app, first, {10000}, 10000, 20000)
    assert again["portDefinitions"] == first["portDefinitions"]


def test_deployments_carry_steps_and_groups_nest_by_app_id():
    doc = marathon.deployment_doc("d1", "v", "/a", ["StartApplication", "ScaleApplication"])
    assert (doc["currentStep"], doc["totalSteps"], doc["affectedApps"]) == (1, 2, ["/a"])
    assert doc["steps"][1] == {"actions": [{"action": "ScaleApplication", "app": "/a"}]}
    apps = [{"id": "/top"}, {"id": "/g/web"}, {"id": "/g/sub/db"}]
    root = marathon.group_view("/", apps, "v")
    assert [a["id"] for a in root["apps"]] == ["/top"]
    (g,) = root["groups"]
    assert (g["id"], [a["id"] for a in g["apps"]], [s["id"] for s in g["groups"]]) == ("/g", ["/g/web"], ["/g/sub"])


def test_sse_events_are_written_as_marathon_does():
    text = marathon.sse_event({"eventType": "status_update_event", "taskId": "t"}).decode()
    assert text.startswith("event: status_update_event\r\ndata: {") and text.endswith("}\r\n\r\n")


def test_tcp_health_checks_are_run_not_only_http():
    import socket

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert marathon.probe("TCP", "127.0.0.1", port, "/", 1.0) == (True, None)
        assert marathon.probe("MESOS_TCP", "127.0.0.1", port, "/", 1.0)[0] is True
    healthy, cause = marathon.probe("TCP", "127.0.0.1", port, "/", 1.0)  # closed now
    assert healthy is False and cause
    # COMMAND checks run as a command, not as a network probe (tests/emulators/test_marathon_constraints_and_checks.py)
    assert "COMMAND" not in marathon.CHECKED_PROTOCOLS and "COMMAND" in marathon.RUN_PROTOCOLS
