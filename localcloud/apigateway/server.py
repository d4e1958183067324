"""The local API gateway: REST API stages on loopback, Lambda proxy integrations, API keys,
usage plans (throttle and quota) and the resource policy."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import unquote

from localcloud.apigateway.definition import ApiDefinition, UsagePlan
from localcloud.apigateway.policy import Decision
from localcloud.apigateway.proxy import (
    IncomingRequest,
    MalformedProxyResponse,
    build_event,
    proxy_response,
)
from localcloud.apigateway.routing import RouteTable
from localcloud.apigateway.usage import UsageMeter, Verdict
from localcloud.background import HttpRequest, HttpResponse, HttpServer
from localcloud.constants import GATEWAY_PORT
from localcloud.lambda_runtime import CallerTimeout, LambdaRuntime, ResourceNotFoundException

logger = logging.getLogger("localcloud.apigateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway's default (and REST maximum) integration timeout
MAX_CONCURRENT_REQUESTS = 32  # requests integrated at once; more wait for a free thread
REFRESH_SECONDS = 1.0  # how soon a key, plan, stage or policy change takes effect


def gateway_error(
    status: HTTPStatus, message: str, error_type: str | None, key: str = "message"
) -> HttpResponse:
    """A response API Gateway makes itself (a "gateway response"), JSON with a message."""
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return HttpResponse(status, headers, json.dumps({key: message}).encode())


MISSING_AUTHENTICATION_TOKEN = gateway_error(
    HTTPStatus.FORBIDDEN, "Missing Authentication Token", "MissingAuthenticationTokenException"
)
FORBIDDEN = gateway_error(HTTPStatus.FORBIDDEN, "Forbidden", "ForbiddenException")
THROTTLED = gateway_error(
    HTTPStatus.TOO_MANY_REQUESTS, "Too Many Requests", "TooManyRequestsException"
)
QUOTA_EXCEEDED = gateway_error(
    HTTPStatus.TOO_MANY_REQUESTS, "Limit Exceeded", "LimitExceededException"
)
REQUEST_TOO_LARGE = gateway_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Request Too Long", None)
INTERNAL_SERVER_ERROR = gateway_error(
    HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error", "InternalServerErrorException"
)
BAD_GATEWAY = gateway_error(
    HTTPStatus.BAD_GATEWAY, "Internal server error", "InternalServerErrorException"
)
TIMED_OUT = gateway_error(HTTPStatus.GATEWAY_TIMEOUT, "Endpoint request timed out", None)
REFUSED_BY_METER = {Verdict.THROTTLED: THROTTLED, Verdict.QUOTA_EXCEEDED: QUOTA_EXCEEDED}


def access_denied(method_arn: str, decision: Decision) -> HttpResponse:
    """The resource policy's refusal, worded (capital-M `Message`) as API Gateway words it."""
    message = (
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
        + method_arn
    )
    if decision is Decision.EXPLICIT_DENY:
        message += " with an explicit deny"
    return gateway_error(HTTPStatus.FORBIDDEN, message, "AccessDeniedException", key="Message")


class _Serving:
    """One `ApiDefinition`, indexed for answering requests."""

    def __init__(self, definition: ApiDefinition) -> None:
        self.definition = definition
        self.routes = RouteTable(definition.routes)
        self.keys = {key.value: key for key in definition.api_keys}
        self.plans: dict[tuple[str, str], UsagePlan] = {}
        for plan in definition.usage_plans:
            for key_id in plan.key_ids:
                for stage in plan.stages:
                    self.plans.setdefault((key_id, stage), plan)


class LocalApiGateway:
    """API Gateway REST stages in front of Lambda proxy integrations, on one loopback port.

    Usage::

        definition = ApiDefinition(
            routes=(Route("prod", "POST", "/predict", "abalone-predict-proxy",
                          {"endpointName": "abalone-prod"}, api_key_required=True),),
            api_keys=(ApiKey("k3y1d", "local-key-value"),),
            usage_plans=(UsagePlan("p1an", frozenset({"prod"}), frozenset({"k3y1d"}),
                                   Throttle(25, 50), Quota(10000, "DAY")),),
        )
        gateway = LocalApiGateway(runtime, definition)   # or a function returning one
        gateway.start()          # PortInUse if the port is taken
        # POST {gateway.url}/prod/predict  with  x-api-key: local-key-value
        gateway.stop()

    Given a function, the gateway calls it again every `refresh_seconds` (and on `refresh`),
    so keys, plans, stages and the policy changed through the API take effect, as on AWS.
    Unknown paths and methods answer 403 Missing Authentication Token, a request the resource
    policy refuses 403 with its ARN, a missing, wrong or plan-less key 403 Forbidden, a throttled
    one 429 Too Many Requests, one past its quota 429 Limit Exceeded, a function error or
    malformed result 502, the integration timeout 504.
    """

    def __init__(
        self,
        runtime: LambdaRuntime,
        api: ApiDefinition | Callable[[], ApiDefinition],
        host: str = "127.0.0.1",
        port: int = GATEWAY_PORT,
        *,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.runtime = runtime
        self._source = api if callable(api) else None
        self._serving = _Serving(api() if callable(api) else api)
        self.meter = UsageMeter()
        self.refresh_seconds = refresh_seconds
        self._stopped = threading.Event()
        self._refresher: threading.Thread | None = None
        self.host = host
        self.port = port
        self.integration_timeout = integration_timeout
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
    def definition(self) -> ApiDefinition:
        """The definition requests are answered from now."""
        return self._serving.definition

    def refresh(self) -> None:
        """Read the definition again now; a failed read keeps the last one (and says why)."""
        if self._source is None:
            return
        try:
            self._serving = _Serving(self._source())
        except Exception as error:
            logger.warning("could not re-read the REST API, serving the last one read: %s", error)

    def _refresh_until_stopped(self) -> None:
        while not self._stopped.wait(self.refresh_seconds):
            self.refresh()

    @property
    def url(self) -> str:
        """Base URL; stages are its first path segment (`{url}/prod/predict`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a background thread; a taken port raises PortInUse naming it."""
        self._server.start()
        self.port = self._server.port
        if self._source is not None:
            self._stopped.clear()
            self._refresher = threading.Thread(
                target=self._refresh_until_stopped, name="gateway-refresh", daemon=True
            )
            self._refresher.start()

    def stop(self) -> None:
        """Stop serving, close open connections and free the port; safe to call twice."""
        self._stopped.set()
        if self._refresher is not None:
            self._refresher.join()
            self._refresher = None
        self._server.stop()

    def serve(self, http: HttpRequest) -> HttpResponse:
        """One HTTP request in, API Gateway's answer out, with its request id."""
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
            # uvicorn adds the Date header (one, as API Gateway sends).
            [*response.headers, ("x-amzn-RequestId", request_id)],
            response.body,
        )

    def handle(self, request: IncomingRequest, request_id: str) -> HttpResponse:
        """What API Gateway answers to one request: route, policy, key, limits, integration."""
        serving = self._serving
        definition = serving.definition
        found = serving.routes.match(request.stage, request.method, request.path)
        if found is None:
            return MISSING_AUTHENTICATION_TOKEN
        route, path_parameters = found
        if definition.problem is not None:
            logger.error("Execution failed due to configuration error: %s", definition.problem)
            return INTERNAL_SERVER_ERROR
        if definition.policy is not None:
            method_arn = f"{definition.arn}/{request.stage}/{request.method}{request.path}"
            decision = definition.policy.decide(method_arn, request.source_ip)
            if decision is not Decision.ALLOWED:
                return access_denied(method_arn, decision)
        api_key = next((v for k, v in request.headers if k.lower() == "x-api-key"), None)
        key = serving.keys.get(api_key) if route.api_key_required and api_key else None
        if route.api_key_required:
            plan = serving.plans.get((key.id, request.stage)) if key and key.enabled else None
            if key is None or plan is None:
                return FORBIDDEN
            verdict = self.meter.admit(("plan", plan.id, key.id), plan.throttle, plan.quota)
            if verdict is not Verdict.ALLOWED:
                return REFUSED_BY_METER[verdict]
        if route.throttle is not None:
            verdict = self.meter.admit(
                ("method", route.stage, route.method, route.path), route.throttle, None
            )
            if verdict is not Verdict.ALLOWED:
                return THROTTLED
        event = build_event(
            request,
            route,
            path_parameters,
            request_id=request_id,
            api_key=key.value if key else None,
            api_key_id=key.id if key else None,
            api_id=definition.api_id,
            account_id=definition.account_id,
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
