"""Prod's monitoring in the local cloud, as a user meets it after the first approved run: prod's
schedules on the version it serves, every request captured, labels through the API,
`python -m localcloud monitor` judging clean and drifted traffic, and the drift alarm notifying
the topic and starting a retraining run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from localcloud.client import write_connection
from localcloud.cloud import LocalCloud
from localcloud.codepipeline.runner import RunReport
from localcloud.connection import connection_document
from localcloud.constants import REPO_ROOT
from model_registry import served_package, version_of
from tests.cloud_support import lift_usage_limits, predict, raw_records
from tests.readme_commands import AWS_CLI

pytestmark = pytest.mark.e2e
PROD = "abalone-prod"
SCHEDULES = ("abalone-prod-data-quality", "abalone-prod-model-quality")
REQUESTS = 200
LABELLED = 100


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(1)
    return found


def captured(bucket: str) -> int:
    """Capture records of prod in S3, one JSON line each."""
    s3 = boto3.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"capture/{PROD}/")
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return sum(
        len(s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()) for key in keys
    )


def send(cloud: LocalCloud, records: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """One /prod/predict request per record: (inference id, prediction) of each."""
    answers = []
    with requests.Session() as session:
        for record in records:
            response = predict(cloud, "prod", [record], session)
            assert response.status_code == 200, response.text
            answer = response.json()
            answers.append((answer["inference_id"], float(answer["predictions"][0])))
    return answers


def monitor(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m localcloud monitor`, as a user runs it beside the cloud."""
    return subprocess.run(
        [sys.executable, "-m", "localcloud", "monitor", "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
        check=False,
    )


def test_prod_is_monitored_and_drift_alarms_the_topic_and_starts_retraining(
    cloud: LocalCloud, first_run: RunReport
) -> None:
    assert first_run.status == "Succeeded", first_run.message
    assert cloud.pipeline_stack is not None
    outputs = cloud.pipeline_stack.outputs
    sagemaker = boto3.client("sagemaker")
    lift_usage_limits(cloud)
    write_connection(cloud.state_dir, connection_document(cloud))
    # GIVEN prod's two hourly schedules on the version prod serves
    version = version_of(served_package(sagemaker, PROD))
    listed = sagemaker.list_monitoring_schedules(EndpointName=PROD)["MonitoringScheduleSummaries"]
    assert sorted(s["MonitoringScheduleName"] for s in listed) == list(SCHEDULES)
    for schedule in SCHEDULES:
        config = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=schedule)[
            "MonitoringScheduleConfig"
        ]
        assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
        assert config["MonitoringJobDefinitionName"] == f"{schedule}-v{version:06d}"
    # ... and a queue subscribed to the project's topic
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="monitoring-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns").subscribe(
        TopicArn=outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=queue_arn
    )

    # WHEN clean requests reach /prod/predict, one record each
    records, truths = raw_records(cloud, REQUESTS)
    answers = send(cloud, records)
    # THEN each is one capture record in S3
    bucket = outputs["DataBucketName"]
    wait_for(f"{REQUESTS} capture records", lambda: captured(bucket) == REQUESTS, 60)

    # WHEN half of them are labelled through the API (once capture holds their ids)
    labels = [
        {"inference_id": inference_id, "rings": truth}
        for (inference_id, _), truth in zip(answers[:LABELLED], truths, strict=False)
    ]
    response = requests.post(
        f"{cloud.gateway_url}/prod/ground-truth",
        json={"labels": labels},
        headers={"x-api-key": cloud.api_key},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == LABELLED
    # AND `python -m localcloud monitor` runs prod's schedules now
    clean = monitor(cloud.state_dir)
    # THEN the data is clean, and model quality is judged on the labelled predictions
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "abalone-prod-data-quality: Completed\n" in clean.stdout
    predictions = [prediction for _, prediction in answers[:LABELLED]]
    mse = sum((p - t) ** 2 for p, t in zip(predictions, truths, strict=False)) / LABELLED
    quality = "Completed" if mse <= mse_threshold(sagemaker, version) else "CompletedWithViolations"
    assert f"abalone-prod-model-quality: {quality}\n" in clean.stdout, clean.stdout

    # WHEN as many requests come with shells four times heavier, and data quality runs again
    send(cloud, [{**r, "shell_weight": float(r["shell_weight"]) * 4} for r in records])
    drifted = monitor(cloud.state_dir, "--schedule", "abalone-prod-data-quality")
    # THEN it completes with violations naming the drifted feature
    assert drifted.returncode == 0, drifted.stdout + drifted.stderr
    assert "abalone-prod-data-quality: CompletedWithViolations\n" in drifted.stdout
    assert "  shell_weight: baseline_drift_check: " in drifted.stdout
    # AND the drift alarm goes to ALARM, and the topic hears it
    cloudwatch = boto3.client("cloudwatch")

    def alarm_state() -> str | None:
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=["abalone-prod-data-drift"])[
            "MetricAlarms"
        ]
        return alarm["StateValue"] == "ALARM" and alarm["StateValue"]

    wait_for("the drift alarm in ALARM", alarm_state, 180)

    def alarm_message() -> dict[str, Any] | None:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            body = json.loads(message["Body"])
            if body.get("Subject", "").startswith('ALARM: "abalone-prod-data-drift"'):
                return body
        return None

    notice = wait_for("the alarm's notification", alarm_message, 60)
    assert json.loads(notice["Message"])["NewStateValue"] == "ALARM"
    # AND a retraining run starts, triggered by the alarm's event
    codepipeline = boto3.client("codepipeline")

    def retraining() -> dict[str, Any] | None:
        summaries = codepipeline.list_pipeline_executions(pipelineName="abalone-pipeline")[
            "pipelineExecutionSummaries"
        ]
        started = [s for s in summaries if s["trigger"]["triggerType"] == "CloudWatchEvent"]
        return started[0] if started else None

    run = wait_for("a retraining run", retraining, 60)
    codepipeline.stop_pipeline_execution(
        pipelineName="abalone-pipeline",
        pipelineExecutionId=run["pipelineExecutionId"],
        abandon=True,
        reason="the test has seen it start",
    )
    # AND the AWS CLI lists the executions
    listed = subprocess.run(
        [str(AWS_CLI), "sagemaker", "list-monitoring-executions", "--endpoint-name", PROD],
        env={"PATH": os.environ["PATH"], "HOME": str(cloud.state_dir), **cloud.environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    statuses = [
        e["MonitoringExecutionStatus"]
        for e in json.loads(listed.stdout)["MonitoringExecutionSummaries"]
    ]
    assert statuses.count("CompletedWithViolations") >= 1 and "Completed" in statuses


def mse_threshold(sagemaker: Any, version: int) -> float:
    """The MSE threshold of the version's model-quality constraints (the gate's)."""
    definition = sagemaker.describe_model_quality_job_definition(
        JobDefinitionName=f"abalone-prod-model-quality-v{version:06d}"
    )
    uri = definition["ModelQualityBaselineConfig"]["ConstraintsResource"]["S3Uri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return float(json.loads(body)["regression_constraints"]["mse"]["threshold"])
