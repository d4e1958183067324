"""Batch scoring: a file of records uploaded to the stack's batch input folder, the transform job
it starts watched to its end, and its predictions read back (boto3 and pandas only)."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from IPython.display import clear_output, display

from .connect import Config

POLL_SECONDS = 2
ENDED = ("Completed", "Failed", "Stopped")
OUTPUT_SUFFIX = ".out"  # SageMaker's name for a file's predictions: <file>.out


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def upload_records(config: Config, features: pd.DataFrame, name: str) -> tuple[str, datetime]:
    """Put the records as headerless CSV (the columns in the data's order) under the batch
    input folder; the object's URI and the time just before the upload."""
    uri = config.batch_input_uri + name
    bucket, key = split_uri(uri)
    body = features.to_csv(header=False, index=False).encode()
    started = datetime.now(UTC).replace(microsecond=0)
    config.session.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    print(f"uploaded {len(features)} records to {uri}")
    return uri, started


def find_job(config: Config, since: datetime, timeout: float = 60) -> str:
    """The name of the batch transform job the upload started (the first created since)."""
    sagemaker = config.session.client("sagemaker")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = sagemaker.list_transform_jobs(
            NameContains=f"{config.project}-batch-", CreationTimeAfter=since, SortOrder="Ascending"
        )["TransformJobSummaries"]
        if jobs:
            return str(jobs[0]["TransformJobName"])
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"no batch transform job started within {timeout:.0f} s of the upload")


def watch_transform(config: Config, since: datetime, timeout: float = 170) -> dict[str, Any]:
    """Follow the upload's job with DescribeTransformJob until it ends, showing its status,
    its model, how long it has run and whether its output is there yet; its last description."""
    sagemaker = config.session.client("sagemaker")
    s3 = config.session.client("s3")
    name = find_job(config, since)
    deadline = time.monotonic() + timeout
    while True:
        described = sagemaker.describe_transform_job(TransformJobName=name)
        status = described["TransformJobStatus"]
        output = output_uri(described)
        bucket, key = split_uri(output)
        written = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0
        elapsed = (datetime.now(UTC) - described["CreationTime"]).total_seconds()
        clear_output(wait=True)
        display(
            pd.DataFrame(
                {
                    "job": [name],
                    "status": [status],
                    "model": [described["ModelName"]],
                    "running for": [f"{elapsed:.0f} s"],
                    "output written": [written],
                    "reason": [described.get("FailureReason", "")],
                }
            ).set_index("job")
        )
        if status in ENDED:
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} is still {status} after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def output_uri(described: dict[str, Any]) -> str:
    """Where a job writes its one input file's predictions: <S3OutputPath>/<file>.out."""
    source = described["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    path = described["TransformOutput"]["S3OutputPath"].rstrip("/")
    return f"{path}/{source.rpartition('/')[2]}{OUTPUT_SUFFIX}"


def read_predictions(config: Config, described: dict[str, Any]) -> list[float]:
    """The job's predictions, one per input line, in the input's order."""
    bucket, key = split_uri(output_uri(described))
    body = config.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return [float(line) for line in io.StringIO(body.decode()) if line.strip()]
