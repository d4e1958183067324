"""PredictProxy: `POST /predict` (API Gateway REST proxy, payload 1.0) to a SageMaker endpoint."""

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

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's request limit
DEFAULT_MAX_INSTANCES = 100
# DescribeEndpoint is rate-limited: ask at most every few seconds per container. The model name
# in answers may lag a deployment by this long.
MODEL_CACHE_SECONDS = 5.0
# Statuses in which SageMaker routes requests to the endpoint (it keeps serving while updating).
SERVING = frozenset({"InService", "Updating", "SystemUpdating"})
JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}

SAGEMAKER = boto3.client("sagemaker")
RUNTIME = boto3.client("sagemaker-runtime")
logger = get_logger("predict_proxy")
_models: dict[str, tuple[float, dict[str, str]]] = {}  # endpoint → (expiry, variant → model)


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
    """Validate the body, ask the endpoint, return its predictions and which model answered."""
    limit = int(os.environ.get("MAX_INSTANCES") or DEFAULT_MAX_INSTANCES)
    instances = parse_instances(event.get("body"), bool(event.get("isBase64Encoded")), limit)
    if not endpoint:
        raise ServiceUnavailable("this API stage has no endpointName stage variable")
    try:
        payload = json.dumps({"instances": instances}, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # JSON can escape half a surrogate pair, which is no character
        raise BadRequest(
            "the body has a \\u escape of half a surrogate pair, which is no character"
        ) from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"the instances take {len(payload)} bytes, over the 6 MB limit")
    models = current_models(endpoint)
    response = invoke(endpoint, payload)
    try:
        answer = json.loads(response["Body"].read())
    except ValueError:
        raise BadGateway(f"the model behind {endpoint} did not answer JSON") from None
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(instances):
        raise BadGateway(f"the model behind {endpoint} did not answer one prediction per instance")
    variant = response.get("InvokedProductionVariant", "")
    model = models.get(variant) or next(iter(models.values()), "")
    return {"predictions": predictions, "endpoint": endpoint, "model": model}


def parse_instances(body: str | None, is_base64: bool, limit: int) -> list[dict[str, Any]]:
    """The records of `{"instances": [{...}, ...]}`, 1 to `limit` JSON objects, or a 400."""
    if body and is_base64:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest("the body is not valid base64-encoded UTF-8") from None
    if not body or not body.strip():
        raise BadRequest('the body is empty: send {"instances": [{...}, ...]}')
    try:
        document = json.loads(body)
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


def current_models(endpoint: str) -> dict[str, str]:
    """Variant → model name of a serving endpoint, cached per container; 503 if not serving."""
    now = time.monotonic()
    cached = _models.get(endpoint)
    if cached and cached[0] > now:
        return cached[1]
    try:
        described = SAGEMAKER.describe_endpoint(EndpointName=endpoint)
    except ClientError as err:
        if err.response["Error"]["Code"] == "ValidationException":
            raise ServiceUnavailable(f"endpoint {endpoint} does not exist") from None
        raise
    status = described["EndpointStatus"]
    if status not in SERVING:
        raise ServiceUnavailable(f"endpoint {endpoint} is {status}, not InService")
    config = SAGEMAKER.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    models = {v["VariantName"]: v["ModelName"] for v in config["ProductionVariants"]}
    _models[endpoint] = (now + MODEL_CACHE_SECONDS, models)
    return models


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
            _models.pop(endpoint, None)
            raise ServiceUnavailable(f"endpoint {endpoint} does not exist") from None
        if code == "ValidationError" and "not in service" in message:  # it failed meanwhile
            _models.pop(endpoint, None)
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
