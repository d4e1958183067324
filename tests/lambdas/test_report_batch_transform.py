"""ReportBatchTransform: SageMaker's captured "Transform Job State Change" event for one of the
project's batch jobs ending puts its counts on the topic (records in moto's S3, counted as
streams), its reason when it failed; other projects' jobs and unended ones are left alone."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.lambdas.conftest import TOPIC_ARN, Cloud, load_event, load_module, published

BUCKET = "demo-data"
JOB = "demo-batch-20250102-030405-0a1b2c3d"
MODEL = "demo-prod-20250102-010203-0a1b"
INPUT_KEY = "batch/input/2025/records.csv"
OUTPUT_KEY = "batch/output/2025/records.csv.out"
RECORDS = (
    "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\nF,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21\n"
)


@pytest.fixture
def report_batch_transform(cloud: Cloud) -> ModuleType:
    """lambdas/report_batch_transform/app.py."""
    return load_module("report_batch_transform/app")


@pytest.fixture(autouse=True)
def environment(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template's environment and the data bucket."""
    for name, value in {
        "PROJECT_NAME": "demo",
        "DATA_BUCKET": BUCKET,
        "NOTIFICATION_TOPIC_ARN": TOPIC_ARN,
    }.items():
        monkeypatch.setenv(name, value)
    cloud.s3.create_bucket(Bucket=BUCKET)


def ended(status: str, name: str = JOB, **detail: Any) -> dict[str, Any]:
    """The captured state change event, for this job as StartBatchTransform created it."""
    event = load_event("sagemaker_transform_job_state_change.json")
    event["resources"] = [f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}"]
    event["detail"].update(
        TransformJobName=name,
        TransformJobArn=event["resources"][0],
        TransformJobStatus=status,
        ModelName=MODEL,
        BatchStrategy="MultiRecord",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{INPUT_KEY}"}
            },
            "ContentType": "text/csv",
            "CompressionType": "None",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{BUCKET}/batch/output/2025",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        CreationTime="2025-01-02T03:04:05Z",
        TransformStartTime="2025-01-02T03:04:10Z",
        TransformEndTime="2025-01-02T03:05:52Z",
    )
    if status != "Failed":
        del event["detail"]["FailureReason"]
    event["detail"].update(detail)
    return event


def test_a_completed_job_tells_the_topic_its_records_predictions_output_and_time(
    cloud, report_batch_transform, inbox
):
    # GIVEN a file of 2 records and its 2 predictions (one per line, as AssembleWith Line writes)
    cloud.s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=RECORDS.encode())
    cloud.s3.put_object(Bucket=BUCKET, Key=OUTPUT_KEY, Body=b"9.41\n10.73\n")
    # WHEN its job's Completed state change arrives
    answer = report_batch_transform.handler(ended("Completed"), None)
    # THEN the topic hears the counts, where the predictions are and how long it took
    assert answer == {"job": JOB, "status": "Completed", "records_in": 2, "predictions_out": 2}
    (notice,) = published(cloud, inbox)
    assert notice["Subject"] == "demo batch scoring Completed: records.csv"
    assert notice["Message"] == (
        f"Batch transform job {JOB} Completed in 102 s, with model {MODEL}.\n"
        f"Records in: 2 (s3://{BUCKET}/{INPUT_KEY})\n"
        f"Predictions out: 2 (s3://{BUCKET}/{OUTPUT_KEY})"
    )
    # ... and the counts as message attributes, for programs
    assert notice["MessageAttributes"] == {
        "records_in": {"Type": "Number", "Value": "2"},
        "predictions_out": {"Type": "Number", "Value": "2"},
    }


def test_counts_that_differ_are_pointed_out(cloud, report_batch_transform, inbox):
    cloud.s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=RECORDS.encode() * 2)
    cloud.s3.put_object(Bucket=BUCKET, Key=OUTPUT_KEY, Body=b"9.41\n10.73\n8.2\n")
    report_batch_transform.handler(ended("Completed"), None)
    (notice,) = published(cloud, inbox)
    assert "The counts differ: 4 records but 3 predictions" in notice["Message"]


def test_a_failed_job_tells_the_topic_sagemakers_reason_and_its_records(
    cloud, report_batch_transform, inbox
):
    # GIVEN a file SageMaker could not score: no .out is written for it
    cloud.s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=RECORDS.encode())
    reason = "ClientError: See job logs for more information"
    # WHEN its Failed state change arrives (times as epoch milliseconds, as some events have)
    event = ended(
        "Failed",
        FailureReason=reason,
        TransformStartTime=1735787050000,
        TransformEndTime="1735787062000",
    )
    answer = report_batch_transform.handler(event, None)
    # THEN the topic hears the reason, the records and that nothing was written
    assert answer["records_in"] == 2 and answer["predictions_out"] is None
    (notice,) = published(cloud, inbox)
    assert notice["Subject"] == "demo batch scoring Failed: records.csv"
    assert notice["Message"] == (
        f"Batch transform job {JOB} Failed in 12 s, with model {MODEL}.\n"
        f"Records in: 2 (s3://{BUCKET}/{INPUT_KEY})\n"
        f"Failure reason: {reason}\n"
        f"No predictions are written for a failed file (s3://{BUCKET}/{OUTPUT_KEY})."
    )
    assert set(notice["MessageAttributes"]) == {"records_in"}


def test_a_stopped_job_says_so(cloud, report_batch_transform, inbox):
    cloud.s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=RECORDS.encode())
    report_batch_transform.handler(ended("Stopped"), None)
    (notice,) = published(cloud, inbox)
    assert notice["Subject"] == "demo batch scoring Stopped: records.csv"
    assert "stopped before it finished" in notice["Message"]


def test_an_object_that_cannot_be_counted_is_reported_as_such(cloud, report_batch_transform, inbox):
    # GIVEN the input was deleted and no .out exists WHEN the Completed event arrives
    answer = report_batch_transform.handler(ended("Completed"), None)
    # THEN the notification says which counts are missing, and why
    assert answer["records_in"] is None and answer["predictions_out"] is None
    (notice,) = published(cloud, inbox)
    assert "Records in: not counted (NoSuchKey: " in notice["Message"]
    assert "Predictions out: not counted (NoSuchKey: " in notice["Message"]
    assert "MessageAttributes" not in notice or notice["MessageAttributes"] == {}


@pytest.mark.parametrize(
    ("name", "status", "why"),
    [
        ("demo-batch-batch-20250102-030405-0a1b2c3d", "Completed", "not a batch job of demo"),
        ("demo-20250102-030405-0a1b2c3d", "Completed", "not a batch job of demo"),
        (JOB, "InProgress", f"{JOB} is InProgress"),
        (JOB, "Stopping", f"{JOB} is Stopping"),
    ],
)
def test_other_projects_jobs_and_jobs_still_running_are_left_alone(
    cloud, report_batch_transform, inbox, name, status, why
):
    answer = report_batch_transform.handler(ended(status, name), None)
    assert why in answer["ignored"]
    assert published(cloud, inbox) == []


def test_a_job_reading_outside_batch_input_is_refused(report_batch_transform):
    event = ended("Completed")
    event["detail"]["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] = (
        f"s3://{BUCKET}/train/train.csv"
    )
    with pytest.raises(ValueError, match="not a file of s3://demo-data/"):
        report_batch_transform.handler(event, None)


def test_an_event_that_is_no_transform_job_state_change_is_refused(report_batch_transform):
    with pytest.raises(ValueError, match="not a transform job state change"):
        report_batch_transform.handler(load_event("s3_object_created.json"), None)


# --- counting -------------------------------------------------------------------------------


def chunked(data: bytes, seed: int) -> Iterator[bytes]:
    """The bytes in chunks of random sizes (1 byte to 64 KB), as a stream may deliver them."""
    rng = random.Random(seed)
    start = 0
    while start < len(data):
        size = rng.randint(1, 65536)
        yield data[start : start + size]
        start += size


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "a",
        "a\n",
        "a\nb",
        "a\nb\n",
        "a\r\nb\r\n",
        "a\n\n\nb\n   \n",
        RECORDS * 1000,
        (RECORDS * 1000).rstrip("\n"),
    ],
)
def test_lines_with_something_in_them_are_counted_whatever_the_chunks(report_batch_transform, text):
    expected = sum(1 for line in text.splitlines() if line.strip())
    data = text.encode()
    for seed in range(5):
        assert report_batch_transform.count_lines(chunked(data, seed)) == expected
    assert report_batch_transform.count_lines(data[i : i + 1] for i in range(len(data))) == (
        expected
    )


def test_a_file_of_64_mb_is_counted_holding_about_one_chunk(report_batch_transform):
    # GIVEN 64 MB of records, produced a megabyte at a time as S3's stream hands them over
    block = RECORDS.encode() * (2**20 // len(RECORDS))
    chunk = block[: 2**20]

    def stream() -> Iterator[bytes]:
        for _ in range(64):
            yield chunk

    per_chunk = chunk.count(b"\n")
    tail = 1 if not chunk.endswith(b"\n") else 0  # chunks glue partial lines together
    # WHEN they are counted (the earlier tests' garbage collected first: not this count's)
    gc.collect()
    tracemalloc.start()
    try:
        count = report_batch_transform.count_lines(stream())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN every line is, and memory stayed near a chunk's worth (the 64 MB are never held)
    assert count == 64 * per_chunk + tail
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MB"


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2025-01-02T03:04:05Z", "2025-01-02T03:04:05+00:00"),
        ("2025-01-02T03:04:05.250+00:00", "2025-01-02T03:04:05.250000+00:00"),
        ("2025-01-02T03:04:05", "2025-01-02T03:04:05+00:00"),
        (1735787045000, "2025-01-02T03:04:05+00:00"),
        ("1735787045000", "2025-01-02T03:04:05+00:00"),
        (1735787045.5, "2025-01-02T03:04:05.500000+00:00"),
    ],
)
def test_event_times_are_read_in_each_form_sagemakers_events_use(
    report_batch_transform, value, iso
):
    assert report_batch_transform.event_time(value).isoformat() == iso


def test_an_event_time_that_is_missing_or_unreadable_gives_no_duration(report_batch_transform):
    assert report_batch_transform.event_time(None) is None
    assert report_batch_transform.event_time("") is None
    assert report_batch_transform.event_time("yesterday") is None
