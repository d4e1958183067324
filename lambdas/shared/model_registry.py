"""The project's model package group as the pipeline reads it: versions newest first, the latest
Approved one, and which version an endpoint serves.

Shared by EvaluateModel (registers), RecordApproval (approves, rejects), DeployModel (deploys
only Approved versions, rolls back) and `scripts.registry` (the user's view), so all of them
agree on what "latest" and "serves" mean.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"
APPROVAL_STATUSES = (APPROVED, REJECTED, PENDING)


class NotApproved(Exception):
    """A version that is not Approved was handed to something that deploys."""

    def __init__(self, package_arn: str, status: str) -> None:
        super().__init__(
            f"model package {package_arn} (version {version_of(package_arn)}) is {status}, "
            "not Approved: only Approved versions are deployed"
        )
        self.package_arn = package_arn
        self.status = status


def version_of(package_arn: str) -> int:
    """The version number at the end of a versioned package's ARN (`…/<group>/<version>`)."""
    tail = package_arn.rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise ValueError(f"{package_arn!r} is not the ARN of a versioned model package")
    return int(tail)


def versions(sagemaker: Any, group: str, status: str | None = None) -> list[dict[str, Any]]:
    """The group's versions (ListModelPackages summaries), newest first, optionally one status.

    The sort order is always given: ListModelPackages sorts ascending by default, and taking
    its first entry as the latest is how peers deployed their oldest model.
    """
    request: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
    }
    if status is not None:
        request["ModelApprovalStatus"] = status
    pages = sagemaker.get_paginator("list_model_packages").paginate(**request)
    return [summary for page in pages for summary in page["ModelPackageSummaryList"]]


def latest_approved(sagemaker: Any, group: str) -> dict[str, Any] | None:
    """The newest Approved version's summary, None when the group has none."""
    answer = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus=APPROVED,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    listed = answer["ModelPackageSummaryList"]
    return listed[0] if listed else None


def require_approved(sagemaker: Any, package_arn: str) -> dict[str, Any]:
    """DescribeModelPackage of a version that must be Approved; NotApproved otherwise."""
    described = sagemaker.describe_model_package(ModelPackageName=package_arn)
    status = described.get("ModelApprovalStatus", PENDING)
    if status != APPROVED:
        raise NotApproved(package_arn, status)
    return described


def package_of_model(described_model: dict[str, Any]) -> str | None:
    """The package a DescribeModel answer was created from, None for a model built from an
    image and model data."""
    containers = described_model.get("Containers") or [described_model.get("PrimaryContainer")]
    for container in containers:
        if container and container.get("ModelPackageName"):
            return str(container["ModelPackageName"])
    return None


def served_package(sagemaker: Any, endpoint: str) -> str | None:
    """The package ARN an endpoint's current configuration serves; None when the endpoint does
    not exist or serves a model that is not from the registry (dev, or a prod from before)."""
    try:
        config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    except ClientError as err:
        if err.response["Error"]["Code"] == "ValidationException":  # "Could not find …"
            return None
        raise
    return config_package(sagemaker, config)


def config_package(sagemaker: Any, config: str) -> str | None:
    """The package ARN an endpoint configuration's model was made from; None when it is not
    from the registry, or the configuration or its model is gone."""
    try:
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=config)[
            "ProductionVariants"
        ]
        model = sagemaker.describe_model(ModelName=variants[0]["ModelName"])
    except ClientError as err:
        if err.response["Error"]["Code"] == "ValidationException":  # "Could not find …"
            return None
        raise
    return package_of_model(model)
