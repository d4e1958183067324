"""DeployModel: create or update `<project>-<env>` in place, keep the last few versions."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType, SimpleNamespace

import pytest

from tabular_container.constants import MODEL_NAME_ENV
from tests.lambdas.conftest import (
    IMAGE_URI,
    ROLE_ARN,
    Cloud,
    assert_no_secrets,
    job_event,
)

TRAINED_MODEL = "demo-pipeline/TrainedMod/trained.zip"
DEV_DEPLOYMENT = "demo-pipeline/DevDeploym/dev.zip"
JOB_NAME = "demo-0123456-20250102-030405"
MODEL_URL = f"s3://demo-models/models/{JOB_NAME}/output/model.tar.gz"
CAPTURE_URI = "s3://demo-models/data-capture/"
TARGET = {"env": "dev", "instance_type": "ml.m5.large", "instance_count": 1}
NEW = "demo-dev-20250102-031000-beef"
OLD = [f"demo-dev-2024120{day}-120000-00a{day}" for day in range(1, 5)]  # oldest first
WHEN = datetime(2025, 1, 2, 3, 10, tzinfo=UTC)
TAGS = [
    {"Key": "project", "Value": "demo"},
    {"Key": "env", "Value": "dev"},
    {"Key": "training-job", "Value": JOB_NAME},
]
ARN = "arn:aws:sagemaker:us-east-1:123456789012:"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, deploy_model: ModuleType) -> None:
    """The template's environment; the new version's name made predictable."""
    for name, value in {
        "PROJECT_NAME": "demo",
        "SAGEMAKER_ROLE_ARN": ROLE_ARN,
        "DATA_CAPTURE_S3_URI": CAPTURE_URI,
        "KEEP_LAST": "2",
        "MODEL_PACKAGE_GROUP": "demo",
        "NOTIFICATION_TOPIC_ARN": f"{ARN.replace('sagemaker', 'sns')}demo-approvals",
        "PROD_INSTANCE_TYPE": "ml.m5.large",
        "PROD_INSTANCE_COUNT": "2",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(deploy_model, "utc_stamp", lambda now: "20250102-031000")
    monkeypatch.setattr(deploy_model, "secrets", SimpleNamespace(token_hex=lambda n: "beef"))


@pytest.fixture
def trained(cloud: Cloud) -> None:
    """GetStatus's Training output artifact."""
    cloud.put_artifact(
        TRAINED_MODEL,
        "training_job.json",
        {"TrainingJobName": JOB_NAME, "ImageURI": IMAGE_URI, "ModelDataUrl": MODEL_URL},
    )


def event(user_parameters: object = None) -> dict:
    """The DeployDev/DeployDevModel job event."""
    return job_event(
        TARGET if user_parameters is None else user_parameters,
        inputs={"TrainedModel": TRAINED_MODEL},
        outputs={"DevDeployment": DEV_DEPLOYMENT},
    )


def make_version(cloud: Cloud, name: str) -> None:
    """A model and endpoint configuration as an earlier deployment left them."""
    cloud.sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE_URI, "ModelDataUrl": MODEL_URL},
        ExecutionRoleArn=ROLE_ARN,
    )
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )


def endpoint(status: str, config: str = OLD[-1], **extra: object) -> dict:
    """A DescribeEndpoint response."""
    return {
        "EndpointName": "demo-dev",
        "EndpointArn": f"{ARN}endpoint/demo-dev",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
        **extra,
    }


@pytest.mark.usefixtures("trained")
def test_a_first_deployment_creates_the_endpoint(deploy_model, cloud: Cloud, pipeline, capsys):
    # GIVEN no endpoint yet
    pipeline.expect_success()
    # WHEN the action runs
    deploy_model.handler(event(), None)
    # THEN model, configuration (with data capture) and endpoint exist, and deployment.json says so
    model = cloud.sagemaker.describe_model(ModelName=NEW)
    assert model["PrimaryContainer"]["Image"] == IMAGE_URI
    assert model["PrimaryContainer"]["ModelDataUrl"] == MODEL_URL
    # AND the container is told its model's name, which serve returns with every answer
    assert model["PrimaryContainer"]["Environment"] == {MODEL_NAME_ENV: NEW}
    assert model["ExecutionRoleArn"] == ROLE_ARN
    config = cloud.sagemaker.describe_endpoint_config(EndpointConfigName=NEW)
    variant = config["ProductionVariants"][0]
    assert (variant["VariantName"], variant["ModelName"]) == ("AllTraffic", NEW)
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 1)
    assert config["DataCaptureConfig"]["EnableCapture"] is True
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == CAPTURE_URI
    assert cloud.sagemaker.describe_endpoint(EndpointName="demo-dev")["EndpointConfigName"] == NEW
    assert cloud.read_artifact(DEV_DEPLOYMENT, "deployment.json") == {
        "EndpointName": "demo-dev",
        "EndpointConfigName": NEW,
        "ModelName": NEW,
        "ModelDataUrl": MODEL_URL,
        "ImageURI": IMAGE_URI,
        "TrainingJobName": JOB_NAME,
        "Environment": "dev",
    }
    assert pipeline.summary_text == (
        f"Creating endpoint demo-dev with {NEW} (model of {JOB_NAME}); "
        "removed 0 old configuration(s)/model(s)"
    )
    assert_no_secrets(cloud, capsys.readouterr().out)


@pytest.mark.usefixtures("trained")
def test_older_versions_beyond_keep_last_are_deleted(deploy_model, cloud: Cloud, pipeline):
    # GIVEN four earlier versions of our own and some that are not ours
    for name in [*OLD, "demo-dev-manual", "demo-prod-20241201-120000-00a1"]:
        make_version(cloud, name)
    pipeline.expect_success()
    # WHEN deploying with KEEP_LAST=2
    deploy_model.handler(event(), None)
    # THEN the new and the newest old version stay; the others of ours go; foreign ones stay
    configs = {
        c["EndpointConfigName"] for c in cloud.sagemaker.list_endpoint_configs()["EndpointConfigs"]
    }
    models = {m["ModelName"] for m in cloud.sagemaker.list_models()["Models"]}
    kept = {NEW, OLD[-1], "demo-dev-manual", "demo-prod-20241201-120000-00a1"}
    assert configs == kept
    assert models == kept
    assert pipeline.summary_text.endswith("removed 6 old configuration(s)/model(s)")


def queue_update(sagemaker, failing_delete: str | None = None) -> None:
    """The calls of an in-place update: the endpoint serves OLD[1]; OLD[2], OLD[3] are newer."""
    sagemaker.add_response(
        "describe_endpoint", endpoint("InService", OLD[1]), {"EndpointName": "demo-dev"}
    )
    sagemaker.add_response(
        "create_model",
        {"ModelArn": f"{ARN}model/{NEW}"},
        {
            "ModelName": NEW,
            "PrimaryContainer": {
                "Image": IMAGE_URI,
                "ModelDataUrl": MODEL_URL,
                "Environment": {MODEL_NAME_ENV: NEW},
            },
            "ExecutionRoleArn": ROLE_ARN,
            "Tags": TAGS,
        },
    )
    sagemaker.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"{ARN}endpoint-config/{NEW}"},
        {
            "EndpointConfigName": NEW,
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": NEW,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1.0,
                }
            ],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": CAPTURE_URI,
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {
                    "CsvContentTypes": ["text/csv"],
                    "JsonContentTypes": ["application/json"],
                },
            },
            "Tags": TAGS,
        },
    )
    sagemaker.add_response(
        "update_endpoint",
        {"EndpointArn": f"{ARN}endpoint/demo-dev"},
        {"EndpointName": "demo-dev", "EndpointConfigName": NEW},
    )
    sagemaker.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": OLD[1],
            "EndpointConfigArn": f"{ARN}endpoint-config/{OLD[1]}",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": OLD[1]}],
            "CreationTime": WHEN,
        },
        {"EndpointConfigName": OLD[1]},
    )
    listed = [*OLD, NEW]
    sagemaker.add_response(
        "list_endpoint_configs",
        {
            "EndpointConfigs": [
                {"EndpointConfigName": n, "EndpointConfigArn": ARN + n, "CreationTime": WHEN}
                for n in listed
            ]
        },
        {"NameContains": "demo-dev-"},
    )
    sagemaker.add_response(
        "list_models",
        {"Models": [{"ModelName": n, "ModelArn": ARN + n, "CreationTime": WHEN} for n in listed]},
        {"NameContains": "demo-dev-"},
    )
    # Newest first: NEW and OLD[3] are the last two; OLD[1] is in use; OLD[2], OLD[0] go.
    for operation, param in (
        ("delete_endpoint_config", "EndpointConfigName"),
        ("delete_model", "ModelName"),
    ):
        for name in (OLD[2], OLD[0]):
            if operation == "delete_endpoint_config" and name == failing_delete:
                sagemaker.add_client_error(operation, "ThrottlingException", "Rate exceeded")
            else:
                sagemaker.add_response(operation, {}, {param: name})


@pytest.mark.usefixtures("trained")
def test_an_existing_endpoint_is_updated_in_place(deploy_model, pipeline, stub):
    # GIVEN an endpoint in service with four earlier versions, KEEP_LAST=2
    queue_update(stub(deploy_model.SAGEMAKER))
    pipeline.expect_success()
    # WHEN the action runs
    deploy_model.handler(event(), None)
    # THEN the endpoint is updated in place and old versions not in use are gone
    assert pipeline.summary_text == (
        f"Updating endpoint demo-dev with {NEW} (model of {JOB_NAME}); "
        "removed 4 old configuration(s)/model(s)"
    )


@pytest.mark.usefixtures("trained")
def test_a_failed_delete_is_logged_and_the_deployment_stands(deploy_model, pipeline, stub, capsys):
    # GIVEN SageMaker refusing to delete one old configuration
    queue_update(stub(deploy_model.SAGEMAKER), failing_delete=OLD[2])
    pipeline.expect_success()
    # WHEN the action runs
    deploy_model.handler(event(), None)
    # THEN the deployment succeeds, counting only what went, and the log says what stayed
    assert pipeline.summary_text.endswith("removed 3 old configuration(s)/model(s)")
    warnings = [line for line in capsys.readouterr().out.splitlines() if '"WARNING"' in line]
    assert len(warnings) == 1
    assert OLD[2] in warnings[0]
    assert "ThrottlingException" in warnings[0]


@pytest.mark.usefixtures("trained")
@pytest.mark.parametrize(
    ("status", "advice"),
    [
        ("Updating", "retry when it is InService"),
        ("Creating", "retry when it is InService"),
        ("Failed", "delete it (aws sagemaker delete-endpoint --endpoint-name demo-dev) and retry"),
    ],
)
def test_an_endpoint_that_cannot_be_updated_fails_first(
    deploy_model, pipeline, stub, status, advice
):
    # GIVEN the endpoint busy or broken
    stub(deploy_model.SAGEMAKER).add_response(
        "describe_endpoint",
        endpoint(status, FailureReason="ping failed") if status == "Failed" else endpoint(status),
        {"EndpointName": "demo-dev"},
    )
    pipeline.expect_failure()
    # WHEN the action runs
    deploy_model.handler(event(), None)
    # THEN it fails before creating anything (Stubber allows no other call) and says what to do
    reason = " (ping failed)" if status == "Failed" else ""
    assert (
        pipeline.message == f"endpoint demo-dev is {status}{reason} and cannot be updated: {advice}"
    )


@pytest.mark.usefixtures("trained")
def test_sagemaker_refusing_the_configuration_fails_with_its_reason(deploy_model, pipeline, stub):
    # GIVEN SageMaker rejecting CreateEndpointConfig (e.g. an instance type not allowed)
    sagemaker = stub(deploy_model.SAGEMAKER)
    sagemaker.add_client_error(
        "describe_endpoint", "ValidationException", "Could not find endpoint demo-dev"
    )
    sagemaker.add_response("create_model", {"ModelArn": f"{ARN}model/{NEW}"})
    sagemaker.add_client_error(
        "create_endpoint_config",
        "ValidationException",
        "Value 'ml.m5.large' at 'instanceType' failed to satisfy constraint",
    )
    pipeline.expect_failure()
    # WHEN the action runs THEN the failure carries the reason
    deploy_model.handler(event(), None)
    assert "CreateEndpointConfig" in pipeline.message
    assert "failed to satisfy constraint" in pipeline.message


@pytest.mark.usefixtures("trained")
def test_bad_user_parameters_list_every_problem(deploy_model, pipeline):
    # GIVEN UserParameters wrong in every field
    pipeline.expect_failure("ConfigurationError")
    # WHEN the action runs
    deploy_model.handler(
        event({"env": "Dev!", "instance_type": "m5.large", "instance_count": 0, "size": 1}), None
    )
    # THEN one message lists them all
    assert pipeline.message == (
        "UserParameters: unknown key(s) size; "
        '"env" must be lower-case letters and digits like "dev", got \'Dev!\'; '
        '"instance_type" must be a SageMaker type like "ml.m5.large", got \'m5.large\'; '
        '"instance_count" must be a positive integer, got 0'
    )


def test_a_model_without_model_data_fails(deploy_model, cloud, pipeline):
    # GIVEN the training artifact before GetStatus added the model location
    cloud.put_artifact(
        TRAINED_MODEL, "training_job.json", {"TrainingJobName": JOB_NAME, "ImageURI": IMAGE_URI}
    )
    pipeline.expect_failure()
    # WHEN the action runs THEN it names the missing key
    deploy_model.handler(event(), None)
    assert pipeline.message == "training_job.json in TrainedModel has no ModelDataUrl"
