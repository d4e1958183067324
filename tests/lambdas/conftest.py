"""Fixtures for the Lambda tests: a moto server, the functions loaded from lambdas/, captured
AWS events with fields substituted, and CodePipeline's job API stubbed to record one result."""

from __future__ import annotations

import copy
import importlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from localcloud.background import free_port
from localcloud.constants import ACCOUNT_ID, REGION
from tests.conftest import REPO_ROOT
from tests.lambdas.iam_recorder import iam_recorder  # noqa: F401 - checks every call against its role
from tests.moto_support import use_only_moto

LAMBDAS = REPO_ROOT / "lambdas"
EVENTS = REPO_ROOT / "tests" / "events"
ARTIFACT_BUCKET = f"codepipeline-{REGION}-artifacts"
JOB_ID = "11111111-abcd-1111-abcd-111111abcdef"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/demo-sagemaker-execution"
IMAGE_URI = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/demo-model:0123456789abcdef"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:demo-approvals"


def load_event(name: str) -> dict[str, Any]:
    """A captured AWS event from tests/events/, fresh for each caller to modify."""
    return json.loads((EVENTS / name).read_text())


ARTIFACT_CREDENTIALS = load_event("codepipeline_job.json")["CodePipeline.job"]["data"][
    "artifactCredentials"
]


def job_event(
    user_parameters: str | dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
    outputs: dict[str, str] | None = None,
    continuation_token: str | None = None,
) -> dict[str, Any]:
    """The captured CodePipeline job event with our artifacts (name → key), parameters, token."""
    event = load_event("codepipeline_job.json")
    job = event["CodePipeline.job"]
    data = job["data"]
    configuration = data["actionConfiguration"]["configuration"]
    if user_parameters is None:
        del configuration["UserParameters"]
    else:
        configuration["UserParameters"] = (
            user_parameters if isinstance(user_parameters, str) else json.dumps(user_parameters)
        )
    shape = data["inputArtifacts"][0]

    def artifacts(named: dict[str, str]) -> list[dict[str, Any]]:
        listed = []
        for name, key in named.items():
            artifact = copy.deepcopy(shape)
            artifact["name"] = name
            artifact["location"]["s3Location"] = {"bucketName": ARTIFACT_BUCKET, "objectKey": key}
            listed.append(artifact)
        return listed

    data["inputArtifacts"] = artifacts(inputs or {"In": "demo/In/in.zip"})
    data["outputArtifacts"] = artifacts(outputs or {"Out": "demo/Out/out.zip"})
    if continuation_token is None:
        del data["continuationToken"]
    else:
        data["continuationToken"] = continuation_token
    return event


def zip_json(filename: str, document: Any) -> bytes:
    """A one-file artifact zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, json.dumps(document))
    return buffer.getvalue()


@dataclass(frozen=True)
class Cloud:
    """The moto server and test-side clients for arranging and inspecting its state."""

    url: str
    s3: Any
    sagemaker: Any
    sns: Any
    sqs: Any

    def put_artifact(self, key: str, filename: str, document: Any) -> None:
        """Put a JSON artifact where an input artifact of job_event() points."""
        self.s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=zip_json(filename, document))

    def read_artifact(self, key: str, filename: str) -> dict[str, Any]:
        """The JSON file inside an output artifact zip."""
        data = self.s3.get_object(Bucket=ARTIFACT_BUCKET, Key=key)["Body"].read()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read(filename))

    def all_object_bytes(self) -> list[bytes]:
        """Every object in every bucket, zips also unpacked, for secret scans."""
        found = []
        for bucket in self.s3.list_buckets()["Buckets"]:
            listing = self.s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
            for item in listing:
                data = self.s3.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read()
                found.append(data)
                if zipfile.is_zipfile(io.BytesIO(data)):
                    with zipfile.ZipFile(io.BytesIO(data)) as archive:
                        found.extend(archive.read(name) for name in archive.namelist())
        return found


@pytest.fixture(scope="session")
def moto_cloud() -> Iterator[Cloud]:
    """One moto server on a free loopback port for the whole session."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    yield Cloud(url, client("s3"), client("sagemaker"), client("sns"), client("sqs"))
    server.stop()


@pytest.fixture
def cloud(moto_cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """A fresh moto state, the artifact bucket, and an AWS environment pointing only at moto."""
    use_only_moto(moto_cloud.url, monkeypatch, LOG_LEVEL="DEBUG")
    moto_cloud.s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    return moto_cloud


def create_training_job_in_moto(
    sagemaker: Any, name: str, hyperparameters: dict[str, str] | None = None
) -> None:
    """A training job as TrainModel creates it (moto completes it at once)."""
    sagemaker.create_training_job(
        TrainingJobName=name,
        HyperParameters=hyperparameters or {},
        AlgorithmSpecification={"TrainingImage": IMAGE_URI, "TrainingInputMode": "File"},
        RoleArn=ROLE_ARN,
        OutputDataConfig={"S3OutputPath": "s3://demo-models/models/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )


def create_endpoint_in_moto(
    sagemaker: Any, endpoint: str, config: str, model_data_url: str
) -> None:
    """A model, an endpoint configuration of the same name, and an endpoint in service (moto)."""
    sagemaker.create_model(
        ModelName=config,
        PrimaryContainer={"Image": IMAGE_URI, "ModelDataUrl": model_data_url},
        ExecutionRoleArn=ROLE_ARN,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": config,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)


@pytest.fixture
def inbox(cloud: Cloud) -> str:
    """The topic with an SQS queue subscribed, to read what was published; the queue's URL."""
    assert cloud.sns.create_topic(Name="demo-approvals")["TopicArn"] == TOPIC_ARN
    queue_url = cloud.sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = cloud.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    cloud.sns.subscribe(TopicArn=TOPIC_ARN, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


def published(cloud: Cloud, queue_url: str) -> list[dict[str, Any]]:
    """The SNS notifications published so far."""
    answer = cloud.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


@cache
def load_module(name: str) -> ModuleType:
    """A shared module by name, or `<folder>/app` as `lambdas.<folder>.app`, imported once."""
    return importlib.import_module(f"lambdas.{name.replace('/', '.')}" if "/" in name else name)


# The functions' boto3 clients are made at import, so load them only once `cloud` set the scene.
@pytest.fixture
def codepipeline_job(cloud: Cloud) -> ModuleType:
    """lambdas/shared/codepipeline_job.py."""
    return load_module("codepipeline_job")


@pytest.fixture
def train_model(cloud: Cloud) -> ModuleType:
    """lambdas/train_model/app.py."""
    return load_module("train_model/app")


@pytest.fixture
def get_status(cloud: Cloud) -> ModuleType:
    """lambdas/get_status/app.py."""
    return load_module("get_status/app")


@pytest.fixture
def deploy_model(cloud: Cloud) -> ModuleType:
    """lambdas/deploy_model/app.py."""
    return load_module("deploy_model/app")


@pytest.fixture
def evaluate_model(cloud: Cloud) -> ModuleType:
    """lambdas/evaluate_model/app.py."""
    return load_module("evaluate_model/app")


@pytest.fixture
def predict_proxy(cloud: Cloud) -> ModuleType:
    """lambdas/predict_proxy/app.py."""
    return load_module("predict_proxy/app")


@pytest.fixture
def ground_truth(cloud: Cloud) -> ModuleType:
    """lambdas/ground_truth/app.py."""
    return load_module("ground_truth/app")


class Capture:
    """A Stubber expected-parameter value that matches anything and keeps what it was given."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self.value: Any = None

    def __eq__(self, other: object) -> bool:
        self.value = other
        return True

    def __ne__(self, other: object) -> bool:
        return not self == other


class JobResults:
    """CodePipeline's job API under Stubber: one expected result call, and what it carried."""

    def __init__(self, stubber: Stubber) -> None:
        self.stubber = stubber
        self.summary = Capture()
        self.token = Capture()
        self.failure = Capture()

    def expect_success(self) -> None:
        """The function must report plain success."""
        self.stubber.add_response(
            "put_job_success_result", {}, {"jobId": JOB_ID, "executionDetails": self.summary}
        )

    def expect_continuation(self) -> None:
        """The function must report success with a continuation token."""
        self.stubber.add_response(
            "put_job_success_result",
            {},
            {"jobId": JOB_ID, "continuationToken": self.token, "executionDetails": self.summary},
        )

    def expect_failure(self, failure_type: str = "JobFailed") -> None:
        """The function must report failure of this type."""
        self.stubber.add_response(
            "put_job_failure_result",
            {},
            {"jobId": JOB_ID, "failureDetails": {"type": failure_type, "message": self.failure}},
        )

    @property
    def message(self) -> str:
        """The failure message sent."""
        return self.failure.value

    @property
    def summary_text(self) -> str:
        """The success summary sent."""
        return self.summary.value["summary"]


@pytest.fixture
def pipeline(codepipeline_job: ModuleType) -> Iterator[JobResults]:
    """Stub PutJob*Result; after the test, the one expected result must have been sent."""
    with Stubber(codepipeline_job.CODEPIPELINE) as stubber:
        results = JobResults(stubber)
        yield results
        stubber.assert_no_pending_responses()


@pytest.fixture
def stub() -> Iterator[Any]:
    """`stub(client)` activates a Stubber on a function's client; all are checked at the end."""
    stubbers: list[Stubber] = []

    def activate(client: Any) -> Stubber:
        stubber = Stubber(client)
        stubber.activate()
        stubbers.append(stubber)
        return stubber

    yield activate
    for stubber in stubbers:
        stubber.deactivate()
    for stubber in stubbers:
        stubber.assert_no_pending_responses()


def assert_no_secrets(cloud: Cloud, *texts: str) -> None:
    """Neither the artifact secret key nor the session token is in these texts or in S3."""
    secrets = [ARTIFACT_CREDENTIALS["secretAccessKey"], ARTIFACT_CREDENTIALS["sessionToken"]]
    for secret in secrets:
        for text in texts:
            assert secret not in text
        for data in cloud.all_object_bytes():
            assert secret.encode() not in data
