"""Prod's two monitoring schedules, pointed at the baselines of the version prod serves.

`<project>-prod-data-quality` compares the captured requests with the training data's
statistics and constraints; `<project>-prod-model-quality` merges the captured answers with the
labels of POST /ground-truth and checks the evaluation's constraints. Both run hourly, with the
version's own image running `monitor`, and read the baselines from the version's
DriftCheckBaselines. A job definition cannot be changed, so each version gets its own
(`<schedule>-v<version, 6 digits>`), the schedule is pointed at it, and older ones are deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from codepipeline_job import ConfigurationError, sagemaker_name
from json_logging import get_logger
from model_registry import version_of

MONITORED_ENV = "prod"
HOURLY = "cron(0 * ? * * *)"
# Model quality's merge and analysis share the limit, which SageMaker caps at 1800 s for an
# hourly model-quality schedule; data quality gets the same.
MAX_RUNTIME_SECONDS = 1800
CAPTURE_PATH = "/opt/ml/processing/input/endpoint"
REPORT_PATH = "/opt/ml/processing/output"
VOLUME_GB = 10
# `serve` answers {"predictions": [...]} (JSON) or one number per line (CSV, its first column).
INFERENCE_ATTRIBUTE = "predictions"
VERSION_DIGITS = 6  # a fixed length, so IAM's `?` patterns match this project's names only
logger = get_logger("deploy_model")


class MonitoringFailed(Exception):
    """The schedules could not be pointed at the version; the message says why."""


@dataclass(frozen=True)
class MonitoringSettings:
    """Where the monitoring jobs read and write, and as whom; set by templates/02-pipeline.yml."""

    monitoring_role_arn: str
    monitoring_reports_s3_uri: str  # s3://<data bucket>/monitoring
    ground_truth_s3_uri: str  # s3://<data bucket>/ground-truth
    monitoring_instance_type: str
    model_quality_window_hours: int

    def __post_init__(self) -> None:
        """Refuse what SageMaker would refuse, before anything is created."""
        problems = [
            f"{name.upper()} must be an s3:// URI, got {value!r}"
            for name, value in (
                ("monitoring_reports_s3_uri", self.monitoring_reports_s3_uri),
                ("ground_truth_s3_uri", self.ground_truth_s3_uri),
            )
            if not value.startswith("s3://")
        ]
        if not self.monitoring_instance_type.startswith("ml."):
            problems.append(
                "MONITORING_INSTANCE_TYPE must be a SageMaker type like ml.m5.large, got "
                f"{self.monitoring_instance_type!r}"
            )
        if not 1 <= self.model_quality_window_hours <= 168:
            problems.append(
                "MODEL_QUALITY_WINDOW_HOURS must be a whole number of hours from 1 to 168, got "
                f"{self.model_quality_window_hours}"
            )
        if problems:
            raise ConfigurationError("; ".join(problems))


@dataclass(frozen=True)
class Monitor:
    """One of the two schedules: its type, its name's suffix and the baselines it takes."""

    monitoring_type: str  # DataQuality or ModelQuality: also the prefix of the API's members
    suffix: str
    baselines: str  # the DriftCheckBaselines member
    api: str  # the snake_case stem of its job-definition calls

    def schedule(self, endpoint: str) -> str:
        """`<project>-prod-data-quality`."""
        return sagemaker_name(endpoint, self.suffix)

    def definition(self, endpoint: str, version: int) -> str:
        """`<project>-prod-data-quality-v000007`."""
        return sagemaker_name(endpoint, self.suffix, f"v{version:0{VERSION_DIGITS}d}")

    def definitions_pattern(self, endpoint: str) -> re.Pattern[str]:
        """The names `definition` makes, and no other project's."""
        return re.compile(rf"{re.escape(self.schedule(endpoint))}-v\d{{{VERSION_DIGITS}}}")


MONITORS = (
    Monitor("DataQuality", "data-quality", "ModelDataQuality", "data_quality"),
    Monitor("ModelQuality", "model-quality", "ModelQuality", "model_quality"),
)


def point_schedules(
    sagemaker: Any, settings: MonitoringSettings, project: str, package_arn: str
) -> list[str]:
    """Make the version's job definitions, point the schedules at them (creating them the first
    time), delete older definitions; what was done, one line per schedule.

    Idempotent: a retry finds the definitions made and the schedules already pointed.
    """
    endpoint = sagemaker_name(project, MONITORED_ENV)
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    version = version_of(package_arn)
    tags = [{"Key": "project", "Value": project}]
    lines = []
    for monitor in MONITORS:
        definition = monitor.definition(endpoint, version)
        request = definition_request(monitor, definition, settings, endpoint, package)
        try:
            _create_definition(sagemaker, monitor, {**request, "Tags": tags})
            lines.append(_point(sagemaker, monitor, endpoint, definition, tags))
        except ClientError as err:
            raise MonitoringFailed(
                f"{monitor.schedule(endpoint)} was not pointed at version {version}: "
                f"{err.response['Error'].get('Message', err)}"
            ) from err
        _delete_others(sagemaker, monitor, endpoint, definition)
    return lines


def _create_definition(sagemaker: Any, monitor: Monitor, request: dict[str, Any]) -> None:
    """Create<Type>JobDefinition, unless a retry already made it (same version, same content)."""
    try:
        getattr(sagemaker, f"create_{monitor.api}_job_definition")(**request)
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceInUse":
            raise
        logger.info(
            "job definition exists already", extra={"definition": request["JobDefinitionName"]}
        )


def definition_request(
    monitor: Monitor,
    name: str,
    settings: MonitoringSettings,
    endpoint: str,
    package: dict[str, Any],
) -> dict[str, Any]:
    """The Create<Type>JobDefinition parameters for the version `package` describes."""
    prefix = monitor.monitoring_type
    baselines = (package.get("DriftCheckBaselines") or {}).get(monitor.baselines) or {}
    constraints = (baselines.get("Constraints") or {}).get("S3Uri")
    statistics = (baselines.get("Statistics") or {}).get("S3Uri")
    if constraints is None or (prefix == "DataQuality" and statistics is None):
        raise MonitoringFailed(
            f"version {version_of(package['ModelPackageArn'])} has no "
            f"DriftCheckBaselines.{monitor.baselines} (statistics and constraints): register "
            "it again with the pipeline to monitor it"
        )
    baseline = {"ConstraintsResource": {"S3Uri": constraints}}
    if prefix == "DataQuality":  # a model-quality baseline is constraints only
        baseline["StatisticsResource"] = {"S3Uri": statistics}
    image = package["InferenceSpecification"]["Containers"][0]["Image"]
    app = {"ImageUri": image, "ContainerEntrypoint": ["monitor"]}
    job_input: dict[str, Any] = {
        "EndpointInput": {
            "EndpointName": endpoint,
            "LocalPath": CAPTURE_PATH,
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        }
    }
    if prefix == "ModelQuality":
        app["ProblemType"] = "Regression"
        # Labels arrive after the predictions: each run merges the window POST /ground-truth
        # accepts labels for.
        job_input["EndpointInput"].update(
            InferenceAttribute=INFERENCE_ATTRIBUTE,
            StartTimeOffset=f"-PT{settings.model_quality_window_hours}H",
            EndTimeOffset="-PT0H",
        )
        job_input["GroundTruthS3Input"] = {"S3Uri": f"{settings.ground_truth_s3_uri}/{endpoint}"}
    return {
        "JobDefinitionName": name,
        f"{prefix}BaselineConfig": baseline,
        f"{prefix}AppSpecification": app,
        f"{prefix}JobInput": job_input,
        f"{prefix}JobOutputConfig": {
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": settings.monitoring_reports_s3_uri,
                        "LocalPath": REPORT_PATH,
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        "JobResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": settings.monitoring_instance_type,
                "VolumeSizeInGB": VOLUME_GB,
            }
        },
        "RoleArn": settings.monitoring_role_arn,
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
    }


def _point(
    sagemaker: Any, monitor: Monitor, endpoint: str, definition: str, tags: list[dict[str, str]]
) -> str:
    """Create the hourly schedule on `definition`, or move it there; what was done."""
    name = monitor.schedule(endpoint)
    config = {
        "ScheduleConfig": {"ScheduleExpression": HOURLY},
        "MonitoringJobDefinitionName": definition,
        "MonitoringType": monitor.monitoring_type,
    }
    try:
        described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceNotFound":
            raise
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=name,
            MonitoringScheduleConfig=config,
            Tags=tags,
        )
        return f"created {name} (hourly) on {definition}"
    if described["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName") == definition:
        return f"{name} already on {definition}"
    sagemaker.update_monitoring_schedule(
        MonitoringScheduleName=name, MonitoringScheduleConfig=config
    )
    return f"moved {name} to {definition}"


def _delete_others(sagemaker: Any, monitor: Monitor, endpoint: str, keep: str) -> None:
    """Delete this schedule's older definitions. A failed delete (SageMaker may still hold the
    one the schedule just left) is logged, not raised; the next deployment tries again."""
    ours = monitor.definitions_pattern(endpoint)
    pages = sagemaker.get_paginator(f"list_{monitor.api}_job_definitions").paginate(
        NameContains=f"{monitor.schedule(endpoint)}-v"
    )
    names = [
        summary["MonitoringJobDefinitionName"]
        for page in pages
        for summary in page["JobDefinitionSummaries"]
    ]
    for name in names:
        if name == keep or not ours.fullmatch(name):
            continue
        try:
            getattr(sagemaker, f"delete_{monitor.api}_job_definition")(JobDefinitionName=name)
        except ClientError:
            logger.warning(
                "could not delete an old job definition", exc_info=True, extra={"definition": name}
            )
            continue
        logger.info("deleted an old job definition", extra={"definition": name})
