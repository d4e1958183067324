"""What each command reads and changes in the registry. Answers are the registry's own
(ListModelPackages / DescribeModelPackage) with what serves each version added, so the text
view and `--json` say the same thing."""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import ClientError

from model_registry import PENDING, latest_approved, served_package, version_of, versions
from scripts.registry.target import ENVIRONMENTS, Problem, Target

DESCRIPTION_MAX = 1024  # UpdateModelPackage's ApprovalDescription
REPORTS = ("Bias", "Explainability")  # error-by-group.json, feature-importance.json


def list_versions(target: Target, status: str | None) -> dict[str, Any]:
    """The group's versions newest first (optionally of one status), each described."""
    sagemaker = target.client("sagemaker")
    check_group(target, sagemaker)
    served = served_by_endpoint(target, sagemaker)
    described = [
        with_served(describe(sagemaker, summary["ModelPackageArn"]), served)
        for summary in versions(sagemaker, target.group, status)
    ]
    return {
        "ModelPackageGroupName": target.group,
        "Where": target.where,
        "ModelApprovalStatus": status,
        "Served": served,
        "ModelPackages": described,
    }


def show_version(target: Target, version: int, reports: bool) -> dict[str, Any]:
    """One version described; with `reports`, its error-by-group and feature-importance
    documents read from S3 (under "Reports")."""
    sagemaker = target.client("sagemaker")
    check_group(target, sagemaker)
    package = with_served(
        describe(sagemaker, find(target, sagemaker, version)["ModelPackageArn"]),
        served_by_endpoint(target, sagemaker),
    )
    if reports:
        s3 = target.client("s3")
        metrics = package.get("ModelMetrics", {})
        package["Reports"] = {
            kind: read_json(s3, metrics[kind]["Report"]["S3Uri"])
            for kind in REPORTS
            if "Report" in metrics.get(kind, {})
        }
    return package


def set_status(target: Target, version: int, status: str, comment: str) -> dict[str, Any]:
    """Approve or reject a version (nothing changes when it has that status already); the
    answer says what prod serves and the newest Approved version the registry rule deploys."""
    sagemaker = target.client("sagemaker")
    check_group(target, sagemaker)
    arn = find(target, sagemaker, version)["ModelPackageArn"]
    before = describe(sagemaker, arn)
    previous = before.get("ModelApprovalStatus", PENDING)
    description = before.get("ApprovalDescription")
    if previous != status:
        description = approval_description(target, status, comment)
        sagemaker.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description
        )
    newest = latest_approved(sagemaker, target.group)
    prod = target.endpoint("prod")
    return {
        "ModelPackageGroupName": target.group,
        "ModelPackageArn": arn,
        "ModelPackageVersion": version,
        "PreviousStatus": previous,
        "ModelApprovalStatus": status,
        "ApprovalDescription": description,
        "Changed": previous != status,
        "Prod": {
            "EndpointName": prod,
            "ServedModelPackageArn": served_package(sagemaker, prod),
            "NewestApprovedModelPackageArn": newest["ModelPackageArn"] if newest else None,
        },
    }


def check_group(target: Target, sagemaker: Any) -> None:
    """Fail naming the group when it does not exist (a wrong --project, or no stack yet)."""
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=target.group)
    except ClientError as err:
        error = err.response["Error"]
        if error["Code"] != "ValidationException":  # "ModelPackageGroup … does not exist."
            raise
        raise Problem(
            f"{target.where} has no model package group {target.group!r} "
            f"({error['Code']}: {error['Message']}); is --project right?"
        ) from err


def find(target: Target, sagemaker: Any, version: int) -> dict[str, Any]:
    """The summary of one version of the group, or a Problem listing the versions there are."""
    listed = versions(sagemaker, target.group)
    for summary in listed:
        if version_of(summary["ModelPackageArn"]) == version:
            return summary
    there = ", ".join(str(version_of(summary["ModelPackageArn"])) for summary in listed[::-1])
    raise Problem(
        f"model package group {target.group!r} has no version {version} "
        + (f"(its versions: {there})" if there else "(it has no versions yet)")
    )


def describe(sagemaker: Any, arn: str) -> dict[str, Any]:
    """DescribeModelPackage's answer without the HTTP metadata."""
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    described.pop("ResponseMetadata", None)
    return dict(described)


def served_by_endpoint(target: Target, sagemaker: Any) -> dict[str, str | None]:
    """Endpoint name -> the package it serves (None: no endpoint, or not a registry model)."""
    return {
        target.endpoint(env): served_package(sagemaker, target.endpoint(env))
        for env in ENVIRONMENTS
    }


def with_served(package: dict[str, Any], served: dict[str, str | None]) -> dict[str, Any]:
    """The package with "ServedBy": the endpoints serving it."""
    arn = package["ModelPackageArn"]
    return {**package, "ServedBy": [name for name, found in served.items() if found == arn]}


def approval_description(target: Target, status: str, comment: str) -> str:
    """Who changed the status, with what, and why: `<status> with python -m scripts.registry
    by <caller ARN> (user <$USER>): <comment>`."""
    caller = target.client("sts").get_caller_identity()["Arn"]
    user = os.environ.get("USER")
    text = f"{status} with python -m scripts.registry by {caller}"
    text += f" (user {user})" if user else ""
    text += f": {comment}" if comment else ""
    if len(text) > DESCRIPTION_MAX:
        room = DESCRIPTION_MAX - (len(text) - len(comment))
        raise Problem(
            f"--comment is {len(comment)} characters: the ApprovalDescription holds "
            f"{DESCRIPTION_MAX} and names who changed it, which leaves {room} for the comment",
            status=2,
        )
    return text


def read_json(s3: Any, uri: str) -> Any:
    """A JSON document at an s3:// URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise Problem(f"report URI {uri!r} is not s3://bucket/key")
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
