"""Just enough HTTP/1.1, both ways, for the InvokeEndpoint path to stay cheap.

http.server and http.client parse every header block with the email package (~25 µs each, and
an invocation crosses both); here messages are read and written by hand: Content-Length and
chunked bodies, keep-alive, `Expect: 100-continue`. Header names come out lower-case.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO

from localcloud.sagemaker.common import Settings

MAX_LINE = 65536
MAX_HEADERS = 100
IDLE_CONNECTION_SECONDS = 2.0  # below uvicorn's 5 s keep-alive, so pooled sockets are rarely stale
MAX_IDLE_CONNECTIONS = 32
REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    424: "Failed Dependency",
    500: "Internal Server Error",
}
BODILESS_STATUSES = {204, 304}

Headers = dict[str, str]


class ProtocolError(Exception):
    """A message that is not HTTP/1.1 as this module reads it."""


class Disconnected(ConnectionError):
    """The peer closed the connection before a message began."""


@dataclass
class Request:
    """One request as the server read it."""

    method: str
    target: str
    headers: Headers
    body: bytes
    keep_alive: bool


def read_request(rfile: BinaryIO, wfile: BinaryIO) -> Request | None:
    """The next request on a connection, or None once the client has closed it."""
    line = rfile.readline(MAX_LINE + 1)
    while line in (b"\r\n", b"\n"):  # stray line breaks between requests are allowed
        line = rfile.readline(MAX_LINE + 1)
    if not line:
        return None
    try:
        method, target, version = line.decode("latin-1").split()
    except ValueError:
        raise ProtocolError(f"malformed request line {line[:100]!r}") from None
    headers = _read_headers(rfile)
    if headers.get("expect", "").lower() == "100-continue":
        wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = _read_body(rfile, headers, until_close=False)
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return Request(method, target, headers, body, keep_alive)


def response_bytes(status: int, headers: Headers, body: bytes, *, keep_alive: bool) -> bytes:
    """A whole response, to be written with one call (one packet for small answers)."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    lines += ["", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def _read_headers(rfile: BinaryIO) -> Headers:
    headers: Headers = {}
    for _ in range(MAX_HEADERS):
        line = rfile.readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n", b""):
            return headers
        if len(line) > MAX_LINE:
            raise ProtocolError("header line too long")
        name, colon, value = line.partition(b":")
        if not colon:
            raise ProtocolError(f"malformed header line {line[:100]!r}")
        key = name.strip().lower().decode("latin-1")
        text = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    raise ProtocolError("too many header lines")


def _read_body(rfile: BinaryIO, headers: Headers, *, until_close: bool) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _read_chunked(rfile)
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise ProtocolError("invalid Content-Length") from None
        body = rfile.read(length) if length > 0 else b""
        if len(body) != max(length, 0):
            raise ProtocolError("the body ended before Content-Length bytes")
        return body
    return rfile.read() if until_close else b""


def _read_chunked(rfile: BinaryIO) -> bytes:
    parts = []
    while True:
        size_line = rfile.readline(MAX_LINE + 1)
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"malformed chunk size {size_line[:100]!r}") from None
        if size == 0:
            _read_headers(rfile)  # trailers, ignored
            return b"".join(parts)
        chunk = rfile.read(size)
        if len(chunk) != size:
            raise ProtocolError("a chunk ended early")
        parts.append(chunk)
        rfile.readline(MAX_LINE + 1)


class _Connection:
    """One kept-alive client socket and its buffered reader."""

    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")
        self.idle_since = 0.0

    def exchange(
        self, method: str, path: str, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes, bool]:
        """(status, headers, body, reusable) for one request."""
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += [f"Content-Length: {len(body)}", "", ""]
        self.sock.sendall("\r\n".join(lines).encode("latin-1") + body)
        while True:
            status_line = self.rfile.readline(MAX_LINE + 1)
            if not status_line:
                raise Disconnected("the container closed the connection without answering")
            parts = status_line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                raise ProtocolError(f"malformed status line {status_line[:100]!r}")
            status = int(parts[1])
            answer_headers = _read_headers(self.rfile)
            if status >= 200:
                break
        connection = answer_headers.get("connection", "").lower()
        framed = "content-length" in answer_headers or "chunked" in answer_headers.get(
            "transfer-encoding", ""
        )
        bodiless = method == "HEAD" or status in BODILESS_STATUSES
        answer = b"" if bodiless else _read_body(self.rfile, answer_headers, until_close=True)
        reusable = connection != "close" and parts[0] == b"HTTP/1.1" and (framed or bodiless)
        return status, answer_headers, answer, reusable

    def close(self) -> None:
        """Close the socket."""
        self.rfile.close()
        self.sock.close()


class ConnectionPool:
    """Kept-alive connections to one loopback port, reused most-recent first; thread-safe."""

    def __init__(self, port: int, settings: Settings) -> None:
        self._port = port
        self.timeout = settings.invoke_timeout
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def request(
        self, method: str, path: str, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        """Send one request; a reused socket the server had closed is retried once on a new one.

        Raises TimeoutError, or OSError/ProtocolError when the server could not be reached.
        """
        connection = self._idle_connection()
        if connection is not None:
            try:
                return self._exchange(connection, method, path, headers, body)
            except TimeoutError:
                raise
            except (OSError, ProtocolError):
                pass  # most likely closed while idle; the request did not reach the container
        return self._exchange(self._new_connection(), method, path, headers, body)

    def _exchange(
        self, connection: _Connection, method: str, path: str, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        try:
            status, answer_headers, answer, reusable = connection.exchange(
                method, path, headers, body
            )
        except BaseException:
            connection.close()
            raise
        if reusable:
            self._release(connection)
        else:
            connection.close()
        return status, answer_headers, answer

    def _new_connection(self) -> _Connection:
        return _Connection(self._port, self.timeout)

    def _idle_connection(self) -> _Connection | None:
        now = time.monotonic()
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if now - connection.idle_since < IDLE_CONNECTION_SECONDS:
                    return connection
                connection.close()
        return None

    def _release(self, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection and keep none from now on."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
