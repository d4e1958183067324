"""The templates' rules in a running local cloud: S3 uploads and pushes start the pipeline."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from localcloud.cloud import LocalCloud
from localcloud.events.push import push

SETTLE_SECONDS = 0.5  # long enough for the bus to deliver an event it matched


class PipelineStarts:
    """Stands in for StartPipelineExecution: a real run takes minutes and is tested elsewhere."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._arrived = threading.Condition()

    def __call__(self, pipeline_name: str, event: dict[str, Any]) -> None:
        with self._arrived:
            self.calls.append((pipeline_name, event))
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.calls) >= count, timeout)
        time.sleep(SETTLE_SECONDS)  # and nothing more arrives
        return list(self.calls)


@pytest.fixture
def starts(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> PipelineStarts:
    recorder = PipelineStarts()
    monkeypatch.setattr(cloud.events.services, "start_pipeline_execution", recorder)
    return recorder


def test_new_training_data_starts_the_pipeline_and_other_keys_do_not(
    cloud: LocalCloud, starts: PipelineStarts
) -> None:
    # GIVEN the data bucket, which has EventBridge notifications on
    assert cloud.pipeline_stack is not None
    bucket = cloud.pipeline_stack.outputs["DataBucketName"]
    s3 = boto3.client("s3")
    # WHEN a key the rule does not name is written, then pipeline/data.zip
    s3.put_object(Bucket=bucket, Key="pipeline/notes.txt", Body=b"not a trigger")
    written = s3.put_object(Bucket=bucket, Key="pipeline/data.zip", Body=b"new data")
    # THEN the pipeline starts once, with S3's "Object Created" event
    [(pipeline_name, event)] = starts.wait_for(1)
    assert pipeline_name == f"{cloud.settings.project}-pipeline"
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["resources"] == [f"arn:aws:s3:::{bucket}"]
    assert set(event) == {
        "version", "id", "detail-type", "source", "account", "time", "region", "resources",
        "detail",
    }  # fmt: skip
    detail = event["detail"]
    assert detail["bucket"] == {"name": bucket}
    assert detail["reason"] == "PutObject"
    assert detail["object"]["key"] == "pipeline/data.zip"
    assert detail["object"]["size"] == len(b"new data")
    assert detail["object"]["etag"] == written["ETag"].strip('"')
    # version-id exactly when the write made a version (moto skips the bucket's versioning)
    assert detail["object"].get("version-id") == written.get("VersionId")
    assert detail["requester"] == event["account"]


def test_a_copy_onto_the_trigger_key_starts_the_pipeline(
    cloud: LocalCloud, starts: PipelineStarts
) -> None:
    assert cloud.pipeline_stack is not None
    bucket = cloud.pipeline_stack.outputs["DataBucketName"]
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="staging/data.zip", Body=b"staged")
    s3.copy_object(
        Bucket=bucket,
        Key="pipeline/data.zip",
        CopySource={"Bucket": bucket, "Key": "staging/data.zip"},
    )
    [(_, event)] = starts.wait_for(1)
    assert event["detail"]["reason"] == "CopyObject"


def test_a_push_to_the_branch_starts_the_pipeline(
    cloud: LocalCloud, starts: PipelineStarts
) -> None:
    # GIVEN the repository the source rule watches
    assert cloud.prep_stack is not None and cloud.pipeline_stack is not None
    repository = cloud.prep_stack.outputs["RepositoryName"]
    context = cloud.pipeline_stack.context
    arn = f"arn:aws:codecommit:{context.region}:{context.account_id}:{repository}"
    branch = context.parameters["BranchName"]
    events = boto3.client("events")
    # WHEN another branch moves, then the pipeline's branch (PutEvents through moto)
    push(events, arn, f"{branch}-feature", "1" * 40)
    event_id = push(events, arn, branch, "2" * 40)
    # THEN the pipeline starts once, for the branch's push, with the id PutEvents returned
    [(_, event)] = starts.wait_for(1)
    assert event["id"] == event_id
    assert event["detail"]["referenceName"] == branch
    assert event["detail"]["commitId"] == "2" * 40
