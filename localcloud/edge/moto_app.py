"""moto's services in this process, reached only through the edge (moto listens on no port).

The edge hands moto each request it does not serve itself, as a WSGI call into moto's own
dispatcher, which picks the service from the request's signature the way moto server does.
"""

from __future__ import annotations

import io
import sys
from typing import Any
from urllib.parse import unquote_to_bytes

from moto.backends import list_of_moto_modules
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import run_wsgi_app

from localcloud.background import HttpRequest, HttpResponse

# Headers the edge's own server writes; moto's copies would be duplicates.
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "server", "date"})


def _environ(request: HttpRequest) -> dict[str, Any]:
    host = request.header("host") or f"127.0.0.1:{request.server_port}"
    name, _, port = host.partition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        # WSGI's PATH_INFO is percent-decoded; moto reads the encoded one from RAW_URI.
        "PATH_INFO": unquote_to_bytes(request.raw_path).decode("latin-1"),
        "RAW_URI": request.raw_path + (f"?{request.query}" if request.query else ""),
        "QUERY_STRING": request.query,
        "SERVER_NAME": name,
        "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": request.client_ip,
        "CONTENT_LENGTH": str(len(request.body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for header, value in request.headers:
        key = header.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = (
                f"{environ[f'HTTP_{key}']},{value}" if f"HTTP_{key}" in environ else value
            )
    return environ


class InProcessMoto:
    """moto's dispatcher as a handler: `serves(request)` first, then `handle(request)`."""

    def __init__(self) -> None:
        self._dispatcher = DomainDispatcherApplication(create_backend_app)

    def serves(self, request: HttpRequest) -> bool:
        """Whether moto has a backend for the service the request is signed for.

        moto sends what it cannot place to S3; the edge refuses such requests instead.
        """
        environ = _environ(request)
        host = self._dispatcher.infer_service_region_host(environ, environ["PATH_INFO"])
        if host is None:
            return False
        # As moto's get_backend_for_host, without its print for hosts it does not know.
        return host in list_of_moto_modules() or any(
            pattern.match(f"http://{host}") for _, pattern in self._dispatcher.backend_url_patterns
        )

    def handle(self, request: HttpRequest) -> HttpResponse:
        """moto's whole answer to one request."""
        app_iter, status, headers = run_wsgi_app(self._dispatcher, _environ(request), buffered=True)
        try:
            body = b"".join(app_iter)
        finally:
            getattr(app_iter, "close", lambda: None)()
        kept = [
            (name, value) for name, value in headers.items() if name.lower() not in _HOP_HEADERS
        ]
        if request.method == "HEAD" and "Content-Length" in headers:
            kept.append(("Content-Length", headers["Content-Length"]))  # the object's size
        return HttpResponse(int(status.split(" ", 1)[0]), kept, body)

    def reset(self) -> None:
        """Forget every resource (moto keeps its state per process, across clouds)."""
        request = HttpRequest("POST", "/moto-api/reset", "", [("Host", "localhost")], b"")
        response = self.handle(request)
        if response.status != 200:
            raise RuntimeError(f"moto did not reset: {response.status} {response.body[:200]!r}")
