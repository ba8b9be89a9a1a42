"""A tiny threaded HTTP server with routes, and a JSON client (stdlib only)."""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("emulator")

# Every answer says it comes from an emulator, in a header no client parses into a model.
EMULATOR_HEADER = ("X-Stackbench-Emulator", "true")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body.decode("utf-8") or "null")

    def flag(self, name: str) -> bool:
        """A boolean query parameter (`?force=true`)."""
        return (self.query.get(name) or ["false"])[-1].lower() in ("true", "1", "")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A long-lived body (SSE, RecordIO): sent chunked, piece by piece, until the iterator ends
    # or the client goes away.
    stream: Iterator[bytes] | None = None

    @classmethod
    def json(cls, value: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, value: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, value.encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})


Handler = Callable[[Request], Response]


def serve(bind: str, port: int, handler: Handler) -> ThreadingHTTPServer:
    """Start serving `handler` for every request on a daemon thread; return the server."""
    import threading

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _do(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            try:
                response = handler(request)
            except Exception as exc:  # noqa: BLE001  (report it like a server would)
                log.exception("handler failed")
                response = Response.text(f"Internal error: {exc}", 500)
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header(*EMULATOR_HEADER)
            if response.stream is not None:
                self._stream(response.stream)
                return
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def _stream(self, pieces: Iterator[bytes]) -> None:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for piece in pieces:
                    if piece:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                pass  # the client went away
            finally:
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _do

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("%s " + fmt, self.address_string(), *args)

    class _Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    try:
        server = _Server((bind, port), _Handler)
    except OSError as exc:
        log.error("Failed to bind %s:%d: %s", bind, port, exc)
        raise
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:  # noqa: ARG002
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def call(
    method: str,
    url: str,
    body: object = None,
    timeout: float = 5.0,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    """One HTTP request without following redirects: (status, body, headers)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and "Content-Type" not in request.headers:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers.items())


def setup_logging(name: str, level: str = "INFO") -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {name}[%(process)d] %(levelname)s %(message)s",
    )
    logging.getLogger("kazoo").setLevel(logging.WARNING)
