"""StartBatchTransform: S3's captured "Object Created" event for a file under batch/input/ starts
one transform job with the model prod serves (moto keeps the job as it was asked for); without
prod the topic hears why; folder markers, .out files and other buckets are left alone."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from tests.lambdas.conftest import (
    TOPIC_ARN,
    Cloud,
    create_endpoint_in_moto,
    load_event,
    load_module,
    published,
)

BUCKET = "demo-data"
PROD_CONFIG = "demo-prod-20250102-030405-0a1b"
EVENT_ID = "17793124-05d4-b198-2fde-7ededc63b103"  # the captured event's
JOB = "demo-batch-20211112-000000-"  # the captured event's time, then the hash of its id


@pytest.fixture
def start_batch_transform(cloud: Cloud) -> ModuleType:
    """lambdas/start_batch_transform/app.py."""
    return load_module("start_batch_transform/app")


@pytest.fixture(autouse=True)
def environment(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template's environment and the data bucket."""
    for name, value in {
        "PROJECT_NAME": "demo",
        "DATA_BUCKET": BUCKET,
        "BATCH_INSTANCE_TYPE": "ml.m5.large",
        "NOTIFICATION_TOPIC_ARN": TOPIC_ARN,
    }.items():
        monkeypatch.setenv(name, value)
    cloud.s3.create_bucket(Bucket=BUCKET)


def uploaded(key: str, bucket: str = BUCKET) -> dict[str, Any]:
    """The captured "Object Created" event, for this bucket and key."""
    event = load_event("s3_object_created.json")
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    return event


def transform_jobs(cloud: Cloud) -> list[dict[str, Any]]:
    """Every transform job moto holds, described."""
    summaries = cloud.sagemaker.list_transform_jobs()["TransformJobSummaries"]
    return [
        cloud.sagemaker.describe_transform_job(TransformJobName=s["TransformJobName"])
        for s in summaries
    ]


def test_an_upload_under_batch_input_is_scored_by_prods_model_into_batch_output(
    cloud, start_batch_transform, inbox
):
    # GIVEN prod in service on its model
    create_endpoint_in_moto(cloud.sagemaker, "demo-prod", PROD_CONFIG, "s3://demo-models/m.tgz")
    # WHEN a file lands in a sub-folder of batch/input/
    answer = start_batch_transform.handler(uploaded("batch/input/2025/records.csv"), None)
    # THEN one transform job scores exactly that object with prod's model, CSV lines in and out
    (job,) = transform_jobs(cloud)
    assert job["TransformJobName"].startswith(JOB) and len(job["TransformJobName"]) == len(JOB) + 8
    assert answer == {
        "started": job["TransformJobName"],
        "model": PROD_CONFIG,
        "output": f"s3://{BUCKET}/batch/output/2025/records.csv.out",
    }
    assert job["ModelName"] == PROD_CONFIG
    assert job["BatchStrategy"] == "MultiRecord"
    assert job["TransformInput"] == {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": f"s3://{BUCKET}/batch/input/2025/records.csv",
            }
        },
        "ContentType": "text/csv",
        "SplitType": "Line",
    }
    # ... its .out written beside where the file sat, under batch/output/, as the bucket
    # encrypts (SSE-S3: no KmsKeyId)
    assert job["TransformOutput"] == {
        "S3OutputPath": f"s3://{BUCKET}/batch/output/2025",
        "Accept": "text/csv",
        "AssembleWith": "Line",
    }
    assert job["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1}
    tags = cloud.sagemaker.list_tags(ResourceArn=job["TransformJobArn"])["Tags"]
    assert tags == [{"Key": "batch-input-key", "Value": "batch/input/2025/records.csv"}]
    # AND nothing is published: the job's end is ReportBatchTransform's to tell
    assert published(cloud, inbox) == []


def stub_prod(sagemaker: Stubber, status: str, reason: str | None = None) -> None:
    """Prod as DescribeEndpoint (and, when it serves, DescribeEndpointConfig) answer."""
    endpoint = {
        "EndpointName": "demo-prod",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/demo-prod",
        "EndpointConfigName": PROD_CONFIG,
        "EndpointStatus": status,
        "CreationTime": "2025-01-02T03:04:05Z",
        "LastModifiedTime": "2025-01-02T03:04:05Z",
    }
    if reason:
        endpoint["FailureReason"] = reason
    sagemaker.add_response("describe_endpoint", endpoint, {"EndpointName": "demo-prod"})
    if status in ("InService", "Updating"):
        sagemaker.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": PROD_CONFIG,
                "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:"
                f"endpoint-config/{PROD_CONFIG}",
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": PROD_CONFIG}],
                "CreationTime": "2025-01-02T03:04:05Z",
            },
            {"EndpointConfigName": PROD_CONFIG},
        )


def refuse_the_job(sagemaker: Stubber, code: str, message: str) -> None:
    """CreateTransformJob of prod's model answered with this error."""
    sagemaker.add_client_error(
        "create_transform_job",
        service_error_code=code,
        service_message=message,
        expected_params={
            "TransformJobName": ANY,
            "ModelName": PROD_CONFIG,
            "BatchStrategy": "MultiRecord",
            "TransformInput": ANY,
            "TransformOutput": ANY,
            "TransformResources": ANY,
            "Tags": ANY,
        },
    )


def test_the_same_event_delivered_again_names_the_same_job_and_starts_no_second(
    cloud, start_batch_transform, stub
):
    # GIVEN prod in the middle of an update (it serves its current model meanwhile) and the
    # upload's job already there: EventBridge and Lambda deliver at least once
    sagemaker = stub(start_batch_transform.SAGEMAKER)
    stub_prod(sagemaker, "Updating")
    refuse_the_job(
        sagemaker,
        "ResourceInUse",
        "Job name must be unique within an AWS account and region, and a job with this name "
        "already exists",
    )
    stub(start_batch_transform.SNS)  # nothing may be published
    # WHEN the same event comes again
    answer = start_batch_transform.handler(uploaded("batch/input/records.csv"), None)
    # THEN it is taken as started, under the name of the first delivery
    assert answer["started"].startswith(JOB)
    assert answer["output"] == f"s3://{BUCKET}/batch/output/records.csv.out"


def test_without_prod_nothing_starts_and_the_topic_hears_why(cloud, start_batch_transform, inbox):
    # GIVEN no prod endpoint yet WHEN a file is uploaded
    answer = start_batch_transform.handler(uploaded("batch/input/records.csv"), None)
    # THEN no job starts, and the topic is told why and what to do
    assert transform_jobs(cloud) == []
    assert "prod endpoint demo-prod does not exist yet" in answer["failed"]
    (notice,) = published(cloud, inbox)
    assert notice["Subject"] == "demo batch scoring not started: records.csv"
    assert notice["Message"] == (
        f"s3://{BUCKET}/batch/input/records.csv was not scored: prod endpoint demo-prod does "
        "not exist yet: run the pipeline until a model is approved into prod, then upload the "
        f"file again. Nothing was written to s3://{BUCKET}/batch/output/records.csv.out."
    )


def test_a_prod_that_failed_serves_nothing_and_the_topic_hears_its_reason(
    cloud, start_batch_transform, inbox, stub
):
    # GIVEN prod Failed
    stub_prod(stub(start_batch_transform.SAGEMAKER), "Failed", "the container exited")
    # WHEN a file is uploaded THEN no job starts, and the topic hears prod's reason
    answer = start_batch_transform.handler(uploaded("batch/input/records.csv"), None)
    assert "demo-prod is Failed (the container exited)" in answer["failed"]
    (notice,) = published(cloud, inbox)
    assert "is Failed (the container exited) and serves no model" in notice["Message"]


def test_sagemakers_refusal_is_told_to_the_topic(cloud, start_batch_transform, inbox, stub):
    # GIVEN prod in service and an account without transform instances
    sagemaker = stub(start_batch_transform.SAGEMAKER)
    stub_prod(sagemaker, "InService")
    refuse_the_job(
        sagemaker,
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.m5.large for transform job usage' is 0 Instances",
    )
    # WHEN a file is uploaded THEN the refusal, in SageMaker's words, goes to the topic
    answer = start_batch_transform.handler(uploaded("batch/input/records.csv"), None)
    assert answer["failed"].startswith(f"SageMaker refused transform job {JOB}")
    assert "ResourceLimitExceeded: The account-level service limit" in answer["failed"]
    (notice,) = published(cloud, inbox)
    assert "ResourceLimitExceeded" in notice["Message"]


@pytest.mark.parametrize(
    ("key", "bucket", "why"),
    [
        ("batch/input/", BUCKET, "folder marker"),
        ("batch/input/old/", BUCKET, "folder marker"),
        ("batch/input/records.csv.out", BUCKET, "ends in .out"),
        ("batch/input/records.csv", "someone-elses", "is not the data bucket"),
    ],
)
def test_folder_markers_out_files_and_other_buckets_are_ignored(
    cloud, start_batch_transform, inbox, key, bucket, why
):
    create_endpoint_in_moto(cloud.sagemaker, "demo-prod", PROD_CONFIG, "s3://demo-models/m.tgz")
    answer = start_batch_transform.handler(uploaded(key, bucket), None)
    assert why in answer["ignored"]
    assert transform_jobs(cloud) == []
    assert published(cloud, inbox) == []


def test_an_event_that_is_no_upload_is_refused(start_batch_transform):
    event = load_event("sagemaker_transform_job_state_change.json")
    with pytest.raises(ValueError, match="not an S3 Object Created event"):
        start_batch_transform.handler(event, None)


def test_a_missing_or_wrong_setting_is_named(start_batch_transform, monkeypatch):
    monkeypatch.setenv("BATCH_INSTANCE_TYPE", "large")
    with pytest.raises(start_batch_transform.ConfigurationError, match="BATCH_INSTANCE_TYPE"):
        start_batch_transform.handler(uploaded("batch/input/records.csv"), None)
    monkeypatch.delenv("NOTIFICATION_TOPIC_ARN")
    with pytest.raises(start_batch_transform.ConfigurationError, match="NOTIFICATION_TOPIC_ARN"):
        start_batch_transform.handler(uploaded("batch/input/records.csv"), None)
