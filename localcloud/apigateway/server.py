"""The local API gateway: REST API stages on loopback, Lambda proxy integrations, API keys."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from localcloud.apigateway.proxy import (
    HttpResponse,
    IncomingRequest,
    MalformedProxyResponse,
    build_event,
    proxy_response,
)
from localcloud.apigateway.routing import Route, RouteTable
from localcloud.background import ServerThread, TracksConnections, bind
from localcloud.lambda_runtime import CallerTimeout, LambdaRuntime, ResourceNotFoundException

logger = logging.getLogger("localcloud.apigateway")

DEFAULT_PORT = 3000  # the port `sam local start-api` uses
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway's default (and REST maximum) integration timeout
IDLE_CONNECTION_SECONDS = 60.0


def gateway_error(status: HTTPStatus, message: str, error_type: str | None) -> HttpResponse:
    """A response API Gateway makes itself (a "gateway response"), JSON with a message."""
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return HttpResponse(status, headers, json.dumps({"message": message}).encode())


MISSING_AUTHENTICATION_TOKEN = gateway_error(
    HTTPStatus.FORBIDDEN, "Missing Authentication Token", "MissingAuthenticationTokenException"
)
FORBIDDEN = gateway_error(HTTPStatus.FORBIDDEN, "Forbidden", "ForbiddenException")
REQUEST_TOO_LARGE = gateway_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Request Too Long", None)
INTERNAL_SERVER_ERROR = gateway_error(
    HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error", "InternalServerErrorException"
)
BAD_GATEWAY = gateway_error(
    HTTPStatus.BAD_GATEWAY, "Internal server error", "InternalServerErrorException"
)
TIMED_OUT = gateway_error(HTTPStatus.GATEWAY_TIMEOUT, "Endpoint request timed out", None)


class LocalApiGateway:
    """API Gateway REST stages in front of Lambda proxy integrations, on one loopback port.

    Usage::

        gateway = LocalApiGateway(
            runtime,
            routes=[Route("prod", "POST", "/predict", "abalone-PredictProxy",
                          {"endpointName": "abalone-prod"}, api_key_required=True)],
            api_keys={"local-key-value": "apikeyid"},   # or just an iterable of key values
        )
        gateway.start()          # PortInUse if the port is taken
        # POST {gateway.url}/prod/predict  with  x-api-key: local-key-value
        gateway.stop()

    Unknown paths and methods answer 403 Missing Authentication Token, a missing or wrong key
    403 Forbidden, a function error or malformed result 502, the integration timeout 504.
    """

    def __init__(
        self,
        runtime: LambdaRuntime,
        routes: Iterable[Route],
        api_keys: Mapping[str, str] | Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        api_id: str = "local",
        account_id: str = "123456789012",
    ) -> None:
        self.runtime = runtime
        self.routes = RouteTable(routes)
        # Key value -> key id; a plain collection of values has no ids to report.
        self.api_keys: dict[str, str | None] = (
            dict(api_keys) if isinstance(api_keys, Mapping) else dict.fromkeys(api_keys)
        )
        self.host = host
        self.port = port
        self.integration_timeout = integration_timeout
        self.api_id = api_id
        self.account_id = account_id
        self._serving: ServerThread | None = None

    @property
    def url(self) -> str:
        """Base URL; stages are its first path segment (`{url}/prod/predict`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a background thread; a taken port raises PortInUse naming it."""
        server = bind(
            lambda: _Server((self.host, self.port), self),
            self.host,
            self.port,
            "the local API gateway (is another local cloud or `sam local start-api` running?)",
        )
        self._serving = ServerThread(server, name=f"apigateway-{server.server_address[1]}")
        self.port = self._serving.port

    def stop(self) -> None:
        """Stop serving, close open connections and free the port; safe to call twice."""
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stop()

    def handle(self, request: IncomingRequest, request_id: str) -> HttpResponse:
        """What API Gateway answers to one request: route, key check, integration."""
        found = self.routes.match(request.stage, request.method, request.path)
        if found is None:
            return MISSING_AUTHENTICATION_TOKEN
        route, path_parameters = found
        api_key = next((v for k, v in request.headers if k.lower() == "x-api-key"), None)
        if route.api_key_required and api_key not in self.api_keys:
            return FORBIDDEN
        event = build_event(
            request,
            route,
            path_parameters,
            request_id=request_id,
            api_key=api_key if route.api_key_required else None,
            api_key_id=self.api_keys.get(api_key) if route.api_key_required and api_key else None,
            api_id=self.api_id,
            account_id=self.account_id,
        )
        where = f"{request.method} /{request.stage}{request.path} -> {route.function}"
        try:
            result = self.runtime.invoke(route.function, event, self.integration_timeout)
        except CallerTimeout:
            logger.warning("%s: Execution failed due to a timeout error", where)
            return TIMED_OUT
        except ResourceNotFoundException as missing:
            logger.error("%s: Execution failed due to configuration error: %s", where, missing)
            return INTERNAL_SERVER_ERROR
        if result.error is not None:
            logger.warning("%s: Lambda execution failed: %s", where, result.error)
            return BAD_GATEWAY
        try:
            return proxy_response(result.payload)
        except MalformedProxyResponse as malformed:
            logger.warning(
                "%s: Execution failed due to configuration error: "
                "Malformed Lambda proxy response (%s)",
                where,
                malformed,
            )
            return BAD_GATEWAY


class _Server(TracksConnections, ThreadingHTTPServer):
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], gateway: LocalApiGateway) -> None:
        self.gateway = gateway
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _BodyTooLarge(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True
    timeout = IDLE_CONNECTION_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the functions' own logs say what happened."""

    def _serve(self) -> None:
        request_id = str(uuid.uuid4())
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True  # the rest of the body is still on the wire
            self._send(REQUEST_TOO_LARGE, request_id)
            return
        target = urlsplit(self.path)
        stage, _, rest = unquote(target.path).partition("/")[2].partition("/")
        gateway = self.server.gateway
        request = IncomingRequest(
            method=self.command,
            stage=stage,
            path=f"/{rest}" if stage else "",
            query=target.query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host") or f"{gateway.host}:{gateway.port}",
            port=gateway.port,
        )
        try:
            response = gateway.handle(request, request_id)
        except Exception:
            logger.exception("%s %s: the local API gateway failed", self.command, self.path)
            response = INTERNAL_SERVER_ERROR
        self._send(response, request_id)

    # BaseHTTPRequestHandler dispatches on these names; every method goes through the routes.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise _BodyTooLarge
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            continue  # trailers
        return b"".join(chunks)

    def _send(self, response: HttpResponse, request_id: str) -> None:
        """Write status line, headers and body in one send."""
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:  # a status code the function chose that has no registered name
            phrase = ""
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in response.headers),
            f"Content-Length: {len(response.body)}",
            f"x-amzn-RequestId: {request_id}",
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.wfile.write(head if self.command == "HEAD" else head + response.body)
