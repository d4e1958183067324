"""GroundTruth: POST /{stage}/ground-truth against moto S3, with the stage endpoint's capture
records planted in SageMaker's own layout and format; labels written in Model Monitor's."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from types import ModuleType

import pytest

from tests.lambdas.conftest import Cloud, load_event

BUCKET = "demo-data"
NOW = datetime(2025, 1, 2, 3, 30, 5, tzinfo=UTC)
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # the captured event's
GROUND_TRUTH_KEY = re.compile(
    r"ground-truth/demo-prod/2025/01/02/03/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl"
)
RETRY = (
    "Captured records reach S3 a few minutes after the prediction: if it was just made, retry later"
)


@pytest.fixture(autouse=True)
def environment(cloud: Cloud, ground_truth: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template's environment, the data bucket, and the clock at NOW."""
    for name, value in {
        "DATA_CAPTURE_S3_URI": f"s3://{BUCKET}/capture",
        "GROUND_TRUTH_S3_URI": f"s3://{BUCKET}/ground-truth",
        "LOOKBACK_HOURS": "24",
    }.items():
        monkeypatch.setenv(name, value)
    cloud.s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setattr(ground_truth, "utc_now", lambda: NOW)


def capture_record(inference_id: str | None, event_id: str, when: str) -> dict:
    """One line of a capture file exactly as SageMaker writes it for POST /predict's request."""
    metadata = {"eventId": event_id, "inferenceTime": when}
    if inference_id is not None:
        metadata = {"eventId": event_id, "inferenceId": inference_id, "inferenceTime": when}
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": "application/json",
                "mode": "INPUT",
                "data": '{"instances": [{"sex": "M", "length": 0.455}]}',
                "encoding": "JSON",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": '{"predictions": [9.41]}',
                "encoding": "JSON",
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


def plant_capture(
    cloud: Cloud,
    inference_ids: list[str | None],
    hour: str = "2025/01/02/03",
    endpoint: str = "demo-prod",
    name: str = "10-11-123-cee08c3a-02ce-4790-b8ba-3173cfc12813",
    extra: str = "",
) -> None:
    """A capture file under capture/<endpoint>/AllTraffic/<hour>/, one record per id (None: a
    record of a request that sent no InferenceId)."""
    when = hour.replace("/", "-", 2).replace("/", "T") + ":10:11Z"
    lines = [
        json.dumps(capture_record(i, f"e0000000-0000-4000-8000-{n:012d}", when))
        for n, i in enumerate(inference_ids)
    ]
    key = f"capture/{endpoint}/AllTraffic/{hour}/{name}.jsonl"
    cloud.s3.put_object(Bucket=BUCKET, Key=key, Body=(extra + "\n".join(lines) + "\n").encode())


def request(body: object = None, *, raw: str | None = None, stage_variables: object = ...) -> dict:
    """The captured API Gateway event as POST /prod/ground-truth with this body."""
    event = load_event("apigateway_aws_proxy.json")
    event.update(
        resource="/ground-truth", path="/ground-truth", isBase64Encoded=False, pathParameters=None
    )
    event["requestContext"].update(
        stage="prod", path="/prod/ground-truth", resourcePath="/ground-truth"
    )
    event["body"] = raw if raw is not None else json.dumps(body)
    event["stageVariables"] = (
        {"endpointName": "demo-prod"} if stage_variables is ... else stage_variables
    )
    return event


def call(ground_truth: ModuleType, event: dict) -> tuple[int, dict]:
    """Invoke the handler; the proxy response must be well formed JSON."""
    response = ground_truth.handler(event, None)
    assert set(response) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert response["headers"] == {"Content-Type": "application/json"}
    assert response["isBase64Encoded"] is False
    return response["statusCode"], json.loads(response["body"])


def ground_truth_keys(cloud: Cloud) -> list[str]:
    """Every object under ground-truth/."""
    listed = cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix="ground-truth/")
    return [item["Key"] for item in listed.get("Contents", [])]


def labels(*pairs: tuple[str, object]) -> dict:
    """`{"labels": [{"inference_id": id, "rings": rings}, ...]}`."""
    return {"labels": [{"inference_id": i, "rings": r} for i, r in pairs]}


# --- accepted ---------------------------------------------------------------------------------


def test_labels_of_captured_predictions_go_in_one_object_in_model_monitors_format(
    ground_truth, cloud
):
    # GIVEN prod captured three predictions this hour and one earlier today
    plant_capture(cloud, ["order-1", "order-2", "order-3"])
    plant_capture(cloud, ["order-0"], hour="2025/01/02/01", name="59-01-002-aa")
    # WHEN two of them and the earlier one are labelled
    status, body = call(
        ground_truth, request(labels(("order-2", 9), ("order-0", 10.5), ("order-1", 0)))
    )
    # THEN 200: all three are in one new object under the hour they arrived (UTC) ...
    assert status == 200
    (key,) = ground_truth_keys(cloud)
    assert GROUND_TRUTH_KEY.fullmatch(key)
    assert body == {"accepted": 3, "s3_uri": f"s3://{BUCKET}/{key}"}
    # ... one line per label, in request order, exactly Model Monitor's ground-truth record
    text = cloud.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    assert text == (
        '{"groundTruthData": {"data": "9", "encoding": "CSV"}, '
        '"eventMetadata": {"eventId": "order-2"}, "eventVersion": "0"}\n'
        '{"groundTruthData": {"data": "10.5", "encoding": "CSV"}, '
        '"eventMetadata": {"eventId": "order-0"}, "eventVersion": "0"}\n'
        '{"groundTruthData": {"data": "0", "encoding": "CSV"}, '
        '"eventMetadata": {"eventId": "order-1"}, "eventVersion": "0"}\n'
    )


def test_a_capture_without_inference_id_is_known_by_its_event_id(ground_truth, cloud):
    # GIVEN a record of a request that sent no InferenceId (InvokeEndpoint called directly)
    plant_capture(cloud, [None])
    # WHEN labelled by its eventId, which the merge job then matches THEN it is accepted
    status, body = call(ground_truth, request(labels(("e0000000-0000-4000-8000-000000000000", 7))))
    assert (status, body["accepted"]) == (200, 1)


def test_a_base64_body_and_a_bad_capture_line_are_handled(ground_truth, cloud):
    # GIVEN a capture file with a broken line before its record, and a base64-encoded body
    plant_capture(cloud, ["order-1"], extra="{not json\n")
    event = request(raw=base64.b64encode(json.dumps(labels(("order-1", 8))).encode()).decode())
    event["isBase64Encoded"] = True
    # WHEN posted THEN the broken line is skipped and the label accepted
    assert call(ground_truth, event)[0] == 200


# --- refused: the body --------------------------------------------------------------------------

ID_RULE = "1 to 64 printable ASCII characters, the first not a space (InvokeEndpoint's InferenceId)"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (request(raw=""), 'the body is empty: send {"labels": [{"inference_id": "<id>", '),
        (request(raw="{labels: []}"), "the body is not valid JSON: Expecting property name"),
        (request([]), 'the body must be a JSON object {"labels": [{"inference_id"'),
        (request({"label": []}), 'the body must be a JSON object {"labels"'),
        (request({"labels": {"inference_id": "a"}}), 'the body must be a JSON object {"labels"'),
        (request({"labels": []}), "labels is empty: send 1 to 1000 labels"),
        (
            request(labels(*[(f"id-{n}", 1) for n in range(1001)])),
            "too many labels: 1001, at most 1000 per request",
        ),
        (
            request({"labels": [{"inference_id": "a", "rings": 1}, ["b", 2]]}),
            'labels[1] must be a JSON object {"inference_id": ..., "rings": ...}, not array',
        ),
        (
            request({"labels": [{"inference_id": "a", "ring": 9}]}),
            "labels[0] (inference_id 'a') has unknown key(s) 'ring': a label has inference_id "
            "and rings",
        ),
        (
            request({"labels": [{"inference_id": "a", "rings": 1, "sex": "M", "age": 2}]}),
            "labels[0] (inference_id 'a') has unknown key(s) 'age', 'sex'",
        ),
        (request({"labels": [{"rings": 9}]}), "labels[0] has no inference_id"),
        (
            request({"labels": [{"inference_id": "", "rings": 9}]}),
            f"labels[0]: inference_id must be {ID_RULE}, got ''",
        ),
        (
            request({"labels": [{"inference_id": "x" * 65, "rings": 9}]}),
            f"labels[0]: inference_id must be {ID_RULE}, got '{'x' * 65}'",
        ),
        (
            request({"labels": [{"inference_id": 42, "rings": 9}]}),
            f"labels[0]: inference_id must be {ID_RULE}, got 42",
        ),
        (
            request({"labels": [{"inference_id": "caf\u00e9", "rings": 9}]}),
            f"labels[0]: inference_id must be {ID_RULE}, got 'caf\u00e9'",
        ),
        (request({"labels": [{"inference_id": "a"}]}), "labels[0] (inference_id 'a') has no rings"),
        (
            request(labels(("a", True))),
            "labels[0] (inference_id 'a'): rings must be a finite number, 0 or more, got true",
        ),
        (
            request(labels(("a", "9"))),
            "labels[0] (inference_id 'a'): rings must be a finite number, 0 or more, got string",
        ),
        (
            request(labels(("a", None))),
            "labels[0] (inference_id 'a'): rings must be a finite number, 0 or more, got null",
        ),
        (
            request(labels(("a", -1))),
            "labels[0] (inference_id 'a'): rings must be a finite number, 0 or more, got -1",
        ),
        (
            request(raw='{"labels": [{"inference_id": "a", "rings": NaN}]}'),
            "labels[0] (inference_id 'a'): rings must be a finite number, 0 or more, got NaN",
        ),
        (
            request(raw='{"labels": [{"inference_id": "a", "rings": 1e400}]}'),
            "labels[0] (inference_id 'a'): rings must be a finite number, 0 or more, got Infinity",
        ),
        (
            request(raw='{"labels": [{"inference_id": "a", "rings": 1' + "0" * 400 + "}]}"),
            "labels[0] (inference_id 'a'): rings must be a finite number, 0 or more, got 1000",
        ),
        (
            request(labels(("a", 1), ("b", 2), ("a", 3))),
            "labels[2] (inference_id 'a') repeats labels[0]: one label per inference id",
        ),
    ],
)
def test_a_bad_body_gets_400_naming_the_problem_and_the_entry(ground_truth, cloud, event, message):
    # GIVEN every id of the request captured, so only the body is wrong
    plant_capture(cloud, ["a", "b"])
    # WHEN posted
    status, body = call(ground_truth, event)
    # THEN 400 naming the problem and the entry, and nothing written
    assert status == 400
    assert body["message"].startswith(message)
    assert ground_truth_keys(cloud) == []


def test_a_body_over_one_megabyte_gets_413(ground_truth, cloud):
    # GIVEN a body over the limit WHEN posted THEN 413, nothing read or written
    status, body = call(ground_truth, request(raw=" " * (1024 * 1024 + 1)))
    assert (status, body) == (413, {"message": "the body takes 1048577 bytes, over the 1 MB limit"})


# --- refused: what S3 holds ------------------------------------------------------------------


def test_ids_the_endpoint_never_captured_are_refused_all_of_them_named(ground_truth, cloud):
    # GIVEN prod captured order-1 only; dev captured order-2; order-3 was captured 25 hours ago
    plant_capture(cloud, ["order-1"])
    plant_capture(cloud, ["order-2"], endpoint="demo-dev")
    plant_capture(cloud, ["order-3"], hour="2025/01/01/02")
    # WHEN the four are labelled on prod
    event = request(labels(("order-1", 9), ("order-2", 9), ("order-9", 9), ("order-3", 9)))
    status, body = call(ground_truth, event)
    # THEN 400 naming each unknown one (index and id) and saying to retry, and nothing written,
    # not even the label of the known one
    assert status == 400
    assert body["message"] == (
        "unknown inference ids: labels[1] (inference_id 'order-2'), labels[2] (inference_id "
        "'order-9'), labels[3] (inference_id 'order-3'): demo-prod captured no prediction with "
        f"these ids in the last 24 hours. {RETRY}"
    )
    assert ground_truth_keys(cloud) == []


def test_an_id_labelled_before_is_refused_and_nothing_is_written(ground_truth, cloud):
    # GIVEN order-1 and order-2 captured, and order-1 labelled an hour ago
    plant_capture(cloud, ["order-1", "order-2"])
    plant_capture(cloud, ["order-1"], hour="2025/01/02/02", name="00-00-000-bb")
    assert call(ground_truth, request(labels(("order-1", 9))))[0] == 200
    (earlier,) = ground_truth_keys(cloud)
    # WHEN order-2 and order-1 are labelled again
    status, body = call(ground_truth, request(labels(("order-2", 9), ("order-1", 11))))
    # THEN 400 naming the one labelled before; the only object is still the earlier one
    assert status == 400
    assert body["message"] == (
        "already labelled: labels[1] (inference_id 'order-1'); a prediction takes one label, "
        f"and demo-prod has one for these in s3://{BUCKET}/ground-truth/demo-prod/"
    )
    assert ground_truth_keys(cloud) == [earlier]


def test_many_unknown_ids_are_counted_past_the_first_ten(ground_truth, cloud):
    # GIVEN none of twelve ids captured WHEN labelled THEN ten are named and two counted
    status, body = call(ground_truth, request(labels(*[(f"id-{n:02d}", 1) for n in range(12)])))
    assert status == 400
    assert "labels[9] (inference_id 'id-09') and 2 more: demo-prod captured" in body["message"]


def test_a_stage_without_an_endpoint_gets_503(ground_truth):
    # GIVEN a stage deployed without the endpointName stage variable WHEN posted THEN 503
    assert call(ground_truth, request(labels(("a", 1)), stage_variables=None)) == (
        503,
        {"message": "this API stage has no endpointName stage variable"},
    )


def test_an_unexpected_error_gets_a_generic_500(ground_truth, monkeypatch, capsys):
    # GIVEN S3 failing in a way the function does not know (a bug, not the caller's)
    def broken(**params):
        raise RuntimeError("connection pool is full")

    monkeypatch.setattr(ground_truth.S3, "get_paginator", lambda name: broken())
    # WHEN posted
    status, body = call(ground_truth, request(labels(("a", 1))))
    # THEN one generic message with the request id; the details only in the JSON log
    assert (status, body) == (500, {"message": "internal error", "requestId": REQUEST_ID})
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [line for line in logged if line["level"] == "ERROR"]
    assert "connection pool is full" in errors[0]["exception"]
    assert all(line["request_id"] == REQUEST_ID for line in logged)


def test_a_missing_setting_is_a_500_naming_it_in_the_log(ground_truth, monkeypatch, capsys):
    # GIVEN the function's environment without its look-back
    monkeypatch.delenv("LOOKBACK_HOURS")
    # WHEN posted THEN 500 for the caller, the reason in the log
    assert call(ground_truth, request(labels(("a", 1))))[0] == 500
    assert "LOOKBACK_HOURS is not set" in capsys.readouterr().out
