"""Mesos v1 HTTP API pieces shared by the master and the agent: the JSON forms of v1 protobufs
(`include/mesos/v1/mesos.proto`) and RecordIO framing (`docs/scheduler-http-api.md`)."""

from __future__ import annotations

import json
import re

from . import web
from .common import BUILD_DATE, BUILD_TIME, BUILD_USER


def recordio(message: dict) -> bytes:
    """One RecordIO record: the length of the JSON in bytes, a newline, the JSON (no newline after)."""
    data = json.dumps(message).encode()
    return b"%d\n%s" % (len(data), data)


def time_info(seconds: float) -> dict[str, int]:
    return {"nanoseconds": int(seconds * 1e9)}


def resources(values: dict[str, object]) -> list[dict]:
    """v1 `Resource` list: scalars as SCALAR, `[a-b, ...]` strings as RANGES."""
    out: list[dict] = []
    for name, value in values.items():
        if isinstance(value, int | float):
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
        elif isinstance(value, str) and re.search(r"\d+-\d+", value):
            ranges = [{"begin": int(a), "end": int(b)} for a, b in re.findall(r"(\d+)-(\d+)", value)]
            out.append({"name": name, "type": "RANGES", "ranges": {"range": ranges}})
    return out


def version_info(version: str) -> dict[str, object]:
    """v1 `VersionInfo` (GET_VERSION): the mark is the build user, never the version."""
    return {"version": version, "build_date": BUILD_DATE, "build_time": BUILD_TIME, "build_user": BUILD_USER}


def flags(values: dict[str, str]) -> list[dict[str, str]]:
    """v1 `Flag` list (GET_FLAGS)."""
    return [{"name": name, "value": value} for name, value in sorted(values.items())]


def read_call(req: web.Request) -> tuple[dict | None, web.Response | None]:
    """The v1 call a request carries (POST, JSON): (call, None), or (None, the answer Mesos gives otherwise)."""
    if req.method != "POST":
        return None, web.Response.text("Expecting a 'POST' request", 405)
    call, error = parse_call(req.body, req.headers.get("content-type", "application/json"))
    if error:
        return None, web.Response.text(error[1], error[0])
    return call, None


def parse_call(body: bytes, content_type: str) -> tuple[dict | None, tuple[int, str] | None]:
    """A v1 call from a request body: (call, None), or (None, (status, message)) as Mesos answers bad ones."""
    if "application/x-protobuf" in content_type:
        return None, (415, "The emulator accepts only 'Content-Type: application/json'")
    try:
        call = json.loads(body.decode("utf-8") or "null")
    except (ValueError, UnicodeDecodeError) as exc:
        return None, (400, f"Failed to parse body into JSON: {exc}")
    if not isinstance(call, dict) or not isinstance(call.get("type"), str):
        return None, (400, "Failed to validate call: Expecting 'type' to be present")
    return call, None
