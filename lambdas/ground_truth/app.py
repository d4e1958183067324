"""GroundTruth: `POST /{stage}/ground-truth` (API Gateway REST proxy, payload 1.0) records the
true rings of predictions the stage's endpoint made, for Model Monitor's model-quality jobs.

Body `{"labels": [{"inference_id": "<id>", "rings": 9}, ...]}`: each id is the `inference_id`
that `POST /predict` answered, which data capture recorded as the record's `inferenceId`. A
request is all or nothing: every label is checked (shape, an id captured by the endpoint in the
look-back window, not labelled before, not twice in the request) before ONE object is written,
`<GROUND_TRUTH_S3_URI>/<endpoint>/yyyy/mm/dd/hh/<uuid4>.jsonl` (the hour the labels arrived,
UTC), one line per label in Model Monitor's ground-truth format.

Cost: each request lists and reads the endpoint's capture objects of the window, newest first
until every id is found (all of them when one is unknown), and its ground-truth objects of the
window. Captured records reach S3 a few minutes after the prediction, so a label posted at once
may find its id unknown: the message says to retry later. Two requests labelling the same id at
the same moment can both be accepted (S3 has no transaction across the objects read and the one
written).
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import boto3

from api_proxy import (
    INFERENCE_ID_RULE,
    BadRequest,
    HttpError,
    PayloadTooLarge,
    ServiceUnavailable,
    is_inference_id,
    json_type,
    parse_json,
    request_body,
    request_id,
    respond,
    stage_endpoint,
)
from json_logging import get_logger, set_correlation

MAX_LABELS = 1000
MAX_BODY_BYTES = 1024 * 1024  # 1,000 labels take about 100 KB
LABEL_KEYS = ("inference_id", "rings")
LABELS_SHAPE = '{"labels": [{"inference_id": "<id>", "rings": 9}, ...]}'
SHOWN = 10  # labels named in one message
HOUR_PATH = "%Y/%m/%d/%H"  # the hour folders of data capture and of ground truth, UTC

S3 = boto3.client("s3")
logger = get_logger("ground_truth")


class ConfigurationError(Exception):
    """The function's environment is not what the template sets."""


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    data_capture_s3_uri: str  # s3://<data bucket>/capture, as DeployModel configures capture
    ground_truth_s3_uri: str  # s3://<data bucket>/ground-truth
    lookback_hours: int

    @classmethod
    def from_env(cls) -> Settings:
        """Read and check DATA_CAPTURE_S3_URI, GROUND_TRUTH_S3_URI and LOOKBACK_HOURS."""
        values = {}
        for name in ("DATA_CAPTURE_S3_URI", "GROUND_TRUTH_S3_URI", "LOOKBACK_HOURS"):
            values[name] = os.environ.get(name, "")
            if not values[name]:
                raise ConfigurationError(f"environment variable {name} is not set")
        for name in ("DATA_CAPTURE_S3_URI", "GROUND_TRUTH_S3_URI"):
            split_s3_uri(values[name], name)
        hours = values["LOOKBACK_HOURS"]
        if not hours.isdigit() or not 1 <= int(hours) <= 168:
            raise ConfigurationError(f"LOOKBACK_HOURS must be 1 to 168, got {hours!r}")
        return cls(values["DATA_CAPTURE_S3_URI"], values["GROUND_TRUTH_S3_URI"], int(hours))


@dataclass(frozen=True)
class Label:
    """One checked label: where it was in the request, the prediction's id, the true rings."""

    index: int
    inference_id: str
    rings: int | float

    def __str__(self) -> str:
        return f"labels[{self.index}] (inference_id {self.inference_id!r})"

    def record(self) -> dict[str, Any]:
        """Model Monitor's ground-truth record; the merge job matches eventId to inferenceId."""
        return {
            "groundTruthData": {"data": json.dumps(self.rings), "encoding": "CSV"},
            "eventMetadata": {"eventId": self.inference_id},
            "eventVersion": "0",
        }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: one API Gateway proxy request, one proxy response, never a trace."""
    request = request_id(event, context)
    endpoint = stage_endpoint(event)
    set_correlation(request_id=request, endpoint=endpoint)
    started = time.monotonic()
    try:
        body = request_body(event.get("body"), bool(event.get("isBase64Encoded")))
        status, answer = HTTPStatus.OK, record_labels(Settings.from_env(), endpoint, body)
    except HttpError as err:
        status, answer = err.status, {"message": str(err)}
    except Exception:
        logger.exception("unexpected error")
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        answer = {"message": "internal error", "requestId": request}
    logger.info(
        "request done",
        extra={"status": int(status), "ms": round((time.monotonic() - started) * 1000, 1)},
    )
    return respond(status, answer)


def utc_now() -> datetime:
    """Now, in UTC (the hour the labels arrive names their folder)."""
    return datetime.now(UTC)


def record_labels(settings: Settings, endpoint: str, body: bytes) -> dict[str, Any]:
    """Check every label, then write them all in one object; its URI and how many it holds."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body takes {len(body)} bytes, over the 1 MB limit")
    labels = parse_labels(body)
    if not endpoint:
        raise ServiceUnavailable("this API stage has no endpointName stage variable")
    now = utc_now()
    since = now - timedelta(hours=settings.lookback_hours)
    wanted = {label.inference_id: label for label in labels}
    bucket, prefix = split_s3_uri(settings.ground_truth_s3_uri, "GROUND_TRUTH_S3_URI")
    labelled = labelled_ids(bucket, f"{prefix}{endpoint}/", since) & wanted.keys()
    if labelled:
        raise BadRequest(
            f"already labelled: {named(wanted[i] for i in labelled)}; a prediction takes one "
            f"label, and {endpoint} has one for these in s3://{bucket}/{prefix}{endpoint}/"
        )
    capture_bucket, capture_prefix = split_s3_uri(
        settings.data_capture_s3_uri, "DATA_CAPTURE_S3_URI"
    )
    unknown = wanted.keys() - captured_ids(
        capture_bucket, f"{capture_prefix}{endpoint}/", since, wanted.keys()
    )
    if unknown:
        raise BadRequest(
            f"unknown inference ids: {named(wanted[i] for i in unknown)}: {endpoint} captured "
            f"no prediction with these ids in the last {settings.lookback_hours} hours. "
            "Captured records reach S3 a few minutes after the prediction: if it was just "
            "made, retry later"
        )
    key = f"{prefix}{endpoint}/{now.strftime(HOUR_PATH)}/{uuid.uuid4()}.jsonl"
    lines = "".join(json.dumps(label.record()) + "\n" for label in labels)
    S3.put_object(Bucket=bucket, Key=key, Body=lines.encode(), ContentType="application/jsonlines")
    uri = f"s3://{bucket}/{key}"
    logger.info("labels recorded", extra={"accepted": len(labels), "s3_uri": uri})
    return {"accepted": len(labels), "s3_uri": uri}


def parse_labels(body: bytes) -> list[Label]:
    """The labels of the body, each checked, or a 400 naming the first problem and its entry."""
    document = parse_json(body, LABELS_SHAPE)
    if not isinstance(document, dict) or not isinstance(document.get("labels"), list):
        raise BadRequest(f"the body must be a JSON object {LABELS_SHAPE}")
    entries = document["labels"]
    if not entries:
        raise BadRequest(f"labels is empty: send 1 to {MAX_LABELS} labels")
    if len(entries) > MAX_LABELS:
        raise BadRequest(f"too many labels: {len(entries)}, at most {MAX_LABELS} per request")
    labels: list[Label] = []
    first: dict[str, Label] = {}
    for index, entry in enumerate(entries):
        label = parse_label(index, entry)
        if label.inference_id in first:
            raise BadRequest(
                f"{label} repeats labels[{first[label.inference_id].index}]: one label per "
                "inference id"
            )
        first[label.inference_id] = label
        labels.append(label)
    return labels


def parse_label(index: int, entry: Any) -> Label:
    """One entry `{"inference_id": "<id>", "rings": <number>}`, or a 400 naming it."""
    where = f"labels[{index}]"
    if not isinstance(entry, dict):
        raise BadRequest(
            f'{where} must be a JSON object {{"inference_id": ..., "rings": ...}}, '
            f"not {json_type(entry)}"
        )
    inference_id = entry.get("inference_id")
    if is_inference_id(inference_id):
        where = f"{where} (inference_id {inference_id!r})"
    if unknown := sorted(set(entry) - set(LABEL_KEYS)):
        raise BadRequest(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}: a label has "
            f"{' and '.join(LABEL_KEYS)}"
        )
    if "inference_id" not in entry:
        raise BadRequest(f"{where} has no inference_id")
    if not is_inference_id(inference_id):
        raise BadRequest(f"{where}: inference_id must be {INFERENCE_ID_RULE}, got {inference_id!r}")
    if "rings" not in entry:
        raise BadRequest(f"{where} has no rings")
    rings = entry["rings"]
    if not is_count(rings):
        shown = json.dumps(rings) if isinstance(rings, bool | int | float) else json_type(rings)
        raise BadRequest(f"{where}: rings must be a finite number, 0 or more, got {shown}")
    return Label(index, inference_id, rings)


def is_count(value: Any) -> bool:
    """A JSON number that is finite and not negative (true and false are no numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value) and value >= 0
    except OverflowError:  # an integer beyond a float
        return False


def named(labels: Iterable[Label]) -> str:
    """The labels in request order, the first SHOWN of them by index and id."""
    ordered = sorted(labels, key=lambda label: label.index)
    shown = ", ".join(str(label) for label in ordered[:SHOWN])
    more = len(ordered) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def split_s3_uri(uri: str, name: str) -> tuple[str, str]:
    """(bucket, key prefix ending in "/") of `s3://bucket/prefix`."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not prefix.strip("/"):
        raise ConfigurationError(f"{name} must be s3://<bucket>/<prefix>, got {uri!r}")
    return bucket, prefix.strip("/") + "/"


# --- what S3 holds ------------------------------------------------------------------------------


def keys_since(bucket: str, prefix: str, since: datetime) -> list[str]:
    """Keys under `prefix`/yyyy/mm/dd/hh/ from the hour of `since` on. The hour folders sort as
    the hours do, so one listing starting after the first hour's name finds them all."""
    start = f"{prefix}{since.strftime(HOUR_PATH)}"
    pages = S3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, StartAfter=start
    )
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def folders(bucket: str, prefix: str) -> list[str]:
    """The "sub-folders" right under `prefix` (for capture: one per variant)."""
    pages = S3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    return [common["Prefix"] for page in pages for common in page.get("CommonPrefixes", [])]


def records(bucket: str, key: str) -> Iterator[dict[str, Any]]:
    """The JSON lines of an object, read as a stream; a line that is no JSON object is skipped."""
    body = S3.get_object(Bucket=bucket, Key=key)["Body"]
    for number, line in enumerate(body.iter_lines(), start=1):
        try:
            record = json.loads(line) if line.strip() else None
        except ValueError:
            record = None
        if isinstance(record, dict):
            yield record
        elif line.strip():
            logger.warning(
                "skipped a line that is no JSON object", extra={"key": key, "line": number}
            )


def labelled_ids(bucket: str, prefix: str, since: datetime) -> set[str]:
    """The ids the endpoint's ground-truth objects of the window label. A label comes after its
    prediction, so the window that finds a capture finds any label of it."""
    found = set()
    for key in keys_since(bucket, prefix, since):
        for record in records(bucket, key):
            event_id = (record.get("eventMetadata") or {}).get("eventId")
            if isinstance(event_id, str):
                found.add(event_id)
    return found


def captured_ids(bucket: str, prefix: str, since: datetime, wanted: Iterable[str]) -> set[str]:
    """Which of the wanted ids the endpoint's capture records of the window hold, reading the
    newest objects first and stopping once all are found.

    A record's id is its `inferenceId`, or its `eventId` when the caller sent none: what Model
    Monitor's merge job matches ground truth to.
    """
    missing = set(wanted)
    keys = [
        (key.removeprefix(variant), key)
        for variant in folders(bucket, prefix)
        for key in keys_since(bucket, variant, since)
    ]
    read = 0
    for _, key in sorted(keys, reverse=True):  # yyyy/mm/dd/hh/MM-SS-mmm-...: newest first
        read += 1
        for record in records(bucket, key):
            metadata = record.get("eventMetadata") or {}
            missing.discard(metadata.get("inferenceId") or metadata.get("eventId"))
        if not missing:
            break
    logger.info("capture read", extra={"objects": read, "in_window": len(keys)})
    return set(wanted) - missing
