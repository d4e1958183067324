"""RegisterModel: a model that passed the gate becomes a version in the project's model registry,
PendingManualApproval, with its evidence: the evaluation, the training data's baselines, the
error by group and the feature importance on the held-out split.
"""

from __future__ import annotations

import json
import math
import random
import re
import tarfile
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import boto3

from codepipeline_job import (
    CodePipelineJob,
    Done,
    JobFailed,
    pipeline_execution_id,
    run_job,
    settings_from_env,
)
from held_out import HeldOut, load_test_set, predict, regression_metrics
from json_logging import get_logger
from model_registry import PENDING, version_of
from tabular_container.constants import REQUEST_TYPES, RESPONSE_TYPES
from tabular_container.hyperparameters import parse_hyperparameters

INPUT_FILE = "evaluation.json"
OUTPUT_FILE = "registration.json"
# Where `train` puts the training data's Model Monitor baselines inside model.tar.gz.
BASELINE_MEMBERS = {
    "statistics": "baselines/statistics.json",
    "constraints": "baselines/constraints.json",
}
IMPORTANCE_REPEATS = 3
IMPORTANCE_SEED = 0
# Model Monitor reports a metric's standard deviation from five 80% subsamples, and "NaN" when
# there are fewer than 200 records.
SUBSAMPLES, SUBSAMPLE_SHARE, MIN_RECORDS_FOR_DEVIATION = 5, 0.8, 200
JSON_TYPE = "application/json"
IMAGE_URI = re.compile(r"(?P<registry>[^/]+)/(?P<repository>[^:@]+):(?P<tag>[\w.-]+)")

SAGEMAKER = boto3.client("sagemaker")
RUNTIME = boto3.client("sagemaker-runtime")
S3 = boto3.client("s3")
ECR = boto3.client("ecr")
logger = get_logger("register_model")


@dataclass(frozen=True)
class Settings:
    """The function's environment, set by templates/02-pipeline.yml."""

    model_package_group: str
    data_bucket: str
    test_key: str
    mse_threshold: float
    repository: str
    pipeline_arn: str


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: one CodePipeline job."""
    run_job(event, context, register)


def register(job: CodePipelineJob) -> Done:
    """Write the evidence next to the model, then create the version that points at it."""
    settings = settings_from_env(Settings)
    execution_id = pipeline_execution_id(job.user_parameters)
    evaluation = job.read_json(
        job.input_artifact,
        INPUT_FILE,
        "passed",
        "metrics",
        "endpoint",
        "model_data_url",
        "training_job",
        "image_uri",
    )
    if evaluation["passed"] is not True:
        raise JobFailed(f"the evaluation did not pass the gate ({evaluation.get('reason')})")
    image = parse_image(evaluation["image_uri"])
    evidence = Evidence.beside(evaluation["model_data_url"])
    baselines = read_baselines(evaluation["model_data_url"])
    target = target_column(evaluation["training_job"])
    csv_text = S3.get_object(Bucket=settings.data_bucket, Key=settings.test_key)["Body"].read()
    test_set = load_test_set(csv_text.decode("utf-8-sig"), target)
    predictions = predict(RUNTIME, evaluation["endpoint"], test_set)
    categorical = [
        feature["name"]
        for feature in json.loads(baselines["statistics"])["features"]
        if feature.get("inferred_type") == "String"
    ]
    features = [name for name in test_set.columns if name != target]
    documents = {
        "model-quality-statistics.json": model_quality_statistics(test_set, predictions),
        "model-quality-constraints.json": model_quality_constraints(settings.mse_threshold),
        "data-quality-statistics.json": baselines["statistics"],
        "data-quality-constraints.json": baselines["constraints"],
        "error-by-group.json": error_by_group(test_set, predictions, categorical, target),
        "feature-importance.json": permutation_importance(
            evaluation["endpoint"], test_set, predictions, features, target
        ),
    }
    uris = {name: evidence.put(name, document) for name, document in documents.items()}
    request = registration_request(
        settings, evaluation, image, uris, execution_id, client_token(execution_id, evaluation)
    )
    arn = SAGEMAKER.create_model_package(**request)["ModelPackageArn"]
    version = version_of(arn)
    logger.info("registered", extra={"model_package": arn, "evidence": evidence.prefix})
    job.write_json(
        job.output_artifact,
        OUTPUT_FILE,
        {
            "ModelPackageArn": arn,
            "ModelPackageVersion": version,
            "TrainingJobName": evaluation["training_job"],
            "ImageURI": evaluation["image_uri"],
            "ModelDataUrl": evaluation["model_data_url"],
        },
    )
    return Done(
        f"Registered version {version} of {settings.model_package_group} ({PENDING}): {arn}; "
        f"evidence in {evidence.prefix}",
        {"ModelPackageArn": arn, "ModelPackageVersion": str(version)},
    )


@dataclass(frozen=True)
class Image:
    """The image the model runs on, by its commit tag and its digest."""

    uri: str
    repository: str
    tag: str
    digest: str


def parse_image(uri: str) -> Image:
    """The image by tag, its ECR repository and its digest (DescribeImages)."""
    match = IMAGE_URI.fullmatch(uri)
    if match is None:
        raise JobFailed(f"image {uri!r} is not <registry>/<repository>:<tag>")
    repository, tag = match["repository"], match["tag"]
    described = ECR.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    return Image(uri, repository, tag, described["imageDetails"][0]["imageDigest"])


@dataclass(frozen=True)
class Evidence:
    """The folder beside model.tar.gz where the version's evidence lives."""

    bucket: str
    key_prefix: str

    @classmethod
    def beside(cls, model_data_url: str) -> Evidence:
        if not model_data_url.startswith("s3://") or "/" not in model_data_url[5:]:
            raise JobFailed(f"ModelDataUrl {model_data_url!r} is not an s3:// object URL")
        bucket, _, key = model_data_url.removeprefix("s3://").partition("/")
        return cls(bucket, key.rsplit("/", 1)[0] + "/evidence/" if "/" in key else "evidence/")

    @property
    def prefix(self) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}"

    def put(self, name: str, document: Any) -> str:
        """Write one JSON document (bytes are written as they are); its s3:// URI."""
        body = document if isinstance(document, bytes) else json.dumps(document, indent=2).encode()
        S3.put_object(
            Bucket=self.bucket, Key=self.key_prefix + name, Body=body, ContentType=JSON_TYPE
        )
        return f"{self.prefix}{name}"


def read_baselines(model_data_url: str) -> dict[str, bytes]:
    """statistics.json and constraints.json from the model archive, streamed, not saved."""
    bucket, _, key = model_data_url.removeprefix("s3://").partition("/")
    body = S3.get_object(Bucket=bucket, Key=key)["Body"]
    wanted = {member: name for name, member in BASELINE_MEMBERS.items()}
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=body, mode="r|gz") as archive:
        for member in archive:
            name = wanted.get(member.name.removeprefix("./"))
            extracted = archive.extractfile(member) if name and member.isfile() else None
            if name and extracted is not None:
                found[name] = extracted.read()
    if missing := [BASELINE_MEMBERS[name] for name in BASELINE_MEMBERS if name not in found]:
        raise JobFailed(
            f"{model_data_url} has no {' or '.join(missing)}: the container's `train` writes "
            "the training data's baselines there (tabular_container/baseline.py)"
        )
    return found


def target_column(training_job: str) -> str:
    """The column the model learnt, read as `train` reads it (as EvaluateModel does)."""
    described = SAGEMAKER.describe_training_job(TrainingJobName=training_job)
    return parse_hyperparameters(described.get("HyperParameters", {})).target


def model_quality_statistics(test_set: HeldOut, predictions: list[float]) -> dict[str, Any]:
    """Model Monitor's model-quality statistics of a regression on the held-out split."""
    metrics = regression_metrics(test_set.targets, predictions)
    deviations = subsample_deviations(test_set.targets, predictions)
    return {
        "version": 0.0,
        "dataset": {"item_count": len(predictions)},
        "regression_metrics": {
            name: {"value": value, "standard_deviation": deviations[name]}
            for name, value in metrics.items()
        },
    }


def subsample_deviations(actual: list[float], predicted: list[float]) -> dict[str, float | str]:
    """Each metric's standard deviation over five seeded 80% subsamples, "NaN" under 200."""
    names = ("mse", "rmse", "mae", "r2")
    if len(actual) < MIN_RECORDS_FOR_DEVIATION:
        return dict.fromkeys(names, "NaN")
    pairs = list(zip(actual, predicted, strict=True))
    rng = random.Random(IMPORTANCE_SEED)  # noqa: S311 - a statistic's subsamples, no secret
    size = int(len(pairs) * SUBSAMPLE_SHARE)
    samples = []
    for _ in range(SUBSAMPLES):
        chosen = rng.sample(pairs, size)
        samples.append(regression_metrics([a for a, _ in chosen], [p for _, p in chosen]))
    return {name: _std([sample[name] for sample in samples]) for name in names}


def model_quality_constraints(mse_threshold: float) -> dict[str, Any]:
    """The gate as Model Monitor model-quality constraints: MSE above the threshold violates."""
    return {
        "version": 0.0,
        "regression_constraints": {
            "mse": {"threshold": mse_threshold, "comparison_operator": "GreaterThanThreshold"},
            "rmse": {
                "threshold": math.sqrt(mse_threshold),
                "comparison_operator": "GreaterThanThreshold",
            },
        },
    }


def error_by_group(
    test_set: HeldOut, predictions: list[float], columns: list[str], target: str
) -> dict[str, Any]:
    """The held-out error of each value of each categorical feature: what Clarify's bias report
    holds, for a regression (is the model worse for one group than another?)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        index = test_set.columns.index(column)
        errors: dict[str, list[float]] = defaultdict(list)
        for row, actual, predicted in zip(
            test_set.rows, test_set.targets, predictions, strict=True
        ):
            errors[row[index]].append(predicted - actual)
        groups[column] = [
            {
                "value": value,
                "count": len(found),
                "mse": math.fsum(e * e for e in found) / len(found),
                "mae": math.fsum(abs(e) for e in found) / len(found),
                "mean_error": math.fsum(found) / len(found),
            }
            for value, found in sorted(errors.items())
        ]
    return {
        "version": 0.0,
        "label": target,
        "dataset": {"item_count": len(predictions)},
        "groups": groups,
    }


def permutation_importance(
    endpoint: str,
    test_set: HeldOut,
    predictions: list[float],
    features: list[str],
    target: str,
) -> dict[str, Any]:
    """How much the held-out MSE grows when one feature's values are shuffled: Clarify's
    explainability report's place. Every shuffled copy goes in as few requests as fit."""
    rng = random.Random(IMPORTANCE_SEED)  # noqa: S311 - a statistic's shuffles, no secret
    copies: list[tuple[str, list[list[str]]]] = []
    for feature in features:
        index = test_set.columns.index(feature)
        for _ in range(IMPORTANCE_REPEATS):
            column = [row[index] for row in test_set.rows]
            rng.shuffle(column)
            shuffled = [
                [*row[:index], value, *row[index + 1 :]]
                for row, value in zip(test_set.rows, column, strict=True)
            ]
            copies.append((feature, shuffled))
    baseline = regression_metrics(test_set.targets, predictions)["mse"]
    every_row = [row for _, rows in copies for row in rows]
    combined = test_set.with_rows(every_row)
    answers = predict(RUNTIME, endpoint, combined)
    count = len(test_set.rows)
    increases: dict[str, list[float]] = defaultdict(list)
    for position, (feature, _) in enumerate(copies):
        chunk = answers[position * count : (position + 1) * count]
        increases[feature].append(regression_metrics(test_set.targets, chunk)["mse"] - baseline)
    ranked = sorted(
        (
            {
                "name": feature,
                "importance_mean": math.fsum(found) / len(found),
                "importance_std": _std(found),
            }
            for feature, found in increases.items()
        ),
        key=lambda entry: -entry["importance_mean"],
    )
    return {
        "version": 0.0,
        "method": "permutation",
        "metric": "mse",
        "label": target,
        "repeats": IMPORTANCE_REPEATS,
        "seed": IMPORTANCE_SEED,
        "baseline_mse": baseline,
        "features": ranked,
    }


def registration_request(
    settings: Settings,
    evaluation: dict[str, Any],
    image: Image,
    uris: dict[str, str],
    execution_id: str,
    token: str,
) -> dict[str, Any]:
    """CreateModelPackage's parameters: one versioned package with everything attached."""

    def source(name: str) -> dict[str, str]:
        return {"ContentType": JSON_TYPE, "S3Uri": uris[name]}

    def pair(prefix: str) -> dict[str, Any]:
        return {
            "Statistics": source(f"{prefix}-statistics.json"),
            "Constraints": source(f"{prefix}-constraints.json"),
        }

    metrics = evaluation["metrics"]
    return {
        "ModelPackageGroupName": settings.model_package_group,
        "ModelPackageDescription": str(evaluation.get("reason", ""))[:1024],
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": image.uri,
                    "ImageDigest": image.digest,
                    "ModelDataUrl": evaluation["model_data_url"],
                }
            ],
            "SupportedContentTypes": list(REQUEST_TYPES),
            "SupportedResponseMIMETypes": list(RESPONSE_TYPES),
        },
        "ModelApprovalStatus": PENDING,
        "ModelMetrics": {
            "ModelQuality": pair("model-quality"),
            "ModelDataQuality": pair("data-quality"),
            "Bias": {"Report": source("error-by-group.json")},
            "Explainability": {"Report": source("feature-importance.json")},
        },
        "DriftCheckBaselines": {
            "ModelQuality": pair("model-quality"),
            "ModelDataQuality": pair("data-quality"),
        },
        "MetadataProperties": {
            "CommitId": image.tag,
            "Repository": settings.repository,
            "GeneratedBy": f"{settings.pipeline_arn}/execution/{execution_id}",
        },
        "CustomerMetadataProperties": {
            "TrainingJobName": evaluation["training_job"],
            **{name: f"{metrics[name]:.6g}" for name in ("mse", "rmse", "mae", "r2")},
            "ImageDigest": image.digest,
        },
        "ClientToken": token,
    }


def client_token(execution_id: str, evaluation: dict[str, Any]) -> str:
    """The same for a retry of the same action, so a retry does not register a second version."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{execution_id}/{evaluation['training_job']}"))


def _std(values: list[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
