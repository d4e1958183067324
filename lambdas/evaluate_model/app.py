"""EvaluateModel: the quality gate, scoring the dev endpoint on the held-out test set."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from codepipeline_job import (
    CodePipelineJob,
    Done,
    JobFailed,
    describe_endpoint,
    run_job,
    settings_from_env,
)
from held_out import MAX_PAYLOAD_BYTES, HeldOut, load_test_set, regression_metrics
from held_out import predict as predict_held_out
from json_logging import get_logger
from tabular_container.hyperparameters import parse_hyperparameters

INPUT_FILE = "deployment.json"
OUTPUT_FILE = "evaluation.json"

SAGEMAKER = boto3.client("sagemaker")
RUNTIME = boto3.client("sagemaker-runtime")
S3 = boto3.client("s3")
SNS = boto3.client("sns")
logger = get_logger("evaluate_model")


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    project_name: str
    data_bucket: str
    test_key: str
    mse_threshold: float
    prod_tolerance: float
    notification_topic_arn: str


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: one CodePipeline job."""
    run_job(event, context, evaluate)


def evaluate(job: CodePipelineJob) -> Done:
    """Score dev (and prod), record and announce the result, and fail the job if the gate does."""
    settings = settings_from_env(Settings)
    deployment = job.read_json(
        job.input_artifact,
        INPUT_FILE,
        "EndpointName",
        "ModelDataUrl",
        "TrainingJobName",
        "ImageURI",
    )
    endpoint = deployment["EndpointName"]
    bucket, key = evaluation_location(deployment["ModelDataUrl"])
    target = target_column(deployment["TrainingJobName"])
    csv_text = S3.get_object(Bucket=settings.data_bucket, Key=settings.test_key)["Body"].read()
    test_set = load_test_set(csv_text.decode("utf-8-sig"), target)
    metrics = regression_metrics(test_set.targets, predict(endpoint, test_set))
    prod_mse, prod_note = score_prod(f"{settings.project_name}-prod", test_set)
    passed, reason = gate(
        metrics["mse"], settings.mse_threshold, prod_mse, settings.prod_tolerance, prod_note
    )
    evaluation = {
        "metrics": metrics,
        "records": len(test_set.targets),
        "threshold": settings.mse_threshold,
        "prod_mse": prod_mse,
        "tolerance": settings.prod_tolerance,
        "passed": passed,
        "reason": reason,
        "endpoint": endpoint,
        "model_data_url": deployment["ModelDataUrl"],
        "training_job": deployment["TrainingJobName"],
        "image_uri": deployment["ImageURI"],
    }
    logger.info("evaluated", extra={"metrics": metrics, "passed": passed})
    job.write_json(job.output_artifact, OUTPUT_FILE, evaluation)
    S3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(evaluation, indent=2, sort_keys=True).encode(),
        ContentType="application/json",
    )
    verdict = "passed" if passed else "FAILED"
    SNS.publish(
        TopicArn=settings.notification_topic_arn,
        Subject=f"{settings.project_name} model evaluation {verdict}"[:100],  # SNS: ≤ 100 chars
        Message=summary(evaluation, f"s3://{bucket}/{key}"),
    )
    if not passed:
        raise JobFailed(reason)
    return Done(reason)


def target_column(training_job: str) -> str:
    """The column the training job was told to predict, read as `train` reads it: the gate
    scores the model on the column it learnt."""
    described = SAGEMAKER.describe_training_job(TrainingJobName=training_job)
    return parse_hyperparameters(described.get("HyperParameters", {})).target


def predict(endpoint: str, test_set: HeldOut) -> list[float]:
    """The endpoint's predictions for the test set, in requests under MAX_PAYLOAD_BYTES."""
    return predict_held_out(RUNTIME, endpoint, test_set, MAX_PAYLOAD_BYTES)


def score_prod(endpoint: str, test_set: HeldOut) -> tuple[float | None, str]:
    """Prod's MSE on the same test set, or None and why the comparison is skipped."""
    described = describe_endpoint(SAGEMAKER, endpoint)
    if described is None:
        return None, f"no prod endpoint {endpoint}: comparison with prod skipped"
    if described["EndpointStatus"] != "InService":
        status = described["EndpointStatus"]
        return None, f"prod endpoint {endpoint} is {status}: comparison with prod skipped"
    try:
        predictions = predict(endpoint, test_set)
    except (JobFailed, ClientError) as err:
        # A prod that cannot answer is no reason to keep its replacement out.
        logger.warning("prod endpoint could not be scored", exc_info=True)
        return None, f"prod endpoint {endpoint} could not be scored ({err}): comparison skipped"
    return regression_metrics(test_set.targets, predictions)["mse"], f"prod endpoint {endpoint}"


def gate(
    mse: float, threshold: float, prod_mse: float | None, tolerance: float, prod_note: str
) -> tuple[bool, str]:
    """Pass if MSE is within the threshold and within `tolerance` of prod's; say why in numbers."""
    problems = []
    if mse > threshold:
        problems.append(f"MSE {mse:.4f} exceeds the threshold {threshold:g}")
    if prod_mse is None:
        prod_part = prod_note
    else:
        limit = prod_mse * (1 + tolerance)
        prod_part = f"{prod_note} has MSE {prod_mse:.4f} (limit {limit:.4f})"
        if mse > limit:
            problems.append(
                f"MSE {mse:.4f} is worse than prod's {prod_mse:.4f} by more than "
                f"{tolerance * 100:g}% (limit {limit:.4f})"
            )
    if problems:
        return False, f"Gate failed: {'; '.join(problems)}; {prod_part}"
    return True, f"Gate passed: MSE {mse:.4f} within the threshold {threshold:g}; {prod_part}"


def evaluation_location(model_data_url: str) -> tuple[str, str]:
    """Bucket and key of evaluation.json, next to model.tar.gz."""
    if not model_data_url.startswith("s3://"):
        raise JobFailed(f"ModelDataUrl {model_data_url!r} is not an s3:// URL")
    bucket, _, key = model_data_url.removeprefix("s3://").partition("/")
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return bucket, f"{folder}{OUTPUT_FILE}"


def summary(evaluation: dict[str, Any], location: str) -> str:
    """The notification text: the verdict first, then the numbers."""
    metrics = evaluation["metrics"]
    return "\n".join(
        [
            evaluation["reason"],
            "",
            f"Endpoint: {evaluation['endpoint']}",
            f"Model: {evaluation['model_data_url']}",
            f"Test records: {evaluation['records']}",
            f"MSE {metrics['mse']:.4f}  RMSE {metrics['rmse']:.4f}  "
            f"MAE {metrics['mae']:.4f}  R2 {metrics['r2']:.4f}",
            f"Threshold {evaluation['threshold']:g}; prod tolerance {evaluation['tolerance']:g}",
            f"Evaluation: {location}",
        ]
    )
