"""The SageMaker Python SDK against the local SageMaker, as a user drives it.

`Estimator.fit(logs=True)` reads the container's output from CloudWatch Logs, `attach` reads
DescribeTrainingJob, and `deploy` / `predict` / `update_endpoint` / `delete_endpoint` run the
hosting API. The SDK sleeps fixed intervals between polls (30 s for endpoints); the `fast_sdk`
fixture runs its clock 20 times faster, so those waits take seconds and nothing else changes.
"""

from __future__ import annotations

import re
import time
import types
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.localcloud.sagemaker.conftest import BUCKET, IMAGE_URI, ROLE_ARN, Cloud, unique

SPEED_UP = 20
CSV_RECORD = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def sagemaker_sdk(cloud: Cloud) -> Iterator[Any]:
    """The `sagemaker` package with its polling clock sped up (module-scoped: one import)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
        import sagemaker  # slow to import (it reads its config files): only this module needs it
        import sagemaker.session

        offset = [0.0]

        def sleep(seconds: float) -> None:
            time.sleep(seconds / SPEED_UP)
            offset[0] += seconds - seconds / SPEED_UP

        clock = types.SimpleNamespace(sleep=sleep, time=lambda: time.time() + offset[0])
        patch.setattr(sagemaker.session, "time", clock)
        yield sagemaker


@pytest.fixture(scope="module")
def session(sagemaker_sdk: Any, cloud: Cloud) -> Any:
    """A SageMaker session on the local cloud (the bucket given: the edge has no STS yet)."""
    return sagemaker_sdk.Session(boto_session=boto3.session.Session(), default_bucket=BUCKET)


def test_fit_attach_deploy_predict_update_delete(
    sagemaker_sdk: Any, session: Any, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an Estimator for the project's image, with the SDK's defaults (profiler and
    # Debugger hook on)
    estimator = sagemaker_sdk.estimator.Estimator(
        image_uri=IMAGE_URI,
        role=ROLE_ARN,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{BUCKET}/sdk-models",
        sagemaker_session=session,
        output_kms_key=KMS_KEY,
        metric_definitions=[{"Name": "validation:mse", "Regex": r"validation:mse=([0-9.eE+-]+);"}],
    )
    channels = {channel: f"s3://{BUCKET}/{channel}/" for channel in ("train", "validation")}

    # WHEN it fits with logs=True
    estimator.fit(channels, logs=True, job_name=unique("sdk-train"))

    # THEN the container's own output lines were printed from CloudWatch Logs
    printed = capsys.readouterr().out
    assert re.search(r"validation:mse=[0-9.]+;", printed), printed[-2000:]
    job_name = estimator.latest_training_job.name

    # AND the SDK's default Debugger hook and system monitor ran: profiler files are in S3
    described = cloud.sagemaker.describe_training_job(TrainingJobName=job_name)
    assert described["ProfilingStatus"] == "Enabled"
    assert described["DebugHookConfig"]["S3OutputPath"] == f"s3://{BUCKET}/sdk-models"
    system = f"sdk-models/{job_name}/profiler-output/system/incremental/"
    assert cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix=system)["KeyCount"] > 0

    # WHEN the job is attached to a new Estimator
    attached = sagemaker_sdk.estimator.Estimator.attach(job_name, sagemaker_session=session)

    # THEN it knows the job as DescribeTrainingJob tells it
    assert attached.model_data == estimator.model_data
    assert attached.model_data.endswith(f"/{job_name}/output/model.tar.gz")
    assert attached.output_kms_key == KMS_KEY
    assert attached.instance_count == 1
    # AND the model was written encrypted with that key (SSE-KMS)
    bucket, key = attached.model_data.removeprefix("s3://").split("/", 1)
    head = cloud.s3.head_object(Bucket=bucket, Key=key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)

    # WHEN the model is deployed and asked for a prediction
    endpoint = unique("sdk-endpoint")
    predictor = attached.deploy(
        initial_instance_count=1,
        instance_type="ml.t2.medium",
        endpoint_name=endpoint,
        serializer=sagemaker_sdk.serializers.CSVSerializer(),
        deserializer=sagemaker_sdk.deserializers.JSONDeserializer(),
    )
    first = predictor.predict(CSV_RECORD)

    # THEN the container answered through the endpoint
    assert len(first["predictions"]) == 1
    config = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]

    # WHEN the endpoint is updated to a new configuration, then deleted
    predictor.update_endpoint(initial_instance_count=1, instance_type="ml.m5.large")
    described = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] != config
    assert predictor.predict(CSV_RECORD) == first
    predictor.delete_endpoint()

    # THEN the endpoint is gone
    names = [e["EndpointName"] for e in cloud.sagemaker.list_endpoints()["Endpoints"]]
    assert endpoint not in names


def test_transformer_runs_a_batch_job_and_prints_its_logs(
    sagemaker_sdk: Any, session: Any, cloud: Cloud, model_name: str, capsys: Any
) -> None:
    # GIVEN two records in S3 and a Transformer for the shared model, with the KMS key
    prefix = unique("sdk-batch")
    cloud.s3.put_object(
        Bucket=BUCKET, Key=f"{prefix}/in/records.csv", Body=f"{CSV_RECORD}\n{CSV_RECORD}\n"
    )
    transformer = sagemaker_sdk.transformer.Transformer(
        model_name=model_name,
        instance_count=1,
        instance_type="ml.m5.large",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        max_payload=1,
        output_path=f"s3://{BUCKET}/{prefix}/out",
        output_kms_key=KMS_KEY,
        sagemaker_session=session,
    )

    # WHEN it transforms the prefix and waits, with the container's logs
    transformer.transform(
        f"s3://{BUCKET}/{prefix}/in/", content_type="text/csv", split_type="Line", wait=False
    )
    transformer.wait(logs=True)

    # THEN the job completed and wrote one prediction per record, encrypted with the key
    name = transformer.latest_transform_job.name
    job = cloud.sagemaker.describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["MaxPayloadInMB"] == 1
    key = f"{prefix}/out/records.csv.out"
    written = cloud.s3.get_object(Bucket=BUCKET, Key=key)
    lines = written["Body"].read().decode().splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]
    assert float(lines[0]) > 0
    assert written["SSEKMSKeyId"] == KMS_KEY
    # AND the SDK printed the container's output from CloudWatch Logs
    assert "Application startup complete" in capsys.readouterr().out
