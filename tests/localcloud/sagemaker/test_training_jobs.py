"""Training jobs through boto3: SageMaker's lifecycle, failures with their reasons, errors."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.sagemaker import read_training_job_log
from tests.localcloud.sagemaker.conftest import (
    BUCKET,
    REGISTRY,
    Cloud,
    container_processes,
    error_of,
    unique,
    wait_for,
)

# Ten thousand boosting rounds without early stopping: a job that runs for many seconds.
SLOW_HYPERPARAMETERS = {"estimator": "hist_gradient_boosting", "max_iter": "10000"}


def test_job_completes_with_model_in_s3_metrics_and_log(
    cloud: Cloud, trained_job: dict[str, Any]
) -> None:
    # GIVEN the shared job, run with the real train program on the abalone channels
    name = trained_job["TrainingJobName"]

    # THEN it went through SageMaker's secondary statuses and put model.tar.gz where SageMaker does
    assert trained_job["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in trained_job["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    url = trained_job["ModelArtifacts"]["S3ModelArtifacts"]
    assert url == f"s3://{BUCKET}/models/{name}/output/model.tar.gz"
    archive = cloud.s3.get_object(Bucket=BUCKET, Key=url.split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert "metadata.json" in tar.getnames()
    metrics = {m["MetricName"]: m["Value"] for m in trained_job["FinalMetricDataList"]}
    assert 0 < metrics["validation:mse"] < 10
    assert trained_job["TrainingTimeInSeconds"] >= 1
    assert trained_job["HyperParameters"] == {}
    assert "validation:mse=" in read_training_job_log(cloud.state_dir, name)


def test_bad_hyperparameter_fails_with_the_containers_reason(cloud: Cloud) -> None:
    # GIVEN a hyperparameter the container does not know
    name = unique("bad-hp")
    cloud.sagemaker.create_training_job(
        **cloud.training_job_request(name, HyperParameters={"bogus": "1"})
    )

    # WHEN the job ends
    job = cloud.wait_training_done(name)

    # THEN it failed with what train wrote to output/failure (its first 1024 characters)
    failure = cloud.state_dir / "sagemaker" / "training-jobs" / name / "output" / "failure"
    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    assert "bogus" in job["FailureReason"]
    assert job["FailureReason"] == failure.read_text().strip()[:1024]
    # and no model where ModelArtifacts (a required member of the answer) points
    bucket, key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").split("/", 1)
    assert cloud.s3.list_objects_v2(Bucket=bucket, Prefix=key)["KeyCount"] == 0


def test_stop_training_job_terminates_the_program(cloud: Cloud) -> None:
    # GIVEN a job whose train program is running
    name = unique("stop-me")
    cloud.sagemaker.create_training_job(
        **cloud.training_job_request(name, HyperParameters=SLOW_HYPERPARAMETERS)
    )
    job_dir = cloud.state_dir / "sagemaker" / "training-jobs" / name
    wait_for(lambda: container_processes(job_dir), interval=0.02)

    # WHEN it is stopped
    cloud.sagemaker.stop_training_job(TrainingJobName=name)

    # THEN it ends Stopped, and its process is gone
    job = cloud.wait_training_done(name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "Stopping" in [t["Status"] for t in job["SecondaryStatusTransitions"]]
    wait_for(lambda: not container_processes(job_dir), timeout=5)


def test_max_runtime_stops_the_job(cloud: Cloud) -> None:
    # GIVEN a job allowed one second, far less than its training takes
    name = unique("too-slow")
    request = cloud.training_job_request(
        name, HyperParameters=SLOW_HYPERPARAMETERS, StoppingCondition={"MaxRuntimeInSeconds": 1}
    )
    cloud.sagemaker.create_training_job(**request)

    # THEN SageMaker's MaxRuntimeExceeded ending, with the reason
    job = cloud.wait_training_done(name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert "MaxRuntimeInSeconds" in job["FailureReason"]


def test_image_without_snapshot_fails_the_job_with_the_reason(cloud: Cloud) -> None:
    name = unique("no-image")
    request = cloud.training_job_request(name)
    request["AlgorithmSpecification"]["TrainingImage"] = f"{REGISTRY}/abalone:never-built"

    cloud.sagemaker.create_training_job(**request)
    job = cloud.wait_training_done(name, timeout=10)

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        f"ClientError: Requested image {REGISTRY}/abalone:never-built not found"
    )


def test_describe_and_list(cloud: Cloud, trained_job: dict[str, Any]) -> None:
    name = trained_job["TrainingJobName"]

    found = cloud.sagemaker.list_training_jobs(NameContains=name, StatusEquals="Completed")
    assert [s["TrainingJobName"] for s in found["TrainingJobSummaries"]] == [name]
    assert found["TrainingJobSummaries"][0]["TrainingJobArn"] == trained_job["TrainingJobArn"]

    first = cloud.sagemaker.list_training_jobs(MaxResults=1, SortBy="Name", SortOrder="Ascending")
    second = cloud.sagemaker.list_training_jobs(
        MaxResults=1, SortBy="Name", SortOrder="Ascending", NextToken=first["NextToken"]
    )
    names = [s["TrainingJobName"] for s in first["TrainingJobSummaries"]]
    names += [s["TrainingJobName"] for s in second["TrainingJobSummaries"]]
    assert names == sorted(names) and len(set(names)) == 2

    assert trained_job["TrainingJobArn"] == (
        f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name.lower()}"
    )


def test_unknown_job_is_resource_not_found(cloud: Cloud) -> None:
    with pytest.raises(cloud.sagemaker.exceptions.ResourceNotFound) as describe:
        cloud.sagemaker.describe_training_job(TrainingJobName="no-such-job")
    with pytest.raises(ClientError) as stop:
        cloud.sagemaker.stop_training_job(TrainingJobName="no-such-job")

    assert error_of(describe) == ("ResourceNotFound", "Requested resource not found.")
    assert error_of(stop) == ("ResourceNotFound", "Requested resource not found.")


def test_duplicate_name_is_resource_in_use(cloud: Cloud, trained_job: dict[str, Any]) -> None:
    request = cloud.training_job_request(trained_job["TrainingJobName"])

    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_training_job(**request)

    code, message = error_of(excinfo)
    assert code == "ResourceInUse"
    assert message == (
        "Training job names must be unique within an AWS account and region, and a training "
        f"job with this name already exists ({trained_job['TrainingJobArn']})"
    )


def test_stopping_a_finished_job_is_rejected(cloud: Cloud, trained_job: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.stop_training_job(TrainingJobName=trained_job["TrainingJobName"])

    assert error_of(excinfo) == (
        "ValidationException",
        "The request was rejected because the training job is in status Completed.",
    )


def test_invalid_name_is_rejected_as_sagemaker_does(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_training_job(**cloud.training_job_request("bad_name"))

    assert error_of(excinfo) == (
        "ValidationException",
        "1 validation error detected: Value 'bad_name' at 'trainingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    )
