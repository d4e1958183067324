"""TrainModel: start a SageMaker training job on the image the Build stage pushed.

Its hyperparameters are checked first by the container's own table (tabular_container, copied
into the zip by scripts/package_lambdas.py), so a typo fails here, not in a paid training job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from codepipeline_job import (
    CodePipelineJob,
    ConfigurationError,
    Done,
    JobFailed,
    run_job,
    sagemaker_name,
    settings_from_env,
    utc_stamp,
)
from json_logging import get_logger
from tabular_container.hyperparameters import HyperparameterError
from tabular_container.hyperparameters import parse_hyperparameters as container_check

INPUT_FILE = "imageDetail.json"
OUTPUT_FILE = "training_job.json"
USER_PARAMETERS = frozenset({"hyperparameters"})
CHANNELS = ("train", "validation")
INSTANCE_COUNT = 1  # the container trains on one instance: it never reads resourceconfig.json
COMMIT_CHARS = 7  # of the image tag (the commit) in a training job's name
# The container prints `validation:mse=4.512;` and the like (docs/design.md).
METRIC_DEFINITIONS = [
    {"Name": f"{split}:{metric}", "Regex": f"{split}:{metric}=([0-9.eE+-]+);"}
    for split in ("train", "validation")
    for metric in ("mse", "rmse", "mae", "r2", "accuracy", "f1")
]

SAGEMAKER = boto3.client("sagemaker")
logger = get_logger("train_model")


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    project_name: str
    sagemaker_role_arn: str
    data_bucket: str
    model_bucket: str
    training_instance_type: str
    training_volume_gb: int
    training_max_seconds: int


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: one CodePipeline job."""
    run_job(event, context, start_training)


def start_training(job: CodePipelineJob) -> Done:
    """Validate the inputs, start the training job and name it in the output artifact."""
    settings = settings_from_env(Settings)
    hyperparameters = parse_hyperparameters(job.user_parameters)
    image_uri = job.read_json(job.input_artifact, INPUT_FILE, "ImageURI")["ImageURI"]
    commit = image_commit(image_uri)
    name = training_job_name(settings.project_name, commit, datetime.now(UTC))
    SAGEMAKER.create_training_job(
        **training_job_request(name, image_uri, commit, hyperparameters, settings)
    )
    logger.info("training job started", extra={"training_job": name, "image": image_uri})
    job.write_json(
        job.output_artifact, OUTPUT_FILE, {"TrainingJobName": name, "ImageURI": image_uri}
    )
    return Done(f"Started training job {name} on {image_uri}")


def parse_hyperparameters(user_parameters: dict[str, Any]) -> dict[str, str]:
    """The hyperparameters from UserParameters, as the container's table accepts them."""
    unknown = sorted(set(user_parameters) - USER_PARAMETERS)
    if unknown:
        raise ConfigurationError(
            f"unknown UserParameters key(s) {', '.join(unknown)}; expected "
            '{"hyperparameters": {"name": "value", ...}}'
        )
    hyperparameters = user_parameters.get("hyperparameters", {})
    if not isinstance(hyperparameters, dict):
        raise ConfigurationError(
            'UserParameters "hyperparameters" must be a JSON object of strings, '
            f"got {type(hyperparameters).__name__}"
        )
    try:
        container_check(hyperparameters)
    except HyperparameterError as error:
        raise ConfigurationError(str(error)) from None
    return hyperparameters


def image_commit(image_uri: str) -> str:
    """The image's tag, which the Build stage sets to the commit it built."""
    _, colon, tag = image_uri.rpartition(":")
    if "@" in image_uri or not colon or not tag or "/" in tag:
        raise JobFailed(f"image URI {image_uri!r} has no tag (the Build stage tags the commit)")
    return tag


def training_job_name(project: str, commit: str, now: datetime) -> str:
    """`<project>-<commit[:7]>-<YYYYmmdd-HHMMSS>`: unique per second and traceable to the code.

    The commit part is always 7 characters: IAM allows this project's training jobs by that
    fixed-length shape (templates/02-pipeline.yml), which no other project's names fit.
    """
    short = re.sub(r"[^a-zA-Z0-9]", "", commit)[:COMMIT_CHARS]
    if len(short) < COMMIT_CHARS:
        raise JobFailed(
            f"image tag {commit!r} is not a commit id (at least {COMMIT_CHARS} letters and "
            "digits; the Build stage tags the commit)"
        )
    return sagemaker_name(project, short, utc_stamp(now))


def training_job_request(
    name: str, image_uri: str, commit: str, hyperparameters: dict[str, str], settings: Settings
) -> dict[str, Any]:
    """The CreateTrainingJob parameters."""
    return {
        "TrainingJobName": name,
        "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": METRIC_DEFINITIONS,
        },
        "RoleArn": settings.sagemaker_role_arn,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{settings.data_bucket}/{channel}/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
                "CompressionType": "None",
                "InputMode": "File",
            }
            for channel in CHANNELS
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{settings.model_bucket}/models/"},
        "ResourceConfig": {
            "InstanceType": settings.training_instance_type,
            "InstanceCount": INSTANCE_COUNT,
            "VolumeSizeInGB": settings.training_volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.training_max_seconds},
        "Tags": [
            {"Key": "project", "Value": settings.project_name},
            {"Key": "commit", "Value": commit},
        ],
    }
