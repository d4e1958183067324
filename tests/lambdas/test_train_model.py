"""TrainModel: from the Build stage's image to a running training job, or a clear failure."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabular_container.hyperparameters import HyperparameterError, parse_hyperparameters
from tests.lambdas.conftest import (
    IMAGE_URI,
    ROLE_ARN,
    Capture,
    Cloud,
    JobResults,
    assert_no_secrets,
    job_event,
)

BUILD_OUTPUT = "demo-pipeline/BuildOutpu/build.zip"
TRAIN_JOB = "demo-pipeline/TrainJob/train.zip"
HYPERPARAMETERS = {"target": "rings", "alpha": "0.5"}
NAME = re.compile(r"^demo-0123456-\d{8}-\d{6}$")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment templates/02-pipeline.yml gives the function."""
    for name, value in {
        "PROJECT_NAME": "demo",
        "SAGEMAKER_ROLE_ARN": ROLE_ARN,
        "DATA_BUCKET": "demo-data",
        "MODEL_BUCKET": "demo-models",
        "TRAINING_INSTANCE_TYPE": "ml.m5.large",
        "TRAINING_VOLUME_GB": "10",
        "TRAINING_MAX_SECONDS": "900",
    }.items():
        monkeypatch.setenv(name, value)


def event(user_parameters: object = None) -> dict:
    """The job event of the Train/TrainModel action."""
    if user_parameters is None:
        user_parameters = {"hyperparameters": HYPERPARAMETERS}
    return job_event(
        user_parameters, inputs={"BuildOutput": BUILD_OUTPUT}, outputs={"TrainJob": TRAIN_JOB}
    )


@pytest.fixture
def built(cloud: Cloud, train_model: ModuleType) -> None:
    """The Build stage pushed an image tagged with the commit."""
    cloud.put_artifact(BUILD_OUTPUT, train_model.INPUT_FILE, {"ImageURI": IMAGE_URI})


@pytest.mark.usefixtures("environment", "built")
def test_a_training_job_starts_on_the_built_image(
    train_model: ModuleType, cloud: Cloud, pipeline: JobResults, capsys
):
    # GIVEN the built image and hyperparameters in UserParameters
    pipeline.expect_success()
    # WHEN the action runs
    train_model.handler(event(), None)
    # THEN a traceable training job runs in SageMaker with the channels, output and tags
    written = cloud.read_artifact(TRAIN_JOB, train_model.OUTPUT_FILE)
    assert written["ImageURI"] == IMAGE_URI
    assert NAME.match(written["TrainingJobName"])
    assert (
        pipeline.summary_text == f"Started training job {written['TrainingJobName']} on {IMAGE_URI}"
    )
    job = cloud.sagemaker.describe_training_job(TrainingJobName=written["TrainingJobName"])
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://demo-data/train/"
    assert channels["validation"]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://demo-data/validation/"
    )
    assert {c["ContentType"] for c in channels.values()} == {"text/csv"}
    assert {c["InputMode"] for c in channels.values()} == {"File"}
    assert job["HyperParameters"] == HYPERPARAMETERS
    assert job["OutputDataConfig"]["S3OutputPath"] == "s3://demo-models/models/"
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 900
    tags = cloud.sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"project": "demo", "commit": "0123456789abcdef"}
    assert_no_secrets(cloud, capsys.readouterr().out)


@pytest.mark.usefixtures("environment", "built")
def test_the_request_carries_metric_definitions_and_resources(
    train_model: ModuleType, pipeline: JobResults, stub
):
    # GIVEN SageMaker checking every parameter of CreateTrainingJob
    name = Capture()
    stub(train_model.SAGEMAKER).add_response(
        "create_training_job",
        {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"},
        {
            "TrainingJobName": name,
            "HyperParameters": HYPERPARAMETERS,
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE_URI,
                "TrainingInputMode": "File",
                "MetricDefinitions": Capture(),
            },
            "RoleArn": ROLE_ARN,
            "InputDataConfig": Capture(),
            "OutputDataConfig": {"S3OutputPath": "s3://demo-models/models/"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 900},
            "Tags": [
                {"Key": "project", "Value": "demo"},
                {"Key": "commit", "Value": "0123456789abcdef"},
            ],
        },
    )
    pipeline.expect_success()
    # WHEN the action runs
    train_model.handler(event(), None)
    # THEN the name has the project, the short commit and the time; the metrics parse the logs
    assert NAME.match(name.value)
    definitions = {d["Name"]: d["Regex"] for d in train_model.METRIC_DEFINITIONS}
    assert definitions["validation:mse"] == "validation:mse=([0-9.eE+-]+);"
    assert re.search(definitions["validation:mse"], "validation:mse=4.512;").group(1) == "4.512"
    assert {"train:mse", "validation:rmse", "validation:mae", "validation:r2"} <= set(definitions)


@pytest.mark.usefixtures("environment", "built")
@pytest.mark.parametrize(
    ("user_parameters", "message"),
    [
        ('{"hyperparameters": {"alpha": "0.5"', "UserParameters is not valid JSON"),
        (
            {"hyperparameters": {"alpha": 0.1, "target": "rings"}},
            "hyperparameter alpha=0.1 must be a string, as SageMaker passes them",
        ),
        ({"hyperparameters": ["a"]}, 'UserParameters "hyperparameters" must be a JSON object'),
        ({"hyperparams": {}}, "unknown UserParameters key(s) hyperparams"),
    ],
)
def test_bad_user_parameters_fail_before_anything_starts(
    train_model, cloud, pipeline, user_parameters, message
):
    # GIVEN UserParameters that are not JSON, or hyperparameters that are not all strings
    pipeline.expect_failure("ConfigurationError")
    # WHEN the action runs
    train_model.handler(event(user_parameters), None)
    # THEN it fails saying what is wrong, and no training job was started
    assert message in pipeline.message
    assert cloud.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


def container_says(hyperparameters: dict) -> str:
    """What `train` itself would write to output/failure for these hyperparameters."""
    with pytest.raises(HyperparameterError) as caught:
        parse_hyperparameters(hyperparameters)
    return str(caught.value)


@pytest.mark.usefixtures("environment", "built")
@pytest.mark.parametrize(
    ("hyperparameters", "words"),
    [
        ({"target": "rings", "alpah": "1"}, "unknown hyperparameter 'alpah'; known: alpha,"),
        ({"n_components": "many"}, "hyperparameter n_components='many' is invalid: expected"),
        ({"max_iter": "200"}, "hyperparameter 'max_iter' does not apply to estimator"),
        ({"categorical_columns": "a,,b"}, "hyperparameter categorical_columns='a,,b' is invalid"),
    ],
)
def test_hyperparameters_the_container_refuses_fail_before_any_training_job(
    train_model, cloud, pipeline, stub, hyperparameters, words
):
    # GIVEN a misspelled key, a bad value or one of another estimator, and a SageMaker stub
    # with no response: any call would fail the job with the stub's error instead
    stub(train_model.SAGEMAKER)
    pipeline.expect_failure("ConfigurationError")
    # WHEN the action runs
    train_model.handler(event({"hyperparameters": hyperparameters}), None)
    # THEN it fails with the container's own words, and CreateTrainingJob was never called
    assert pipeline.message == container_says(hyperparameters)
    assert pipeline.message.startswith(words)
    assert cloud.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


@pytest.mark.usefixtures("environment")
def test_a_build_output_without_image_detail_fails(train_model, cloud, pipeline):
    # GIVEN a build artifact without imageDetail.json
    cloud.put_artifact(BUILD_OUTPUT, "something-else.json", {})
    pipeline.expect_failure()
    # WHEN the action runs THEN it names the missing file
    train_model.handler(event(), None)
    assert pipeline.message == (
        "input artifact BuildOutput has no imageDetail.json (it holds: something-else.json)"
    )


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize(
    "image_uri",
    [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-model",
        "localhost:5000/demo-model",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-model@sha256:abcdef",
    ],
)
def test_an_image_without_a_commit_tag_fails(train_model, cloud, pipeline, image_uri):
    # GIVEN an image URI with no tag (or only a digest)
    cloud.put_artifact(BUILD_OUTPUT, train_model.INPUT_FILE, {"ImageURI": image_uri})
    pipeline.expect_failure()
    # WHEN the action runs THEN it says the tag is missing
    train_model.handler(event(), None)
    assert pipeline.message == (
        f"image URI {image_uri!r} has no tag (the Build stage tags the commit)"
    )


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "0a1-b2c"])
def test_an_image_tag_shorter_than_a_commit_id_fails(train_model, cloud, pipeline, tag):
    # GIVEN an image tagged with fewer than 7 letters and digits (not the Build stage's commit)
    image_uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-model:{tag}"
    cloud.put_artifact(BUILD_OUTPUT, train_model.INPUT_FILE, {"ImageURI": image_uri})
    pipeline.expect_failure()
    # WHEN the action runs THEN no job starts and the tag is named: a shorter name would not fit
    # the fixed-length training-job names IAM allows
    train_model.handler(event(), None)
    assert pipeline.message == (
        f"image tag {tag!r} is not a commit id (at least 7 letters and digits; "
        "the Build stage tags the commit)"
    )
    assert cloud.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


@pytest.mark.usefixtures("environment", "built")
def test_sagemaker_refusing_the_job_fails_with_its_reason(train_model, cloud, pipeline, stub):
    # GIVEN SageMaker refuses CreateTrainingJob
    stub(train_model.SAGEMAKER).add_client_error(
        "create_training_job",
        service_error_code="ResourceLimitExceeded",
        service_message="The account-level service limit 'ml.m5.large for training job usage' is 0",
        http_status_code=400,
    )
    pipeline.expect_failure()
    # WHEN the action runs
    train_model.handler(event(), None)
    # THEN the failure carries SageMaker's code and words, and no output artifact is written
    assert "ResourceLimitExceeded" in pipeline.message
    assert "account-level service limit" in pipeline.message
    assert "Contents" not in cloud.s3.list_objects_v2(
        Bucket="codepipeline-us-east-1-artifacts", Prefix="demo-pipeline/TrainJob"
    )


@pytest.mark.usefixtures("environment", "built")
def test_a_missing_setting_is_a_configuration_error(train_model, pipeline, monkeypatch):
    # GIVEN the template forgot a variable
    monkeypatch.delenv("MODEL_BUCKET")
    pipeline.expect_failure("ConfigurationError")
    # WHEN the action runs THEN the variable is named
    train_model.handler(event(), None)
    assert pipeline.message == "environment variable MODEL_BUCKET is not set"


@pytest.mark.usefixtures("environment", "built")
def test_a_project_name_too_long_for_sagemaker_fails(train_model, pipeline, monkeypatch):
    # GIVEN a project name that leaves no room in 63 characters
    monkeypatch.setenv("PROJECT_NAME", "p" * 40)
    pipeline.expect_failure("ConfigurationError")
    # WHEN the action runs THEN it says to shorten it
    train_model.handler(event(), None)
    assert "check PROJECT_NAME" in pipeline.message


# The module fixture only hands over pure functions, so sharing it between examples is safe.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    project=st.from_regex(r"[a-z][a-z0-9-]{0,37}[a-z0-9]", fullmatch=True),
    commit=st.from_regex(r"[0-9a-f]{7,40}", fullmatch=True),
)
def test_training_job_names_fit_sagemaker_rules(train_model, project, commit):
    # GIVEN any project name up to 39 characters and any commit
    # WHEN a job is named
    name = train_model.training_job_name(project, commit, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    # THEN the name is legal and ends in the short commit and the time
    assert len(name) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)
    assert name == f"{project}-{commit[:7]}-20250102-030405"
