"""Monitoring schedules through boto3: data quality of an endpoint's real capture and model
quality with its ground truth, run by the image's `monitor`; executions with AWS's statuses,
reports where SageMaker puts them, metrics in CloudWatch, the life cycle of schedules and job
definitions, and AWS's errors."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud.monitoring_runs import one_time_name, run_now
from localcloud.sagemaker.schedule_expression import ScheduleExpression, parse_offset
from tests.localcloud.sagemaker.conftest import (
    BUCKET,
    IMAGE_URI,
    ROLE_ARN,
    Cloud,
    capture_config,
    count_captured,
    csv_body,
    error_of,
    ground_truth_lines,
    read_json,
    send_and_wait_captured,
    start_endpoint,
    unique,
    wait_for,
)

EXECUTION_ENDED = {"Completed", "CompletedWithViolations", "Failed", "Stopped"}


def schedule_config(
    endpoint: str, baseline_uri: str, expression: str = "NOW", **schedule: str
) -> dict[str, Any]:
    """A MonitoringScheduleConfig as the SDK's DefaultModelMonitor builds it, with our image."""
    if expression == "NOW" and not schedule:
        schedule = {"DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"}
    return {
        "ScheduleConfig": {"ScheduleExpression": expression, **schedule},
        "MonitoringJobDefinition": {
            "BaselineConfig": {
                "StatisticsResource": {"S3Uri": f"{baseline_uri}/statistics.json"},
                "ConstraintsResource": {"S3Uri": f"{baseline_uri}/constraints.json"},
            },
            "MonitoringInputs": [
                {
                    "EndpointInput": {
                        "EndpointName": endpoint,
                        "LocalPath": "/opt/ml/processing/input/endpoint",
                        "S3InputMode": "File",
                    }
                }
            ],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [
                    {
                        "S3Output": {
                            "S3Uri": f"s3://{BUCKET}/monitoring/reports",
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "Continuous",
                        }
                    }
                ]
            },
            "MonitoringResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 5,
                }
            },
            "MonitoringAppSpecification": {
                "ImageUri": IMAGE_URI,
                "ContainerEntrypoint": ["monitor"],
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "RoleArn": ROLE_ARN,
        },
    }


def run_once(cloud: Cloud, endpoint: str, baseline_uri: str, **schedule: str) -> dict[str, Any]:
    """A NOW schedule's one execution, once it has ended (with its schedule's name)."""
    name = unique("monitor-now")
    cloud.sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig=schedule_config(endpoint, baseline_uri, "NOW", **schedule),
    )

    def ended() -> dict[str, Any] | None:
        found = cloud.sagemaker.list_monitoring_executions(MonitoringScheduleName=name)
        (execution,) = found["MonitoringExecutionSummaries"]
        return execution if execution["MonitoringExecutionStatus"] in EXECUTION_ENDED else None

    return wait_for(ended, 120, interval=0.5)


def report_uri(execution: dict[str, Any]) -> str:
    """Where SageMaker puts an execution's report: <S3Uri>/<endpoint>/<schedule>/yyyy/mm/dd/hh."""
    hour = execution["ScheduledTime"].astimezone(UTC).strftime("%Y/%m/%d/%H")
    return (
        f"s3://{BUCKET}/monitoring/reports/{execution['EndpointName']}/"
        f"{execution['MonitoringScheduleName']}/{hour}"
    )


def test_executions_report_clean_then_drifted_capture_with_awss_statuses_and_metrics(
    cloud, held_out, baseline_uri, capture_endpoint
):
    endpoint, capture_uri = capture_endpoint
    records = held_out[:40]
    # GIVEN 40 captured requests like the training data
    assert send_and_wait_captured(cloud, endpoint, capture_uri, records) == 40
    # WHEN a one-time schedule analyses the last hour
    clean = run_once(cloud, endpoint, baseline_uri)
    # THEN the execution completed with no violation, its report where SageMaker puts it
    assert clean["MonitoringExecutionStatus"] == "Completed", clean.get("FailureReason")
    assert clean["MonitoringType"] == "DataQuality"
    job = cloud.sagemaker.describe_processing_job(
        ProcessingJobName=clean["ProcessingJobArn"].rsplit("/", 1)[1]
    )
    assert job["ProcessingJobName"].startswith("model-monitoring-")
    assert job["MonitoringScheduleArn"].endswith(clean["MonitoringScheduleName"])
    assert job["Environment"]["sagemaker_endpoint_name"] == endpoint
    assert read_json(cloud, f"{report_uri(clean)}/constraint_violations.json")["violations"] == []
    # ... and the feature metrics are in CloudWatch under the endpoint and the schedule
    metrics = boto3.client("cloudwatch").list_metrics(
        Namespace="aws/sagemaker/Endpoints/data-metrics",
        Dimensions=[
            {"Name": "Endpoint", "Value": endpoint},
            {"Name": "MonitoringSchedule", "Value": clean["MonitoringScheduleName"]},
        ],
    )["Metrics"]
    assert "feature_baseline_drift_shell_weight" in {m["MetricName"] for m in metrics}

    # WHEN as many requests come with shells four times heavier, and it runs again
    heavy = [{**r, "shell_weight": r["shell_weight"] * 4} for r in records]
    assert send_and_wait_captured(cloud, endpoint, capture_uri, heavy) == 80
    drifted = run_once(cloud, endpoint, baseline_uri)
    # THEN the execution completed with violations naming the drifted feature
    assert drifted["MonitoringExecutionStatus"] == "CompletedWithViolations"
    found = read_json(cloud, f"{report_uri(drifted)}/constraint_violations.json")["violations"]
    assert {v["feature_name"] for v in found} == {"shell_weight"}
    listed = cloud.sagemaker.list_monitoring_executions(
        EndpointName=endpoint, StatusEquals="CompletedWithViolations"
    )["MonitoringExecutionSummaries"]
    assert [e["MonitoringScheduleName"] for e in listed] == [drifted["MonitoringScheduleName"]]
    described = cloud.sagemaker.describe_monitoring_schedule(
        MonitoringScheduleName=drifted["MonitoringScheduleName"]
    )
    assert described["LastMonitoringExecutionSummary"]["MonitoringExecutionStatus"] == (
        "CompletedWithViolations"
    )


def test_a_window_without_capture_fails_with_awss_wording(cloud, baseline_uri, capture_endpoint):
    endpoint, _ = capture_endpoint
    # the day before yesterday: nothing was captured then
    execution = run_once(
        cloud,
        endpoint,
        baseline_uri,
        DataAnalysisStartTime="-P2D",
        DataAnalysisEndTime="-P1DT23H",
    )
    assert execution["MonitoringExecutionStatus"] == "Failed"
    assert execution["FailureReason"] == "Job inputs had no data"
    assert "ProcessingJobArn" not in execution


def test_a_recurring_schedule_lives_as_on_aws(cloud, baseline_uri, capture_endpoint):
    endpoint, _ = capture_endpoint
    name = unique("monitor-hourly")
    # GIVEN an hourly schedule
    arn = cloud.sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig=schedule_config(endpoint, baseline_uri, "cron(0 * ? * * *)"),
        Tags=[{"Key": "project", "Value": "abalone"}],
    )["MonitoringScheduleArn"]
    described = cloud.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    assert (described["MonitoringScheduleArn"], described["MonitoringScheduleStatus"]) == (
        arn,
        "Scheduled",
    )
    assert described["EndpointName"] == endpoint
    assert "LastMonitoringExecutionSummary" not in described  # the first run is at the hour
    assert cloud.sagemaker.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "project", "Value": "abalone"}
    ]
    # WHEN it is stopped, started, and moved to daily at 03:00
    cloud.sagemaker.stop_monitoring_schedule(MonitoringScheduleName=name)
    stopped = cloud.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    cloud.sagemaker.start_monitoring_schedule(MonitoringScheduleName=name)
    cloud.sagemaker.update_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig=schedule_config(endpoint, baseline_uri, "cron(0 3 ? * * *)"),
    )
    # THEN each shows, and the list finds it by endpoint and status
    assert stopped["MonitoringScheduleStatus"] == "Stopped"
    described = cloud.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == (
        "cron(0 3 ? * * *)"
    )
    listed = cloud.sagemaker.list_monitoring_schedules(
        EndpointName=endpoint, StatusEquals="Scheduled", NameContains="monitor-hourly"
    )["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in listed] == [name]
    # WHEN it is deleted THEN it is gone, with AWS's error
    cloud.sagemaker.delete_monitoring_schedule(MonitoringScheduleName=name)
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    assert error_of(excinfo) == ("ResourceNotFound", f"Monitoring Schedule {arn} does not exist.")


def test_run_now_runs_a_recurring_schedules_job_once_over_the_last_hours(
    cloud, held_out, baseline_uri, capture_endpoint
):
    endpoint, capture_uri = capture_endpoint
    send_and_wait_captured(cloud, endpoint, capture_uri, held_out[:10])
    name = unique("monitor-daily")
    config = schedule_config(endpoint, baseline_uri, "cron(0 3 ? * * *)")
    cloud.sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=name, MonitoringScheduleConfig=config
    )
    lines: list[str] = []
    execution = run_now(cloud.sagemaker, name, hours=2, progress=lines.append)
    # the run is a one-time copy of the schedule's job, over the last two hours
    assert execution["MonitoringExecutionStatus"] in {"Completed", "CompletedWithViolations"}
    copy_name = execution["MonitoringScheduleName"]
    assert copy_name.startswith(f"{name}-now-")
    copied = cloud.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=copy_name)
    assert copied["MonitoringScheduleConfig"]["ScheduleConfig"] == {
        "ScheduleExpression": "NOW",
        "DataAnalysisStartTime": "-PT2H",
        "DataAnalysisEndTime": "-PT0H",
    }
    assert (
        copied["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
        == (config["MonitoringJobDefinition"])
    )
    assert lines[0] == f"{name}: started {copy_name} over the last 2 hour(s)"
    assert lines[-1] == f"{name}: {execution['MonitoringExecutionStatus']}"
    # ... and the schedule itself is untouched, with no execution of its own yet
    described = cloud.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    assert "LastMonitoringExecutionSummary" not in described


def test_a_one_time_name_fits_sagemakers_limit():
    moment = datetime(2024, 5, 6, 22, 0, 1, tzinfo=UTC)
    assert one_time_name("abalone-prod-data-quality", moment) == (
        "abalone-prod-data-quality-now-20240506220001"
    )
    long = one_time_name("x" * 63, moment)
    assert len(long) == 63
    assert long.endswith("-now-20240506220001")


@pytest.mark.parametrize(
    ("expression", "schedule", "message"),
    [
        (
            "rate(1 hour)",
            {},
            "Invalid ScheduleExpression 'rate(1 hour)': use cron(0 * ? * * *) (hourly)",
        ),
        ("cron(30 * ? * * *)", {}, "Invalid ScheduleExpression 'cron(30 * ? * * *)'"),
        (
            "NOW",
            {"DataAnalysisStartTime": "-PT1H"},
            "ScheduleConfig.DataAnalysisStartTime and DataAnalysisEndTime are required when "
            "ScheduleExpression is NOW",
        ),
        (
            "NOW",
            {"DataAnalysisStartTime": "-P2D", "DataAnalysisEndTime": "-PT0H"},
            "The analysis window of a NOW schedule must start before it ends and last 24 hours "
            "at most",
        ),
        (
            "NOW",
            {"DataAnalysisStartTime": "1 hour ago", "DataAnalysisEndTime": "-PT0H"},
            "DataAnalysisStartTime '1 hour ago' is not a negative ISO 8601 duration",
        ),
        (
            "cron(0 * ? * * *)",
            {"DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"},
            "ScheduleConfig.DataAnalysisStartTime is for ScheduleExpression NOW only",
        ),
    ],
)
def test_a_schedule_no_execution_could_run_is_refused(
    cloud, baseline_uri, capture_endpoint, expression, schedule, message
):
    endpoint, _ = capture_endpoint
    config = schedule_config(endpoint, baseline_uri, expression)
    config["ScheduleConfig"] = {"ScheduleExpression": expression, **schedule}
    name = unique("refused")
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=name, MonitoringScheduleConfig=config
        )
    code, text = error_of(excinfo)
    assert code == "ValidationException"
    assert text.startswith(message)
    assert (
        cloud.sagemaker.list_monitoring_schedules(NameContains=name)["MonitoringScheduleSummaries"]
        == []
    )


def test_an_endpoint_that_does_not_capture_cannot_be_monitored(cloud, endpoint, baseline_uri):
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=unique("no-capture"),
            MonitoringScheduleConfig=schedule_config(endpoint, baseline_uri),
        )
    code, text = error_of(excinfo)
    assert code == "ValidationException"
    assert text.startswith(f"Endpoint {endpoint} does not capture data")


def test_an_inline_definition_is_data_quality_only(cloud, baseline_uri, capture_endpoint):
    endpoint, _ = capture_endpoint
    config = schedule_config(endpoint, baseline_uri)
    config["MonitoringType"] = "ModelQuality"
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=unique("model-quality"), MonitoringScheduleConfig=config
        )
    assert error_of(excinfo) == (
        "ValidationException",
        "An inline MonitoringJobDefinition is a DataQuality job: give a "
        "MonitoringJobDefinitionName with MonitoringType for the others",
    )


def model_quality_definition(
    cloud: Cloud, endpoint: str, labels_uri: str, mse_threshold: float
) -> str:
    """A model-quality job definition whose baseline allows an MSE up to `mse_threshold`."""
    name = unique("model-quality")
    constraints = {
        "version": 0.0,
        "regression_constraints": {
            "mse": {"threshold": mse_threshold, "comparison_operator": "GreaterThanThreshold"}
        },
    }
    key = f"monitoring/{name}/constraints.json"
    cloud.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(constraints).encode())
    inline = schedule_config(endpoint, "unused")["MonitoringJobDefinition"]
    cloud.sagemaker.create_model_quality_job_definition(
        JobDefinitionName=name,
        ModelQualityBaselineConfig={"ConstraintsResource": {"S3Uri": f"s3://{BUCKET}/{key}"}},
        ModelQualityAppSpecification={
            **inline["MonitoringAppSpecification"],
            "ProblemType": "Regression",
        },
        ModelQualityJobInput={
            "EndpointInput": {
                **inline["MonitoringInputs"][0]["EndpointInput"],
                "InferenceAttribute": "predictions",
            },
            "GroundTruthS3Input": {"S3Uri": labels_uri},
        },
        ModelQualityJobOutputConfig=inline["MonitoringOutputConfig"],
        JobResources=inline["MonitoringResources"],
        RoleArn=ROLE_ARN,
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    return name


def run_definition_once(cloud: Cloud, definition: str) -> dict[str, Any]:
    """A NOW schedule of a model-quality definition; its execution once ended."""
    name = unique("quality-now")
    cloud.sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": definition,
            "MonitoringType": "ModelQuality",
        },
    )

    def ended() -> dict[str, Any] | None:
        found = cloud.sagemaker.list_monitoring_executions(MonitoringScheduleName=name)
        (execution,) = found["MonitoringExecutionSummaries"]
        return execution if execution["MonitoringExecutionStatus"] in EXECUTION_ENDED else None

    return wait_for(ended, 120, interval=0.5)


def test_model_quality_merges_ground_truth_and_checks_the_evaluations_constraints(
    cloud, model_name, abalone_splits
):
    # GIVEN an endpoint that captured 30 predictions with inference ids, and their true rings
    # uploaded in Model Monitor's ground-truth format under the hour they arrived
    prefix = unique("capture")
    endpoint, _ = start_endpoint(cloud, model_name, DataCaptureConfig=capture_config(prefix))
    assert cloud.wait_endpoint_settled(endpoint)["EndpointStatus"] == "InService"
    with (abalone_splits / "test" / "test.csv").open() as stream:
        rows = list(csv.DictReader(stream))[:30]
    for index, row in enumerate(rows):
        features = {k: v for k, v in row.items() if k != "rings"}
        cloud.runtime.invoke_endpoint(
            EndpointName=endpoint,
            Body=csv_body([features], header=False),
            ContentType="text/csv",
            InferenceId=f"label-me-{index}",
        )
    capture_uri = f"s3://{BUCKET}/{prefix}/{endpoint}"
    wait_for(lambda: count_captured(cloud, capture_uri) == 30)
    labels = ground_truth_lines({f"label-me-{i}": row["rings"] for i, row in enumerate(rows)})
    hour = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    labels_prefix = f"{unique('ground-truth')}/{endpoint}"
    cloud.s3.put_object(Bucket=BUCKET, Key=f"{labels_prefix}/{hour}/labels.jsonl", Body=labels)
    labels_uri = f"s3://{BUCKET}/{labels_prefix}"
    # WHEN model quality runs against a loose and a tight MSE constraint
    loose = run_definition_once(cloud, model_quality_definition(cloud, endpoint, labels_uri, 50.0))
    tight = model_quality_definition(cloud, endpoint, labels_uri, 0.01)
    strict = run_definition_once(cloud, tight)
    # THEN the first completes, the second completes with the mse violation
    assert loose["MonitoringExecutionStatus"] == "Completed", loose.get("FailureReason")
    assert loose["MonitoringType"] == "ModelQuality"
    assert strict["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert strict["MonitoringJobDefinitionName"] == tight
    job = cloud.sagemaker.describe_processing_job(
        ProcessingJobName=strict["ProcessingJobArn"].rsplit("/", 1)[1]
    )
    assert job["ProcessingJobName"].startswith("model-quality-monitoring-")
    assert job["Environment"]["analysis_type"] == "MODEL_QUALITY"
    statistics = read_json(cloud, f"{report_uri(strict)}/statistics.json")
    assert statistics["dataset"]["item_count"] == 30
    (violation,) = read_json(cloud, f"{report_uri(strict)}/constraint_violations.json")[
        "violations"
    ]
    assert violation["metric_name"] == "mse"
    # ... the metrics are in CloudWatch's model-metrics namespace
    metrics = boto3.client("cloudwatch").list_metrics(
        Namespace="aws/sagemaker/Endpoints/model-metrics",
        Dimensions=[{"Name": "Endpoint", "Value": endpoint}],
    )["Metrics"]
    assert {"mae", "mse", "rmse", "r2"} <= {m["MetricName"] for m in metrics}
    # ... and a definition a schedule runs cannot be deleted
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.delete_model_quality_job_definition(JobDefinitionName=tight)
    assert error_of(excinfo)[0] == "ResourceInUse"
    cloud.sagemaker.delete_monitoring_schedule(
        MonitoringScheduleName=strict["MonitoringScheduleName"]
    )
    cloud.sagemaker.delete_model_quality_job_definition(JobDefinitionName=tight)
    listed = cloud.sagemaker.list_model_quality_job_definitions(EndpointName=endpoint)
    assert tight not in {d["MonitoringJobDefinitionName"] for d in listed["JobDefinitionSummaries"]}


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 * ? * * *)", "2024-05-06T22:10:00", "2024-05-06T23:00:00"),
        ("cron(0 * ? * * *)", "2024-05-06T23:00:00", "2024-05-07T00:00:00"),
        ("cron(0 3 ? * * *)", "2024-05-06T22:10:00", "2024-05-07T03:00:00"),
        ("cron(0 1/6 ? * * *)", "2024-05-06T08:00:00", "2024-05-06T13:00:00"),
        ("cron(0 1/6 ? * * *)", "2024-05-06T19:30:00", "2024-05-07T01:00:00"),
    ],
)
def test_the_next_run_is_the_next_hour_the_expression_names(expression, after, expected):
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert ScheduleExpression.parse(expression).next_after(moment) == datetime.fromisoformat(
        expected
    ).replace(tzinfo=UTC)


def test_offsets_are_negative_iso_durations():
    assert parse_offset("-PT1H", "x") == timedelta(hours=-1)
    assert parse_offset("-P1DT2H", "x") == timedelta(days=-1, hours=-2)
    assert parse_offset("-PT0H", "x") == timedelta(0)
