"""Destroy: what the pipeline made in SageMaker (monitoring, autoscaling, endpoints,
configurations, models), the model registry's versions, the buckets' contents, then both
stacks."""

from __future__ import annotations

import re
import sys
from typing import Any

from botocore.exceptions import ClientError

from scripts.aws_stacks.common import SECTIONS, WAITER_CONFIG, Failure, stack_name, whoami
from scripts.aws_stacks.stacks import delete_stack, describe_stack, stack_outputs

ENVIRONMENTS = ("dev", "prod")
# What destroy lists and deletes in SageMaker: (kind, list call, result key, name field, delete
# call). Configurations first: they name the models.
PIPELINE_MADE = (
    (
        "endpoint configurations",
        "list_endpoint_configs",
        "EndpointConfigs",
        "EndpointConfigName",
        "delete_endpoint_config",
    ),
    ("models", "list_models", "Models", "ModelName", "delete_model"),
)
DELETE_OBJECTS_LIMIT = 1000
# The job definitions a monitoring schedule runs: each type's List and Delete calls.
JOB_DEFINITION_KINDS = ("data_quality", "model_quality")


def confirm(project: str, where: str) -> None:
    """Go on only when someone at a terminal types the project name."""
    if not sys.stdin.isatty():
        raise Failure(
            f"refusing to destroy {project} without --yes when stdin is not a terminal "
            f"(make destroy PROJECT={project} CONFIRM=yes)"
        )
    answer = input(
        f"Delete project {project}'s monitoring schedules, autoscaling, endpoints, models, model "
        f"versions, bucket contents and both stacks ({where})? Type the project name to go on: "
    )
    if answer.strip() != project:
        raise Failure("not confirmed; nothing was deleted")


def _gone(err: ClientError) -> bool:
    """SageMaker says a resource does not exist with a ValidationException 'Could not find'."""
    return err.response["Error"]["Code"] == "ValidationException" and "Could not find" in (
        err.response["Error"].get("Message", "")
    )


def delete_monitoring(sagemaker: Any, project: str) -> None:
    """Delete the monitoring schedules of `<project>-dev` and `-prod`, then the job definitions
    that watch them: DeployModel made prod's (and `localcloud monitor` one-time copies), so no
    stack holds them, and SageMaker would go on running them with the endpoint gone. They are
    found by endpoint, so another project's are never touched."""
    endpoints = [f"{project}-{env}" for env in ENVIRONMENTS]
    schedules = [
        summary["MonitoringScheduleName"]
        for endpoint in endpoints
        for page in sagemaker.get_paginator("list_monitoring_schedules").paginate(
            EndpointName=endpoint
        )
        for summary in page["MonitoringScheduleSummaries"]
    ]
    for name in schedules:
        _delete_unless_gone(sagemaker.delete_monitoring_schedule, MonitoringScheduleName=name)
    print(
        f"monitoring schedules: deleted {len(schedules)}"
        if schedules
        else "monitoring schedules: none left"
    )
    definitions = 0
    for kind in JOB_DEFINITION_KINDS:
        for endpoint in endpoints:
            pages = sagemaker.get_paginator(f"list_{kind}_job_definitions").paginate(
                EndpointName=endpoint
            )
            names = [
                d["MonitoringJobDefinitionName"] for p in pages for d in p["JobDefinitionSummaries"]
            ]
            for name in names:
                _delete_unless_gone(
                    getattr(sagemaker, f"delete_{kind}_job_definition"), JobDefinitionName=name
                )
            definitions += len(names)
    print(
        f"monitoring job definitions: deleted {definitions}"
        if definitions
        else "monitoring job definitions: none left"
    )


def _delete_unless_gone(delete: Any, **name: str) -> None:
    try:
        delete(**name)
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceNotFound":
            raise


def deregister_autoscaling(autoscaling: Any, project: str) -> None:
    """Deregister the endpoints' variants from Application Auto Scaling (their policies go with
    them): DeleteEndpoint leaves a registered variant behind, which then scales nothing."""
    prefixes = tuple(f"endpoint/{project}-{env}/variant/" for env in ENVIRONMENTS)
    pages = autoscaling.get_paginator("describe_scalable_targets").paginate(
        ServiceNamespace="sagemaker"
    )
    targets = [
        target
        for page in pages
        for target in page["ScalableTargets"]
        if target["ResourceId"].startswith(prefixes)
    ]
    for target in targets:
        try:
            autoscaling.deregister_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=target["ResourceId"],
                ScalableDimension=target["ScalableDimension"],
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ObjectNotFoundException":
                raise
        print(f"autoscaling {target['ResourceId']}: deregistered")
    if not targets:
        print("autoscaling: none left")


def delete_endpoints(sagemaker: Any, project: str) -> None:
    """Delete `<project>-dev` and `<project>-prod` and wait until they are gone."""
    deleted = []
    for env in ENVIRONMENTS:
        name = f"{project}-{env}"
        try:
            sagemaker.delete_endpoint(EndpointName=name)
        except ClientError as err:
            if not _gone(err):
                raise
            print(f"endpoint {name}: already gone")
            continue
        print(f"endpoint {name}: deleting")
        deleted.append(name)
    for name in deleted:
        sagemaker.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=WAITER_CONFIG)
        print(f"endpoint {name}: deleted")


def delete_pipeline_made(sagemaker: Any, project: str) -> None:
    """Delete the endpoint configurations, then the models, named as DeployModel names them."""
    # `<project>-<env>-<YYYYmmdd-HHMMSS>-<4 hex>` (docs/design.md, Names): a plain prefix would
    # also catch another project whose name starts with this one's.
    ours = re.compile(rf"{re.escape(project)}-(dev|prod)-\d{{8}}-\d{{6}}-[0-9a-f]{{4}}")
    for kind, operation, items, field, delete in PIPELINE_MADE:
        pages = sagemaker.get_paginator(operation).paginate(NameContains=f"{project}-")
        names = [i[field] for page in pages for i in page[items] if ours.fullmatch(i[field])]
        for name in names:
            try:
                getattr(sagemaker, delete)(**{field: name})
            except ClientError as err:
                if not _gone(err):
                    raise
        print(f"{kind}: deleted {len(names)}" if names else f"{kind}: none left")


def delete_model_versions(sagemaker: Any, project: str) -> None:
    """Delete every version of the project's model package group: CloudFormation cannot delete
    a group that still holds versions, so stack 2 would fail on it."""
    try:
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=project
        )
        arns = [s["ModelPackageArn"] for page in pages for s in page["ModelPackageSummaryList"]]
    except ClientError as err:
        if err.response["Error"]["Code"] != "ValidationException":  # no such group
            raise
        arns = []
    for arn in arns:
        try:
            sagemaker.delete_model_package(ModelPackageName=arn)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ValidationException":  # already gone
                raise
    print(f"model versions: deleted {len(arns)}" if arns else "model versions: none left")


def stack_buckets(cfn: Any, stack: dict[str, Any]) -> list[str]:
    """The buckets a stack names in its outputs or still holds as resources."""
    buckets = {v for k, v in stack_outputs(stack).items() if k.endswith("BucketName")}
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"])
    for page in pages:
        for resource in page["StackResourceSummaries"]:
            if (
                resource["ResourceType"] == "AWS::S3::Bucket"
                and resource["ResourceStatus"] != "DELETE_COMPLETE"
                and resource.get("PhysicalResourceId")
            ):
                buckets.add(resource["PhysicalResourceId"])
    return sorted(buckets)


def empty_bucket(s3: Any, bucket: str) -> int | None:
    """Delete every object version and delete marker; how many, or None if there is no bucket."""
    deleted = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            found = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(found), DELETE_OBJECTS_LIMIT):
                batch = found[start : start + DELETE_OBJECTS_LIMIT]
                response = s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
                )
                if response.get("Errors"):
                    error = response["Errors"][0]
                    raise Failure(f"s3://{bucket}/{error['Key']}: {error['Message']}")
                deleted += len(batch)
    except ClientError as err:
        if err.response["Error"]["Code"] == "NoSuchBucket":
            return None
        raise
    return deleted


def destroy(session: Any, project: str, yes: bool) -> None:
    """After confirmation: SageMaker resources (monitoring first: it watches the endpoints) and
    model versions, bucket contents, then stack 2 and stack 1."""
    where = whoami(session)
    print(f"project {project}: {where}")
    if not yes:
        confirm(project, where)
    cfn, s3, sagemaker = (session.client(s) for s in ("cloudformation", "s3", "sagemaker"))
    delete_monitoring(sagemaker, project)
    deregister_autoscaling(session.client("application-autoscaling"), project)
    delete_endpoints(sagemaker, project)
    delete_pipeline_made(sagemaker, project)
    delete_model_versions(sagemaker, project)
    stacks = [stack_name(project, s) for s in reversed(SECTIONS)]
    found = [s for s in (describe_stack(cfn, name) for name in stacks) if s is not None]
    buckets = sorted({b for stack in found for b in stack_buckets(cfn, stack)})
    if not found:
        print("buckets: no stack left to name them")
    for bucket in buckets:
        count = empty_bucket(s3, bucket)
        if count is None:
            print(f"bucket {bucket}: already gone")
        else:
            print(f"bucket {bucket}: emptied ({count} object versions and delete markers)")
    # The ECR repository needs no emptying: the template sets EmptyOnDelete.
    for name in stacks:
        delete_stack(cfn, name)
    print(f"project {project}: destroyed")
