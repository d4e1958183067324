"""The Lambda proxy integration (payload format 1.0): HTTP request → event, result → response."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from localcloud.apigateway.routing import Route
from localcloud.background import HttpResponse

RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# Integration response headers API Gateway (REST) renames instead of passing on.
REMAPPED_HEADERS = frozenset(
    {"connection", "content-length", "date", "server", "transfer-encoding"}
)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class IncomingRequest:
    """What the HTTP server read, before API Gateway makes an event of it."""

    method: str
    stage: str
    path: str  # after the stage, percent-decoded: "/predict"
    query: str  # raw query string
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    host: str  # the Host header: the API's domain name
    port: int  # the port the gateway listens on


class MalformedProxyResponse(ValueError):
    """The function answered, but not in the shape the proxy integration needs (API GW: 502)."""


def _resource_id(route: Route) -> str:
    return hashlib.sha256(f"{route.stage} {route.path}".encode()).hexdigest()[:6]


def build_event(
    request: IncomingRequest,
    route: Route,
    path_parameters: dict[str, str],
    *,
    request_id: str,
    api_key: str | None,
    api_key_id: str | None,
    api_id: str,
    account_id: str,
) -> dict[str, Any]:
    """The event API Gateway sends: `sam local generate-event apigateway aws-proxy`'s shape."""
    # identity also carries apiKey/apiKeyId, which API Gateway fills in for keyed methods.
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    forwarded = [
        ("X-Forwarded-For", request.source_ip),
        ("X-Forwarded-Port", str(request.port)),
        ("X-Forwarded-Proto", "http"),
    ]
    present = {name.lower() for name, _ in request.headers}
    for name, value in [*request.headers, *(f for f in forwarded if f[0].lower() not in present)]:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    try:
        body: str | None = request.body.decode() if request.body else None
        encoded = False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(request.body).decode(), True
    now = time.time()
    user_agent = next((v for k, v in reversed(request.headers) if k.lower() == "user-agent"), None)
    return {
        "body": body,
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "isBase64Encoded": encoded,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": dict(route.stage_variables) or None,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "requestContext": {
            "accountId": account_id,
            "resourceId": _resource_id(route),
            "stage": request.stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "apiKey": api_key,
                "apiKeyId": api_key_id,
                "accessKey": None,
                "sourceIp": request.source_ip,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "path": f"/{request.stage}{request.path}",
            "resourcePath": route.path,
            "httpMethod": request.method,
            "apiId": api_id,
            "protocol": "HTTP/1.1",
            "domainName": request.host,
        },
    }


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        raise MalformedProxyResponse(f"header {name!r} has a {type(value).__name__} value")
    if "\r" in text or "\n" in text:
        raise MalformedProxyResponse(f"header {name!r} has a line break in its value")
    return text


def _header_name(name: Any) -> str:
    if not isinstance(name, str) or not HEADER_NAME.fullmatch(name):
        raise MalformedProxyResponse(f"invalid header name {name!r}")
    return f"x-amzn-Remapped-{name}" if name.lower() in REMAPPED_HEADERS else name


def proxy_response(payload: Any) -> HttpResponse:
    """The HTTP response for a function's proxy result; MalformedProxyResponse if it has none."""
    if not isinstance(payload, dict):
        raise MalformedProxyResponse(f"the result is a {type(payload).__name__}, not an object")
    unknown = set(payload) - RESPONSE_KEYS
    if unknown:
        raise MalformedProxyResponse(f"unexpected keys {sorted(unknown)}")
    status = payload.get("statusCode", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status!r} is not an HTTP status code")
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedProxyResponse("headers and multiValueHeaders must be objects")
    headers: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders {name!r} is not a list")
        headers += [(_header_name(name), _header_value(name, value)) for value in values]
    # Where both maps name a header, API Gateway keeps the multiValueHeaders values only.
    named = {name.lower() for name in multi}
    headers += [
        (_header_name(name), _header_value(name, value))
        for name, value in single.items()
        if name.lower() not in named
    ]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, _body(payload))


def _body(payload: dict[str, Any]) -> bytes:
    body = payload.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedProxyResponse(f"body is a {type(body).__name__}, not a string")
    encoded = payload.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise MalformedProxyResponse("isBase64Encoded must be true or false")
    if not encoded:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise MalformedProxyResponse("isBase64Encoded is true but body is not base64") from None
