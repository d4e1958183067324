"""PredictProxy: `POST /predict` (API Gateway REST proxy, payload 1.0) to a SageMaker endpoint.

It makes no control-plane call: the container names the model that answered in InvokeEndpoint's
CustomAttributes (`model=<name>`), so a retrain shows on the very next request. An image that
does not send it (one built before this contract) still answers, without the "model" key.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from http import HTTPStatus
from typing import Any

import boto3
from botocore.exceptions import ClientError

from json_logging import get_logger, set_correlation
from tabular_container.constants import MODEL_ATTRIBUTE  # what `serve` names its model by

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's request limit
DEFAULT_MAX_INSTANCES = 100
JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}

RUNTIME = boto3.client("sagemaker-runtime")
logger = get_logger("predict_proxy")


class HttpError(Exception):
    """A request that ends in an HTTP error; the message is what the caller reads."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR


class BadRequest(HttpError):
    """The request (or, passed through, the model) says the input is wrong."""

    status = HTTPStatus.BAD_REQUEST


class PayloadTooLarge(HttpError):
    """More than InvokeEndpoint accepts in one request."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class BadGateway(HttpError):
    """The model answered with an error or with something unreadable."""

    status = HTTPStatus.BAD_GATEWAY


class ServiceUnavailable(HttpError):
    """The endpoint does not exist or is not serving."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: one API Gateway proxy request, one proxy response, never a trace."""
    request_id = (event.get("requestContext") or {}).get("requestId") or getattr(
        context, "aws_request_id", "-"
    )
    endpoint = (event.get("stageVariables") or {}).get("endpointName", "")
    set_correlation(request_id=request_id, endpoint=endpoint)
    started = time.monotonic()
    try:
        status, body = HTTPStatus.OK, predict(endpoint, event)
    except HttpError as err:
        status, body = err.status, {"message": str(err)}
    except Exception:
        logger.exception("unexpected error")
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        body = {"message": "internal error", "requestId": request_id}
    logger.info(
        "request done",
        extra={"status": int(status), "ms": round((time.monotonic() - started) * 1000, 1)},
    )
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def predict(endpoint: str, event: dict[str, Any]) -> dict[str, Any]:
    """Validate the body, send it on as it came, return the predictions and which model answered."""
    limit = int(os.environ.get("MAX_INSTANCES") or DEFAULT_MAX_INSTANCES)
    payload = request_body(event.get("body"), bool(event.get("isBase64Encoded")))
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"the body takes {len(payload)} bytes, over the 6 MB limit")
    count = len(parse_instances(payload, limit))
    if not endpoint:
        raise ServiceUnavailable("this API stage has no endpointName stage variable")
    response = invoke(endpoint, payload)
    try:
        answer = json.loads(response["Body"].read())
    except ValueError:
        raise BadGateway(f"the model behind {endpoint} did not answer JSON") from None
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != count:
        raise BadGateway(f"the model behind {endpoint} did not answer one prediction per instance")
    result = {"predictions": predictions, "endpoint": endpoint}
    model = attribute(response.get("CustomAttributes", ""), MODEL_ATTRIBUTE)
    return result if model is None else {**result, "model": model}


def request_body(body: str | None, is_base64: bool) -> bytes:
    """The body's bytes as the caller sent them (API Gateway base64-encodes binary ones)."""
    if not body:
        return b""
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise BadRequest("the body is not valid base64") from None
    # "surrogatepass": text that is no UTF-8 then fails parse_instances' check, a 400, not a 500.
    return body.encode("utf-8", "surrogatepass")


def attribute(custom_attributes: str, name: str) -> str | None:
    """One `name=value` of a `;`-separated CustomAttributes header, None if it is not there."""
    for part in custom_attributes.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return None


def parse_instances(body: bytes, limit: int) -> list[dict[str, Any]]:
    """The records of `{"instances": [{...}, ...]}`, 1 to `limit` JSON objects, or a 400."""
    if not body.strip():
        raise BadRequest('the body is empty: send {"instances": [{...}, ...]}')
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadRequest(
            f"the body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise BadRequest("the body is not valid JSON: it nests too deeply") from None
    except ValueError as err:  # a number with more digits than Python converts
        raise BadRequest(f"the body is not valid JSON: {str(err).split(':')[0]}") from None
    if not isinstance(document, dict) or not isinstance(document.get("instances"), list):
        raise BadRequest('the body must be a JSON object {"instances": [{...}, ...]}')
    instances = document["instances"]
    if not instances:
        raise BadRequest(f"instances is empty: send 1 to {limit} records")
    if len(instances) > limit:
        raise BadRequest(f"too many instances: {len(instances)}, at most {limit} per request")
    for index, record in enumerate(instances):
        if not isinstance(record, dict):
            kind = JSON_TYPES.get(type(record), type(record).__name__)
            raise BadRequest(f"instances[{index}] must be a JSON object of features, not {kind}")
    return instances


def invoke(endpoint: str, payload: bytes) -> dict[str, Any]:
    """InvokeEndpoint, with SageMaker's errors turned into the caller's HTTP errors."""
    try:
        return RUNTIME.invoke_endpoint(
            EndpointName=endpoint,
            Body=payload,
            ContentType="application/json",
            Accept="application/json",
        )
    except ClientError as err:
        code = err.response["Error"]["Code"]
        message = err.response["Error"].get("Message", "")
        if code == "ModelError":
            original = err.response.get("OriginalStatusCode")
            if isinstance(original, int) and 400 <= original < 500:
                raise BadRequest(model_message(err.response.get("OriginalMessage", ""))) from None
            logger.error("model error", extra={"original_status": original, "detail": message})
            raise BadGateway(f"the model behind {endpoint} failed (status {original})") from None
        if code == "ValidationError" and "not found" in message:
            raise ServiceUnavailable(f"endpoint {endpoint} does not exist") from None
        if code == "ValidationError" and "not in service" in message:
            raise ServiceUnavailable(f"endpoint {endpoint} is not in service") from None
        if code in {"ServiceUnavailable", "ModelNotReadyException"}:
            raise ServiceUnavailable(f"endpoint {endpoint} is not ready: {message}") from None
        logger.error("invoke failed", extra={"code": code, "detail": message})
        raise BadGateway(f"endpoint {endpoint} failed to answer ({code})") from None


def model_message(original: str) -> str:
    """The model's own complaint: its JSON `message` (or `error`), else its text, kept short."""
    try:
        document = json.loads(original)
    except ValueError:
        document = None
    if isinstance(document, dict):
        text = str(document.get("message") or document.get("error") or original)
    else:
        text = original
    return text.strip()[:1000] or "the model rejected the request"
