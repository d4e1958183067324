"""Batch transform on the local SageMaker, through boto3 as a user drives it.

A job runs the shared model's `serve` in batch mode over every object of an S3 prefix and writes
`<object>.out` under the output path, one answer line per record, in order: the same answers
InvokeEndpoint gives for the same rows. The failure paths end as SageMaker's do: the object that
broke is named with its line and gets no output, the other objects still do.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.localcloud.sagemaker.conftest import BUCKET, Cloud, error_of, invoke, unique, wait_for

JOB_ENDED = {"Completed", "Failed", "Stopped"}


@pytest.fixture(scope="module")
def feature_lines(abalone_splits: Path) -> list[str]:
    """Held-out records as headerless CSV lines of the features (no rings)."""
    with (abalone_splits / "test" / "test.csv").open(newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        rings = header.index("rings")
        return [",".join(v for i, v in enumerate(row) if i != rings) for row in reader]


@pytest.fixture(scope="module")
def events(cloud: Cloud) -> Any:
    """Every event the local SageMaker puts on its bus while this module runs."""
    seen: list[tuple[str, str, dict[str, Any]]] = []
    cloud.server.backend.set_event_sink(
        lambda source, detail_type, detail, resources: seen.append((source, detail_type, detail))
    )
    yield seen
    cloud.server.backend.set_event_sink(None)


def put(cloud: Cloud, key: str, body: str | bytes) -> None:
    cloud.s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def read(cloud: Cloud, key: str) -> str:
    return cloud.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def keys_under(cloud: Cloud, prefix: str) -> list[str]:
    listed = cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def job_request(name: str, model: str, prefix: str, **overrides: Any) -> dict[str, Any]:
    """A CreateTransformJob of every object under `prefix`/in/, CSV split by line."""
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}/in/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{BUCKET}/{prefix}/out",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    request.update(overrides)
    return request


def wait_job(cloud: Cloud, name: str, timeout: float = 90.0) -> dict[str, Any]:
    """DescribeTransformJob once the job has ended."""

    def ended() -> dict[str, Any] | None:
        job = cloud.sagemaker.describe_transform_job(TransformJobName=name)
        return job if job["TransformJobStatus"] in JOB_ENDED else None

    return wait_for(ended, timeout, interval=0.2)


def test_each_object_gets_its_out_with_the_answers_invoke_endpoint_gives(
    cloud: Cloud, model_name: str, endpoint: str, feature_lines: list[str], events: list[Any]
) -> None:
    # GIVEN two objects, one in a sub-folder, and a payload limit that splits the larger one
    prefix = unique("batch")
    first, second = feature_lines[:300], feature_lines[300:340]
    put(cloud, f"{prefix}/in/records.csv", "\n".join(first) + "\n")
    put(cloud, f"{prefix}/in/day2/more.csv", "\n".join(second))  # no newline at the end
    name = unique("transform")

    # WHEN a job transforms the prefix, and boto3's waiter waits for it
    arn = cloud.sagemaker.create_transform_job(**job_request(name, model_name, prefix))[
        "TransformJobArn"
    ]
    cloud.sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 90}
    )

    # THEN it completed, with the settings it ran with and its times
    job = cloud.sagemaker.describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert (
        arn
        == job["TransformJobArn"]
        == f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}"
    )
    assert job["MaxConcurrentTransforms"] >= 1 and job["MaxPayloadInMB"] >= 1
    assert job["TransformStartTime"] <= job["TransformEndTime"]
    assert job["TransformInput"]["CompressionType"] == "None"
    # AND each object has its .out, sub-path kept, one answer per record in input order,
    # equal to what the endpoint answers for the same rows
    assert keys_under(cloud, f"{prefix}/out/") == [
        f"{prefix}/out/day2/more.csv.out",
        f"{prefix}/out/records.csv.out",
    ]
    for key, lines in (("records.csv", first), ("day2/more.csv", second)):
        written = read(cloud, f"{prefix}/out/{key}.out")
        assert written.endswith("\n") and "\n\n" not in written
        expected, _ = invoke(cloud, endpoint, "\n".join(lines), "text/csv", Accept="text/csv")
        assert written.splitlines() == expected.splitlines()
        assert len(written.splitlines()) == len(lines)
    # AND ListTransformJobs shows it, and its state changes went to the bus
    listed = cloud.sagemaker.list_transform_jobs(NameContains=name)["TransformJobSummaries"]
    assert [(s["TransformJobName"], s["TransformJobStatus"]) for s in listed] == [
        (name, "Completed")
    ]
    changes = [d for _, kind, d in events if d.get("TransformJobName") == name]
    assert {kind for _, kind, _ in events} == {"SageMaker Transform Job State Change"}
    assert [d["TransformJobStatus"] for d in changes] == ["InProgress", "Completed"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", changes[-1]["TransformEndTime"])
    assert changes[-1]["TransformOutput"]["S3OutputPath"] == f"s3://{BUCKET}/{prefix}/out"


def test_a_malformed_row_fails_its_object_only_naming_the_line(
    cloud: Cloud, model_name: str, feature_lines: list[str]
) -> None:
    # GIVEN three objects, the second with a bad number on its 7th line
    prefix = unique("batch")
    bad = list(feature_lines[:10])
    bad[6] = bad[6].replace(bad[6].split(",")[2], "abc", 1)
    put(cloud, f"{prefix}/in/a.csv", "\n".join(feature_lines[:5]) + "\n")
    put(cloud, f"{prefix}/in/b.csv", "\n".join(bad) + "\n")
    put(cloud, f"{prefix}/in/c.csv", "\n".join(feature_lines[5:9]) + "\n")
    name = unique("transform")

    # WHEN they are transformed
    cloud.sagemaker.create_transform_job(**job_request(name, model_name, prefix))
    job = wait_job(cloud, name)

    # THEN the job failed naming the object, its line and column, and the container's words
    assert job["TransformJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith(f"ClientError: s3://{BUCKET}/{prefix}/in/b.csv: line 7: "), reason
    assert "'abc' is not a finite number" in reason
    # AND the bad object has no output, the others have theirs
    assert keys_under(cloud, f"{prefix}/out/") == [
        f"{prefix}/out/a.csv.out",
        f"{prefix}/out/c.csv.out",
    ]
    assert len(read(cloud, f"{prefix}/out/c.csv.out").splitlines()) == 4


def test_an_empty_object_gets_an_empty_out(cloud: Cloud, model_name: str) -> None:
    prefix = unique("batch")
    put(cloud, f"{prefix}/in/empty.csv", b"")
    name = unique("transform")
    cloud.sagemaker.create_transform_job(**job_request(name, model_name, prefix))
    job = wait_job(cloud, name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert read(cloud, f"{prefix}/out/empty.csv.out") == ""


def test_a_record_larger_than_max_payload_fails_the_object(
    cloud: Cloud, model_name: str, feature_lines: list[str]
) -> None:
    # GIVEN a second line of 1.5 MiB, and MaxPayloadInMB 1
    prefix = unique("batch")
    huge = feature_lines[0] + " " * (3 << 19)
    put(cloud, f"{prefix}/in/wide.csv", f"{feature_lines[1]}\n{huge}\n{feature_lines[2]}\n")
    name = unique("transform")
    cloud.sagemaker.create_transform_job(**job_request(name, model_name, prefix, MaxPayloadInMB=1))
    job = wait_job(cloud, name)
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"] == (
        f"ClientError: s3://{BUCKET}/{prefix}/in/wide.csv: line 2: a record of {len(huge)} bytes "
        "is over MaxPayloadInMB (1 MB); raise MaxPayloadInMB (at most 100) or split the record"
    )
    assert keys_under(cloud, f"{prefix}/out/") == []


def test_an_unknown_model_is_refused(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as raised:
        cloud.sagemaker.create_transform_job(
            **job_request(unique("transform"), "no-such-model", unique("batch"))
        )
    assert error_of(raised) == (
        "ValidationException",
        'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/no-such-model".',
    )


def test_stop_mid_job_ends_stopped_with_no_partial_output(
    cloud: Cloud, model_name: str, feature_lines: list[str]
) -> None:
    # GIVEN a job sending many records one request each (slow enough to stop in the middle)
    prefix = unique("batch")
    put(cloud, f"{prefix}/in/many.csv", "\n".join(feature_lines * 20) + "\n")
    name = unique("transform")
    cloud.sagemaker.create_transform_job(
        **job_request(name, model_name, prefix, BatchStrategy="SingleRecord")
    )
    base = cloud.state_dir / "sagemaker" / "transform-jobs" / name / "output"
    wait_for(lambda: base.is_dir() and any(base.iterdir()), timeout=60)

    # WHEN it is stopped while the object is under way
    cloud.sagemaker.stop_transform_job(TransformJobName=name)
    stopping = cloud.sagemaker.describe_transform_job(TransformJobName=name)

    # THEN it goes Stopping, then Stopped, and nothing was uploaded
    assert stopping["TransformJobStatus"] in {"Stopping", "Stopped"}
    job = wait_job(cloud, name)
    assert job["TransformJobStatus"] == "Stopped"
    assert "FailureReason" not in job
    assert keys_under(cloud, f"{prefix}/out/") == []
    # AND a second stop is refused as SageMaker refuses it
    with pytest.raises(ClientError) as raised:
        cloud.sagemaker.stop_transform_job(TransformJobName=name)
    assert error_of(raised) == (
        "ValidationException",
        "The request was rejected because the transform job is in status Stopped.",
    )


def test_csv_join_with_input_and_filters(
    cloud: Cloud, model_name: str, endpoint: str, feature_lines: list[str]
) -> None:
    # GIVEN rows with an id first, which the model must not see
    prefix = unique("batch")
    rows = [f"id{i},{line}" for i, line in enumerate(feature_lines[:50])]
    put(cloud, f"{prefix}/in/ids.csv", "\n".join(rows) + "\n")
    name = unique("transform")

    # WHEN the input filter drops the id and the output keeps the id and the prediction
    cloud.sagemaker.create_transform_job(
        **job_request(
            name,
            model_name,
            prefix,
            DataProcessing={
                "InputFilter": "$[1:]",
                "JoinSource": "Input",
                "OutputFilter": "$[0,-1]",
            },
        )
    )
    job = wait_job(cloud, name)

    # THEN each line is the row's id and its prediction
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["DataProcessing"] == {
        "InputFilter": "$[1:]",
        "OutputFilter": "$[0,-1]",
        "JoinSource": "Input",
    }
    expected, _ = invoke(
        cloud, endpoint, "\n".join(feature_lines[:50]), "text/csv", Accept="text/csv"
    )
    assert read(cloud, f"{prefix}/out/ids.csv.out").splitlines() == [
        f"id{i},{prediction}" for i, prediction in enumerate(expected.splitlines())
    ]


def test_gzip_input_whole_object_and_single_record(
    cloud: Cloud, model_name: str, endpoint: str, feature_lines: list[str]
) -> None:
    prefix = unique("batch")
    body = "\n".join(feature_lines[:20]) + "\n"
    put(cloud, f"{prefix}/in/records.csv.gz", gzip.compress(body.encode()))
    put(cloud, f"{prefix}/in/plain.csv", body)
    expected, _ = invoke(cloud, endpoint, body, "text/csv", Accept="text/csv")
    for split, strategy in (
        ("None", "MultiRecord"),  # the whole object in one request
        ("Line", "MultiRecord"),
        ("Line", "SingleRecord"),
    ):
        name = unique("transform")
        request = job_request(name, model_name, prefix, BatchStrategy=strategy)
        request["TransformInput"]["SplitType"] = split
        request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] += "records"
        request["TransformInput"]["CompressionType"] = "Gzip"
        request["TransformOutput"]["S3OutputPath"] += f"/{name}"
        cloud.sagemaker.create_transform_job(**request)
        job = wait_job(cloud, name)
        assert job["TransformJobStatus"] == "Completed", (split, strategy, job)
        written = read(cloud, f"{prefix}/out/{name}/records.csv.gz.out")
        # One row at a time, the model's arithmetic may differ in the last bits.
        predictions = [float(line) for line in written.splitlines()]
        wanted = [float(line) for line in expected.splitlines()]
        assert predictions == pytest.approx(wanted, rel=1e-12), (split, strategy)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"MaxPayloadInMB": 0},
            "MaxPayloadInMB 0 asks for HTTP chunked streaming, which the local SageMaker does "
            "not offer: set 1 to 100, or leave it unset for the container's choice (6 by default)",
        ),
        (
            {"MaxPayloadInMB": 30, "MaxConcurrentTransforms": 4},
            "MaxConcurrentTransforms (4) x MaxPayloadInMB (30) is 120 MB: it must not exceed "
            "100 MB",
        ),
        (
            {"DataProcessing": {"InputFilter": "$..deep"}},
            "Value '$..deep' at 'dataProcessing.inputFilter' is not a JSONPath expression batch "
            "transform supports: use $, .name, *, ['a','b'], [i,j] or [start:end] after $",
        ),
        (
            {
                "DataProcessing": {"JoinSource": "Input"},
                "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/x", "AssembleWith": "Line"},
            },
            "DataProcessing needs TransformOutput.Accept to equal TransformInput.ContentType "
            "('text/csv'); got '(none)'",
        ),
        (
            {
                "BatchStrategy": "SingleRecord",
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/k"}},
                    "SplitType": "None",
                },
            },
            "BatchStrategy SingleRecord needs TransformInput.SplitType Line: with SplitType None "
            "each object is sent whole, as one request",
        ),
        (
            {"Environment": {"PYTHONPATH": "/tmp"}},
            "Environment variable PYTHONPATH at 'environment' cannot be set on the local "
            "SageMaker: it runs the container's programs as host processes, where they would "
            "change how the program starts (PATH, PYTHON*, LD_* and the variables it sets itself "
            "are refused)",
        ),
    ],
)
def test_requests_sagemaker_refuses_are_refused_naming_the_problem(
    cloud: Cloud, model_name: str, overrides: dict[str, Any], message: str
) -> None:
    request = job_request(unique("transform"), model_name, unique("batch"), **overrides)
    with pytest.raises(ClientError) as raised:
        cloud.sagemaker.create_transform_job(**request)
    assert error_of(raised) == ("ValidationException", message)


def test_members_the_local_sagemaker_cannot_honour_are_refused_by_name(
    cloud: Cloud, model_name: str
) -> None:
    request = job_request(unique("transform"), model_name, unique("batch"))
    request["TransformInput"]["SplitType"] = "RecordIO"
    with pytest.raises(ClientError) as raised:
        cloud.sagemaker.create_transform_job(**request)
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert "SplitType" in message and "RecordIO and TFRecord are not" in message


def test_describe_of_an_unknown_job_is_sagemakers_validation_error(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as raised:
        cloud.sagemaker.describe_transform_job(TransformJobName="no-such-job")
    assert error_of(raised) == (
        "ValidationException",
        "Could not find requested job with name no-such-job",
    )


def test_the_job_s_container_output_goes_to_cloudwatch_logs(
    cloud: Cloud, model_name: str, feature_lines: list[str]
) -> None:
    prefix = unique("batch")
    put(cloud, f"{prefix}/in/records.csv", "\n".join(feature_lines[:3]) + "\n")
    name = unique("transform")
    cloud.sagemaker.create_transform_job(**job_request(name, model_name, prefix))
    assert wait_job(cloud, name)["TransformJobStatus"] == "Completed"
    logs = boto3.session.Session().client("logs")  # the moto server the local SageMaker uses

    def streams() -> list[dict[str, Any]]:
        return logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{name}/"
        )["logStreams"]

    found = wait_for(streams, timeout=10)
    assert found[0]["logStreamName"].startswith(f"{name}/i-0")


def test_json_lines_join_keeps_the_id_and_nests_the_prediction(
    cloud: Cloud, model_name: str, endpoint: str, rows: list[dict[str, Any]]
) -> None:
    # GIVEN JSON Lines records carrying an id the model does not know
    prefix = unique("batch")
    records = [{"id": f"r{i}", "features": row} for i, row in enumerate(rows)]
    put(cloud, f"{prefix}/in/records.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    name = unique("transform")
    request = job_request(
        name,
        model_name,
        prefix,
        DataProcessing={
            "InputFilter": "$.features",
            "JoinSource": "Input",
            "OutputFilter": "$['id','SageMakerOutput']",
        },
    )
    request["TransformInput"]["ContentType"] = "application/jsonlines"
    request["TransformOutput"]["Accept"] = "application/jsonlines"

    # WHEN the job filters the features in and joins each answer to its record
    cloud.sagemaker.create_transform_job(**request)
    job = wait_job(cloud, name)

    # THEN each line is the record's id and the container's answer for its features
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    expected, _ = invoke(cloud, endpoint, json.dumps({"instances": rows}), "application/json")
    predictions = json.loads(expected)["predictions"]
    written = [
        json.loads(line) for line in read(cloud, f"{prefix}/out/records.jsonl.out").splitlines()
    ]
    assert written == [
        {"id": f"r{i}", "SageMakerOutput": {"prediction": prediction}}
        for i, prediction in enumerate(predictions)
    ]
