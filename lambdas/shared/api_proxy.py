"""The REST API's side of a Lambda proxy integration (payload 1.0), shared by its functions:
the HTTP errors they answer with, request bodies and headers, the proxy response, and the
inference id rule that `/predict` and `/ground-truth` both apply."""

from __future__ import annotations

import base64
import binascii
import json
import re
from http import HTTPStatus
from typing import Any

# The request and response header carrying the id a prediction was captured under.
INFERENCE_ID_HEADER = "X-Inference-Id"
# InvokeEndpoint's InferenceId (botocore: 1-64 characters matching \A\S[\p{Print}]*\z, where
# Java's \p{Print} is printable ASCII): a visible character first, then printable ASCII.
INFERENCE_ID = re.compile(r"[!-~][ -~]{0,63}")
INFERENCE_ID_RULE = (
    "1 to 64 printable ASCII characters, the first not a space (InvokeEndpoint's InferenceId)"
)
JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


class HttpError(Exception):
    """A request that ends in an HTTP error; the message is what the caller reads."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR


class BadRequest(HttpError):
    """The request (or, passed through, the model) says the input is wrong."""

    status = HTTPStatus.BAD_REQUEST


class PayloadTooLarge(HttpError):
    """More than the function accepts in one request."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class BadGateway(HttpError):
    """The model answered with an error or with something unreadable."""

    status = HTTPStatus.BAD_GATEWAY


class ServiceUnavailable(HttpError):
    """The endpoint does not exist or is not serving, or the stage is not set up."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


def request_id(event: dict[str, Any], context: Any) -> str:
    """API Gateway's request id, else the Lambda invocation's."""
    return (event.get("requestContext") or {}).get("requestId") or getattr(
        context, "aws_request_id", "-"
    )


def stage_endpoint(event: dict[str, Any]) -> str:
    """The stage variable `endpointName`: the SageMaker endpoint this stage fronts ("" if unset)."""
    return (event.get("stageVariables") or {}).get("endpointName", "")


def header(event: dict[str, Any], name: str) -> str | None:
    """A request header's value (names compare case-insensitively, as HTTP's do), None if absent."""
    wanted = name.lower()
    found = None
    for key, value in (event.get("headers") or {}).items():
        if isinstance(key, str) and key.lower() == wanted:
            found = value
    return found


def request_body(body: str | None, is_base64: bool) -> bytes:
    """The body's bytes as the caller sent them (API Gateway base64-encodes binary ones)."""
    if not body:
        return b""
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise BadRequest("the body is not valid base64") from None
    # "surrogatepass": text that is no UTF-8 then fails parse_json's check, a 400, not a 500.
    return body.encode("utf-8", "surrogatepass")


def parse_json(body: bytes, shape: str) -> Any:
    """The body as JSON, or a 400 saying why not; `shape` tells the caller what to send."""
    if not body.strip():
        raise BadRequest(f"the body is empty: send {shape}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise BadRequest(
            f"the body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise BadRequest("the body is not valid JSON: it nests too deeply") from None
    except ValueError as err:  # a number with more digits than Python converts
        raise BadRequest(f"the body is not valid JSON: {str(err).split(':')[0]}") from None


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type ("array", "string", ...)."""
    return JSON_TYPES.get(type(value), type(value).__name__)


def is_inference_id(value: Any) -> bool:
    """Whether a value is an id InvokeEndpoint takes as InferenceId."""
    return isinstance(value, str) and INFERENCE_ID.fullmatch(value) is not None


def respond(
    status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The proxy integration's answer: a JSON body and its headers."""
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
