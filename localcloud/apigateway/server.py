"""The local API gateway: REST API stages on loopback, Lambda proxy integrations, API keys."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote

from localcloud.apigateway.proxy import (
    IncomingRequest,
    MalformedProxyResponse,
    build_event,
    proxy_response,
)
from localcloud.apigateway.routing import Route, RouteTable
from localcloud.background import HttpRequest, HttpResponse, HttpServer
from localcloud.constants import GATEWAY_PORT
from localcloud.lambda_runtime import CallerTimeout, LambdaRuntime, ResourceNotFoundException

logger = logging.getLogger("localcloud.apigateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway's default (and REST maximum) integration timeout
MAX_CONCURRENT_REQUESTS = 32  # requests integrated at once; more wait for a free thread


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
        port: int = GATEWAY_PORT,
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
        self._server = HttpServer(
            self.serve,
            host=host,
            port=port,
            what="the local API gateway (is another local cloud or `sam local start-api` running?)",
            max_body=MAX_BODY_BYTES,
            too_large=REQUEST_TOO_LARGE,
            threads=MAX_CONCURRENT_REQUESTS,
        )

    @property
    def url(self) -> str:
        """Base URL; stages are its first path segment (`{url}/prod/predict`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a background thread; a taken port raises PortInUse naming it."""
        self._server.start()
        self.port = self._server.port

    def stop(self) -> None:
        """Stop serving, close open connections and free the port; safe to call twice."""
        self._server.stop()

    def serve(self, http: HttpRequest) -> HttpResponse:
        """One HTTP request in, API Gateway's answer out, with its request id and date."""
        request_id = str(uuid.uuid4())
        target = _stage_and_path(http.raw_path)
        if target is None:
            response = MISSING_AUTHENTICATION_TOKEN
        else:
            stage, path = target
            request = IncomingRequest(
                method=http.method,
                stage=stage,
                path=path,
                query=http.query,
                headers=http.headers,
                body=http.body,
                source_ip=http.client_ip,
                host=http.header("host") or f"{self.host}:{self.port}",
                port=self.port,
            )
            response = self.handle(request, request_id)
        return HttpResponse(
            response.status,
            [
                ("Date", formatdate(usegmt=True)),
                *response.headers,
                ("x-amzn-RequestId", request_id),
            ],
            response.body,
        )

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


def _stage_and_path(raw_path: str) -> tuple[str, str] | None:
    """("prod", "/predict") from "/prod/predict"; None where a segment holds an encoded "/".

    API Gateway matches resources segment by segment on the path as sent: "/prod%2Fpredict" is
    one segment, which no resource matches.
    """
    segments = [unquote(segment) for segment in raw_path.split("/")[1:]]
    if not segments or any("/" in segment for segment in segments):
        return None
    stage, rest = segments[0], segments[1:]
    return stage, ("/" + "/".join(rest)) if stage else ""
