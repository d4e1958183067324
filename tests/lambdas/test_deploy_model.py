"""DeployModel: create or update `<project>-<env>` in place, keep the last few versions; prod
serves only Approved versions of the registry and follows the registry's changes."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from localcloud.monitoring_runs import run_now
from tabular_container.constants import MODEL_NAME_ENV
from tests.lambdas.conftest import (
    IMAGE_URI,
    ROLE_ARN,
    Cloud,
    assert_no_secrets,
    job_event,
    load_event,
    load_module,
    published,
)
from tests.localcloud.sagemaker.conftest import IMAGE_URI as LOCAL_IMAGE_URI
from tests.localcloud.sagemaker.conftest import Cloud as LocalSageMaker
from tests.localcloud.sagemaker.conftest import (
    count_captured,
    ground_truth_lines,
    local_sagemaker,
    unique,
    wait_for,
)

TRAINED_MODEL = "demo-pipeline/TrainedMod/trained.zip"
DEV_DEPLOYMENT = "demo-pipeline/DevDeploym/dev.zip"
JOB_NAME = "demo-0123456-20250102-030405"
MODEL_URL = f"s3://demo-models/models/{JOB_NAME}/output/model.tar.gz"
CAPTURE_URI = "s3://demo-data/capture"
# What every capturing configuration carries (the sampling percentage from the environment).
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 37,
    "DestinationS3Uri": CAPTURE_URI,
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json"],
    },
}
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
MONITORING_ROLE_ARN = "arn:aws:iam::123456789012:role/demo-monitoring"
ROLLBACK_ALARMS = ["demo-prod-canary-5xx", "demo-prod-canary-4xx", "demo-prod-canary-latency"]
ROLLBACK_METRICS = ["Invocation5XXErrors", "Invocation4XXErrors", "ModelLatency"]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, deploy_model: ModuleType) -> None:
    """The template's environment; the new version's name made predictable."""
    for name, value in {
        "PROJECT_NAME": "demo",
        "SAGEMAKER_ROLE_ARN": ROLE_ARN,
        "DATA_CAPTURE_S3_URI": CAPTURE_URI,
        "CAPTURE_SAMPLING_PERCENTAGE": "37",
        "CAPTURE_DEV": "false",
        "KEEP_LAST": "2",
        "MODEL_PACKAGE_GROUP": "demo",
        "NOTIFICATION_TOPIC_ARN": f"{ARN.replace('sagemaker', 'sns')}demo-approvals",
        "PROD_INSTANCE_TYPE": "ml.m5.large",
        "PROD_INSTANCE_COUNT": "2",
        "MONITORING_ROLE_ARN": MONITORING_ROLE_ARN,
        "MONITORING_REPORTS_S3_URI": "s3://demo-data/monitoring",
        "GROUND_TRUTH_S3_URI": "s3://demo-data/ground-truth",
        "MONITORING_INSTANCE_TYPE": "ml.m5.large",
        "MODEL_QUALITY_WINDOW_HOURS": "24",
        "PROD_TRAFFIC_ROUTING": "CANARY",
        "PROD_TRAFFIC_STEP_PERCENT": "50",
        "PROD_BAKE_SECONDS": "0",
        "PROD_TERMINATION_WAIT_SECONDS": "0",
        "PROD_MAX_DEPLOYMENT_SECONDS": "600",
        "ROLLBACK_ALARMS": ",".join(ROLLBACK_ALARMS),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(deploy_model, "utc_stamp", lambda now: "20250102-031000")
    monkeypatch.setattr(deploy_model, "secrets", SimpleNamespace(token_hex=lambda n: "beef"))


@pytest.fixture(autouse=True)
def rollback_alarms(cloud: Cloud) -> Any:
    """The template's three rollback alarms, as the stack makes them; a CloudWatch client."""
    cloudwatch = boto3.client("cloudwatch")
    for name, metric in zip(ROLLBACK_ALARMS, ROLLBACK_METRICS, strict=True):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=[
                {"Name": "EndpointName", "Value": "demo-prod"},
                {"Name": "VariantName", "Value": "AllTraffic"},
                {"Name": "EndpointConfigName", "Value": "demo-prod-none"},
            ],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0.01,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
        )
    return cloudwatch


@pytest.fixture(autouse=True)
def schedules_pointed(monkeypatch: pytest.MonkeyPatch, deploy_model: ModuleType) -> list[str]:
    """moto has no monitoring schedules: the versions prod's schedules were pointed at, in order
    (the last tests run the real prod_monitoring against the local SageMaker)."""
    pointed: list[str] = []

    def point(sagemaker: Any, settings: Any, project: str, arn: str) -> list[str]:
        pointed.append(arn)
        return [f"schedules on version {arn.rsplit('/', 1)[1]}"]

    monkeypatch.setattr(deploy_model, "point_schedules", point)
    return pointed


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
    # THEN model, configuration and endpoint exist, and deployment.json says so
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
    # ... dev captures nothing unless CAPTURE_DEV says so
    assert not config.get("DataCaptureConfig")  # moto answers {} for none
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


def queue_update(
    sagemaker, failing_delete: str | None = None, capture: dict[str, Any] | None = None
) -> None:
    """The calls of an in-place update: the endpoint serves OLD[1]; OLD[2], OLD[3] are newer.
    The new configuration carries `capture` as its DataCaptureConfig, if given."""
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
            **({} if capture is None else {"DataCaptureConfig": capture}),
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
    # ... so the model made for it is deleted again (Stubber: and nothing else is called)
    sagemaker.add_response("delete_model", {}, {"ModelName": NEW})
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


# --- data capture ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("trained")
def test_dev_captures_when_capture_dev_is_true(deploy_model, cloud, pipeline, monkeypatch):
    # GIVEN the stack's CaptureDev set to true
    monkeypatch.setenv("CAPTURE_DEV", "true")
    pipeline.expect_success()
    # WHEN DeployDev runs
    deploy_model.handler(event(), None)
    # THEN dev's new configuration captures input and output to capture/ of the data bucket,
    # as text for the media types serve takes and answers, at the stack's sampling percentage
    config = cloud.sagemaker.describe_endpoint_config(EndpointConfigName=NEW)
    assert config["DataCaptureConfig"] == CAPTURE


@pytest.mark.usefixtures("trained")
def test_each_deployment_is_a_new_configuration_carrying_the_capture(
    deploy_model, pipeline, stub, monkeypatch
):
    # GIVEN dev in service on OLD[1], and capture switched on since: UpdateEndpoint cannot change
    # a running configuration's capture, so it has to come with a new configuration
    monkeypatch.setenv("CAPTURE_DEV", "true")
    queue_update(stub(deploy_model.SAGEMAKER), capture=CAPTURE)
    pipeline.expect_success()
    # WHEN the action runs
    deploy_model.handler(event(), None)
    # THEN a new configuration with the capture was created and the endpoint pointed at it, no
    # variant property retained from the old one (Stubber checked each call's parameters)
    assert pipeline.summary_text.startswith(f"Updating endpoint demo-dev with {NEW}")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "CAPTURE_SAMPLING_PERCENTAGE",
            "101",
            "CAPTURE_SAMPLING_PERCENTAGE must be a whole number from 0 to 100 (the share of "
            "requests captured), got 101",
        ),
        (
            "CAPTURE_SAMPLING_PERCENTAGE",
            "-1",
            "CAPTURE_SAMPLING_PERCENTAGE must be a whole number from 0 to 100 (the share of "
            "requests captured), got -1",
        ),
        (
            "CAPTURE_SAMPLING_PERCENTAGE",
            "50.5",
            "environment variable CAPTURE_SAMPLING_PERCENTAGE='50.5' is not int",
        ),
        ("CAPTURE_DEV", "yes", 'CAPTURE_DEV must be "true" or "false", got \'yes\''),
        (
            "DATA_CAPTURE_S3_URI",
            "demo-data/capture",
            "DATA_CAPTURE_S3_URI must be an s3:// URI, got 'demo-data/capture'",
        ),
        # prod's monitoring settings are checked on every deployment, before anything is made
        (
            "MONITORING_INSTANCE_TYPE",
            "m5.large",
            "MONITORING_INSTANCE_TYPE must be a SageMaker type like ml.m5.large, got 'm5.large'",
        ),
        (
            "MODEL_QUALITY_WINDOW_HOURS",
            "0",
            "MODEL_QUALITY_WINDOW_HOURS must be a whole number of hours from 1 to 168, got 0",
        ),
        (
            "GROUND_TRUTH_S3_URI",
            "demo-data/ground-truth",
            "GROUND_TRUTH_S3_URI must be an s3:// URI, got 'demo-data/ground-truth'",
        ),
        # ... and so is prod's rollout
        (
            "PROD_TRAFFIC_ROUTING",
            "canary",
            "PROD_TRAFFIC_ROUTING must be one of CANARY, LINEAR, ALL_AT_ONCE, got 'canary'",
        ),
        (
            "PROD_TRAFFIC_STEP_PERCENT",
            "60",
            "PROD_TRAFFIC_STEP_PERCENT must be 1 to 50 for CANARY, got 60",
        ),
        (
            "PROD_BAKE_SECONDS",
            "3601",
            "PROD_BAKE_SECONDS must be 0 to 3600, got 3601; PROD_MAX_DEPLOYMENT_SECONDS (600) "
            "must be more than the rollout's bakes and termination wait (7202 s)",
        ),
        (
            "PROD_MAX_DEPLOYMENT_SECONDS",
            "599",
            "PROD_MAX_DEPLOYMENT_SECONDS must be 600 to 28800, got 599",
        ),
        (
            "PROD_TERMINATION_WAIT_SECONDS",
            "601",
            "PROD_MAX_DEPLOYMENT_SECONDS (600) must be more than the rollout's bakes and "
            "termination wait (601 s)",
        ),
        ("ROLLBACK_ALARMS", " , ", "ROLLBACK_ALARMS must name 1 to 10 alarms, got ' , '"),
    ],
)
@pytest.mark.usefixtures("trained")
def test_a_bad_capture_setting_fails_before_anything_is_made(
    deploy_model, cloud, pipeline, monkeypatch, variable, value, message
):
    # GIVEN a capture setting SageMaker would refuse (the template's MinValue/MaxValue and
    # AllowedValues stop it on the console; a changed function environment would not)
    monkeypatch.setenv(variable, value)
    pipeline.expect_failure("ConfigurationError")
    # WHEN DeployDev runs
    deploy_model.handler(event(), None)
    # THEN the action fails naming the setting, and nothing was created
    assert pipeline.message == message
    assert cloud.sagemaker.list_models()["Models"] == []
    assert cloud.sagemaker.list_endpoint_configs()["EndpointConfigs"] == []


# --- prod: Approved versions of the model registry ------------------------------------------------
REGISTRATION = "demo-pipeline/Registrat/reg.zip"
PROD_DEPLOYMENT = "demo-pipeline/ProdDeploy/prod.zip"
PROD_TARGET = {
    "env": "prod",
    "instance_type": "ml.m5.xlarge",
    "instance_count": 2,
    "model_source": "registry",
}
PROD_NEW = "demo-prod-20250102-031000-beef"
SERVED = "demo-prod-20250101-120000-00b2"  # what an earlier deployment left behind prod


@pytest.fixture
def register(cloud: Cloud):
    """`register(status)`: a new version of the group "demo" in this status; its ARN."""
    cloud.sagemaker.create_model_package_group(ModelPackageGroupName="demo")

    def new_version(status: str) -> str:
        return cloud.sagemaker.create_model_package(
            ModelPackageGroupName="demo",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE_URI, "ModelDataUrl": MODEL_URL}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelApprovalStatus=status,
        )["ModelPackageArn"]

    return new_version


def registered(cloud: Cloud, arn: str) -> None:
    """RegisterModel's Registration artifact for this version."""
    cloud.put_artifact(
        REGISTRATION,
        "registration.json",
        {
            "ModelPackageArn": arn,
            "ModelPackageVersion": int(arn.rsplit("/", 1)[1]),
            "TrainingJobName": JOB_NAME,
            "ImageURI": IMAGE_URI,
            "ModelDataUrl": MODEL_URL,
        },
    )


def prod_event() -> dict:
    """The DeployProd/DeployProdModel job event."""
    return job_event(
        PROD_TARGET,
        inputs={"Registration": REGISTRATION},
        outputs={"ProdDeployment": PROD_DEPLOYMENT},
    )


def made_for(cloud: Cloud, arn: str, name: str) -> None:
    """A model and configuration of this version, as a deployment makes them."""
    cloud.sagemaker.create_model(
        ModelName=name, Containers=[{"ModelPackageName": arn}], ExecutionRoleArn=ROLE_ARN
    )
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 3,
                "InstanceType": "ml.c5.large",
            }
        ],
    )


def serve(cloud: Cloud, arn: str, name: str = SERVED) -> None:
    """demo-prod in service on a model made from this version, as an earlier deployment left it."""
    made_for(cloud, arn, name)
    cloud.sagemaker.create_endpoint(EndpointName="demo-prod", EndpointConfigName=name)


def registry_event(arn: str, status: str) -> dict[str, Any]:
    """The captured Model Package State Change, as ModelPackageStateRule delivers it for a
    version of this group that changed to this status."""
    captured = load_event("sagemaker_model_package_state_change.json")
    captured["region"] = "us-east-1"
    captured["resources"] = [arn]
    captured["detail"].update(
        {
            "ModelPackageGroupName": "demo",
            "ModelPackageVersion": int(arn.rsplit("/", 1)[1]),
            "ModelPackageArn": arn,
            "ModelApprovalStatus": status,
        }
    )
    return captured


@pytest.fixture
def endpoint_updates(deploy_model: ModuleType) -> Iterator[list[dict[str, Any]]]:
    """moto 5.2.1 has no UpdateEndpoint: answer it as SageMaker does and keep the requests (the
    endpoint in moto stays on its configuration)."""
    sent: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("", 200, {}, None), {"EndpointArn": f"{ARN}endpoint/demo-prod"}

    events = deploy_model.SAGEMAKER.meta.events
    events.register("before-parameter-build.sagemaker.UpdateEndpoint", keep)
    events.register_first("before-call.sagemaker.UpdateEndpoint", answer)
    yield sent
    events.unregister("before-parameter-build.sagemaker.UpdateEndpoint", keep)
    events.unregister("before-call.sagemaker.UpdateEndpoint", answer)


def names(cloud: Cloud) -> tuple[set[str], set[str]]:
    """The endpoint configurations and models in moto."""
    configs = cloud.sagemaker.list_endpoint_configs()["EndpointConfigs"]
    models = cloud.sagemaker.list_models()["Models"]
    return {c["EndpointConfigName"] for c in configs}, {m["ModelName"] for m in models}


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_prod_refuses_a_version_that_is_not_approved(
    deploy_model, cloud, pipeline, register, status
):
    # GIVEN the version this execution registered, not Approved
    arn = register(status)
    registered(cloud, arn)
    pipeline.expect_failure()
    # WHEN DeployProd runs
    deploy_model.handler(prod_event(), None)
    # THEN it fails naming the version and its status, and creates nothing
    assert pipeline.message == (
        f"model package {arn} (version 1) is {status}, not Approved: "
        "only Approved versions are deployed"
    )
    assert names(cloud) == (set(), set())
    assert cloud.sagemaker.list_endpoints()["Endpoints"] == []


def test_prod_deploys_an_approved_version_from_its_package(
    deploy_model, cloud, pipeline, register, schedules_pointed, capsys
):
    # GIVEN an Approved version and no prod endpoint yet
    arn = register("Approved")
    registered(cloud, arn)
    pipeline.expect_success()
    # WHEN DeployProd runs
    deploy_model.handler(prod_event(), None)
    # THEN prod's model is made from the package (as SageMaker's deploy-from-registry has it)
    model = cloud.sagemaker.describe_model(ModelName=PROD_NEW)
    assert model["Containers"] == [
        {"ModelPackageName": arn, "Environment": {MODEL_NAME_ENV: PROD_NEW}}
    ]
    assert "PrimaryContainer" not in model or not model["PrimaryContainer"]
    config = cloud.sagemaker.describe_endpoint_config(EndpointConfigName=PROD_NEW)
    variant = config["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InstanceType"], variant["InitialInstanceCount"]) == (
        PROD_NEW,
        "ml.m5.xlarge",
        2,
    )
    # ... and prod captures its requests and answers, always
    assert config["DataCaptureConfig"] == CAPTURE
    assert cloud.sagemaker.describe_endpoint(EndpointName="demo-prod")["EndpointConfigName"] == (
        PROD_NEW
    )
    # ... the version is a tag of what was made, and deployment.json names it
    tags = cloud.sagemaker.list_tags(ResourceArn=model["ModelArn"])["Tags"]
    assert {"Key": "model-package-version", "Value": "1"} in tags
    assert cloud.read_artifact(PROD_DEPLOYMENT, "deployment.json") == {
        "EndpointName": "demo-prod",
        "EndpointConfigName": PROD_NEW,
        "ModelName": PROD_NEW,
        "ModelDataUrl": MODEL_URL,
        "ImageURI": IMAGE_URI,
        "TrainingJobName": JOB_NAME,
        "Environment": "prod",
        "ModelPackageArn": arn,
    }
    # ... and prod's monitoring follows the version
    assert schedules_pointed == [arn]
    assert pipeline.summary_text == (
        f"Creating endpoint demo-prod with {PROD_NEW} (version 1, {arn}); "
        "removed 0 old configuration(s)/model(s); schedules on version 1"
    )
    assert_no_secrets(cloud, capsys.readouterr().out)


def test_prod_already_serving_the_version_is_kept(
    deploy_model, cloud, pipeline, register, schedules_pointed
):
    # GIVEN prod already on the Approved version (the registry rule deployed it first)
    arn = register("Approved")
    registered(cloud, arn)
    serve(cloud, arn)
    pipeline.expect_success()
    # WHEN DeployProd runs
    deploy_model.handler(prod_event(), None)
    # THEN nothing is made, and deployment.json names what serves it
    assert names(cloud) == ({SERVED}, {SERVED})
    assert pipeline.summary_text == (
        f"demo-prod already serves version 1 ({SERVED}); schedules on version 1"
    )
    assert schedules_pointed == [arn]  # a retry after a failed monitoring step gets there
    deployment = cloud.read_artifact(PROD_DEPLOYMENT, "deployment.json")
    assert (deployment["EndpointConfigName"], deployment["ModelName"]) == (SERVED, SERVED)


def test_rejecting_the_served_version_rolls_prod_back_to_the_older_approved_one(
    deploy_model, cloud, register, inbox, endpoint_updates, rollback_alarms
):
    # GIVEN Approved versions, prod serving the newest, which is then rejected (the oldest one is
    # there to tell the newest remaining from the first: ListModelPackages sorts ascending)
    _oldest, older, newer = register("Approved"), register("Approved"), register("Approved")
    serve(cloud, newer)
    cloud.sagemaker.update_model_package(ModelPackageArn=newer, ModelApprovalStatus="Rejected")
    # WHEN the registry rule delivers the change
    deploy_model.handler(registry_event(newer, "Rejected"), None)
    # THEN prod is rolled out, canary first, to a new configuration whose model is the older
    # version's package, on the instances prod has now
    assert endpoint_updates == [
        {
            "EndpointName": "demo-prod",
            "EndpointConfigName": PROD_NEW,
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "WaitIntervalInSeconds": 0,
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                    },
                    "TerminationWaitInSeconds": 0,
                    "MaximumExecutionTimeoutInSeconds": 600,
                },
                "AutoRollbackConfiguration": {
                    "Alarms": [{"AlarmName": name} for name in ROLLBACK_ALARMS]
                },
            },
        }
    ]
    # ... the rollback alarms watch the new fleet only, from a clean state
    alarms = rollback_alarms.describe_alarms(AlarmNames=ROLLBACK_ALARMS)["MetricAlarms"]
    assert {a["AlarmName"]: a["StateValue"] for a in alarms} == dict.fromkeys(ROLLBACK_ALARMS, "OK")
    for watched in alarms:
        dimensions = {d["Name"]: d["Value"] for d in watched["Dimensions"]}
        assert dimensions == {
            "EndpointName": "demo-prod",
            "VariantName": "AllTraffic",
            "EndpointConfigName": PROD_NEW,
        }
        assert (watched["Period"], watched["Statistic"]) == (60, "Average")
    model = cloud.sagemaker.describe_model(ModelName=PROD_NEW)
    assert model["Containers"][0]["ModelPackageName"] == older
    variant = cloud.sagemaker.describe_endpoint_config(EndpointConfigName=PROD_NEW)[
        "ProductionVariants"
    ][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.c5.large", 3)
    # ... the rejected version's model stays until pruned, and the topic hears of the move
    assert names(cloud) == ({SERVED, PROD_NEW}, {SERVED, PROD_NEW})
    [notice] = published(cloud, inbox)
    assert notice["Subject"] == "demo: prod moving to version 2"
    assert notice["Message"] == (
        "Version 3 (Rejected) changed, so demo-prod is updating to the newest Approved "
        f"version, 2 ({older}), as configuration {PROD_NEW} by a CANARY rollout on 3 instances, "
        f"rolled back by {', '.join(ROLLBACK_ALARMS)}; monitoring: schedules on version 2."
    )


def test_with_no_approved_version_left_prod_stays_and_the_topic_hears_why(
    deploy_model, cloud, register, inbox
):
    # GIVEN prod serving the only Approved version, which is then rejected
    only = register("Approved")
    serve(cloud, only)
    cloud.sagemaker.update_model_package(ModelPackageArn=only, ModelApprovalStatus="Rejected")
    # WHEN the registry rule delivers the change
    deploy_model.handler(registry_event(only, "Rejected"), None)
    # THEN prod is untouched, nothing is deleted, and the topic says what to do
    assert cloud.sagemaker.describe_endpoint(EndpointName="demo-prod")["EndpointConfigName"] == (
        SERVED
    )
    assert names(cloud) == ({SERVED}, {SERVED})
    [notice] = published(cloud, inbox)
    assert notice["Subject"] == "demo: no Approved model version left"
    assert notice["Message"] == (
        "Version 1 (Rejected) changed and the model package group demo holds no Approved "
        "version, so demo-prod is left as it is (nothing was deleted). Approve a version to "
        "deploy it: python -m scripts.registry approve VERSION"
    )


def test_prod_already_on_the_newest_approved_version_is_left_alone(
    deploy_model, cloud, register, inbox
):
    # GIVEN prod serving the newest Approved version, and a newer version rejected at review
    served = register("Approved")
    serve(cloud, served)
    rejected = register("PendingManualApproval")
    cloud.sagemaker.update_model_package(ModelPackageArn=rejected, ModelApprovalStatus="Rejected")
    # WHEN the registry rule delivers that change (and again: SageMaker may send it twice)
    for _ in range(2):
        deploy_model.handler(registry_event(rejected, "Rejected"), None)
    # THEN nothing is made (moto has no UpdateEndpoint: an update would fail the call) and
    # nobody is told anything
    assert names(cloud) == ({SERVED}, {SERVED})
    assert published(cloud, inbox) == []


def test_the_first_approval_creates_prod_on_the_templates_instances(
    deploy_model, cloud, register, inbox
):
    # GIVEN no prod endpoint yet, and a version approved in the registry
    arn = register("Approved")
    # WHEN the registry rule delivers the change
    deploy_model.handler(registry_event(arn, "Approved"), None)
    # THEN prod is created from the package on PROD_INSTANCE_TYPE x PROD_INSTANCE_COUNT
    assert cloud.sagemaker.describe_endpoint(EndpointName="demo-prod")["EndpointConfigName"] == (
        PROD_NEW
    )
    variant = cloud.sagemaker.describe_endpoint_config(EndpointConfigName=PROD_NEW)[
        "ProductionVariants"
    ][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 2)
    assert (
        cloud.sagemaker.describe_model(ModelName=PROD_NEW)["Containers"][0]["ModelPackageName"]
        == arn
    )
    [notice] = published(cloud, inbox)
    assert notice["Subject"] == "demo: prod moving to version 1"


def test_an_event_of_another_group_is_refused(deploy_model, stub):
    # GIVEN a change in another project's group (Stubber: no SageMaker call may follow)
    stub(deploy_model.SAGEMAKER)
    event = registry_event(f"{ARN}model-package/demo-v2/1", "Approved")
    event["detail"]["ModelPackageGroupName"] = "demo-v2"
    # WHEN DeployModel gets it THEN it refuses, naming the group
    with pytest.raises(ValueError, match="group 'demo-v2', not 'demo'"):
        deploy_model.handler(event, None)


def test_deployprod_waits_when_the_registry_rule_starts_prods_update_first(
    deploy_model, cloud, pipeline, register
):
    # GIVEN prod in service on an older version, and the newer one this execution registered
    older, newer = register("Approved"), register("Approved")
    serve(cloud, older)
    registered(cloud, newer)
    # ... and the registry rule's DeployModel starting prod's update right after DeployProd
    # first looked (every later DescribeEndpoint says Updating; UpdateEndpoint is refused)
    looks = []

    def racing(parsed: dict[str, Any], **_: Any) -> None:
        looks.append(parsed.get("EndpointStatus"))
        if len(looks) > 1:
            parsed["EndpointStatus"] = "Updating"

    def refused(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "ValidationException", "Message": "Cannot update in-progress endpoint"}
        return AWSResponse("", 400, {}, None), {"Error": error}

    events = deploy_model.SAGEMAKER.meta.events
    events.register("after-call.sagemaker.DescribeEndpoint", racing)
    events.register_first("before-call.sagemaker.UpdateEndpoint", refused)
    pipeline.expect_continuation()
    try:
        # WHEN DeployProd runs
        deploy_model.handler(prod_event(), None)
    finally:
        events.unregister("after-call.sagemaker.DescribeEndpoint", racing)
        events.unregister("before-call.sagemaker.UpdateEndpoint", refused)
    # THEN it waits (a continuation) instead of failing, and leaves nothing of its own behind
    assert "deploying version 2 when it is InService" in pipeline.summary_text
    assert names(cloud) == ({SERVED}, {SERVED})


ROLLED_OUT = "demo-prod-20250102-040000-cafe"  # the other deployer's configuration


def rolled_out_beside_older(cloud: Cloud, register: Any) -> str:
    """Prod on an older Approved version, and a configuration of the newer one this execution
    registered (as the other deployer of its approval made it); the newer one's ARN."""
    older, newer = register("Approved"), register("Approved")
    serve(cloud, older)
    registered(cloud, newer)
    made_for(cloud, newer, ROLLED_OUT)
    return newer


@pytest.fixture
def prod_described(deploy_model: ModuleType) -> Iterator[dict[str, Any]]:
    """Members set in here are laid over every DescribeEndpoint answer (what moto cannot show:
    a rollout under way, or one rolled back)."""
    overlay: dict[str, Any] = {}

    def lay_over(parsed: dict[str, Any], **_: Any) -> None:
        parsed.update(overlay)

    events = deploy_model.SAGEMAKER.meta.events
    events.register("after-call.sagemaker.DescribeEndpoint", lay_over)
    yield overlay
    events.unregister("after-call.sagemaker.DescribeEndpoint", lay_over)


def test_deployprod_follows_the_registry_rules_rollout_of_the_same_version(
    deploy_model, cloud, pipeline, register, schedules_pointed, endpoint_updates, prod_described
):
    # GIVEN prod on an older version, rolling out the newer one the registry rule deployed
    newer = rolled_out_beside_older(cloud, register)
    prod_described["EndpointStatus"] = "Updating"
    prod_described["PendingDeploymentSummary"] = {"EndpointConfigName": ROLLED_OUT}
    pipeline.expect_success()
    # WHEN DeployProd runs
    deploy_model.handler(prod_event(), None)
    # THEN it starts no second rollout and hands that one to ProdStatus to follow
    assert endpoint_updates == []
    assert names(cloud) == ({SERVED, ROLLED_OUT}, {SERVED, ROLLED_OUT})
    deployment = cloud.read_artifact(PROD_DEPLOYMENT, "deployment.json")
    assert (deployment["EndpointConfigName"], deployment["ModelPackageArn"]) == (ROLLED_OUT, newer)
    assert f"as {ROLLED_OUT} by another deployment of this approval" in pipeline.summary_text


def test_after_this_approvals_rollout_was_rolled_back_deployprod_does_not_roll_it_out_again(
    deploy_model, cloud, pipeline, register, schedules_pointed, endpoint_updates, prod_described
):
    # GIVEN prod back in service on the older version after the registry rule's rollout of the
    # newer one was rolled back (its configuration, made after the approval, is not in service)
    rolled_out_beside_older(cloud, register)
    prod_described["LastModifiedTime"] = datetime.now(UTC) + timedelta(seconds=5)
    prod_described["FailureReason"] = "alarm(s) demo-prod-canary-latency in ALARM"
    pipeline.expect_success()
    # WHEN DeployProd runs (it waited while that rollout went on)
    deploy_model.handler(prod_event(), None)
    # THEN it does not expose users to the version a second time: ProdStatus is handed the
    # rolled-back configuration, and will fail the run with the endpoint's FailureReason
    assert endpoint_updates == []
    deployment = cloud.read_artifact(PROD_DEPLOYMENT, "deployment.json")
    assert deployment["EndpointConfigName"] == ROLLED_OUT


def test_a_rollout_of_the_version_from_before_its_approval_does_not_stop_a_new_one(
    deploy_model,
    cloud,
    pipeline,
    register,
    schedules_pointed,
    endpoint_updates,
    prod_described,
    monkeypatch,
):
    # GIVEN a configuration of the newer version that prod tried before the version was
    # (re-)approved
    rolled_out_beside_older(cloud, register)
    later = datetime.now(UTC) + timedelta(seconds=5)
    prod_described["LastModifiedTime"] = later
    describe = deploy_model.SAGEMAKER.describe_model_package

    def approved_later(**params: Any) -> dict[str, Any]:
        return {**describe(**params), "LastModifiedTime": later + timedelta(seconds=1)}

    monkeypatch.setattr(deploy_model.SAGEMAKER, "describe_model_package", approved_later)
    monkeypatch.setattr(deploy_model, "version_name", lambda *_: PROD_NEW)
    pipeline.expect_success()
    # WHEN DeployProd runs
    deploy_model.handler(prod_event(), None)
    # THEN this approval gets a rollout of its own
    assert [update["EndpointConfigName"] for update in endpoint_updates] == [PROD_NEW]


def test_a_version_prod_served_before_and_moved_on_from_gets_a_rollout_of_its_own(
    deploy_model,
    cloud,
    pipeline,
    register,
    schedules_pointed,
    endpoint_updates,
    prod_described,
    monkeypatch,
):
    # GIVEN prod served the older version, then moved on to the newer one (the rollback to
    # the older one, after the newer one is rejected, is what follows)
    older, newer = register("Approved"), register("Approved")
    made_for(cloud, older, ROLLED_OUT)
    serve(cloud, newer)
    registered(cloud, older)
    prod_described["LastModifiedTime"] = datetime.now(UTC) + timedelta(seconds=5)
    monkeypatch.setattr(deploy_model, "version_name", lambda *_: PROD_NEW)
    pipeline.expect_success()
    # WHEN DeployProd deploys the older version
    deploy_model.handler(prod_event(), None)
    # THEN its old configuration is history, not a rollout to follow: prod is updated
    assert [update["EndpointConfigName"] for update in endpoint_updates] == [PROD_NEW]


def test_deployprod_fails_when_prods_monitoring_cannot_follow_the_version(
    deploy_model, cloud, pipeline, register, monkeypatch
):
    # GIVEN an Approved version whose schedules SageMaker refuses to point at it
    arn = register("Approved")
    registered(cloud, arn)

    def refused(*_: Any) -> list[str]:
        raise deploy_model.MonitoringFailed(
            "demo-prod-data-quality was not pointed at version 1: Access denied"
        )

    monkeypatch.setattr(deploy_model, "point_schedules", refused)
    pipeline.expect_failure()
    # WHEN DeployProd runs
    deploy_model.handler(prod_event(), None)
    # THEN the action fails saying prod moved but is not monitored (a retry points them)
    assert pipeline.message == (
        "demo-prod is on version 1, but demo-prod-data-quality was not pointed at version 1: "
        "Access denied"
    )
    assert cloud.sagemaker.describe_endpoint(EndpointName="demo-prod")["EndpointConfigName"] == (
        PROD_NEW
    )


def test_the_registry_rule_announces_and_fails_when_monitoring_cannot_follow(
    deploy_model, cloud, register, inbox, monkeypatch
):
    # GIVEN a version approved in the registry and schedules that cannot be pointed at it
    arn = register("Approved")

    def refused(*_: Any) -> list[str]:
        raise deploy_model.MonitoringFailed("version 1 has no DriftCheckBaselines")

    monkeypatch.setattr(deploy_model, "point_schedules", refused)
    # WHEN the registry rule delivers the change THEN the invocation fails (Lambda retries it)
    with pytest.raises(deploy_model.MonitoringFailed):
        deploy_model.handler(registry_event(arn, "Approved"), None)
    # ... and the topic hears that prod is unmonitored
    [notice] = published(cloud, inbox)
    assert notice["Subject"] == "demo: prod unmonitored on version 1"
    assert notice["Message"].startswith(
        "demo-prod serves or is moving to version 1, but version 1 has no DriftCheckBaselines."
    )


# --- prod's monitoring, against the local SageMaker (moto has no monitoring schedules) -------
MONITORED_TARGET = {**PROD_TARGET, "instance_count": 2}
EVIDENCE = "demo-models"


@pytest.fixture
def local(
    deploy_model: ModuleType,
    cloud: Cloud,
    abalone_splits: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LocalSageMaker]:
    """A local SageMaker on this test's moto, which DeployModel and its real prod_monitoring use."""
    # Loaded first: a module's clients are made at import, and must not point at this server.
    monkeypatch.setattr(
        deploy_model, "point_schedules", load_module("prod_monitoring").point_schedules
    )
    load_module("register_model/app")
    with local_sagemaker(tmp_path, abalone_splits, moto_url=cloud.url) as running:
        monkeypatch.setattr(deploy_model, "SAGEMAKER", running.sagemaker)
        for bucket in ("demo-data", EVIDENCE):
            cloud.s3.create_bucket(Bucket=bucket)
        yield running


def trained_with_baselines(local: LocalSageMaker, cloud: Cloud) -> tuple[str, dict[str, str]]:
    """A model trained by the local SageMaker, and its baselines where RegisterModel puts them:
    (model URL, DriftCheckBaselines)."""
    name = unique("demo-train")
    local.sagemaker.create_training_job(**local.training_job_request(name))
    job = local.wait_training_done(name, timeout=120)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    model_url = job["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, _, key = model_url.removeprefix("s3://").partition("/")
    tarball = cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        documents = {
            f"data-quality-{kind}.json": archive.extractfile(f"baselines/{kind}.json").read()
            for kind in ("statistics", "constraints")
        }
    register_model = load_module("register_model/app")
    documents["model-quality-constraints.json"] = json.dumps(
        register_model.model_quality_constraints(50.0)
    ).encode()
    uris = {}
    for filename, body in documents.items():
        evidence_key = f"models/{name}/output/evidence/{filename}"
        cloud.s3.put_object(Bucket=EVIDENCE, Key=evidence_key, Body=body)
        uris[filename] = f"s3://{EVIDENCE}/{evidence_key}"
    baselines = {
        "ModelDataQuality": {
            kind.title(): {
                "ContentType": "application/json",
                "S3Uri": uris[f"data-quality-{kind}.json"],
            }
            for kind in ("statistics", "constraints")
        },
        "ModelQuality": {
            "Constraints": {
                "ContentType": "application/json",
                "S3Uri": uris["model-quality-constraints.json"],
            }
        },
    }
    return model_url, baselines


def register_approved(local: LocalSageMaker, model_url: str, baselines: dict[str, Any]) -> str:
    """An Approved version of the group "demo" in the local SageMaker's registry; its ARN."""
    try:
        local.sagemaker.create_model_package_group(ModelPackageGroupName="demo")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ValidationException"  # made by the first call
    return local.sagemaker.create_model_package(
        ModelPackageGroupName="demo",
        InferenceSpecification={
            "Containers": [{"Image": LOCAL_IMAGE_URI, "ModelDataUrl": model_url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        DriftCheckBaselines=baselines,
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]


def schedule_definitions(local: LocalSageMaker) -> dict[str, str]:
    """Prod's schedules -> the job definition each runs; each schedule hourly."""
    found = {}
    for name in ("demo-prod-data-quality", "demo-prod-model-quality"):
        config = local.sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)[
            "MonitoringScheduleConfig"
        ]
        assert config["ScheduleConfig"] == {"ScheduleExpression": "cron(0 * ? * * *)"}
        found[name] = config["MonitoringJobDefinitionName"]
    return found


def test_prods_schedules_run_the_served_versions_baselines_and_follow_each_deployment(
    deploy_model, cloud, pipeline, local, inbox, abalone_splits, monkeypatch
):
    # GIVEN a model trained in the local SageMaker, registered and Approved with its baselines,
    # and prod capturing every request
    monkeypatch.setenv("CAPTURE_SAMPLING_PERCENTAGE", "100")
    model_url, baselines = trained_with_baselines(local, cloud)
    first = register_approved(local, model_url, baselines)
    registered(cloud, first)
    pipeline.expect_success()
    # WHEN DeployProd deploys it
    deploy_model.handler(
        job_event(
            MONITORED_TARGET,
            inputs={"Registration": REGISTRATION},
            outputs={"ProdDeployment": PROD_DEPLOYMENT},
        ),
        None,
    )
    # THEN prod's two hourly schedules run the version's definitions, with its baselines
    assert schedule_definitions(local) == {
        "demo-prod-data-quality": "demo-prod-data-quality-v000001",
        "demo-prod-model-quality": "demo-prod-model-quality-v000001",
    }
    assert pipeline.summary_text.endswith(
        "; created demo-prod-data-quality (hourly) on demo-prod-data-quality-v000001; "
        "created demo-prod-model-quality (hourly) on demo-prod-model-quality-v000001"
    )
    data_quality = local.sagemaker.describe_data_quality_job_definition(
        JobDefinitionName="demo-prod-data-quality-v000001"
    )
    assert data_quality["DataQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": baselines["ModelDataQuality"]["Constraints"]["S3Uri"]},
        "StatisticsResource": {"S3Uri": baselines["ModelDataQuality"]["Statistics"]["S3Uri"]},
    }
    assert data_quality["DataQualityAppSpecification"]["ImageUri"] == LOCAL_IMAGE_URI
    assert data_quality["RoleArn"] == MONITORING_ROLE_ARN
    model_quality = local.sagemaker.describe_model_quality_job_definition(
        JobDefinitionName="demo-prod-model-quality-v000001"
    )
    assert model_quality["ModelQualityJobInput"]["GroundTruthS3Input"] == {
        "S3Uri": "s3://demo-data/ground-truth/demo-prod"
    }
    assert model_quality["ModelQualityAppSpecification"]["ProblemType"] == "Regression"

    # WHEN prod answers 20 labelled requests and each schedule's job runs once
    assert local.wait_endpoint_settled("demo-prod", timeout=120)["EndpointStatus"] == "InService"
    with (abalone_splits / "test" / "test.csv").open() as stream:
        rows = list(csv.DictReader(stream))[:20]
    for index, row in enumerate(rows):
        features = ",".join(value for key, value in row.items() if key != "rings")
        local.runtime.invoke_endpoint(
            EndpointName="demo-prod",
            Body=features,
            ContentType="text/csv",
            InferenceId=f"label-{index}",
        )
    wait_for(lambda: count_captured(local, "s3://demo-data/capture/demo-prod") == 20, 60)
    labels = ground_truth_lines({f"label-{i}": row["rings"] for i, row in enumerate(rows)})
    hour = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    cloud.s3.put_object(
        Bucket="demo-data", Key=f"ground-truth/demo-prod/{hour}/labels.jsonl", Body=labels
    )
    # THEN both complete: the definitions are ones SageMaker runs, on the version's baselines
    for schedule in ("demo-prod-data-quality", "demo-prod-model-quality"):
        execution = run_now(local.sagemaker, schedule, timeout=180)
        assert execution["MonitoringExecutionStatus"] == "Completed", execution.get("FailureReason")
        # the one-time copy names the definition too, which keeps it from being deleted
        local.sagemaker.delete_monitoring_schedule(
            MonitoringScheduleName=execution["MonitoringScheduleName"]
        )

    # WHEN a second version is approved and the registry rule moves prod to it
    second = register_approved(local, model_url, baselines)
    monkeypatch.setattr(deploy_model, "secrets", SimpleNamespace(token_hex=lambda n: "cafe"))
    deploy_model.handler(registry_event(second, "Approved"), None)
    # THEN the schedules run version 2's definitions and version 1's are gone
    assert schedule_definitions(local) == {
        "demo-prod-data-quality": "demo-prod-data-quality-v000002",
        "demo-prod-model-quality": "demo-prod-model-quality-v000002",
    }
    for kind in ("data_quality", "model_quality"):
        listed = getattr(local.sagemaker, f"list_{kind}_job_definitions")(NameContains="demo-prod")
        assert [d["MonitoringJobDefinitionName"] for d in listed["JobDefinitionSummaries"]] == [
            f"demo-prod-{kind.replace('_', '-')}-v000002"
        ]
    [notice] = published(cloud, inbox)
    assert notice["Message"].endswith(
        "monitoring: moved demo-prod-data-quality to demo-prod-data-quality-v000002; "
        "moved demo-prod-model-quality to demo-prod-model-quality-v000002."
    )
