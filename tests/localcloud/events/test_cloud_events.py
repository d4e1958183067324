"""A running local cloud: S3 writes and pushes start the pipeline, alarm changes reach SNS."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from localcloud import cli
from localcloud.client import write_connection
from localcloud.cloud import LocalCloud
from localcloud.connection import connection_document
from localcloud.events.push import push
from tests.readme_commands import AWS_CLI

SETTLE_SECONDS = 0.5  # long enough for the bus to deliver an event it matched


class PipelineStarts:
    """Stands in for StartPipelineExecution: a real run takes minutes and is tested elsewhere."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.triggers: list[dict[str, str]] = []
        self._arrived = threading.Condition()

    def __call__(self, pipeline_name: str, trigger: dict[str, str], event: dict[str, Any]) -> None:
        with self._arrived:
            self.calls.append((pipeline_name, event))
            self.triggers.append(trigger)
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


@pytest.fixture
def data_bucket(cloud: LocalCloud) -> str:
    """The pipeline's data bucket, which has EventBridge notifications on."""
    assert cloud.pipeline_stack is not None
    return cloud.pipeline_stack.outputs["DataBucketName"]


def test_new_training_data_starts_the_pipeline_and_other_keys_do_not(
    data_bucket: str, starts: PipelineStarts
) -> None:
    bucket, s3 = data_bucket, boto3.client("s3")
    # WHEN a key the rule does not name is written, then pipeline/data.zip
    s3.put_object(Bucket=bucket, Key="pipeline/notes.txt", Body=b"not a trigger")
    written = s3.put_object(Bucket=bucket, Key="pipeline/data.zip", Body=b"new data")
    # THEN the pipeline starts once, with S3's "Object Created" event
    [(pipeline_name, event)] = starts.wait_for(1)
    assert pipeline_name == "abalone-pipeline"  # the project's pipeline
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
    [trigger] = starts.triggers
    assert trigger["triggerType"] == "CloudWatchEvent"
    assert trigger["triggerDetail"].startswith(f"arn:aws:events:{event['region']}:")
    assert "TrainingDataRule" in trigger["triggerDetail"]


def test_new_training_data_starts_an_execution_of_the_local_pipeline(data_bucket: str) -> None:
    # GIVEN the local CodePipeline behind the rule's target (nothing stands in for it here)
    codepipeline = boto3.client("codepipeline")
    pipeline = "abalone-pipeline"
    before = codepipeline.list_pipeline_executions(pipelineName=pipeline)
    known = {e["pipelineExecutionId"] for e in before["pipelineExecutionSummaries"]}
    # WHEN new training data lands
    boto3.client("s3").put_object(Bucket=data_bucket, Key="pipeline/data.zip", Body=b"v2")
    # THEN an execution starts, triggered by the rule, as ListPipelineExecutions shows it
    deadline, started = time.monotonic() + 10, []
    while not started and time.monotonic() < deadline:
        summaries = codepipeline.list_pipeline_executions(pipelineName=pipeline)
        started = [
            e for e in summaries["pipelineExecutionSummaries"]
            if e["pipelineExecutionId"] not in known
        ]  # fmt: skip
        time.sleep(0.1)
    [execution] = started
    codepipeline.stop_pipeline_execution(
        pipelineName=pipeline,
        pipelineExecutionId=execution["pipelineExecutionId"],
        abandon=True,
        reason="the test needed only its start",
    )
    assert execution["trigger"]["triggerType"] == "CloudWatchEvent"
    assert "TrainingDataRule" in execution["trigger"]["triggerDetail"]


def test_a_copy_onto_the_trigger_key_starts_the_pipeline(
    data_bucket: str, starts: PipelineStarts
) -> None:
    bucket, s3 = data_bucket, boto3.client("s3")
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


def test_a_multipart_upload_of_the_trigger_key_starts_the_pipeline(
    data_bucket: str, starts: PipelineStarts
) -> None:
    bucket, s3 = data_bucket, boto3.client("s3")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="pipeline/data.zip")["UploadId"]
    part = s3.upload_part(
        Bucket=bucket, Key="pipeline/data.zip", UploadId=upload, PartNumber=1, Body=b"part"
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="pipeline/data.zip",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    [(_, event)] = starts.wait_for(1)
    assert event["detail"]["reason"] == "CompleteMultipartUpload"
    assert event["detail"]["object"]["size"] == len(b"part")


def test_put_events_answers_each_bad_entry_as_eventbridge_does(cloud: LocalCloud) -> None:
    events = boto3.client("events")
    answer = events.put_events(
        Entries=[
            {"Source": "my.app", "DetailType": "Thing", "Detail": "not json"},
            {"Source": "my.app", "DetailType": "Thing", "Detail": "{}", "EventBusName": "other"},
            {"Source": "my.app", "DetailType": "Thing", "Detail": '{"ok": true}'},
        ]
    )
    assert answer["FailedEntryCount"] == 2
    first, second, third = answer["Entries"]
    assert (first["ErrorCode"], first["ErrorMessage"]) == (
        "MalformedDetail",
        "Detail is malformed.",
    )
    assert second["ErrorCode"] == "InvalidArgument"
    assert "EventId" in third
    unchecked = boto3.client("events", config=Config(parameter_validation=False))
    with pytest.raises(unchecked.exceptions.ClientError) as error:
        unchecked.put_events(Entries=[])
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length greater than or equal to 1" in str(error.value)


def test_the_push_command_starts_the_pipeline(
    cloud: LocalCloud, starts: PipelineStarts, tmp_path: Path
) -> None:
    # GIVEN the connection file a background cloud writes
    write_connection(tmp_path, connection_document(cloud))
    # WHEN the user runs `python -m localcloud push`
    assert cli.main(["push", "--state-dir", str(tmp_path)]) == 0
    # THEN the source rule starts the pipeline with CodeCommit's event for the branch
    [(_, event)] = starts.wait_for(1)
    assert event["source"] == "aws.codecommit"
    assert event["detail"]["event"] == "referenceUpdated"
    assert event["detail"]["referenceName"] == "main"


def _aws(cloud: LocalCloud, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The pinned AWS CLI (make awscli-venv), configured as a user of this cloud would be."""
    if not AWS_CLI.is_file():
        pytest.fail(f"{AWS_CLI} is missing: `make awscli-venv` installs it (make test does)")
    environment = {"PATH": os.environ["PATH"], "HOME": str(cloud.state_dir), **cloud.environment}
    return subprocess.run(
        [str(AWS_CLI), *arguments], env=environment, capture_output=True, text=True, check=True
    )


def test_aws_s3_cp_of_new_training_data_starts_the_pipeline(
    cloud: LocalCloud, data_bucket: str, starts: PipelineStarts, tmp_path: Path
) -> None:
    new_data = tmp_path / "data.zip"
    new_data.write_bytes(b"retrain on this")
    _aws(cloud, "s3", "cp", str(new_data), f"s3://{data_bucket}/pipeline/data.zip")
    [(_, event)] = starts.wait_for(1)
    assert event["detail"]["object"]["size"] == len(b"retrain on this")


def test_aws_cloudwatch_set_alarm_state_reaches_the_alarm_topic(cloud: LocalCloud) -> None:
    # GIVEN an alarm whose action is a topic with a queue subscribed
    sns, sqs, cloudwatch = (boto3.client(name) for name in ("sns", "sqs", "cloudwatch"))
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    queue = sqs.create_queue(QueueName="alarms")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    cloudwatch.put_metric_alarm(
        AlarmName="latency", Namespace="AWS/SageMaker", MetricName="ModelLatency",
        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=1e6,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic],
    )  # fmt: skip
    deadline = time.monotonic() + 10  # the evaluator notices the new alarm (every second)
    while time.monotonic() < deadline:
        alarm = cloudwatch.describe_alarms(AlarmNames=["latency"])["MetricAlarms"][0]
        if alarm["StateValue"] == "INSUFFICIENT_DATA":
            break
        time.sleep(0.1)
    # WHEN a user sets it to ALARM with the AWS CLI
    _aws(
        cloud, "cloudwatch", "set-alarm-state", "--alarm-name", "latency",
        "--state-value", "ALARM", "--state-reason", "testing the alarm",
    )  # fmt: skip
    # THEN the topic's subscriber gets CloudWatch's alarm message
    answer = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=10)
    message = json.loads(json.loads(answer["Messages"][0]["Body"])["Message"])
    assert (message["AlarmName"], message["NewStateValue"]) == ("latency", "ALARM")
    assert message["NewStateReason"] == "testing the alarm"
