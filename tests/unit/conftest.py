"""Shared helpers of the unit tests.

The plugins are imported the way Ansible imports them, as the collection stackbench.cluster
(`ansible_collections.stackbench.cluster.plugins...`): scripts/setup.sh links the checkout under
collections/ and puts that directory on the venv's path, so no test loads a file by its path.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


@contextlib.contextmanager
def serve_http(routes: dict[str, tuple[int, Any]]) -> Iterator[str]:
    """A local HTTP server answering GET `path` with (status, JSON body or text); yields `127.0.0.1:port`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
            status, body = routes.get(self.path, (404, {"message": "not found"}))
            raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def failover_args(**given: Any) -> dict[str, Any]:
    """ha_failover task arguments as the action hands them on: validated against its one spec, defaults filled."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.stackbench.cluster.plugins.action.ha_failover import ARGUMENT_SPEC

    result = ArgumentSpecValidator(ARGUMENT_SPEC).validate({"system": "zookeeper", **given})
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


@pytest.fixture
def groups_checked(monkeypatch):
    """stackbench.inventory replaced by a stub that records what it was asked."""
    calls = []
    stub = types.ModuleType("stackbench.inventory")
    stub.read_inventory = lambda source: calls.append(("read", Path(source))) or {"source": Path(source)}
    stub.require_groups = lambda inv, spec: calls.append(("require", spec.name))
    monkeypatch.setitem(sys.modules, "stackbench.inventory", stub)
    return calls
