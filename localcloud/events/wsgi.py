"""Interim: watch moto server's WSGI requests for the bus until the edge calls the hook itself.

The edge (one endpoint for every service) will call `RequestObserver(service, request,
response)` after each request it hands to moto; until then this middleware wraps moto server's
application and does the same. Delete it once the edge lands.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

from localcloud.background import HttpRequest, HttpResponse

_SIGNING_NAME = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
Observer = Callable[[str, HttpRequest, HttpResponse], None]


class ObservingApp:
    """A WSGI app that serves through `app`, then shows the observer request and response."""

    def __init__(self, app: Callable[..., Iterable[bytes]], observer: Observer) -> None:
        self.app = app
        self.observer = observer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        headers = [
            (name[5:].replace("_", "-").title(), value)
            for name, value in environ.items()
            if name.startswith("HTTP_")
        ]
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers.append((name.replace("_", "-").title(), environ[name]))
        request = HttpRequest(
            method=environ["REQUEST_METHOD"],
            raw_path=environ.get("RAW_URI") or environ.get("PATH_INFO", "/"),
            query=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
            client_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        )
        captured: dict[str, Any] = {}

        def capture(status: str, response_headers: list[tuple[str, str]], *args: Any) -> Any:
            captured["status"], captured["headers"] = int(status.split()[0]), response_headers
            return start_response(status, response_headers, *args)

        result = self.app(environ, capture)
        try:
            response_body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        match = _SIGNING_NAME.search(request.header("authorization") or "")
        if match:
            response = HttpResponse(captured["status"], list(captured["headers"]), response_body)
            self.observer(match.group(1), request, response)
        return [response_body]
