"""Loopback servers the local cloud runs in background threads: bind, serve, stop cleanly."""

from __future__ import annotations

import contextlib
import errno
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any, TypeVar

ServerT = TypeVar("ServerT", bound=socketserver.BaseServer)


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on right now, picked by the kernel."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class PortInUse(OSError):
    """Something already listens on the port a service wants."""


def bind(create: Callable[[], ServerT], host: str, port: int, what: str) -> ServerT:
    """Create (bind) a server; a taken port becomes a PortInUse naming the port and the service."""
    try:
        return create()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(
                errno.EADDRINUSE,
                f"port {port} on {host} is already in use: {what} cannot start",
            ) from None
        raise


class TracksConnections(socketserver.ThreadingMixIn):
    """Remember open client connections, so stopping can hang up kept-alive ones."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection for as long as its handler thread serves it."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection once it is done."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)  # type: ignore[misc]

    def close_connections(self) -> None:
        """End kept-alive connections, whose threads would otherwise go on serving."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class ServerThread:
    """Serve one socketserver server from a daemon thread until `stop`."""

    def __init__(self, server: socketserver.BaseServer, name: str) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        """The port actually bound (useful after asking for port 0)."""
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop serving, hang up open connections, free the port; safe to call twice."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self.server.shutdown()
        self.server.server_close()
        if isinstance(self.server, TracksConnections):
            self.server.close_connections()
        self._thread.join()
