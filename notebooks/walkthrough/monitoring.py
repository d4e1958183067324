"""Prod's monitoring as the notebook shows it: the schedules DeployModel made, traffic through
the API with labels for part of it, the monitoring jobs run now (as `python -m localcloud
monitor` runs them), their violations, a drifted feature against its baseline, model quality
over time, and the drift alarm starting a retraining run.

Every call is SageMaker's, CloudWatch's or CodePipeline's own API, so the cells run the same
against the local cloud and against AWS.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import requests
from matplotlib.figure import Figure

from localcloud.monitoring_runs import report_document, run_now, violations

from .connect import Config

REQUESTS_PER_SECOND = 20  # under the usage plan's 25
LABELS_PER_REQUEST = 1000  # POST /ground-truth's limit
LABEL_WAIT_SECONDS = 60.0  # capture reaches S3 about a second after the answer
ALARM_WAIT_SECONDS = 300.0  # CloudWatch evaluates alarms every minute


@dataclass(frozen=True)
class Answer:
    """One prediction of prod, with the inference id its capture record carries."""

    inference_id: str
    prediction: float


def schedules(config: Config) -> pd.DataFrame:
    """Prod's monitoring schedules: when they run, on which version's job definition."""
    sagemaker = config.session.client("sagemaker")
    listed = sagemaker.list_monitoring_schedules(EndpointName=config.prod_endpoint)
    rows = {}
    for summary in listed["MonitoringScheduleSummaries"]:
        described = sagemaker.describe_monitoring_schedule(
            MonitoringScheduleName=summary["MonitoringScheduleName"]
        )
        schedule = described["MonitoringScheduleConfig"]
        if schedule["ScheduleConfig"]["ScheduleExpression"] == "NOW":
            continue  # an earlier run's one-time copy
        rows[summary["MonitoringScheduleName"]] = {
            "type": described["MonitoringType"],
            "runs": schedule["ScheduleConfig"]["ScheduleExpression"],
            "job definition": schedule.get("MonitoringJobDefinitionName", "(inline)"),
            "status": described["MonitoringScheduleStatus"],
        }
    return pd.DataFrame(rows).T


def send(config: Config, records: pd.DataFrame, per_request: int = 1) -> list[Answer]:
    """POST /prod/predict with `per_request` records at a time, as clients call it, within the
    API key's rate (the usage plan's 25 requests a second): a 429 is waited out and sent again.
    The records of one request share its inference id."""
    answers = []
    rows = records.to_dict(orient="records")
    with requests.Session() as session:
        for start in range(0, len(rows), per_request):
            sent = time.monotonic()
            while True:
                response = session.post(
                    config.prod_predict_url,
                    json={"instances": rows[start : start + per_request]},
                    headers={"x-api-key": config.api_key},
                    timeout=30,
                )
                if response.status_code != 429:
                    break
                time.sleep(1.0)
            response.raise_for_status()
            answer = response.json()
            answers += [Answer(answer["inference_id"], float(p)) for p in answer["predictions"]]
            time.sleep(max(0.0, sent + 1 / REQUESTS_PER_SECOND - time.monotonic()))
    return answers


def post_labels(config: Config, answers: list[Answer], rings: list[int]) -> int:
    """POST /prod/ground-truth with the true rings of these answers; how many were accepted.

    A label names a captured prediction, so a batch is retried while its newest ids are not in
    capture yet (the answer says "unknown inference ids").
    """
    accepted = 0
    labels = [
        {"inference_id": answer.inference_id, "rings": int(ring)}
        for answer, ring in zip(answers, rings, strict=True)
    ]
    for start in range(0, len(labels), LABELS_PER_REQUEST):
        batch = labels[start : start + LABELS_PER_REQUEST]
        deadline = time.monotonic() + LABEL_WAIT_SECONDS
        while True:
            response = requests.post(
                config.prod_ground_truth_url,
                json={"labels": batch},
                headers={"x-api-key": config.api_key},
                timeout=30,
            )
            body = response.json()
            if response.ok:
                accepted += body["accepted"]
                break
            unknown = body.get("message", "").startswith("unknown inference ids")
            if not unknown or time.monotonic() > deadline:
                raise RuntimeError(f"POST /ground-truth: {response.status_code} {body}")
            time.sleep(1.0)
    return accepted


def run(config: Config, schedule: str) -> dict[str, Any]:
    """The schedule's job, now, over the last hour; its execution once ended."""
    sagemaker = config.session.client("sagemaker")
    return run_now(sagemaker, f"{config.prod_endpoint}-{schedule}", progress=print)


def violations_table(config: Config, execution: dict[str, Any]) -> pd.DataFrame:
    """What an execution found, one row per violation."""
    sagemaker, s3 = config.session.client("sagemaker"), config.session.client("s3")
    found = violations(sagemaker, s3, execution)
    columns = ["feature_name", "metric_name", "constraint_check_type", "description"]
    return pd.DataFrame(found, columns=columns).dropna(axis="columns", how="all")


def plot_drift(config: Config, execution: dict[str, Any], feature: str) -> Figure:
    """The feature's distribution in the training data (the baseline) and in the traffic the
    execution analysed, from the two statistics.json files' 10 KLL buckets."""
    sagemaker, s3 = config.session.client("sagemaker"), config.session.client("s3")
    baseline = _baseline(config, "DataQuality", "StatisticsResource")
    current = report_document(sagemaker, s3, execution, "statistics.json")
    figure, axis = plt.subplots(figsize=(9, 4.5))
    for label, statistics, colour in (
        ("training data (baseline)", baseline, "tab:blue"),
        ("prod traffic", current, "tab:red"),
    ):
        (stats,) = [f for f in statistics["features"] if f["name"] == feature]
        buckets = stats["numerical_statistics"]["distribution"]["kll"]["buckets"]
        total = sum(b["count"] for b in buckets) or 1
        for index, b in enumerate(buckets):
            axis.bar(
                b["lower_bound"],
                b["count"] / total,
                width=b["upper_bound"] - b["lower_bound"],
                align="edge",
                alpha=0.5,
                color=colour,
                edgecolor="white",
                label=label if index == 0 else None,
            )
    axis.set_xlabel(feature)
    axis.set_ylabel("share of records")
    axis.set_title(f"{feature}: baseline against the analysed traffic")
    axis.legend()
    return figure


def plot_model_quality(config: Config, threshold: float) -> Figure:
    """The labelled predictions' MSE of each model-quality run today, against the gate."""
    cloudwatch = config.session.client("cloudwatch")
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="aws/sagemaker/Endpoints/model-metrics",
        MetricName="mse",
        Dimensions=[{"Name": "Endpoint", "Value": config.prod_endpoint}],
        StartTime=now - timedelta(days=1),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    points.sort(key=lambda point: point["Timestamp"])
    figure, axis = plt.subplots(figsize=(9, 4))
    axis.plot([p["Timestamp"] for p in points], [p["Maximum"] for p in points], "o-", label="MSE")
    axis.axhline(threshold, color="tab:red", linestyle="--", label=f"gate ({threshold:g})")
    axis.set_ylabel("MSE of labelled predictions")
    axis.set_title(f"{config.prod_endpoint}: model quality over time")
    axis.legend()
    figure.autofmt_xdate()
    return figure


def gate_threshold(config: Config) -> float:
    """The MSE threshold of the model-quality constraints prod is checked against."""
    constraints = _baseline(config, "ModelQuality", "ConstraintsResource")
    return float(constraints["regression_constraints"]["mse"]["threshold"])


def _baseline(config: Config, monitoring_type: str, resource: str) -> dict[str, Any]:
    """A baseline file (StatisticsResource, ConstraintsResource) of the job definition prod's
    DataQuality or ModelQuality schedule runs now."""
    sagemaker, s3 = config.session.client("sagemaker"), config.session.client("s3")
    stem = {"DataQuality": "data_quality", "ModelQuality": "model_quality"}[monitoring_type]
    schedule = sagemaker.describe_monitoring_schedule(
        MonitoringScheduleName=f"{config.prod_endpoint}-{stem.replace('_', '-')}"
    )
    definition = getattr(sagemaker, f"describe_{stem}_job_definition")(
        JobDefinitionName=schedule["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"]
    )
    uri = definition[f"{monitoring_type}BaselineConfig"][resource]["S3Uri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def wait_for_retraining(config: Config, keep_running: bool = False) -> str:
    """Wait for the drift alarm and the pipeline run its event starts; stop that run unless
    `keep_running` (a retraining on AWS costs a training job and waits for approval)."""
    cloudwatch = config.session.client("cloudwatch")
    codepipeline = config.session.client("codepipeline")
    alarm_name = f"{config.prod_endpoint}-data-drift"
    deadline = time.monotonic() + ALARM_WAIT_SECONDS
    while True:
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
        runs = codepipeline.list_pipeline_executions(pipelineName=config.pipeline_name)[
            "pipelineExecutionSummaries"
        ]
        started = _run_started_by(alarm, runs)
        if started is not None:
            break
        if time.monotonic() > deadline:
            latest = "; ".join(
                f"{run['pipelineExecutionId']} {run['status']} ({run['trigger']['triggerType']})"
                for run in runs[:3]
            )
            raise TimeoutError(
                f"{alarm_name} is {alarm['StateValue']} ({alarm['StateReason']}) and no run "
                f"started by its event within {ALARM_WAIT_SECONDS:.0f} s; latest runs: {latest}"
            )
        time.sleep(5.0)
    execution = started["pipelineExecutionId"]
    lines = [
        f"{alarm_name}: {alarm['StateValue']} ({alarm['StateReason']})",
        f"retraining run {execution} started by the alarm's event",
    ]
    if started["status"] != "InProgress":
        lines.append(f"it ended {started['status']}: {started.get('statusSummary', '')}")
    elif not keep_running:
        codepipeline.stop_pipeline_execution(
            pipelineName=config.pipeline_name,
            pipelineExecutionId=execution,
            abandon=True,
            reason="stopped by the walkthrough notebook",
        )
        lines.append(f"stopped {execution} (keep_running=True lets it retrain)")
    return "\n".join(lines)


def _run_started_by(alarm: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest run an event started that is still going, else the newest started since the
    alarm went to ALARM (it may have ended already); None before the alarm is in ALARM."""
    if alarm["StateValue"] != "ALARM":
        return None
    started = [run for run in runs if run["trigger"]["triggerType"] == "CloudWatchEvent"]
    since = alarm["StateUpdatedTimestamp"] - timedelta(seconds=1)  # clocks of two services
    going = [run for run in started if run["status"] == "InProgress"]
    ended = [run for run in started if run["startTime"] >= since]
    return (going or ended or [None])[0]  # newest first
