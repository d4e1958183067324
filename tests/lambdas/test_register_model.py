"""RegisterModel: a model that passed the gate becomes a PendingManualApproval version of the
project's model package group, with its evidence written beside model.tar.gz."""

from __future__ import annotations

import csv
import io
import json
import math
import tarfile
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.lambdas.conftest import (
    IMAGE_URI,
    JOB_ID,
    Capture,
    Cloud,
    JobResults,
    assert_no_secrets,
    create_training_job_in_moto,
    job_event,
    load_module,
)
from tests.lambdas.test_evaluate_model import (
    DEV_PREDICTIONS,
    REQUEST_CSV,
    TEST_CSV,
    answer,
    expect_invoke,
)

EVALUATION = "demo-pipeline/Evaluatio/eval.zip"
REGISTRATION = "demo-pipeline/Registrat/reg.zip"
JOB_NAME = "demo-0123456-20250102-030405"
MODEL_KEY = f"models/{JOB_NAME}/output/model.tar.gz"
MODEL_URL = f"s3://demo-models/{MODEL_KEY}"
EVIDENCE = f"s3://demo-models/models/{JOB_NAME}/output/evidence/"
EXECUTION = "0a1b2c3d-1111-2222-3333-444455556666"
PIPELINE_ARN = "arn:aws:codepipeline:us-east-1:123456789012:demo-pipeline"
REPOSITORY = "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/demo"
PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/demo/1"
# The stack's ECR repository is named after the project, as the Build stage pushes to it.
IMAGE = IMAGE_URI.replace("/demo-model:", "/demo:")
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": "sha256:" + "0" * 64},
    }
)
# Model Monitor's data-quality baselines of the training data, as `train` puts them in the archive.
STATISTICS = {
    "version": 0.0,
    "dataset": {"item_count": 4},
    "features": [
        {"name": "sex", "inferred_type": "String", "string_statistics": {"distinct_count": 3}},
        {"name": "length", "inferred_type": "Fractional", "numerical_statistics": {"mean": 0.4}},
        {"name": "diameter", "inferred_type": "Fractional", "numerical_statistics": {"mean": 0.3}},
        {"name": "rings", "inferred_type": "Integral", "numerical_statistics": {"mean": 9.75}},
    ],
}
CONSTRAINTS = {
    "version": 0.0,
    "features": [{"name": "sex", "inferred_type": "String", "completeness": 1.0}],
    "monitoring_config": {"evaluate_constraints": "Enabled"},
}
BASELINES = {
    "baselines/statistics.json": json.dumps(STATISTICS).encode(),
    "baselines/constraints.json": json.dumps(CONSTRAINTS).encode(),
}
# Errors 1, 0, -2, 0 (MSE 1.25), as in the gate's test; the evaluation EvaluateModel wrote.
REASON = (
    "Gate passed: MSE 1.2500 within the threshold 4.6; "
    "no prod endpoint demo-prod: comparison with prod skipped"
)
METRICS = {"mse": 1.25, "rmse": math.sqrt(1.25), "mae": 0.75, "r2": 1 - 5 / 8.75}
TARGETS = [10.0, 8.0, 12.0, 9.0]
FEATURES = ("sex", "length", "diameter")  # the test set's columns but the target, in order


@pytest.fixture
def register_model(cloud: Cloud) -> ModuleType:
    """lambdas/register_model/app.py."""
    return load_module("register_model/app")


def model_archive(members: dict[str, bytes]) -> bytes:
    """A model.tar.gz with these members besides the model itself."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in {"model.joblib": b"model", **members}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def evaluation(**changes: Any) -> dict[str, Any]:
    """EvaluateModel's evaluation.json of a model that passed."""
    return {
        "metrics": METRICS,
        "records": 4,
        "threshold": 4.6,
        "prod_mse": None,
        "tolerance": 0.05,
        "passed": True,
        "reason": REASON,
        "endpoint": "demo-dev",
        "model_data_url": MODEL_URL,
        "training_job": JOB_NAME,
        "image_uri": IMAGE,
        **changes,
    }


@pytest.fixture(autouse=True)
def environment(cloud: Cloud, monkeypatch: pytest.MonkeyPatch, register_model: ModuleType) -> str:
    """The template's environment; the test set, the model with its baselines, the training job,
    the image in ECR and the group in moto; the Evaluation artifact. Returns the image digest."""
    for name, value in {
        "MODEL_PACKAGE_GROUP": "demo",
        "DATA_BUCKET": "demo-data",
        "TEST_KEY": "test/test.csv",
        "MSE_THRESHOLD": "4.6",
        "REPOSITORY": REPOSITORY,
        "PIPELINE_ARN": PIPELINE_ARN,
    }.items():
        monkeypatch.setenv(name, value)
    cloud.s3.create_bucket(Bucket="demo-data")
    cloud.s3.create_bucket(Bucket="demo-models")
    cloud.s3.put_object(Bucket="demo-data", Key="test/test.csv", Body=TEST_CSV.encode())
    cloud.s3.put_object(Bucket="demo-models", Key=MODEL_KEY, Body=model_archive(BASELINES))
    create_training_job_in_moto(cloud.sagemaker, JOB_NAME, {"alpha": "0.3"})
    cloud.sagemaker.create_model_package_group(ModelPackageGroupName="demo")
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName="demo")
    image = ecr.put_image(
        repositoryName="demo", imageManifest=MANIFEST, imageTag="0123456789abcdef"
    )
    cloud.put_artifact(EVALUATION, "evaluation.json", evaluation())
    return image["image"]["imageId"]["imageDigest"]


def event(execution_id: str = EXECUTION) -> dict:
    """The Evaluate/RegisterModel job event."""
    return job_event(
        {"execution_id": execution_id},
        inputs={"Evaluation": EVALUATION},
        outputs={"Registration": REGISTRATION},
    )


def expect_success_with_variables(pipeline: JobResults) -> Capture:
    """The function must report success with output variables; returns what they were."""
    variables = Capture()
    pipeline.stubber.add_response(
        "put_job_success_result",
        {},
        {"jobId": JOB_ID, "executionDetails": pipeline.summary, "outputVariables": variables},
    )
    return variables


def shuffled_answers(by_feature: dict[str, list[float]]) -> list[float]:
    """The endpoint's answer to the permuted copies: each feature's copies (three, in the test
    set's column order) answered with that feature's four predictions."""
    return [p for feature in FEATURES for _ in range(3) for p in by_feature[feature]]


# Shuffling sex changes nothing, length adds 3 to every prediction (MSE 9, +7.75), diameter
# makes the model exact (MSE 0, -1.25): the ranking and the numbers follow from these alone.
SHUFFLED = {
    "sex": DEV_PREDICTIONS,
    "length": [t + 3 for t in TARGETS],
    "diameter": TARGETS,
}


def expect_scoring(runtime) -> Capture:
    """Under Stubber: the test set, then its permuted copies in one request; returns the second
    request's body."""
    expect_invoke(runtime, "demo-dev", DEV_PREDICTIONS)
    permuted = Capture()
    runtime.add_response(
        "invoke_endpoint",
        answer(shuffled_answers(SHUFFLED)),
        {
            "EndpointName": "demo-dev",
            "Body": permuted,
            "ContentType": "text/csv",
            "Accept": "application/json",
        },
    )
    return permuted


def read_s3_json(cloud: Cloud, uri: str) -> Any:
    """The JSON document at an s3:// URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_passed_model_becomes_a_pending_version_with_its_evidence(
    register_model, cloud: Cloud, pipeline, stub, environment, capsys
):
    # GIVEN a model that passed the gate, its baselines in its archive
    permuted = expect_scoring(stub(register_model.RUNTIME))
    variables = expect_success_with_variables(pipeline)
    # WHEN RegisterModel runs
    register_model.handler(event(), None)
    # THEN version 1 of the group exists, PendingManualApproval, and the variables name it
    assert variables.value == {"ModelPackageArn": PACKAGE_ARN, "ModelPackageVersion": "1"}
    assert pipeline.summary_text == (
        f"Registered version 1 of demo (PendingManualApproval): {PACKAGE_ARN}; "
        f"evidence in {EVIDENCE}"
    )
    package = cloud.sagemaker.describe_model_package(ModelPackageName=PACKAGE_ARN)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert (package["ModelPackageGroupName"], package["ModelPackageVersion"]) == ("demo", 1)
    assert package["InferenceSpecification"]["Containers"] == [
        {"Image": IMAGE, "ImageDigest": environment, "ModelDataUrl": MODEL_URL}
    ]
    assert package["MetadataProperties"] == {
        "CommitId": "0123456789abcdef",
        "Repository": REPOSITORY,
        "GeneratedBy": f"{PIPELINE_ARN}/execution/{EXECUTION}",
    }
    assert package["CustomerMetadataProperties"] == {
        "TrainingJobName": JOB_NAME,
        "mse": "1.25",
        "rmse": "1.11803",
        "mae": "0.75",
        "r2": "0.428571",
        "ImageDigest": environment,
    }
    # ... every report it points at exists beside the model and is JSON
    metrics, drift = package["ModelMetrics"], package["DriftCheckBaselines"]
    sources = [
        metrics["ModelQuality"]["Statistics"],
        metrics["ModelQuality"]["Constraints"],
        metrics["ModelDataQuality"]["Statistics"],
        metrics["ModelDataQuality"]["Constraints"],
        metrics["Bias"]["Report"],
        metrics["Explainability"]["Report"],
        drift["ModelQuality"]["Statistics"],
        drift["ModelQuality"]["Constraints"],
        drift["ModelDataQuality"]["Statistics"],
        drift["ModelDataQuality"]["Constraints"],
    ]
    for source in sources:
        assert source["ContentType"] == "application/json"
        assert source["S3Uri"].startswith(EVIDENCE)
        read_s3_json(cloud, source["S3Uri"])
    # ... the data-quality baselines are the archive's, byte for byte
    for source, member in (
        (metrics["ModelDataQuality"]["Statistics"], "baselines/statistics.json"),
        (metrics["ModelDataQuality"]["Constraints"], "baselines/constraints.json"),
    ):
        key = source["S3Uri"].removeprefix("s3://demo-models/")
        body = cloud.s3.get_object(Bucket="demo-models", Key=key)["Body"].read()
        assert body == BASELINES[member]
    # ... the model quality is Model Monitor's: NaN deviations under 200 records, the gate's MSE
    assert read_s3_json(cloud, metrics["ModelQuality"]["Statistics"]["S3Uri"]) == {
        "version": 0.0,
        "dataset": {"item_count": 4},
        "regression_metrics": {
            name: {"value": pytest.approx(value), "standard_deviation": "NaN"}
            for name, value in METRICS.items()
        },
    }
    constraints = read_s3_json(cloud, drift["ModelQuality"]["Constraints"]["S3Uri"])
    assert constraints["regression_constraints"]["mse"] == {
        "threshold": 4.6,
        "comparison_operator": "GreaterThanThreshold",
    }
    # ... the error by group of the categorical feature (M: errors 1, 0; F: 0; I: -2)
    assert read_s3_json(cloud, metrics["Bias"]["Report"]["S3Uri"])["groups"] == {
        "sex": [
            {"value": "F", "count": 1, "mse": 0.0, "mae": 0.0, "mean_error": 0.0},
            {"value": "I", "count": 1, "mse": 4.0, "mae": 2.0, "mean_error": -2.0},
            {"value": "M", "count": 2, "mse": 0.5, "mae": 0.5, "mean_error": 0.5},
        ]
    }
    # ... and the permutation importance, most important first
    importance = read_s3_json(cloud, metrics["Explainability"]["Report"]["S3Uri"])
    assert importance["baseline_mse"] == 1.25
    assert [
        (f["name"], f["importance_mean"], f["importance_std"]) for f in importance["features"]
    ] == [
        ("length", 7.75, 0.0),
        ("sex", 0.0, 0.0),
        ("diameter", -1.25, 0.0),
    ]
    # ... computed from copies that each shuffle one column of the test set and nothing else
    assert_permuted_copies(permuted.value.decode())
    # ... and registration.json hands the version to the approval and to DeployProd
    assert cloud.read_artifact(REGISTRATION, "registration.json") == {
        "ModelPackageArn": PACKAGE_ARN,
        "ModelPackageVersion": 1,
        "TrainingJobName": JOB_NAME,
        "ImageURI": IMAGE,
        "ModelDataUrl": MODEL_URL,
    }
    assert_no_secrets(cloud, capsys.readouterr().out)


def assert_permuted_copies(body: str) -> None:
    """The request holds the header once and three copies per feature of the four records, each
    copy a permutation of that feature's column with every other column unchanged."""
    header, *records = list(csv.reader(io.StringIO(body)))
    original_header, *original = list(csv.reader(io.StringIO(REQUEST_CSV)))
    assert header == original_header
    assert len(records) == len(FEATURES) * 3 * len(original)
    for copy_index in range(len(FEATURES) * 3):
        feature = FEATURES[copy_index // 3]
        column = header.index(feature)
        rows = records[copy_index * 4 : copy_index * 4 + 4]
        assert sorted(row[column] for row in rows) == sorted(row[column] for row in original)
        for row, before in zip(rows, original, strict=True):
            assert row[:column] + row[column + 1 :] == before[:column] + before[column + 1 :]


def test_a_model_that_failed_the_gate_registers_nothing(register_model, cloud, pipeline):
    # GIVEN an evaluation that did not pass (Stubber allows the endpoint no call)
    cloud.put_artifact(
        EVALUATION,
        "evaluation.json",
        evaluation(passed=False, reason="Gate failed: MSE 25.0000 exceeds the threshold 4.6"),
    )
    pipeline.expect_failure()
    # WHEN RegisterModel runs
    register_model.handler(event(), None)
    # THEN it fails saying why, and the group and the model folder are as they were
    assert pipeline.message == (
        "the evaluation did not pass the gate (Gate failed: MSE 25.0000 exceeds the threshold 4.6)"
    )
    assert (
        cloud.sagemaker.list_model_packages(ModelPackageGroupName="demo")["ModelPackageSummaryList"]
        == []
    )
    listed = cloud.s3.list_objects_v2(Bucket="demo-models")["Contents"]
    assert [item["Key"] for item in listed] == [MODEL_KEY]


@pytest.fixture
def create_requests(register_model: ModuleType):
    """Every CreateModelPackage request the function sends, as sent."""
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    events = register_model.SAGEMAKER.meta.events
    events.register("provide-client-params.sagemaker.CreateModelPackage", record)
    yield sent
    events.unregister("provide-client-params.sagemaker.CreateModelPackage", record)


def test_a_retry_of_the_same_execution_asks_for_the_same_version(
    register_model, pipeline, stub, create_requests
):
    # GIVEN the action run once, and retried (CodePipeline's Retry) in the same execution
    runtime = stub(register_model.RUNTIME)
    for _ in range(2):
        expect_scoring(runtime)
        expect_success_with_variables(pipeline)
        register_model.handler(event(), None)
    # ... and once by another execution
    expect_scoring(runtime)
    expect_success_with_variables(pipeline)
    register_model.handler(event("0a1b2c3d-1111-2222-3333-777788889999"), None)
    # THEN the retry sends the first attempt's ClientToken, which SageMaker answers with the
    # version that token made instead of a new one; another execution sends its own.
    # (moto 5.2.1 stores ClientToken but does not honour it: it would make version 2, so the
    # token is what this test can check.)
    first, retry, other = (request["ClientToken"] for request in create_requests)
    assert first == retry
    assert other != first
    assert len(first) <= 36  # CreateModelPackage's limit


@pytest.mark.parametrize(
    ("members", "missing"),
    [
        ({}, "baselines/statistics.json or baselines/constraints.json"),
        ({"baselines/statistics.json": BASELINES["baselines/statistics.json"]}, None),
    ],
)
def test_a_model_archive_without_baselines_fails_naming_them(
    register_model, cloud, pipeline, members, missing
):
    # GIVEN a model.tar.gz without (some of) the baselines `train` writes
    cloud.s3.put_object(Bucket="demo-models", Key=MODEL_KEY, Body=model_archive(members))
    pipeline.expect_failure()
    # WHEN RegisterModel runs
    register_model.handler(event(), None)
    # THEN it fails naming the missing members, before scoring or registering anything
    named = missing or "baselines/constraints.json"
    assert pipeline.message == (
        f"{MODEL_URL} has no {named}: the container's `train` writes the training data's "
        "baselines there (tabular_container/baseline.py)"
    )
    assert (
        cloud.sagemaker.list_model_packages(ModelPackageGroupName="demo")["ModelPackageSummaryList"]
        == []
    )


def test_without_the_execution_id_the_action_is_misconfigured(register_model, pipeline):
    # GIVEN UserParameters without the execution (the version could not be traced to its run)
    pipeline.expect_failure("ConfigurationError")
    # WHEN RegisterModel runs
    register_model.handler(
        job_event(None, inputs={"Evaluation": EVALUATION}, outputs={"Registration": REGISTRATION}),
        None,
    )
    # THEN it says what to put there
    assert pipeline.message == (
        'UserParameters: "execution_id" must be the pipeline execution id '
        '("#{codepipeline.PipelineExecutionId}"), got None'
    )
