"""GetStatus: every SageMaker status ends in a continuation, a success or a failure with reason."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from types import ModuleType

import boto3
import botocore.session
import pytest

from tests.lambdas.conftest import (
    IMAGE_URI,
    Cloud,
    JobResults,
    assert_no_secrets,
    create_endpoint_in_moto,
    create_training_job_in_moto,
    job_event,
)

TRAIN_JOB = "demo-pipeline/TrainJob/train.zip"
TRAINED_MODEL = "demo-pipeline/TrainedMod/trained.zip"
DEV_DEPLOYMENT = "demo-pipeline/DevDeploym/dev.zip"
DEV_ENDPOINT = "demo-pipeline/DevEndpoin/dev.zip"
JOB_NAME = "demo-0123456-20250102-030405"
MODEL_URL = f"s3://demo-models/models/{JOB_NAME}/output/model.tar.gz"
CONFIG = "demo-dev-20250102-031000-ab12"
DEPLOYMENT = {
    "EndpointName": "demo-dev",
    "EndpointConfigName": CONFIG,
    "ModelName": CONFIG,
    "ModelDataUrl": MODEL_URL,
    "ImageURI": IMAGE_URI,
    "Environment": "dev",
}
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment templates/02-pipeline.yml gives the function."""
    for name, value in {
        "STATUS_DEADLINE_SECONDS": "600",
        "PROD_MIN_INSTANCES": "2",
        "PROD_MAX_INSTANCES": "4",
        "PROD_TARGET_INVOCATIONS_PER_INSTANCE": "750",
        "PROD_SCALE_IN_COOLDOWN_SECONDS": "600",
        "PROD_SCALE_OUT_COOLDOWN_SECONDS": "300",
    }.items():
        monkeypatch.setenv(name, value)


def training_event(token: str | None = None) -> dict:
    """The Train/TrainStatus job event."""
    return job_event(
        {"stage": "Training"},
        inputs={"TrainJob": TRAIN_JOB},
        outputs={"TrainedModel": TRAINED_MODEL},
        continuation_token=token,
    )


def deployment_event(token: str | None = None) -> dict:
    """The DeployDev/DevStatus job event."""
    return job_event(
        {"stage": "Deployment"},
        inputs={"DevDeployment": DEV_DEPLOYMENT},
        outputs={"DevEndpoint": DEV_ENDPOINT},
        continuation_token=token,
    )


@pytest.fixture
def trained(cloud: Cloud) -> None:
    """TrainModel's output artifact."""
    cloud.put_artifact(
        TRAIN_JOB, "training_job.json", {"TrainingJobName": JOB_NAME, "ImageURI": IMAGE_URI}
    )


@pytest.fixture
def deployed(cloud: Cloud) -> None:
    """DeployModel's output artifact."""
    cloud.put_artifact(DEV_DEPLOYMENT, "deployment.json", DEPLOYMENT)


def training_job(status: str, secondary: str, **extra: object) -> dict:
    """A DescribeTrainingJob response."""
    return {
        "TrainingJobName": JOB_NAME,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB_NAME}",
        "ModelArtifacts": {"S3ModelArtifacts": MODEL_URL},
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
        "CreationTime": WHEN,
        **extra,
    }


def endpoint(status: str, config: str = CONFIG, **extra: object) -> dict:
    """A DescribeEndpoint response."""
    return {
        "EndpointName": "demo-dev",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/demo-dev",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
        **extra,
    }


def test_every_sagemaker_status_has_an_outcome(get_status: ModuleType):
    # GIVEN every status the SageMaker API model lists for training jobs and endpoints
    model = botocore.session.get_session().get_service_model("sagemaker")
    statuses = set(model.shape_for("TrainingJobStatus").enum)
    statuses |= set(model.shape_for("EndpointStatus").enum)
    # THEN each one is either in progress, done, or failed, and never two of them
    handled = [get_status.IN_PROGRESS, get_status.SUCCEEDED, get_status.FAILED]
    for status in statuses:
        assert sum(status in group for group in handled) == 1, status


@pytest.mark.usefixtures("trained")
@pytest.mark.parametrize(
    ("status", "secondary"), [("InProgress", "Training"), ("Stopping", "Stopping")]
)
def test_a_running_training_job_continues(
    get_status, pipeline: JobResults, stub, status, secondary
):
    # GIVEN the first poll of a job that is still running
    stub(get_status.SAGEMAKER).add_response(
        "describe_training_job", training_job(status, secondary), {"TrainingJobName": JOB_NAME}
    )
    pipeline.expect_continuation()
    before = time.time()
    # WHEN the action runs
    get_status.handler(training_event(), None)
    # THEN it asks to be called again, keeping the time of this first poll in the token
    assert before <= json.loads(pipeline.token.value)["first_poll"] <= time.time()
    assert pipeline.summary_text.startswith(
        f"training job {JOB_NAME} is {status} ({secondary}); waiting for 0 s"
    )


@pytest.mark.usefixtures("trained")
def test_later_polls_keep_the_first_poll_time(get_status, pipeline: JobResults, stub):
    # GIVEN a job still training 100 s after the first poll
    first_poll = time.time() - 100
    stub(get_status.SAGEMAKER).add_response(
        "describe_training_job",
        training_job("InProgress", "Training"),
        {"TrainingJobName": JOB_NAME},
    )
    pipeline.expect_continuation()
    # WHEN polled again with the token
    get_status.handler(training_event(json.dumps({"first_poll": first_poll})), None)
    # THEN the token still holds the first poll, and the summary says how long it has waited
    assert json.loads(pipeline.token.value) == {"first_poll": first_poll}
    assert "waiting for 100 s" in pipeline.summary_text


@pytest.mark.usefixtures("trained")
def test_a_completed_training_job_passes_its_model_on(get_status, cloud, pipeline, stub, capsys):
    # GIVEN a completed job with final metrics
    metrics = [{"MetricName": "validation:mse", "Value": 4.3125, "Timestamp": WHEN}]
    stub(get_status.SAGEMAKER).add_response(
        "describe_training_job",
        training_job("Completed", "Completed", FinalMetricDataList=metrics),
        {"TrainingJobName": JOB_NAME},
    )
    pipeline.expect_success()
    # WHEN polled (even long after the deadline: finishing late is still finishing)
    get_status.handler(training_event(json.dumps({"first_poll": time.time() - 9999})), None)
    # THEN the output artifact adds the model's location, and the summary shows the metric
    assert cloud.read_artifact(TRAINED_MODEL, "training_job.json") == {
        "TrainingJobName": JOB_NAME,
        "ImageURI": IMAGE_URI,
        "ModelDataUrl": MODEL_URL,
    }
    assert pipeline.summary_text == f"training job {JOB_NAME} is Completed (validation:mse=4.312)"
    assert_no_secrets(cloud, capsys.readouterr().out)


@pytest.mark.usefixtures("trained")
def test_a_training_job_in_moto_completes(get_status, cloud, pipeline):
    # GIVEN the job really exists (moto completes training jobs at once)
    create_training_job_in_moto(cloud.sagemaker, JOB_NAME)
    pipeline.expect_success()
    # WHEN polled THEN the model location SageMaker reports is passed on
    get_status.handler(training_event(), None)
    written = cloud.read_artifact(TRAINED_MODEL, "training_job.json")
    assert written["ModelDataUrl"] == (f"s3://demo-models/models/{JOB_NAME}/output/model.tar.gz")


@pytest.mark.usefixtures("trained")
@pytest.mark.parametrize(
    ("status", "extra", "message"),
    [
        (
            "Failed",
            {"FailureReason": "AlgorithmError: hyperparameter max_iter='x' is not an integer"},
            f"training job {JOB_NAME} is Failed "
            "(AlgorithmError: hyperparameter max_iter='x' is not an integer)",
        ),
        ("Stopped", {}, f"training job {JOB_NAME} is Stopped (MaxRuntimeExceeded)"),
        ("Deleting", {}, f"training job {JOB_NAME} is Deleting (MaxRuntimeExceeded)"),
    ],
)
def test_a_failed_training_job_fails_with_its_reason(
    get_status, cloud, pipeline, stub, status, extra, message
):
    # GIVEN a job that ended badly
    stub(get_status.SAGEMAKER).add_response(
        "describe_training_job",
        training_job(status, "MaxRuntimeExceeded", **extra),
        {"TrainingJobName": JOB_NAME},
    )
    pipeline.expect_failure()
    # WHEN polled THEN the failure carries SageMaker's reason; no output artifact
    get_status.handler(training_event(), None)
    assert pipeline.message == message
    assert "Contents" not in cloud.s3.list_objects_v2(
        Bucket="codepipeline-us-east-1-artifacts", Prefix=TRAINED_MODEL
    )


@pytest.mark.usefixtures("trained")
def test_waiting_past_the_deadline_gives_up(get_status, pipeline, stub):
    # GIVEN a job still running an hour after the first poll, with a 600 s deadline
    stub(get_status.SAGEMAKER).add_response(
        "describe_training_job",
        training_job("InProgress", "Training"),
        {"TrainingJobName": JOB_NAME},
    )
    pipeline.expect_failure()
    # WHEN polled THEN it fails instead of waiting on
    get_status.handler(training_event(json.dumps({"first_poll": time.time() - 3600})), None)
    assert pipeline.message == (
        "gave up after 3600 s (STATUS_DEADLINE_SECONDS=600): "
        f"training job {JOB_NAME} is InProgress (Training)"
    )


@pytest.mark.usefixtures("trained")
@pytest.mark.parametrize("token", ["not json", '{"first": 1}', '{"first_poll": "yesterday"}'])
def test_a_foreign_continuation_token_fails(get_status, pipeline, token):
    # GIVEN a continuation token this function did not write
    pipeline.expect_failure()
    # WHEN polled THEN the failure says so
    get_status.handler(training_event(token), None)
    assert pipeline.message == f"continuation token {token!r} is not one this function wrote"


@pytest.mark.usefixtures("trained")
@pytest.mark.parametrize(
    "user_parameters", ['{"stage": "Train"}', "{}", '{"stage": "Training", "x": 1}', "{oops"]
)
def test_a_bad_stage_parameter_is_a_configuration_error(get_status, pipeline, user_parameters):
    # GIVEN UserParameters that do not name a known stage
    event = training_event()
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = (
        user_parameters
    )
    pipeline.expect_failure("ConfigurationError")
    # WHEN run THEN it says what is expected (or that the JSON is broken)
    get_status.handler(event, None)
    assert "UserParameters" in pipeline.message


def test_a_missing_input_file_fails(get_status, cloud, pipeline):
    # GIVEN the deployment stage fed the training artifact by mistake
    cloud.put_artifact(DEV_DEPLOYMENT, "training_job.json", {"TrainingJobName": JOB_NAME})
    pipeline.expect_failure()
    # WHEN polled THEN it names the file it expected
    get_status.handler(deployment_event(), None)
    assert pipeline.message == (
        "input artifact DevDeployment has no deployment.json (it holds: training_job.json)"
    )


@pytest.mark.usefixtures("deployed")
@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating"])
def test_an_endpoint_on_its_way_continues(get_status, pipeline, stub, status):
    # GIVEN an endpoint being created or updated
    stub(get_status.SAGEMAKER).add_response(
        "describe_endpoint", endpoint(status), {"EndpointName": "demo-dev"}
    )
    pipeline.expect_continuation()
    # WHEN polled THEN it asks to be called again
    get_status.handler(deployment_event(), None)
    assert pipeline.summary_text.startswith(f"endpoint demo-dev is {status}")


@pytest.mark.usefixtures("deployed")
def test_an_endpoint_in_service_passes_the_deployment_on(get_status, cloud, pipeline, stub):
    # GIVEN the endpoint serving the deployed configuration
    stub(get_status.SAGEMAKER).add_response(
        "describe_endpoint", endpoint("InService"), {"EndpointName": "demo-dev"}
    )
    pipeline.expect_success()
    # WHEN polled THEN deployment.json goes on with the status
    get_status.handler(deployment_event(), None)
    assert cloud.read_artifact(DEV_ENDPOINT, "deployment.json") == {
        **DEPLOYMENT,
        "EndpointStatus": "InService",
    }
    assert pipeline.summary_text == "endpoint demo-dev is InService"


@pytest.mark.usefixtures("deployed")
@pytest.mark.parametrize(
    "status", ["Failed", "RollingBack", "OutOfService", "UpdateRollbackFailed", "Deleting"]
)
def test_a_failed_endpoint_fails_with_its_reason(get_status, pipeline, stub, status):
    # GIVEN an endpoint that will not serve
    reason = "The primary container for production variant AllTraffic did not pass the ping"
    stub(get_status.SAGEMAKER).add_response(
        "describe_endpoint", endpoint(status, FailureReason=reason), {"EndpointName": "demo-dev"}
    )
    pipeline.expect_failure()
    # WHEN polled THEN the failure carries SageMaker's reason
    get_status.handler(deployment_event(), None)
    assert pipeline.message == f"endpoint demo-dev is {status} ({reason})"


@pytest.mark.usefixtures("deployed")
def test_an_update_that_rolled_back_to_the_old_config_fails(get_status, pipeline, stub):
    # GIVEN a failed UpdateEndpoint: InService again, but on the previous configuration
    old = "demo-dev-20241231-120000-cd34"
    stub(get_status.SAGEMAKER).add_response(
        "describe_endpoint",
        endpoint("InService", old, FailureReason="Image not found"),
        {"EndpointName": "demo-dev"},
    )
    pipeline.expect_failure()
    # WHEN polled THEN that is a failed deployment, with the reason
    get_status.handler(deployment_event(), None)
    assert pipeline.message == (
        f"endpoint demo-dev is InService but still on {old}, not {CONFIG}: "
        "the update failed: Image not found"
    )


def test_a_prod_rollout_rolled_back_by_an_alarm_rejects_its_version(
    get_status, cloud, pipeline, stub
):
    # GIVEN DeployProd's deployment of version 4, which an alarm rolled back
    version = "arn:aws:sagemaker:us-east-1:123456789012:model-package/demo/4"
    prod = {**DEPLOYMENT, "EndpointName": "demo-prod", "ModelPackageArn": version}
    cloud.put_artifact(DEV_DEPLOYMENT, "deployment.json", prod)
    old = "demo-prod-20241231-120000-cd34"
    reason = (
        f"Rolled back the update to endpoint configuration {CONFIG}: alarm(s) "
        "demo-prod-canary-latency in ALARM during baking on canary capacity of 1 instance(s)"
    )
    failure = f"endpoint demo-prod is InService but still on {old}, not {CONFIG}: "
    failure += f"the update failed: {reason}"
    sagemaker = stub(get_status.SAGEMAKER)
    sagemaker.add_response(
        "describe_endpoint",
        {**endpoint("InService", old, FailureReason=reason), "EndpointName": "demo-prod"},
        {"EndpointName": "demo-prod"},
    )
    sagemaker.add_response(
        "update_model_package",
        {"ModelPackageArn": version},
        {
            "ModelPackageArn": version,
            "ModelApprovalStatus": "Rejected",
            "ApprovalDescription": f"Rejected by the pipeline: {failure}",
        },
    )
    pipeline.expect_failure()
    # WHEN ProdStatus polls THEN the action fails naming the alarm, and the version is Rejected
    # (so no later approval change deploys it again)
    get_status.handler(deployment_event(), None)
    assert pipeline.message == f"{failure}; version {version} is now Rejected with this reason"


@pytest.mark.usefixtures("deployed")
def test_an_unknown_status_fails(get_status, pipeline, stub):
    # GIVEN a status SageMaker may add one day
    stub(get_status.SAGEMAKER).add_response(
        "describe_endpoint", endpoint("Hibernating"), {"EndpointName": "demo-dev"}
    )
    pipeline.expect_failure()
    # WHEN polled THEN it fails visibly rather than polling forever
    get_status.handler(deployment_event(), None)
    assert (
        pipeline.message == "endpoint demo-dev is Hibernating, a status this function does not know"
    )


@pytest.mark.usefixtures("deployed")
def test_a_vanished_endpoint_fails(get_status, pipeline):
    # GIVEN no such endpoint in SageMaker (moto)
    pipeline.expect_failure()
    # WHEN polled THEN it says so
    get_status.handler(deployment_event(), None)
    assert pipeline.message == "endpoint demo-dev does not exist (deleted while deploying?)"


@pytest.mark.usefixtures("deployed")
def test_an_endpoint_in_moto_is_in_service(get_status, cloud, pipeline):
    # GIVEN the endpoint really exists (moto puts endpoints in service at once)
    create_endpoint_in_moto(cloud.sagemaker, "demo-dev", CONFIG, MODEL_URL)
    pipeline.expect_success()
    # WHEN polled THEN the deployment succeeds
    get_status.handler(deployment_event(), None)
    assert cloud.read_artifact(DEV_ENDPOINT, "deployment.json")["EndpointStatus"] == "InService"


def test_prod_in_service_on_its_deployment_keeps_its_autoscaling(get_status, cloud, pipeline):
    # GIVEN prod really in service on the configuration DeployProd deployed
    prod_config = "demo-prod-20250102-031000-ab12"
    create_endpoint_in_moto(cloud.sagemaker, "demo-prod", prod_config, MODEL_URL)
    prod = {
        **DEPLOYMENT,
        "EndpointName": "demo-prod",
        "EndpointConfigName": prod_config,
        "Environment": "prod",
    }
    cloud.put_artifact(DEV_DEPLOYMENT, "deployment.json", prod)
    # WHEN ProdStatus polls (twice: a retried action registers the same again)
    for _ in range(2):
        pipeline.expect_success()
        get_status.handler(deployment_event(), None)
    # THEN prod's variant is a scalable target within the stack's limits, tracking invocations
    autoscaling = boto3.client("application-autoscaling")
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")[
        "ScalableTargets"
    ]
    assert (target["ResourceId"], target["ScalableDimension"]) == (
        "endpoint/demo-prod/variant/AllTraffic",
        "sagemaker:variant:DesiredInstanceCount",
    )
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    (policy,) = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")[
        "ScalingPolicies"
    ]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": 750.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        "ScaleInCooldown": 600,
        "ScaleOutCooldown": 300,
    }
    assert pipeline.summary_text == (
        "endpoint demo-prod is InService; autoscaling 2 to 4 instances at 750 invocations per "
        "instance a minute"
    )


def test_bad_autoscaling_limits_fail_prods_status_naming_them(
    get_status, cloud, pipeline, monkeypatch
):
    # GIVEN a maximum below the minimum (the template cannot compare two parameters)
    monkeypatch.setenv("PROD_MAX_INSTANCES", "1")
    create_endpoint_in_moto(cloud.sagemaker, "demo-prod", CONFIG, MODEL_URL)
    prod = {**DEPLOYMENT, "EndpointName": "demo-prod", "Environment": "prod"}
    cloud.put_artifact(DEV_DEPLOYMENT, "deployment.json", prod)
    pipeline.expect_failure("ConfigurationError")
    # WHEN ProdStatus polls THEN it fails naming both settings, and registers nothing
    get_status.handler(deployment_event(), None)
    assert pipeline.message == (
        "PROD_MIN_INSTANCES (2) and PROD_MAX_INSTANCES (1) must satisfy 1 <= min <= max <= 10 "
        "(ProdInstanceCount and ProdMaxInstanceCount)"
    )
    autoscaling = boto3.client("application-autoscaling")
    assert (
        autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    )
