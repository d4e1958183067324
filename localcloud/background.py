"""Loopback HTTP servers the local cloud runs in background threads: bind, serve, stop cleanly.

Every local service is a plain function from an `HttpRequest` to an `HttpResponse`, served by
uvicorn (httptools parses the HTTP/1.1 framing: a bad Content-Length or chunk size is a 400 at
once, never a hung or dropped connection) on an event loop of its own thread. The function runs
on a bounded thread pool, so a slow request holds a pool thread, not the loop, and a body over
the service's limit is refused before it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LOG = logging.getLogger("localcloud.http")
START_TIMEOUT_SECONDS = 10.0
STOP_GRACE_SECONDS = 2.0  # how long open requests may finish when a server stops
KEEP_ALIVE_SECONDS = 60  # idle kept-alive connections close after this (botocore reuses them)


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on right now, picked by the kernel."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class PortInUse(OSError):
    """Something already listens on the port a service wants."""


class _CasePreservingProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, also keeping each header name as the client spelled it.

    ASGI lower-cases header names; API Gateway (REST) hands them to the function as sent.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # botocore sends headers and body in two writes: without TCP_NODELAY (asyncio's loop does
        # not set it on sockets it is handed) the answer waits ~40 ms for a delayed ACK.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.scope.setdefault("extensions", {}).setdefault("header_names", []).append(name)


@dataclass(frozen=True)
class HttpRequest:
    """One request as a service sees it: the target as on the wire, headers as sent."""

    method: str
    raw_path: str  # percent-encoded, as sent: "/prod%2Fpredict" stays so
    query: str
    headers: list[tuple[str, str]]  # names as the client spelled them; look up with header()
    body: bytes
    client_ip: str = "127.0.0.1"
    server_port: int = 0

    @cached_property
    def _by_name(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for name, value in self.headers:
            values.setdefault(name.lower(), []).append(value)
        return values

    def header_values(self, name: str) -> list[str]:
        """Every value of a header, in order (name in any case)."""
        return self._by_name.get(name.lower(), [])

    def header(self, name: str) -> str | None:
        """A header's value (repeated ones joined by ','), or None."""
        values = self.header_values(name)
        return ",".join(values) if values else None


@dataclass(frozen=True)
class HttpResponse:
    """A response to write back: status, headers in order, body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


Handler = Callable[[HttpRequest], HttpResponse]


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "text/plain; charset=utf-8")], text.encode())


class _App:
    """The ASGI application: read the body up to the limit, run the handler on the pool."""

    def __init__(
        self, handler: Handler, max_body: int, too_large: HttpResponse, threads: int, name: str
    ) -> None:
        self.handler = handler
        self.max_body = max_body
        self.too_large = too_large
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self.port = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        names = scope.get("extensions", {}).get("header_names") or [k for k, _ in scope["headers"]]
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, (_, value) in zip(names, scope["headers"], strict=True)
        ]
        declared = next((v for k, v in headers if k.lower() == "content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._send(send, self.too_large, close=True)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await self._send(send, self.too_large, close=True)
                return
            if not message.get("more_body"):
                break
        request = HttpRequest(
            method=scope["method"],
            raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=bytes(body),
            client_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            server_port=self.port,
        )
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self.executor, self._handle, request)
        await self._send(send, response, close=False)

    def _handle(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.handler(request)
        except Exception:  # a bug here must still answer, not hang up
            LOG.exception("%s %s failed", request.method, request.raw_path)
            return _plain(500, "Internal server error")

    @staticmethod
    async def _send(send: Any, response: HttpResponse, *, close: bool) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if not any(name.lower() == b"content-length" for name, _ in headers):
            # A handler sets it only for HEAD, where it is the size of what GET would send.
            headers.append((b"content-length", str(len(response.body)).encode()))
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})


class HttpServer:
    """A handler served on host:port from a background thread until `stop`.

    Usage::

        server = HttpServer(handler, host="127.0.0.1", port=0, what="the control API")
        server.start()      # PortInUse naming the port and the service if it is taken
        server.url          # http://127.0.0.1:<port>
        server.stop()
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        what: str,
        max_body: int = 1024 * 1024,
        too_large: HttpResponse | None = None,
        threads: int = 16,
        max_connections: int = 256,
    ) -> None:
        self.host = host
        self.port = port
        self.what = what
        name = what.removeprefix("the ").replace(" ", "-")
        self._app = _App(
            handler, max_body, too_large or _plain(413, "Request Entity Too Large"), threads, name
        )
        self._max_connections = max_connections
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(
                    errno.EADDRINUSE,
                    f"port {self.port} on {self.host} is already in use: {self.what} cannot start",
                ) from None
            raise
        return sock

    def start(self) -> None:
        """Bind and serve; returns once the server accepts connections."""
        sock = self._bind()
        self.port = self._app.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            http=_CasePreservingProtocol,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=int(STOP_GRACE_SECONDS),
            limit_concurrency=self._max_connections,
            backlog=128,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"http-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"{self.what} did not start on port {self.port}")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop accepting, let open requests finish briefly, free the port; safe to call twice."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_GRACE_SECONDS + 5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        with contextlib.suppress(RuntimeError):
            self._app.executor.shutdown(wait=False, cancel_futures=True)
