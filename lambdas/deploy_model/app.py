"""DeployModel: put a trained model behind `<project>-<env>`, creating or updating it in place."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from codepipeline_job import (
    CodePipelineJob,
    ConfigurationError,
    Done,
    JobFailed,
    describe_endpoint,
    run_job,
    sagemaker_name,
    settings_from_env,
    utc_stamp,
)
from json_logging import get_logger
from tabular_container.constants import MODEL_NAME_ENV  # `serve` names its model with it

INPUT_FILE = "training_job.json"
OUTPUT_FILE = "deployment.json"
USER_PARAMETERS = frozenset({"env", "instance_type", "instance_count"})
VARIANT = "AllTraffic"

SAGEMAKER = boto3.client("sagemaker")
logger = get_logger("deploy_model")


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    project_name: str
    sagemaker_role_arn: str
    data_capture_s3_uri: str
    keep_last: int


@dataclass(frozen=True)
class Target:
    """Where to deploy and on what, from UserParameters."""

    env: str
    instance_type: str
    instance_count: int


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: one CodePipeline job."""
    run_job(event, context, deploy)


def deploy(job: CodePipelineJob) -> Done:
    """Create the model and configuration, point the endpoint at them, prune old versions."""
    settings = settings_from_env(Settings)
    target = parse_target(job.user_parameters)
    trained = job.read_json(
        job.input_artifact, INPUT_FILE, "TrainingJobName", "ImageURI", "ModelDataUrl"
    )
    endpoint = sagemaker_name(settings.project_name, target.env)
    current = config_in_use(endpoint)  # checked first: a busy endpoint leaves nothing behind
    name = version_name(settings.project_name, target.env, datetime.now(UTC))
    tags = [
        {"Key": "project", "Value": settings.project_name},
        {"Key": "env", "Value": target.env},
        {"Key": "training-job", "Value": trained["TrainingJobName"]},
    ]
    SAGEMAKER.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": trained["ImageURI"],
            "ModelDataUrl": trained["ModelDataUrl"],
            "Environment": {MODEL_NAME_ENV: name},
        },
        ExecutionRoleArn=settings.sagemaker_role_arn,
        Tags=tags,
    )
    SAGEMAKER.create_endpoint_config(**endpoint_config_request(name, target, settings, tags))
    if current is None:
        SAGEMAKER.create_endpoint(EndpointName=endpoint, EndpointConfigName=name, Tags=tags)
        verb = "Creating"
    else:
        SAGEMAKER.update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
        verb = "Updating"
    logger.info(
        "endpoint change started", extra={"endpoint": endpoint, "config": name, "how": verb}
    )
    removed = prune(settings.project_name, target.env, settings.keep_last, name, current)
    job.write_json(
        job.output_artifact,
        OUTPUT_FILE,
        {
            "EndpointName": endpoint,
            "EndpointConfigName": name,
            "ModelName": name,
            "ModelDataUrl": trained["ModelDataUrl"],
            "ImageURI": trained["ImageURI"],
            "TrainingJobName": trained["TrainingJobName"],
            "Environment": target.env,
        },
    )
    return Done(
        f"{verb} endpoint {endpoint} with {name} (model of {trained['TrainingJobName']}); "
        f"removed {len(removed)} old configuration(s)/model(s)"
    )


def parse_target(user_parameters: dict[str, Any]) -> Target:
    """Check UserParameters: `{"env": "dev", "instance_type": "ml.m5.large", "instance_count": 1}`.

    Unknown keys are errors too, so a typo cannot silently fall back to a default.
    """
    env = user_parameters.get("env")
    instance_type = user_parameters.get("instance_type")
    count = user_parameters.get("instance_count", 1)
    problems = []
    if unknown := sorted(set(user_parameters) - USER_PARAMETERS):
        problems.append(f"unknown key(s) {', '.join(unknown)}")
    if not isinstance(env, str) or not re.fullmatch(r"[a-z0-9]+", env):
        problems.append(f'"env" must be lower-case letters and digits like "dev", got {env!r}')
    if not isinstance(instance_type, str) or not instance_type.startswith("ml."):
        problems.append(
            f'"instance_type" must be a SageMaker type like "ml.m5.large", got {instance_type!r}'
        )
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        problems.append(f'"instance_count" must be a positive integer, got {count!r}')
    if problems:
        raise ConfigurationError("UserParameters: " + "; ".join(problems))
    return Target(env, instance_type, count)


def version_name(project: str, env: str, now: datetime) -> str:
    """`<project>-<env>-<YYYYmmdd-HHMMSS>-<4 hex>`: the model and configuration of one deployment.

    A fixed-length shape after `<project>-<env>-`, which IAM allows and no other project's fit.
    """
    return sagemaker_name(project, env, utc_stamp(now), secrets.token_hex(2))


def config_in_use(endpoint: str) -> str | None:
    """The endpoint's configuration, None if it does not exist; fail if it cannot be updated now."""
    described = describe_endpoint(SAGEMAKER, endpoint)
    if described is None:
        return None
    status = described["EndpointStatus"]
    if status == "InService":
        return described["EndpointConfigName"]
    reason = f" ({described['FailureReason']})" if described.get("FailureReason") else ""
    advice = (
        f"delete it (aws sagemaker delete-endpoint --endpoint-name {endpoint}) and retry"
        if status == "Failed"
        else "retry when it is InService"
    )
    raise JobFailed(f"endpoint {endpoint} is {status}{reason} and cannot be updated: {advice}")


def endpoint_config_request(
    name: str, target: Target, settings: Settings, tags: list[dict[str, str]]
) -> dict[str, Any]:
    """The CreateEndpointConfig parameters: one variant, all traffic, requests captured."""
    return {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": VARIANT,
                "ModelName": name,
                "InitialInstanceCount": target.instance_count,
                "InstanceType": target.instance_type,
                "InitialVariantWeight": 1.0,
            }
        ],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": settings.data_capture_s3_uri,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": ["text/csv"],
                "JsonContentTypes": ["application/json"],
            },
        },
        "Tags": tags,
    }


def prune(project: str, env: str, keep_last: int, new: str, current: str | None) -> list[str]:
    """Delete this endpoint's configurations and models older than the newest `keep_last`.

    Only names this function makes (`<project>-<env>-<stamp>-<hex>`) are candidates, never the
    new configuration, the one in use or its models. A failed delete is logged, not raised:
    the deployment itself has already happened.
    """
    ours = re.compile(rf"{re.escape(project)}-{re.escape(env)}-\d{{8}}-\d{{6}}-[0-9a-f]{{4}}")
    prefix = f"{project}-{env}-"
    keep = {new}
    if current is not None:
        config = SAGEMAKER.describe_endpoint_config(EndpointConfigName=current)
        keep |= {current} | {v["ModelName"] for v in config["ProductionVariants"]}
    old_configs = _newest_first(
        "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", prefix, ours
    )
    old_models = _newest_first("list_models", "Models", "ModelName", prefix, ours)
    removed = [
        name
        for name in old_configs[max(keep_last, 0) :]
        if name not in keep and _delete("delete_endpoint_config", EndpointConfigName=name)
    ]
    removed += [
        name
        for name in old_models[max(keep_last, 0) :]
        if name not in keep and _delete("delete_model", ModelName=name)
    ]
    return removed


def _newest_first(
    operation: str, result_key: str, field: str, prefix: str, pattern: re.Pattern[str]
) -> list[str]:
    pages = SAGEMAKER.get_paginator(operation).paginate(NameContains=prefix)
    names = (item[field] for page in pages for item in page[result_key])
    # The names end in a timestamp, so sorting them sorts by age.
    return sorted((name for name in names if pattern.fullmatch(name)), reverse=True)


def _delete(operation: str, **params: str) -> bool:
    try:
        getattr(SAGEMAKER, operation)(**params)
    except ClientError:
        logger.warning("could not delete an old version", exc_info=True, extra=params)
        return False
    logger.info("deleted an old version", extra=params)
    return True
