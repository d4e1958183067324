"""A moto server and a local SageMaker for this folder, the abalone splits in S3, one trained model.

Everything is package-scoped: the environment variables botocore reads are set for these tests
only, and one training job's model is shared by every endpoint test.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from localcloud.core.signing import Credentials
from localcloud.sagemaker import RunningServer, Settings, start_server
from tests.conftest import REPO_ROOT

MODEL_CODE = REPO_ROOT / "model-code"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
IMAGE_URI = f"{REGISTRY}/abalone:test-snapshot"
ROLE_ARN = "arn:aws:iam::123456789012:role/sagemaker-execution"
BUCKET = "abalone-data"
VALIDATION_MSE = r"validation:mse=([0-9.eE+-]+);"
NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=30)
ROWS = 5


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll until `condition()` is truthy and return it; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    """(Code, Message) of a botocore ClientError."""
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def container_processes(base_dir: Path) -> dict[int, dict[str, str]]:
    """Live processes whose SAGEMAKER_BASE_DIR is under `base_dir`, with their environment."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        env = dict(
            item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item
        )
        if state != "Z" and env.get("SAGEMAKER_BASE_DIR", "").startswith(str(base_dir)):
            found[int(entry.name)] = env
    return found


def unique(prefix: str) -> str:
    """A resource name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def invoke(cloud: Cloud, endpoint: str, body: str | bytes, content_type: str, **kw: Any) -> Any:
    """InvokeEndpoint, returning (body text, response)."""
    response = cloud.runtime.invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType=content_type, **kw
    )
    return response["Body"].read().decode(), response


def csv_body(rows: list[dict[str, Any]], header: bool) -> str:
    """Records as CSV, with or without the header row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def endpoint_dir(cloud: Cloud, name: str) -> Path:
    """Where the endpoint's deployments live."""
    return cloud.state_dir / "sagemaker" / "endpoints" / name


@dataclass(frozen=True)
class Cloud:
    """What the tests talk to: real boto3 clients and where things are."""

    sagemaker: Any
    runtime: Any
    s3: Any
    server: RunningServer
    state_dir: Path
    credentials: Credentials

    def training_job_request(self, name: str, **overrides: Any) -> dict[str, Any]:
        """A CreateTrainingJob request as the TrainModel Lambda sends it, with overrides."""
        request: dict[str, Any] = {
            "TrainingJobName": name,
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE_URI,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "validation:mse", "Regex": VALIDATION_MSE}],
            },
            "RoleArn": ROLE_ARN,
            "HyperParameters": {},
            "InputDataConfig": [
                {
                    "ChannelName": channel,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/{channel}/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ContentType": "text/csv",
                }
                for channel in ("train", "validation")
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        }
        request.update(overrides)
        return request

    def wait_training_done(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        """DescribeTrainingJob once the job has left InProgress/Stopping."""

        def done() -> dict[str, Any] | None:
            job = self.sagemaker.describe_training_job(TrainingJobName=name)
            return job if job["TrainingJobStatus"] not in {"InProgress", "Stopping"} else None

        return wait_for(done, timeout)

    def wait_endpoint_settled(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        """DescribeEndpoint once the endpoint is no longer Creating or Updating."""

        def settled() -> dict[str, Any] | None:
            endpoint = self.sagemaker.describe_endpoint(EndpointName=name)
            return endpoint if endpoint["EndpointStatus"] not in {"Creating", "Updating"} else None

        return wait_for(settled, timeout, interval=0.05)

    def create_model(self, name: str, model_data_url: str, **container: Any) -> None:
        """CreateModel for the test image."""
        self.sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={"Image": IMAGE_URI, "ModelDataUrl": model_data_url, **container},
            ExecutionRoleArn=ROLE_ARN,
        )

    def create_endpoint_config(
        self,
        name: str,
        model_name: str,
        variant: str = "AllTraffic",
        instances: int = 1,
        **request: Any,
    ) -> None:
        """CreateEndpointConfig with one variant (and the request's other members)."""
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            **request,
            ProductionVariants=[
                {
                    "VariantName": variant,
                    "ModelName": model_name,
                    "InitialInstanceCount": instances,
                    "InstanceType": "ml.t2.medium",
                }
            ],
        )


def start_endpoint(
    cloud: Cloud, model_name: str, variant: str = "AllTraffic", **config_request: Any
) -> tuple[str, str]:
    """(endpoint, config) for a new endpoint on `model_name` (CreateEndpoint sent, not settled)."""
    config, endpoint = unique("config"), unique("endpoint")
    cloud.create_endpoint_config(config, model_name, variant, **config_request)
    cloud.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    return endpoint, config


@pytest.fixture(scope="module")
def endpoint(cloud: Cloud, model_name: str) -> str:
    """An InService endpoint on the shared model."""
    name, _ = start_endpoint(cloud, model_name)
    described = cloud.wait_endpoint_settled(name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return name


@contextmanager
def local_sagemaker(
    state_dir: Path, splits: Path, health_timeout: float = 30, moto_url: str | None = None
) -> Iterator[Cloud]:
    """moto server + local SageMaker on loopback, reached through the AWS_ENDPOINT_URL* variables
    (set for the duration, then restored), the model code as IMAGE_URI and the splits in BUCKET.

    With `moto_url`, the local SageMaker uses that running moto server instead of its own.
    """
    shutil.copytree(
        MODEL_CODE,
        state_dir / "images" / "abalone" / IMAGE_URI.rpartition(":")[2],
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"),
    )
    moto = None
    if moto_url is None:
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        moto_url = f"http://{host}:{port}"
    server = None
    credentials = Credentials.generate()
    environment = {
        **credentials.environment(),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_url,
    }
    with mock.patch.dict(os.environ, environment):
        os.environ.pop("AWS_PROFILE", None)  # restored with the rest on the way out
        try:
            server = start_server(
                state_dir, credentials, settings=Settings(health_timeout=health_timeout)
            )
            os.environ["AWS_ENDPOINT_URL_SAGEMAKER"] = server.url
            os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = server.url
            session = boto3.session.Session()
            s3 = session.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            for channel in ("train", "validation", "test"):
                s3.upload_file(
                    str(splits / channel / f"{channel}.csv"), BUCKET, f"{channel}/{channel}.csv"
                )
            yield Cloud(
                sagemaker=session.client("sagemaker", config=NO_RETRIES),
                runtime=session.client("sagemaker-runtime", config=NO_RETRIES),
                s3=s3,
                server=server,
                state_dir=state_dir,
                credentials=credentials,
            )
        finally:
            if server is not None:
                server.stop()
            if moto is not None:
                moto.stop()


@pytest.fixture(scope="package")
def cloud(abalone_splits: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """The package's one local SageMaker (see local_sagemaker)."""
    with local_sagemaker(tmp_path_factory.mktemp("localcloud"), abalone_splits) as running:
        yield running


@pytest.fixture(scope="package")
def cloudwatch(cloud: Cloud) -> Any:
    """CloudWatch on the moto server the local SageMaker publishes to and reads alarms from."""
    return boto3.session.Session().client("cloudwatch")


@pytest.fixture(scope="package")
def trained_job(cloud: Cloud) -> dict[str, Any]:
    """One training job run to completion with default hyperparameters (shared)."""
    name = unique("abalone-train")
    cloud.sagemaker.create_training_job(**cloud.training_job_request(name))
    job = cloud.wait_training_done(name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    return job


@pytest.fixture(scope="package")
def model_data_url(trained_job: dict[str, Any]) -> str:
    """The shared model.tar.gz."""
    return trained_job["ModelArtifacts"]["S3ModelArtifacts"]


@pytest.fixture(scope="package")
def model_name(cloud: Cloud, model_data_url: str) -> str:
    """A SageMaker model for the shared model.tar.gz."""
    name = unique("abalone-model")
    cloud.create_model(name, model_data_url)
    return name


@pytest.fixture(scope="module")
def rows(abalone_splits: Path) -> list[dict[str, Any]]:
    """A few held-out records as raw features (no target)."""
    with (abalone_splits / "test" / "test.csv").open() as stream:
        records = list(csv.DictReader(stream))[:ROWS]
    return [
        {key: value if key == "sex" else float(value) for key, value in r.items() if key != "rings"}
        for r in records
    ]


# --- processing jobs and monitoring ---------------------------------------------------------
PROCESSING = "/opt/ml/processing"
CAPTURE_FORMAT = '{"sagemakerCaptureJson":{"captureIndexNames":["endpointInput","endpointOutput"]}}'
JOB_ENDED = {"Completed", "Failed", "Stopped"}


def job_request(name: str, output_uri: str, **overrides: Any) -> dict[str, Any]:
    """A CreateProcessingJob request running the image's monitor, one output folder."""
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "AppSpecification": {"ImageUri": IMAGE_URI, "ContainerEntrypoint": ["monitor"]},
        "RoleArn": ROLE_ARN,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {
                        "S3Uri": output_uri,
                        "LocalPath": f"{PROCESSING}/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }
    request.update(overrides)
    return request


def s3_input(name: str, uri: str, local_path: str) -> dict[str, Any]:
    """A ProcessingInput downloading an S3 prefix (or one object) to `local_path`."""
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def wait_job_done(cloud: Cloud, name: str, timeout: float = 120.0) -> dict[str, Any]:
    """DescribeProcessingJob once the job has ended, whichever way."""

    def ended() -> dict[str, Any] | None:
        job = cloud.sagemaker.describe_processing_job(ProcessingJobName=name)
        return job if job["ProcessingJobStatus"] in JOB_ENDED else None

    return wait_for(ended, timeout, interval=0.5)


def read_json(cloud: Cloud, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture(scope="package")
def baseline_uri(cloud: Cloud) -> str:
    """A baselining job of the train channel, as Model Monitor's suggest_baseline runs one."""
    name, output = unique("baseline"), f"s3://{BUCKET}/{unique('processing')}/baseline"
    cloud.sagemaker.create_processing_job(
        **job_request(
            name,
            output,
            ProcessingInputs=[
                s3_input("baseline_dataset_input", f"s3://{BUCKET}/train/", f"{PROCESSING}/input")
            ],
            Environment={
                "dataset_format": '{"csv":{"header":true}}',
                "dataset_source": f"{PROCESSING}/input",
                "output_path": f"{PROCESSING}/output",
                "ground_truth_attribute": "rings",
            },
        )
    )
    # the SDK's waiter (Job.wait) on the local SageMaker's answers
    waiter = cloud.sagemaker.get_waiter("processing_job_completed_or_stopped")
    waiter.wait(ProcessingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    job = cloud.sagemaker.describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    return output


def capture_config(prefix: str, percentage: int = 100, **overrides: Any) -> dict[str, Any]:
    """A DataCaptureConfig as DeployModel sends it: input and output, CSV and JSON as text."""
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": percentage,
        "DestinationS3Uri": f"s3://{BUCKET}/{prefix}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
        **overrides,
    }


@pytest.fixture(scope="module")
def capture_endpoint(cloud: Cloud, model_name: str) -> tuple[str, str]:
    """(endpoint, capture prefix URI) of an endpoint capturing everything."""
    prefix = unique("capture")
    endpoint, _ = start_endpoint(cloud, model_name, DataCaptureConfig=capture_config(prefix))
    described = cloud.wait_endpoint_settled(endpoint)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return endpoint, f"s3://{BUCKET}/{prefix}/{endpoint}"


def send_and_wait_captured(cloud: Cloud, endpoint: str, uri: str, records: list[dict]) -> int:
    """Invoke the endpoint once per record; the number of capture records once all are in S3."""
    before = count_captured(cloud, uri)
    for record in records:
        cloud.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=csv_body([record], header=False), ContentType="text/csv"
        )
    return wait_for(lambda: (n := count_captured(cloud, uri)) >= before + len(records) and n)


def ground_truth_lines(labels: dict[str, str]) -> str:
    """Model Monitor's ground-truth JSON Lines: inference id -> label."""
    return "".join(
        json.dumps(
            {
                "groundTruthData": {"data": label, "encoding": "CSV"},
                "eventMetadata": {"eventId": inference_id},
                "eventVersion": "0",
            }
        )
        + "\n"
        for inference_id, label in labels.items()
    )


def count_captured(cloud: Cloud, uri: str) -> int:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    pages = cloud.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return sum(
        len(cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()) for key in keys
    )


@pytest.fixture(scope="package")
def held_out(abalone_splits: Path) -> list[dict[str, Any]]:
    """60 records of the test split as raw features."""
    with (abalone_splits / "test" / "test.csv").open() as stream:
        return [
            {k: v if k == "sex" else float(v) for k, v in r.items() if k != "rings"}
            for r in list(csv.DictReader(stream))[:60]
        ]
