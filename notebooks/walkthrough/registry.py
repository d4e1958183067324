"""The model registry as the notebook shows it: the versions, the reports of the one in prod,
and a rollback (reject the version prod serves, watch prod return to the previous one).

"Newest", "latest Approved" and "which version prod serves" come from the same module the
pipeline's Lambdas use (lambdas/shared/model_registry.py), so the notebook cannot disagree
with what DeployModel does.
"""

from __future__ import annotations

import json
import time
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from model_registry import REJECTED, served_package, version_of, versions

from .connect import Config

ROLLBACK_TIMEOUT_SECONDS = 600.0


def version_table(config: Config) -> pd.DataFrame:
    """The project's versions, newest first: status, test MSE, commit, created, in prod."""
    sagemaker = config.session.client("sagemaker")
    prod = served_package(sagemaker, config.prod_endpoint)
    rows = []
    for summary in versions(sagemaker, config.project):
        described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        metrics = described.get("CustomerMetadataProperties", {})
        rows.append(
            {
                "version": version_of(summary["ModelPackageArn"]),
                "status": summary["ModelApprovalStatus"],
                "test MSE": float(metrics["mse"]) if "mse" in metrics else None,
                "commit": described.get("MetadataProperties", {}).get("CommitId", "")[:7],
                "created": summary["CreationTime"].strftime("%Y-%m-%d %H:%M:%S"),
                "in prod": "◀ prod" if summary["ModelPackageArn"] == prod else "",
            }
        )
    return pd.DataFrame(rows).set_index("version")


def prod_reports(config: Config) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """(version, error by group, feature importance) of the version prod serves."""
    sagemaker = config.session.client("sagemaker")
    arn = served_package(sagemaker, config.prod_endpoint)
    if arn is None:
        raise RuntimeError(f"{config.prod_endpoint} serves no version of the model registry")
    metrics = sagemaker.describe_model_package(ModelPackageName=arn)["ModelMetrics"]
    return (
        version_of(arn),
        _read_json(config, metrics["Bias"]["Report"]["S3Uri"]),
        _read_json(config, metrics["Explainability"]["Report"]["S3Uri"]),
    )


def plot_reports(version: int, by_group: dict[str, Any], importance: dict[str, Any]) -> Figure:
    """The held-out MSE per value of each categorical feature, and the permutation importance."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    for column, groups in by_group["groups"].items():
        left.bar([f"{column}={g['value']}" for g in groups], [g["mse"] for g in groups])
    left.set(title=f"version {version}: held-out MSE by group", ylabel="MSE")
    features = importance["features"]
    right.barh(
        [f["name"] for f in features],
        [f["importance_mean"] for f in features],
        xerr=[f["importance_std"] for f in features],
    )
    right.invert_yaxis()
    right.set(
        title=f"version {version}: permutation importance",
        xlabel=f"MSE increase when shuffled (baseline {importance['baseline_mse']:.2f})",
    )
    figure.tight_layout()
    return figure


def reject_prod_version(config: Config, comment: str) -> str:
    """Mark the version prod serves Rejected (what a reviewer does in SageMaker Studio); its ARN.

    The registry's EventBridge rule then has DeployModel move prod to the newest Approved
    version that is left.
    """
    sagemaker = config.session.client("sagemaker")
    arn = served_package(sagemaker, config.prod_endpoint)
    if arn is None:
        raise RuntimeError(f"{config.prod_endpoint} serves no version of the model registry")
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=REJECTED, ApprovalDescription=comment
    )
    print(f"version {version_of(arn)} is now {REJECTED}; prod will move to the newest Approved one")
    return arn


def wait_for_prod_to_leave(
    config: Config, arn: str, timeout: float = ROLLBACK_TIMEOUT_SECONDS
) -> int:
    """Wait until prod is InService on a version other than `arn`; that version's number."""
    sagemaker = config.session.client("sagemaker")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sagemaker.describe_endpoint(EndpointName=config.prod_endpoint)["EndpointStatus"]
        served = served_package(sagemaker, config.prod_endpoint)
        if status == "InService" and served not in (None, arn):
            print(f"{config.prod_endpoint} is InService on version {version_of(served)}")
            return version_of(served)
        time.sleep(config.control.poll_seconds)
    raise TimeoutError(
        f"{config.prod_endpoint} still serves version {version_of(arn)} after {timeout:.0f} s: "
        "is there another Approved version? (see the table above)"
    )


def _read_json(config: Config, uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = config.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)
