"""One JSON-over-HTTP call for the status modules and the failover clients (standard library only)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A standby's redirect names the leader by a host name the caller may not resolve: report it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_json(url: str, timeout: float, method: str = "GET", body: Any = None,
              context: ssl.SSLContext | None = None, content_type: str = "application/json") -> tuple[int, Any]:
    """(status, decoded JSON or text) without following redirects; (0, error) when nothing answered."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type,
                                                                               "Accept": "application/json"})
    handlers: list[Any] = [_NoRedirect]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (OSError, ValueError) as exc:
        return 0, str(exc)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")
