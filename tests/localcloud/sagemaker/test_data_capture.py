"""Data capture through boto3: SageMaker's record format and S3 layout, sampling, no loss."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import threading
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud.sagemaker.capture import CapturePolicy, CaptureWriter
from localcloud.sagemaker.clients import AwsClients
from localcloud.sagemaker.storage import S3Storage
from tests.localcloud.sagemaker.conftest import (
    BUCKET,
    Cloud,
    capture_config,
    container_processes,
    csv_body,
    endpoint_dir,
    error_of,
    invoke,
    start_endpoint,
    unique,
    wait_for,
)

HOUR_AND_FILE = re.compile(
    r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{2})-(\d{2})-(\d{3})-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl"
)
INFERENCE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def captured(cloud: Cloud, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every capture object under the prefix: key -> its records, in order."""
    objects: dict[str, list[dict[str, Any]]] = {}
    pages = cloud.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            body = cloud.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
            assert body.endswith("\n")
            objects[item["Key"]] = [json.loads(line) for line in body.splitlines()]
    return objects


def records_of(cloud: Cloud, prefix: str) -> list[dict[str, Any]]:
    """The captured records under the prefix, all objects together."""
    return [record for records in captured(cloud, prefix).values() for record in records]


def capturing_endpoint(cloud: Cloud, model_name: str, prefix: str, **capture: Any) -> str:
    """An InService endpoint whose config captures to s3://BUCKET/<prefix>."""
    endpoint, _ = start_endpoint(
        cloud, model_name, DataCaptureConfig=capture_config(prefix, **capture)
    )
    described = cloud.wait_endpoint_settled(endpoint)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return endpoint


def test_each_answered_request_is_one_record_in_sagemakers_format_and_layout(
    cloud: Cloud, model_name: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN an endpoint capturing input and output, CSV and JSON as text
    prefix = unique("capture")
    endpoint = capturing_endpoint(cloud, model_name, prefix)

    # WHEN it answers CSV and JSON requests, some with an InferenceId, and refuses a bad one
    sent: list[tuple[str, str, str | None]] = []
    for index, row in enumerate(rows):
        body = csv_body([row], header=False)
        inference_id = f"label-me-{index}" if index % 2 == 0 else None
        extra = {"InferenceId": inference_id} if inference_id else {}
        answer, _ = invoke(cloud, endpoint, body, "text/csv", **extra)
        sent.append((body, answer, inference_id))
    json_body = json.dumps({"instances": rows[:2]})
    json_answer, response = invoke(
        cloud, endpoint, json_body, "application/json", Accept="application/json"
    )
    sent.append((json_body, json_answer, None))
    with pytest.raises(ClientError):
        invoke(cloud, endpoint, "not,a,record\n", "text/csv")

    # THEN the records land under <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/ in AWS's names
    base = f"{prefix}/{endpoint}/AllTraffic/"
    wait_for(lambda: len(records_of(cloud, base)) >= len(sent), timeout=10)
    objects = captured(cloud, base)
    records = [record for records in objects.values() for record in records]
    assert len(records) == len(sent)  # the refused request is not captured
    for key, in_object in objects.items():
        match = HOUR_AND_FILE.fullmatch(key[len(base) :])
        assert match, key
        first = in_object[0]["eventMetadata"]["inferenceTime"]
        assert first[:13].replace("-", "/").replace("T", "/") == "/".join(match.groups()[:4])
        assert first[14:19].replace(":", "-") == f"{match.group(5)}-{match.group(6)}"

    # AND each record is the request and the answer as sent, with SageMaker's metadata
    by_input = {record["captureData"]["endpointInput"]["data"]: record for record in records}
    for body, answer, inference_id in sent:
        record = by_input[body]
        assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
        assert record["eventVersion"] == "0"
        request_type = "application/json" if body.startswith("{") else "text/csv"
        assert record["captureData"]["endpointInput"] == {
            "observedContentType": request_type,
            "mode": "INPUT",
            "data": body,
            "encoding": "JSON" if body.startswith("{") else "CSV",
        }
        output = record["captureData"]["endpointOutput"]
        assert output["mode"] == "OUTPUT"
        assert output["data"] == answer
        assert output["encoding"] in {"CSV", "JSON"}
        metadata = record["eventMetadata"]
        assert uuid.UUID(metadata["eventId"])
        assert INFERENCE_TIME.fullmatch(metadata["inferenceTime"])
        assert metadata.get("inferenceId") == inference_id
        assert ("inferenceId" in metadata) == (inference_id is not None)
    json_output = by_input[json_body]["captureData"]["endpointOutput"]
    assert json_output["observedContentType"] == response["ContentType"]
    assert len({record["eventMetadata"]["eventId"] for record in records}) == len(records)

    # AND DescribeEndpoint shows capture started at 100 %
    shown = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["DataCaptureConfig"]
    assert shown["EnableCapture"] is True
    assert shown["CaptureStatus"] == "Started"
    assert shown["CurrentSamplingPercentage"] == 100
    assert shown["DestinationS3Uri"] == f"s3://{BUCKET}/{prefix}"


def test_a_type_the_config_does_not_declare_is_captured_as_base64(
    cloud: Cloud, model_name: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN an endpoint capturing only the input, with no content types declared
    prefix = unique("capture")
    config = capture_config(prefix, CaptureOptions=[{"CaptureMode": "Input"}])
    del config["CaptureContentTypeHeader"]
    endpoint, _ = start_endpoint(cloud, model_name, DataCaptureConfig=config)
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"

    # WHEN it answers a CSV request
    body = csv_body(rows[:1], header=False)
    invoke(cloud, endpoint, body, "text/csv")

    # THEN the input is captured base64-encoded, and the output not at all
    (record,) = wait_for(lambda: records_of(cloud, f"{prefix}/{endpoint}/"), timeout=10)
    assert set(record["captureData"]) == {"endpointInput"}
    captured_input = record["captureData"]["endpointInput"]
    assert captured_input["encoding"] == "BASE64"
    assert captured_input["observedContentType"] == "text/csv"
    assert base64.b64decode(captured_input["data"]).decode() == body


def test_sampling_captures_about_its_share_and_zero_captures_nothing(
    cloud: Cloud, model_name: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN endpoints sampling 50 % and 0 %
    half_prefix, none_prefix = unique("capture-half"), unique("capture-none")
    half = capturing_endpoint(cloud, model_name, half_prefix, percentage=50)
    none = capturing_endpoint(cloud, model_name, none_prefix, percentage=0)
    body = csv_body(rows[:1], header=False)

    # WHEN each answers 200 requests and is deleted (which writes what is buffered)
    for endpoint in (half, none):
        for _ in range(200):
            invoke(cloud, endpoint, body, "text/csv")
        cloud.sagemaker.delete_endpoint(EndpointName=endpoint)

    # THEN about half are captured (binomial: outside 60..140 has odds below 1e-8), and none
    assert 60 <= len(records_of(cloud, half_prefix)) <= 140
    assert records_of(cloud, none_prefix) == []


def test_no_record_is_lost_across_an_update_and_an_instance_restart(
    cloud: Cloud, model_name: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN a capturing endpoint on variant Blue, a capturing config for Green, and a client
    # calling it without pause, each request with its own InferenceId
    prefix = unique("capture")
    endpoint, _ = start_endpoint(
        cloud, model_name, variant="Blue", DataCaptureConfig=capture_config(prefix)
    )
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"
    green_config = unique("green-config")
    cloud.create_endpoint_config(
        green_config, model_name, variant="Green", DataCaptureConfig=capture_config(prefix)
    )
    answered: dict[str, str] = {}  # inference id -> the variant that answered
    stop = threading.Event()
    body = csv_body(rows[:1], header=False)

    def call_in_a_loop() -> None:
        while not stop.is_set():
            inference_id = str(uuid.uuid4())
            try:
                _, response = invoke(cloud, endpoint, body, "text/csv", InferenceId=inference_id)
            except ClientError:
                continue  # refused while the instance is replaced: not answered, not captured
            answered[inference_id] = response["InvokedProductionVariant"]

    caller = threading.Thread(target=call_in_a_loop)
    caller.start()
    try:
        # WHEN the endpoint is updated to Green under load, and Green's instance is killed
        wait_for(lambda: len(answered) > 20, timeout=10, interval=0.01)
        cloud.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=green_config)
        assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"
        wait_for(lambda: "Green" in answered.values(), timeout=10, interval=0.01)
        processes = container_processes(endpoint_dir(cloud, endpoint) / "0002")
        leader = next(pid for pid in processes if os.getpgid(pid) == pid)
        os.kill(leader, signal.SIGKILL)

        def instance_out_of_service() -> bool:
            variants = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)
            return variants["ProductionVariants"][0]["CurrentInstanceCount"] == 0

        wait_for(instance_out_of_service, timeout=10, interval=0.02)
        served_before = len(answered)
        wait_for(lambda: len(answered) > served_before + 20, timeout=60, interval=0.05)
    finally:
        stop.set()
        caller.join()
    cloud.sagemaker.delete_endpoint(EndpointName=endpoint)

    # THEN every answered request is captured exactly once, under the variant that answered it
    captured_ids: dict[str, str] = {}
    for key, records in captured(cloud, f"{prefix}/{endpoint}/").items():
        variant = key.split("/")[2]
        for record in records:
            inference_id = record["eventMetadata"]["inferenceId"]
            assert inference_id not in captured_ids
            captured_ids[inference_id] = variant
    assert captured_ids == answered
    assert set(answered.values()) == {"Blue", "Green"}


def test_a_capture_destination_that_is_not_s3_or_a_percentage_above_100_is_refused(
    cloud: Cloud, model_name: str
) -> None:
    for config, message in (
        (
            capture_config("x", DestinationS3Uri="https://example.com/capture"),
            "DataCaptureConfig.DestinationS3Uri 'https://example.com/capture': the local "
            "SageMaker writes capture to an s3://bucket/prefix URI",
        ),
        (
            capture_config("x", percentage=101),
            "1 validation error detected: Value '101' at "
            "'dataCaptureConfig.initialSamplingPercentage' failed to satisfy constraint: "
            "Member must have value less than or equal to 100",
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            cloud.create_endpoint_config(unique("config"), model_name, DataCaptureConfig=config)
        assert error_of(excinfo) == ("ValidationException", message)


def test_closing_a_writer_writes_what_it_holds_encrypted_with_the_kms_key(cloud: Cloud) -> None:
    # GIVEN a writer that would flush only after an hour, with a KMS key for the objects
    key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]  # moto's, as S3 is
    policy = CapturePolicy.from_config(
        capture_config("writer", KmsKeyId=key_id, CaptureOptions=[{"CaptureMode": "Output"}])
    )
    assert policy is not None
    writer = CaptureWriter(policy, S3Storage(AwsClients()), "ep", "AllTraffic", 3600.0)

    # WHEN it takes a record and is closed (as a deployment's stop closes it)
    started = time.monotonic()
    writer.record(("text/csv", b"1,2\n"), ("text/csv; charset=utf-8", b"9.5\n"), "id-1")
    writer.close()

    # THEN the record is in S3 at once, encrypted with the key, output only
    assert time.monotonic() - started < 5
    (key,) = captured(cloud, "writer/ep/AllTraffic/")
    head = cloud.s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(key_id)
    (record,) = records_of(cloud, "writer/ep/AllTraffic/")
    assert record["captureData"] == {
        "endpointOutput": {
            "observedContentType": "text/csv; charset=utf-8",
            "mode": "OUTPUT",
            "data": "9.5\n",
            "encoding": "CSV",
        }
    }
    assert record["eventMetadata"]["inferenceId"] == "id-1"
