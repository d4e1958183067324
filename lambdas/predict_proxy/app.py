"""PredictProxy: `POST /predict` (API Gateway REST proxy, payload 1.0) to a SageMaker endpoint.

It makes no control-plane call: the container names the model that answered in InvokeEndpoint's
CustomAttributes (`model=<name>`), so a retrain shows on the very next request. An image that
does not send it (one built before this contract) still answers, without the "model" key.

Each prediction has an inference id: the caller's `X-Inference-Id` header, else a new UUID4. It
goes to InvokeEndpoint as `InferenceId`, so data capture records it (`eventMetadata.inferenceId`)
and `POST /ground-truth` can label the prediction by it; the answer carries it back as the
`X-Inference-Id` header and the body's "inference_id".
"""

from __future__ import annotations

import json
import os
import time
import uuid
from http import HTTPStatus
from typing import Any

import boto3
from botocore.exceptions import ClientError

from api_proxy import (
    INFERENCE_ID_HEADER,
    INFERENCE_ID_RULE,
    BadGateway,
    BadRequest,
    HttpError,
    PayloadTooLarge,
    ServiceUnavailable,
    header,
    is_inference_id,
    json_type,
    parse_json,
    request_body,
    request_id,
    respond,
    stage_endpoint,
)
from json_logging import get_logger, set_correlation
from tabular_container.constants import JSON, MODEL_ATTRIBUTE  # serve's media type, model key

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's request limit
DEFAULT_MAX_INSTANCES = 100
INSTANCES_SHAPE = '{"instances": [{...}, ...]}'

RUNTIME = boto3.client("sagemaker-runtime")
logger = get_logger("predict_proxy")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: one API Gateway proxy request, one proxy response, never a trace."""
    request = request_id(event, context)
    endpoint = stage_endpoint(event)
    set_correlation(request_id=request, endpoint=endpoint)
    started = time.monotonic()
    headers: dict[str, str] = {}
    try:
        inference_id = inference_id_of(event)
        headers[INFERENCE_ID_HEADER] = inference_id
        set_correlation(request_id=request, endpoint=endpoint, inference_id=inference_id)
        status, body = HTTPStatus.OK, predict(endpoint, event, inference_id)
    except HttpError as err:
        status, body = err.status, {"message": str(err)}
    except Exception:
        logger.exception("unexpected error")
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        body = {"message": "internal error", "requestId": request}
    logger.info(
        "request done",
        extra={"status": int(status), "ms": round((time.monotonic() - started) * 1000, 1)},
    )
    return respond(status, body, headers)


def inference_id_of(event: dict[str, Any]) -> str:
    """The caller's `X-Inference-Id`, checked as InvokeEndpoint checks InferenceId, else a UUID4."""
    given = header(event, INFERENCE_ID_HEADER)
    if given is None:
        return str(uuid.uuid4())
    if not is_inference_id(given):
        raise BadRequest(
            f"the {INFERENCE_ID_HEADER} header must be {INFERENCE_ID_RULE}, got {given!r}"
        )
    return given


def predict(endpoint: str, event: dict[str, Any], inference_id: str) -> dict[str, Any]:
    """Validate the body, send it on as it came, return the predictions and which model answered."""
    limit = int(os.environ.get("MAX_INSTANCES") or DEFAULT_MAX_INSTANCES)
    payload = request_body(event.get("body"), bool(event.get("isBase64Encoded")))
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"the body takes {len(payload)} bytes, over the 6 MB limit")
    count = len(parse_instances(payload, limit))
    if not endpoint:
        raise ServiceUnavailable("this API stage has no endpointName stage variable")
    response = invoke(endpoint, payload, inference_id)
    try:
        answer = json.loads(response["Body"].read())
    except ValueError:
        raise BadGateway(f"the model behind {endpoint} did not answer JSON") from None
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != count:
        raise BadGateway(f"the model behind {endpoint} did not answer one prediction per instance")
    result = {"predictions": predictions, "endpoint": endpoint}
    model = attribute(response.get("CustomAttributes", ""), MODEL_ATTRIBUTE)
    if model is not None:
        result["model"] = model
    return {**result, "inference_id": inference_id}


def attribute(custom_attributes: str, name: str) -> str | None:
    """One `name=value` of a `;`-separated CustomAttributes header, None if it is not there."""
    for part in custom_attributes.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return None


def parse_instances(body: bytes, limit: int) -> list[dict[str, Any]]:
    """The records of `{"instances": [{...}, ...]}`, 1 to `limit` JSON objects, or a 400."""
    document = parse_json(body, INSTANCES_SHAPE)
    if not isinstance(document, dict) or not isinstance(document.get("instances"), list):
        raise BadRequest(f"the body must be a JSON object {INSTANCES_SHAPE}")
    instances = document["instances"]
    if not instances:
        raise BadRequest(f"instances is empty: send 1 to {limit} records")
    if len(instances) > limit:
        raise BadRequest(f"too many instances: {len(instances)}, at most {limit} per request")
    for index, record in enumerate(instances):
        if not isinstance(record, dict):
            kind = json_type(record)
            raise BadRequest(f"instances[{index}] must be a JSON object of features, not {kind}")
    return instances


def invoke(endpoint: str, payload: bytes, inference_id: str) -> dict[str, Any]:
    """InvokeEndpoint, with SageMaker's errors turned into the caller's HTTP errors."""
    try:
        return RUNTIME.invoke_endpoint(
            EndpointName=endpoint,
            Body=payload,
            ContentType=JSON,
            Accept=JSON,
            InferenceId=inference_id,
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
