"""Processing jobs through boto3: the image's `monitor` run as Model Monitor runs it (a baseline
of the train channel, then data quality of an endpoint's real capture), stops, time limits,
logs, and AWS's errors for requests the local SageMaker cannot run."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.localcloud.sagemaker.conftest import (
    BUCKET,
    CAPTURE_FORMAT,
    IMAGE_URI,
    PROCESSING,
    Cloud,
    error_of,
    job_request,
    read_json,
    s3_input,
    send_and_wait_captured,
    unique,
    wait_for,
    wait_job_done,
)

SLEEPER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/abalone:sleeper"


def data_quality_job(cloud: Cloud, capture_uri: str, baseline_uri: str) -> dict[str, Any]:
    """A data-quality job of the endpoint's capture against the baseline, run to its end."""
    name, output = unique("data-quality"), f"s3://{BUCKET}/{unique('processing')}/report"
    cloud.sagemaker.create_processing_job(
        **job_request(
            name,
            output,
            ProcessingInputs=[
                s3_input("endpoint", capture_uri, f"{PROCESSING}/input/endpoint"),
                s3_input("baseline", f"{baseline_uri}/statistics.json", f"{PROCESSING}/baseline"),
                s3_input("constraints", f"{baseline_uri}/constraints.json", f"{PROCESSING}/c"),
            ],
            Environment={
                "dataset_format": CAPTURE_FORMAT,
                "dataset_source": f"{PROCESSING}/input/endpoint",
                "output_path": f"{PROCESSING}/output",
                "baseline_statistics": f"{PROCESSING}/baseline/statistics.json",
                "baseline_constraints": f"{PROCESSING}/c/constraints.json",
            },
        )
    )
    return wait_job_done(cloud, name) | {"Output": output}


def test_monitor_as_a_processing_job_finds_drift_in_real_capture(
    cloud, held_out, baseline_uri, capture_endpoint
):
    # GIVEN an endpoint that captured 60 requests of held-out records
    records = held_out
    endpoint, capture_uri = capture_endpoint
    assert send_and_wait_captured(cloud, endpoint, capture_uri, records) == 60
    # WHEN monitor analyses it against the train channel's baseline THEN no violation
    clean = data_quality_job(cloud, capture_uri, baseline_uri)
    assert clean["ProcessingJobStatus"] == "Completed", clean.get("FailureReason")
    assert clean["ExitMessage"].startswith("Completed: Job completed successfully with no")
    violations = read_json(cloud, f"{clean['Output']}/constraint_violations.json")
    assert violations["violations"] == []
    # WHEN as many requests again come with shells four times heavier
    heavy = [{**r, "shell_weight": r["shell_weight"] * 4} for r in records]
    assert send_and_wait_captured(cloud, endpoint, capture_uri, heavy) == 120
    drifted = data_quality_job(cloud, capture_uri, baseline_uri)
    # THEN the job still completes, its exit message and report naming the drifted feature
    assert drifted["ProcessingJobStatus"] == "Completed", drifted.get("FailureReason")
    assert drifted["ExitMessage"].startswith("CompletedWithViolations")
    found = read_json(cloud, f"{drifted['Output']}/constraint_violations.json")["violations"]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in found} == {
        ("shell_weight", "baseline_drift_check")
    }
    statistics = read_json(cloud, f"{drifted['Output']}/statistics.json")
    assert statistics["dataset"]["item_count"] == 120


def test_the_job_is_described_listed_and_logged_as_on_aws(cloud, baseline_uri):
    listed = cloud.sagemaker.list_processing_jobs(NameContains="baseline", MaxResults=1)
    (summary,) = listed["ProcessingJobSummaries"]
    job = cloud.sagemaker.describe_processing_job(ProcessingJobName=summary["ProcessingJobName"])
    assert summary["ProcessingJobStatus"] == job["ProcessingJobStatus"] == "Completed"
    assert job["ProcessingJobArn"].endswith(f":processing-job/{job['ProcessingJobName']}")
    assert job["ProcessingStartTime"] <= job["ProcessingEndTime"]
    assert job["AppSpecification"]["ContainerEntrypoint"] == ["monitor"]
    assert job["Environment"]["ground_truth_attribute"] == "rings"
    # the baseline files are where the output config said
    constraints = read_json(cloud, f"{baseline_uri}/constraints.json")
    assert "shell_weight" in {feature["name"] for feature in constraints["features"]}
    assert "rings" not in {feature["name"] for feature in constraints["features"]}
    listed = cloud.sagemaker.list_processing_jobs(StatusEquals="Completed")
    assert job["ProcessingJobName"] in {
        s["ProcessingJobName"] for s in listed["ProcessingJobSummaries"]
    }
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs",
        logStreamNamePrefix=f"{job['ProcessingJobName']}/algo-1-",
    )["logStreams"]
    assert len(streams) == 1


@pytest.fixture(scope="module")
def sleeper(cloud: Cloud) -> str:
    """An image whose only program, `sleeper`, sleeps for ten minutes."""
    snapshot = cloud.state_dir / "images" / "abalone" / "sleeper"
    (snapshot / "bin").mkdir(parents=True)
    (snapshot / "src").mkdir()
    (snapshot / "bin" / "sleeper").write_text(
        "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"
    )
    return SLEEPER_IMAGE


def test_a_stopped_job_ends_stopped_and_its_program_is_gone(cloud, sleeper):
    name = unique("sleep")
    request = job_request(name, f"s3://{BUCKET}/{unique('processing')}")
    request["AppSpecification"] = {"ImageUri": sleeper, "ContainerEntrypoint": ["sleeper"]}
    cloud.sagemaker.create_processing_job(**request)
    log = cloud.state_dir / "sagemaker" / "processing-jobs" / name / "processing.log"
    wait_for(lambda: log.is_file() and "sleeping" in log.read_text())

    cloud.sagemaker.stop_processing_job(ProcessingJobName=name)

    assert cloud.sagemaker.describe_processing_job(ProcessingJobName=name)[
        "ProcessingJobStatus"
    ] in {"Stopping", "Stopped"}
    job = wait_job_done(cloud, name, timeout=30)
    assert job["ProcessingJobStatus"] == "Stopped"
    assert "FailureReason" not in job
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.stop_processing_job(ProcessingJobName=name)
    assert error_of(excinfo) == (
        "ValidationException",
        "The request was rejected because the processing job is in status Stopped.",
    )


def test_a_job_past_its_max_runtime_fails_saying_so(cloud, sleeper):
    name = unique("sleep")
    request = job_request(
        name, f"s3://{BUCKET}/{unique('processing')}", StoppingCondition={"MaxRuntimeInSeconds": 2}
    )
    request["AppSpecification"] = {"ImageUri": sleeper, "ContainerEntrypoint": ["sleeper"]}
    started = time.monotonic()
    cloud.sagemaker.create_processing_job(**request)
    job = wait_job_done(cloud, name, timeout=30)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == (
        "MaxRuntimeExceeded: Processing job exceeded MaxRuntimeInSeconds provided (2 seconds)"
    )
    assert time.monotonic() - started < 20


def test_a_failing_program_fails_the_job_with_its_exit_message(cloud):
    # monitor with no mode set: bad input, which it says in output/message
    name = unique("no-source")
    cloud.sagemaker.create_processing_job(
        **job_request(
            name,
            f"s3://{BUCKET}/{unique('processing')}",
            Environment={"output_path": f"{PROCESSING}/output"},
        )
    )
    job = wait_job_done(cloud, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["ExitMessage"].startswith("dataset_format is not set")
    assert job["FailureReason"] == f"AlgorithmError: {job['ExitMessage']}"


def test_an_input_with_no_objects_fails_the_job_as_aws_words_it(cloud):
    name = unique("empty")
    empty = f"s3://{BUCKET}/{unique('nothing')}/"
    cloud.sagemaker.create_processing_job(
        **job_request(
            name,
            f"s3://{BUCKET}/{unique('processing')}",
            ProcessingInputs=[s3_input("data", empty, f"{PROCESSING}/input")],
        )
    )
    job = wait_job_done(cloud, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "{empty}"'
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"ProcessingInputs": [s3_input("x", f"s3://{BUCKET}/train/", "/tmp/elsewhere")]},
            "processingInputs.1.member.s3Input.localPath '/tmp/elsewhere' must be an absolute "
            "path under /opt/ml/processing/",
        ),
        (
            {"ProcessingInputs": [s3_input("x", f"s3://{BUCKET}/train/", f"{PROCESSING}/../x")]},
            "processingInputs.1.member.s3Input.localPath '/opt/ml/processing/../x' leaves "
            "/opt/ml/processing/",
        ),
        (
            {"ProcessingInputs": [s3_input("x", f"s3://{BUCKET}/train/", f"{PROCESSING}/output")]},
            "processingOutputConfig.outputs.1.member.s3Output.localPath "
            "'/opt/ml/processing/output' is used twice",
        ),
        (
            {"AppSpecification": {"ImageUri": IMAGE_URI}},
            "AppSpecification needs ContainerEntrypoint (or ContainerArguments) naming the "
            'program to run: the image has no ENTRYPOINT, e.g. ["monitor"]',
        ),
        (
            {
                "ProcessingResources": {
                    "ClusterConfig": {
                        "InstanceCount": 2,
                        "InstanceType": "ml.m5.large",
                        "VolumeSizeInGB": 5,
                    }
                }
            },
            "The local SageMaker does not support ProcessingResources.ClusterConfig."
            "InstanceCount=2 on CreateProcessingJob: a processing job runs on one local host "
            "(algo-1)",
        ),
        (
            {"Environment": {"PYTHONPATH": "/tmp"}},
            "Environment variable PYTHONPATH at 'environment' cannot be set on the local SageMaker",
        ),
    ],
    ids=["outside", "escapes", "twice", "no-program", "two-instances", "refused-variable"],
)
def test_a_request_the_local_sagemaker_cannot_run_is_refused_by_name(cloud, change, message):
    name = unique("refused")
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_processing_job(
            **job_request(name, f"s3://{BUCKET}/{unique('processing')}", **change)
        )
    code, text = error_of(excinfo)
    assert code == "ValidationException"
    assert text.startswith(message)
    with pytest.raises(ClientError):  # nothing was registered
        cloud.sagemaker.describe_processing_job(ProcessingJobName=name)


def test_unknown_and_taken_names_get_awss_errors(cloud, baseline_uri):
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.describe_processing_job(ProcessingJobName="no-such-job")
    assert error_of(excinfo) == (
        "ValidationException",
        "Could not find requested job with name no-such-job",
    )
    (existing,) = cloud.sagemaker.list_processing_jobs(NameContains="baseline", MaxResults=1)[
        "ProcessingJobSummaries"
    ]
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_processing_job(
            **job_request(existing["ProcessingJobName"], f"s3://{BUCKET}/x")
        )
    code, text = error_of(excinfo)
    assert code == "ResourceInUse"
    assert existing["ProcessingJobArn"] in text
