"""DeployModel: put a model behind `<project>-<env>`, creating or updating it in place.

Dev gets the model of the training job; prod gets an Approved version of the model registry,
as the pipeline's DeployProd action or as the registry rule's target: after any approval change
in the group, prod is moved to the newest Approved version (so rejecting the version prod serves
rolls prod back), and with none left prod stays as it is and the topic hears why.

Every prod configuration (and dev's, with CAPTURE_DEV=true) captures requests and answers to
`DATA_CAPTURE_S3_URI` (`capture/<endpoint>/<variant>/yyyy/mm/dd/hh/` in the data bucket). Capture
cannot be changed on a running endpoint's configuration (UpdateEndpoint's retained properties do
not cover it), so each deployment creates a new configuration, which carries it. Every prod
deployment also points prod's monitoring schedules at the version's baselines (prod_monitoring).

Prod is updated blue/green with the stack's rollout (prod_rollout: a canary or linear steps,
bakes, rollback alarms watching the new fleet), and its new configuration keeps the instance
count prod has now: the autoscaler's choice, which a configuration's own count would reset.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from codepipeline_job import (
    CodePipelineJob,
    ConfigurationError,
    Done,
    JobFailed,
    Pending,
    describe_endpoint,
    run_job,
    sagemaker_name,
    settings_from_env,
    utc_stamp,
)
from json_logging import get_logger
from model_registry import (
    NotApproved,
    config_package,
    latest_approved,
    require_approved,
    version_of,
)
from prod_monitoring import MONITORED_ENV, MonitoringFailed, MonitoringSettings, point_schedules
from prod_rollout import RolloutSettings, deployment_config, watch_new_fleet

# `serve` names its model with MODEL_NAME_ENV, and reads and answers these media types.
from tabular_container.constants import CSV, JSON, MODEL_NAME_ENV

TRAINING_JOB_FILE = "training_job.json"
REGISTRATION_FILE = "registration.json"
OUTPUT_FILE = "deployment.json"
USER_PARAMETERS = frozenset({"env", "instance_type", "instance_count", "model_source"})
# Where each model source's deployment reads its model from (the action's input artifact).
INPUT_FILES = {"training_job": TRAINING_JOB_FILE, "registry": REGISTRATION_FILE}
MODEL_SOURCES = tuple(INPUT_FILES)
VARIANT = "AllTraffic"
REGISTRY_EVENT = "SageMaker Model Package State Change"
CAPTURED_ENVS = frozenset({"prod"})  # and dev when CAPTURE_DEV is "true"
SWITCHES = {"true": True, "false": False}
BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
FOLLOWING = "Following"  # Rollout.verb: another deployer's rollout of the same approval
POLL_SECONDS = 10
# Leave the registry follower this much of its invocation to report before Lambda stops it.
FOLLOW_MARGIN_SECONDS = 30

SAGEMAKER = boto3.client("sagemaker")
SNS = boto3.client("sns")
CLOUDWATCH = boto3.client("cloudwatch")
logger = get_logger("deploy_model")


class EndpointBusy(Exception):
    """The endpoint is being created or updated; try again once it is InService."""


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    project_name: str
    sagemaker_role_arn: str
    data_capture_s3_uri: str
    capture_sampling_percentage: int
    capture_dev: str
    keep_last: int
    model_package_group: str
    notification_topic_arn: str
    prod_instance_type: str
    prod_instance_count: int

    def __post_init__(self) -> None:
        """Refuse capture settings SageMaker would refuse, before anything is created."""
        problems = []
        if not 0 <= self.capture_sampling_percentage <= 100:
            problems.append(
                "CAPTURE_SAMPLING_PERCENTAGE must be a whole number from 0 to 100 (the share "
                f"of requests captured), got {self.capture_sampling_percentage}"
            )
        if self.capture_dev not in SWITCHES:
            problems.append(f'CAPTURE_DEV must be "true" or "false", got {self.capture_dev!r}')
        if not self.data_capture_s3_uri.startswith("s3://"):
            problems.append(
                f"DATA_CAPTURE_S3_URI must be an s3:// URI, got {self.data_capture_s3_uri!r}"
            )
        if problems:
            raise ConfigurationError("; ".join(problems))

    def captures(self, env: str) -> bool:
        """Whether the endpoint of `env` captures its traffic."""
        return env in CAPTURED_ENVS or (env == "dev" and SWITCHES[self.capture_dev])


@dataclass(frozen=True)
class Target:
    """Where to deploy and on what, from UserParameters."""

    env: str
    instance_type: str
    instance_count: int
    model_source: str = "training_job"


@dataclass(frozen=True)
class Rollout:
    """A model and configuration that an endpoint was just pointed at."""

    endpoint: str
    name: str
    verb: str  # Creating, Updating, or FOLLOWING (another deployer's, not started here)
    removed: list[str]
    how: str = ""  # how prod's traffic moves, for the messages


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: a CodePipeline job, or the registry rule's event."""
    if "CodePipeline.job" in event:
        run_job(event, context, deploy)
    else:
        follow_registry(event, context)


def deploy(job: CodePipelineJob) -> Done | Pending:
    """Deploy the training job's model (dev) or the registered version (prod)."""
    settings = settings_from_env(Settings)
    monitoring = settings_from_env(MonitoringSettings)  # checked before anything is made
    settings_from_env(RolloutSettings)
    target = parse_target(job.user_parameters)
    if target.model_source == "registry":
        return deploy_registered(job, settings, monitoring, target)
    trained = job.read_json(
        job.input_artifact, TRAINING_JOB_FILE, "TrainingJobName", "ImageURI", "ModelDataUrl"
    )
    endpoint = sagemaker_name(settings.project_name, target.env)
    current = config_in_use(endpoint)  # checked first: a busy endpoint leaves nothing behind
    container = {"Image": trained["ImageURI"], "ModelDataUrl": trained["ModelDataUrl"]}
    tags = [{"Key": "training-job", "Value": trained["TrainingJobName"]}]
    rollout = roll_out(settings, target, container, tags, current)
    write_deployment(job, rollout, trained, target)
    return Done(
        f"{rollout.verb} endpoint {endpoint} with {rollout.name} (model of "
        f"{trained['TrainingJobName']}); removed {len(rollout.removed)} old "
        "configuration(s)/model(s)"
    )


def deploy_registered(
    job: CodePipelineJob, settings: Settings, monitoring: MonitoringSettings, target: Target
) -> Done | Pending:
    """Point prod at the Approved version RegisterModel made, unless it already serves it; wait
    (continuation) while the endpoint is busy, as it is when the registry rule got there first."""
    registration = job.read_json(
        job.input_artifact,
        REGISTRATION_FILE,
        "ModelPackageArn",
        "TrainingJobName",
        "ImageURI",
        "ModelDataUrl",
    )
    arn = registration["ModelPackageArn"]
    try:
        require_approved(SAGEMAKER, arn)
    except NotApproved as refused:
        raise JobFailed(str(refused)) from None
    endpoint = sagemaker_name(settings.project_name, target.env)
    version = version_of(arn)
    try:
        rollout = deploy_version(settings, target, arn)
    except EndpointBusy as busy:
        return Pending(f"{busy}; deploying version {version} when it is InService", str(version))
    monitored = ""
    if target.env == MONITORED_ENV:
        try:
            monitored = "; " + "; ".join(monitor(settings, monitoring, arn))
        except MonitoringFailed as failed:
            raise JobFailed(f"{endpoint} is on version {version}, but {failed}") from None
    if rollout is None:
        described = SAGEMAKER.describe_endpoint(EndpointName=endpoint)
        config = described["EndpointConfigName"]
        model = SAGEMAKER.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][
            0
        ]["ModelName"]
        rollout = Rollout(endpoint, config, "Kept", [])
        write_deployment(job, rollout, registration, target, arn, model)
        return Done(f"{endpoint} already serves version {version} ({config}){monitored}")
    write_deployment(job, rollout, registration, target, arn)
    if rollout.verb == FOLLOWING:
        return Done(
            f"{endpoint} was pointed at version {version} as {rollout.name} by another "
            f"deployment of this approval: ProdStatus follows that rollout rather than "
            f"start a second one{monitored}"
        )
    return Done(
        f"{rollout.verb} endpoint {endpoint} with {rollout.name} (version {version}, {arn})"
        f"{rollout.how}; "
        f"removed {len(rollout.removed)} old configuration(s)/model(s){monitored}"
    )


def monitor(settings: Settings, monitoring: MonitoringSettings, arn: str) -> list[str]:
    """Point prod's monitoring schedules at the version's baselines (prod_monitoring)."""
    lines = point_schedules(SAGEMAKER, monitoring, settings.project_name, arn)
    logger.info("monitoring pointed at the version", extra={"arn": arn, "done": lines})
    return lines


def deploy_version(settings: Settings, target: Target, arn: str) -> Rollout | None:
    """Point the endpoint at a registered version; None when it already serves it.

    EndpointBusy when the endpoint is being changed, checked before and, for a change that
    started in between (the other deployer won: the endpoint is busy, or already on another
    configuration, when the call fails), after: then what this call created is removed, and a
    retry finds out what the endpoint serves now.
    """
    endpoint = sagemaker_name(settings.project_name, target.env)
    described = describe_endpoint(SAGEMAKER, endpoint)
    if described is not None:
        busy = described["EndpointStatus"] in BUSY
        if not busy and config_package(SAGEMAKER, described["EndpointConfigName"]) == arn:
            return None
        followed = rollout_of_this_approval(described, arn)
        if followed is not None:
            return Rollout(endpoint, followed, FOLLOWING, [])
        if busy:
            raise EndpointBusy(f"endpoint {endpoint} is {described['EndpointStatus']}")
    # The answer in hand, not a new one: the other deployer may have started since.
    current = before = updatable_config(endpoint, described)
    tags = [{"Key": "model-package-version", "Value": str(version_of(arn))}]
    try:
        return roll_out(settings, target, {"ModelPackageName": arn}, tags, current)
    except ClientError as err:
        now = describe_endpoint(SAGEMAKER, endpoint)
        if now is None or (
            now["EndpointStatus"] not in BUSY and now["EndpointConfigName"] == before
        ):
            raise
        raise EndpointBusy(
            f"endpoint {endpoint} was changed by another deployment meanwhile "
            f"({now['EndpointStatus']}, {now['EndpointConfigName']})"
        ) from err


def rollout_of_this_approval(described: dict[str, Any], arn: str) -> str | None:
    """The configuration another deployer made for `arn` since its approval and pointed the
    endpoint at: rolling out now, or ended without taking (rolled back, failed: newer than the
    configuration served). None if none.

    Both the registry rule and DeployProd deploy an approval, and one waits while the other
    rolls out. Had the waiter started a rollout of its own after a rollback, the users would
    meet the model the alarms had just removed a second time; it follows that one instead.
    """
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    if pending is not None:
        return pending if config_package(SAGEMAKER, pending) == arn else None
    if described["EndpointStatus"] in BUSY:
        return None
    package = SAGEMAKER.describe_model_package(ModelPackageName=arn)
    approved = package.get("LastModifiedTime") or package["CreationTime"]  # never changed since
    # A configuration older than the one served is history (served, then replaced), not one
    # that the endpoint tried and came back from.
    served = SAGEMAKER.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    since = max(approved, served["CreationTime"])
    pages = SAGEMAKER.get_paginator("list_endpoint_configs").paginate(
        NameContains=f"{described['EndpointName']}-",
        CreationTimeAfter=since,
        SortBy="CreationTime",
        SortOrder="Descending",
    )
    for config in (config for page in pages for config in page["EndpointConfigs"]):
        name = config["EndpointConfigName"]
        if (
            name != described["EndpointConfigName"]
            and config["CreationTime"] <= described["LastModifiedTime"]  # the endpoint tried it
            and config_package(SAGEMAKER, name) == arn
        ):
            return name
    return None


def roll_out(
    settings: Settings,
    target: Target,
    container: dict[str, Any],
    tags: list[dict[str, str]],
    current: str | None,
) -> Rollout:
    """Create the model and configuration, point the endpoint at them, prune old versions.

    If the endpoint call fails, the model and configuration made for it are deleted again.
    """
    endpoint = sagemaker_name(settings.project_name, target.env)
    name = version_name(settings.project_name, target.env, datetime.now(UTC))
    update: dict[str, Any] = {}
    how = ""
    guardrails = None
    if target.env == MONITORED_ENV and current is not None:
        target = replace(target, instance_count=desired_instances(endpoint, target))
        guardrails = settings_from_env(RolloutSettings)
        update["DeploymentConfig"] = deployment_config(guardrails, target.instance_count)
        how = (
            f" by a {guardrails.prod_traffic_routing} rollout on {target.instance_count} "
            f"instances, rolled back by {', '.join(guardrails.alarms)}"
        )
    tags = [
        {"Key": "project", "Value": settings.project_name},
        {"Key": "env", "Value": target.env},
        *tags,
    ]
    container = {**container, "Environment": {MODEL_NAME_ENV: name}}
    # A version of the registry goes in as SageMaker's deploy-from-registry examples have it.
    spec = (
        {"Containers": [container]}
        if "ModelPackageName" in container
        else {"PrimaryContainer": container}
    )
    SAGEMAKER.create_model(
        ModelName=name, ExecutionRoleArn=settings.sagemaker_role_arn, Tags=tags, **spec
    )
    made = [("delete_model", {"ModelName": name})]
    try:
        SAGEMAKER.create_endpoint_config(**endpoint_config_request(name, target, settings, tags))
        made.insert(0, ("delete_endpoint_config", {"EndpointConfigName": name}))
        if current is None:
            SAGEMAKER.create_endpoint(EndpointName=endpoint, EndpointConfigName=name, Tags=tags)
            verb = "Creating"
        else:
            SAGEMAKER.update_endpoint(EndpointName=endpoint, EndpointConfigName=name, **update)
            verb = "Updating"
    except ClientError:
        for operation, params in made:
            _delete(operation, **params)
        raise
    logger.info(
        "endpoint change started", extra={"endpoint": endpoint, "config": name, "how": verb}
    )
    if guardrails is not None:
        # Only once this deployment's update is under way: a concurrent deployer that lost
        # the race must not point the alarms at its own configuration. New instances take
        # minutes to start before the first bake, so the alarms are in place in time.
        try:
            watch_new_fleet(CLOUDWATCH, guardrails, name)
        except (ClientError, ConfigurationError) as error:
            raise JobFailed(
                f"{endpoint} is rolling out {name}, but its rollback alarms could not be "
                f"pointed at the new fleet, so they do not guard it: {error}"
            ) from None
    removed = prune(settings.project_name, target.env, settings.keep_last, name, current)
    return Rollout(endpoint, name, verb, removed, how)


def write_deployment(
    job: CodePipelineJob,
    rollout: Rollout,
    model: dict[str, Any],
    target: Target,
    package_arn: str | None = None,
    model_name: str | None = None,
) -> None:
    """The deployment.json the status poll and the evaluation read."""
    deployment = {
        "EndpointName": rollout.endpoint,
        "EndpointConfigName": rollout.name,
        "ModelName": model_name or rollout.name,
        "ModelDataUrl": model["ModelDataUrl"],
        "ImageURI": model["ImageURI"],
        "TrainingJobName": model["TrainingJobName"],
        "Environment": target.env,
    }
    if package_arn is not None:
        deployment["ModelPackageArn"] = package_arn
    job.write_json(job.output_artifact, OUTPUT_FILE, deployment)


def follow_registry(event: dict[str, Any], context: Any) -> None:
    """After an approval change in the group, move prod to the newest Approved version.

    Idempotent (SageMaker may send an event more than once, and the pipeline's DeployProd may
    be deploying the same version): nothing happens when prod already serves it, and a busy
    endpoint is waited for, then looked at again.
    """
    settings = settings_from_env(Settings)
    monitoring = settings_from_env(MonitoringSettings)
    settings_from_env(RolloutSettings)
    changed = registry_change(event, settings.model_package_group)
    target = prod_target(settings)
    endpoint = sagemaker_name(settings.project_name, target.env)
    seconds_left = getattr(context, "get_remaining_time_in_millis", lambda: 900_000)
    while True:
        latest = latest_approved(SAGEMAKER, settings.model_package_group)
        if latest is None:
            announce(
                settings,
                f"{settings.project_name}: no Approved model version left",
                f"Version {changed} changed and the model package group "
                f"{settings.model_package_group} holds no Approved version, so {endpoint} is "
                "left as it is (nothing was deleted). Approve a version to deploy it: "
                "python -m scripts.registry approve VERSION",
            )
            return
        arn = latest["ModelPackageArn"]
        try:
            rollout = deploy_version(settings, target, arn)
        except EndpointBusy as busy:
            if seconds_left() / 1000 < FOLLOW_MARGIN_SECONDS + POLL_SECONDS:
                announce(
                    settings,
                    f"{settings.project_name}: prod not moved to version {version_of(arn)}",
                    f"{busy} for longer than this function may wait; {endpoint} was not moved "
                    f"to version {version_of(arn)} ({arn}). This invocation fails, so Lambda "
                    "delivers the event again (twice at most); if prod is still not on it "
                    "after that, run the pipeline again, or reject and approve the version",
                )
                raise
            logger.info("waiting for the endpoint", extra={"reason": str(busy)})
            time.sleep(POLL_SECONDS)
            continue
        try:
            monitored = monitor(settings, monitoring, arn)
        except MonitoringFailed as failed:
            announce(
                settings,
                f"{settings.project_name}: prod unmonitored on version {version_of(arn)}",
                f"{endpoint} serves or is moving to version {version_of(arn)}, but {failed}. "
                "This invocation fails, so Lambda delivers the event again (twice at most).",
            )
            raise
        if rollout is None:
            logger.info("prod already serves the newest Approved version", extra={"arn": arn})
            return
        if rollout.verb == FOLLOWING:
            logger.info(
                "another deployment of this approval rolls the version out, or did",
                extra={"arn": arn, "config": rollout.name},
            )
            return
        announce(
            settings,
            f"{settings.project_name}: prod moving to version {version_of(arn)}",
            f"Version {changed} changed, so {endpoint} is {rollout.verb.lower()} to the newest "
            f"Approved version, {version_of(arn)} ({arn}), as configuration {rollout.name}"
            f"{rollout.how}; "
            f"monitoring: {'; '.join(monitored)}.",
        )
        return


def registry_change(event: dict[str, Any], group: str) -> str:
    """'<version> (<status>)' of the rule's event, checked to be about this group."""
    detail = event.get("detail") or {}
    problems = []
    if event.get("source") != "aws.sagemaker" or event.get("detail-type") != REGISTRY_EVENT:
        problems.append(
            f"source {event.get('source')!r} / detail-type {event.get('detail-type')!r}"
        )
    if detail.get("ModelPackageGroupName") != group:
        problems.append(f"group {detail.get('ModelPackageGroupName')!r}, not {group!r}")
    if problems:
        raise ValueError(f"not a {REGISTRY_EVENT} event of {group}: {'; '.join(problems)}")
    return f"{detail.get('ModelPackageVersion')} ({detail.get('ModelApprovalStatus')})"


def desired_instances(endpoint: str, target: Target) -> int:
    """The running variant's desired count (what autoscaling set), else the target's."""
    described = SAGEMAKER.describe_endpoint(EndpointName=endpoint)
    variants = described.get("ProductionVariants") or [{}]
    return variants[0].get("DesiredInstanceCount") or target.instance_count


def prod_target(settings: Settings) -> Target:
    """Prod's instances as its current configuration has them, else the template's."""
    endpoint = sagemaker_name(settings.project_name, "prod")
    described = describe_endpoint(SAGEMAKER, endpoint)
    if described is None:
        return Target("prod", settings.prod_instance_type, settings.prod_instance_count, "registry")
    variant = SAGEMAKER.describe_endpoint_config(
        EndpointConfigName=described["EndpointConfigName"]
    )["ProductionVariants"][0]
    return Target("prod", variant["InstanceType"], variant["InitialInstanceCount"], "registry")


def announce(settings: Settings, subject: str, message: str) -> None:
    """Tell the topic (and the log) what happened to prod."""
    logger.info(subject, extra={"detail": message})
    SNS.publish(TopicArn=settings.notification_topic_arn, Subject=subject[:100], Message=message)


def parse_target(user_parameters: dict[str, Any]) -> Target:
    """Check UserParameters: `{"env": "dev", "instance_type": "ml.m5.large", "instance_count": 1}`
    and, for a version of the registry, `"model_source": "registry"`.

    Unknown keys are errors too, so a typo cannot silently fall back to a default.
    """
    env = user_parameters.get("env")
    instance_type = user_parameters.get("instance_type")
    count = user_parameters.get("instance_count", 1)
    source = user_parameters.get("model_source", "training_job")
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
    if source not in MODEL_SOURCES:
        problems.append(f'"model_source" must be one of {", ".join(MODEL_SOURCES)}, got {source!r}')
    if problems:
        raise ConfigurationError("UserParameters: " + "; ".join(problems))
    return Target(env, instance_type, count, source)


def version_name(project: str, env: str, now: datetime) -> str:
    """`<project>-<env>-<YYYYmmdd-HHMMSS>-<4 hex>`: the model and configuration of one deployment.

    A fixed-length shape after `<project>-<env>-`, which IAM allows and no other project's fit.
    """
    return sagemaker_name(project, env, utc_stamp(now), secrets.token_hex(2))


def config_in_use(endpoint: str) -> str | None:
    """The endpoint's configuration, None if it does not exist; fail if it cannot be updated now."""
    return updatable_config(endpoint, describe_endpoint(SAGEMAKER, endpoint))


def updatable_config(endpoint: str, described: dict[str, Any] | None) -> str | None:
    """config_in_use of a DescribeEndpoint answer already in hand (None: no such endpoint)."""
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
    """The CreateEndpointConfig parameters: one variant, all traffic, and the data capture of
    the environments that capture."""
    request = {
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
        "Tags": tags,
    }
    if settings.captures(target.env):
        request["DataCaptureConfig"] = data_capture_config(settings)
    return request


def data_capture_config(settings: Settings) -> dict[str, Any]:
    """Capture requests and answers, as text for the media types `serve` takes and answers.

    No KmsKeyId: the data bucket encrypts with S3-managed keys (SSE-S3), which need none.
    """
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": settings.capture_sampling_percentage,
        "DestinationS3Uri": settings.data_capture_s3_uri,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": [CSV], "JsonContentTypes": [JSON]},
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
