"""The whole pipeline in the local cloud: real templates, zips, container; real boto3 and HTTP.

One cloud serves the module. Every test starts from its first, successful run (the `first_run`
fixture puts a model in dev and prod) and holds in any order: each failure path must leave the
prod model answering, and a retrain under load must not drop a request.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from bench.rollout import SLOW_SECONDS, model_code_copy, slow_model_code
from localcloud.cloud import LOCAL_PIPELINE_PARAMETERS, LocalCloud
from localcloud.codepipeline.runner import RunReport
from localcloud.stacks import upload_training_data
from model_registry import APPROVED, config_package, served_package, version_of, versions
from tests.cloud_support import (
    approve_all,
    lift_usage_limits,
    predict,
    prod_config,
    raw_records,
)
from tests.readme_commands import AWS_CLI

PROD = "abalone-prod"
STAGES = ["Source", "Build", "Train", "DeployDev", "Evaluate", "Approve", "DeployProd"]


def test_the_pipeline_runs_every_stage_and_prod_answers(
    cloud: LocalCloud, first_run: RunReport
) -> None:
    # THEN every stage succeeded, in the template's order
    assert first_run.status == "Succeeded", first_run.message
    assert [stage.name for stage in first_run.stages] == STAGES
    # AND the gate measured the dev endpoint on the test split and passed it
    evaluation = first_run.artifacts["Evaluation"]
    assert evaluation["passed"] is True
    assert evaluation["records"] == 627
    assert 0 < evaluation["metrics"]["mse"] <= 4.6
    # AND the image is in ECR under the source revision's tag
    image_uri = first_run.artifacts["BuildOutput"]["ImageURI"]
    repository, tag = image_uri.split("/", 1)[1].split(":")
    images = boto3.client("ecr").describe_images(repositoryName=repository)["imageDetails"]
    assert any(tag in image.get("imageTags", []) for image in images)
    # AND the model and its evaluation sit side by side in the model bucket
    model_url = first_run.artifacts["TrainedModel"]["ModelDataUrl"]
    bucket, key = model_url.removeprefix("s3://").split("/", 1)
    stored = boto3.client("s3").get_object(
        Bucket=bucket, Key=key.replace("model.tar.gz", "evaluation.json")
    )
    assert json.loads(stored["Body"].read())["metrics"] == evaluation["metrics"]
    # AND the run report was written for `status` (under its id: other runs may have followed)
    saved = cloud.state_dir / "runs" / f"{first_run.execution_id}.json"
    assert json.loads(saved.read_text())["status"] == "Succeeded"
    # AND prod answers raw records through the API with sensible predictions
    records, truths = raw_records(cloud, 50)
    response = predict(cloud, "prod", records)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["endpoint"] == "abalone-prod"
    assert (
        answer["model"] == first_run.artifacts["ProdDeployment"]["ModelName"] == prod_config(cloud)
    )
    predictions = [float(p) for p in answer["predictions"]]
    mse = sum((p - t) ** 2 for p, t in zip(predictions, truths, strict=True)) / len(truths)
    assert mse < 8


def test_the_gateway_requires_the_api_key_and_serves_both_stages(
    cloud: LocalCloud, first_run: RunReport
) -> None:
    records, _ = raw_records(cloud, 1)
    url = f"{cloud.gateway_url}/prod/predict"
    missing = requests.post(url, json={"instances": records}, timeout=10)
    wrong = requests.post(url, json={"instances": records}, headers={"x-api-key": "x"}, timeout=10)
    assert (missing.status_code, missing.json()) == (403, {"message": "Forbidden"})
    assert (wrong.status_code, wrong.json()) == (403, {"message": "Forbidden"})
    dev = predict(cloud, "dev", records)
    assert dev.status_code == 200
    assert dev.json()["endpoint"] == "abalone-dev"
    bad = predict(cloud, "prod", [{"sex": "M"}])
    assert bad.status_code == 400
    assert "length" in bad.json()["message"]


def test_a_file_copied_to_batch_input_is_scored_by_prods_model_as_invocations_scores_it(
    cloud: LocalCloud, first_run: RunReport, tmp_path: Path
) -> None:
    assert first_run.status == "Succeeded", first_run.message
    assert cloud.pipeline_stack is not None
    outputs = cloud.pipeline_stack.outputs
    bucket = outputs["DataBucketName"]
    assert outputs["BatchInputUri"] == f"s3://{bucket}/batch/input/"
    # GIVEN the topic's messages in a queue, and a headerless CSV file of raw test records
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="batch-results")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    boto3.client("sns").subscribe(
        TopicArn=outputs["NotificationTopicArn"],
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
    )
    records, _ = raw_records(cloud, 300)
    lines = io.StringIO()
    csv.writer(lines, lineterminator="\n").writerows(list(r.values()) for r in records)
    records_file = tmp_path / "records.csv"
    records_file.write_text(lines.getvalue())
    # WHEN it is copied to batch/input/ with the AWS CLI, as the README says
    copied = subprocess.run(
        [str(AWS_CLI), "s3", "cp", str(records_file), outputs["BatchInputUri"]],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **cloud.environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert copied.returncode == 0, copied.stderr
    # THEN batch/output/records.csv.out appears, one prediction per row
    s3 = boto3.client("s3")
    deadline = time.monotonic() + 120
    while True:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="batch/output/").get("Contents", [])
        if any(item["Key"] == "batch/output/records.csv.out" for item in listed):
            break
        assert time.monotonic() < deadline, "no batch/output/records.csv.out within 120 s"
        time.sleep(1)
    body = s3.get_object(Bucket=bucket, Key="batch/output/records.csv.out")["Body"].read()
    predictions = body.decode().splitlines()
    assert len(predictions) == len(records)
    # ... each what prod's /invocations answers for the same rows
    answer = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=PROD, ContentType="text/csv", Accept="text/csv", Body=lines.getvalue()
    )
    expected = answer["Body"].read().decode().splitlines()
    assert [float(p) for p in predictions] == [float(e) for e in expected]
    # AND the job ran prod's model, and the topic heard the counts
    sagemaker = boto3.client("sagemaker")
    (job,) = sagemaker.list_transform_jobs(NameContains="abalone-batch-")["TransformJobSummaries"]
    described = sagemaker.describe_transform_job(TransformJobName=job["TransformJobName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=prod_config(cloud))
    assert described["ModelName"] == config["ProductionVariants"][0]["ModelName"]
    message = _wait_for_message(sqs, queue, "abalone batch scoring Completed: records.csv", 60)
    assert f"Records in: 300 (s3://{bucket}/batch/input/records.csv)" in message
    assert f"Predictions out: 300 (s3://{bucket}/batch/output/records.csv.out)" in message


@pytest.mark.timeout(600)  # scaling in waits for the last minute's requests to age out
def test_load_scales_prod_out_and_back_in_without_a_failed_request(
    cloud: LocalCloud, first_run: RunReport
) -> None:
    # GIVEN prod registered for autoscaling once it was InService (ProdStatus): 2 to 4
    # instances at the local cloud's 600 requests a minute each
    assert first_run.status == "Succeeded", first_run.message
    autoscaling = boto3.client("application-autoscaling")
    (target,) = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{PROD}/variant/AllTraffic"]
    )["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    (policy,) = autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=target["ResourceId"]
    )["ScalingPolicies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 600
    assert _instances(PROD) == (2, 2)
    # WHEN two clients call prod without pause (far past 1,200 requests a minute)
    stop = threading.Event()
    outcomes: list[int] = []
    threads = _steady_load(cloud, outcomes, stop)
    try:
        started = time.monotonic()
        out = _wait_for_instances(PROD, lambda current, desired: current >= 3, timeout=120)
        scaled_out_in = time.monotonic() - started
        described = _describe_with_the_aws_cli(PROD)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    # THEN prod scaled out to 3 or more instances, as the AWS CLI shows, and no request failed
    (variant,) = described["ProductionVariants"]
    assert variant["CurrentInstanceCount"] >= 3
    print(f"scaled out to {out[0]} instances in {scaled_out_in:.0f} s")
    assert set(outcomes) == {200}, {code: outcomes.count(code) for code in set(outcomes)}
    # WHEN the load has stopped THEN prod scales back in to its minimum
    started = time.monotonic()
    _wait_for_instances(PROD, lambda current, desired: current == desired == 2, timeout=240)
    print(f"back to 2 instances {time.monotonic() - started:.0f} s after the load stopped")


def _describe_with_the_aws_cli(endpoint: str) -> dict[str, Any]:
    """`aws sagemaker describe-endpoint`, as a user sees it."""
    command = [str(AWS_CLI), "sagemaker", "describe-endpoint", "--endpoint-name", endpoint]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def _instances(endpoint: str) -> tuple[int, int]:
    """(CurrentInstanceCount, DesiredInstanceCount) of the endpoint's variant."""
    described = boto3.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    (variant,) = described["ProductionVariants"]
    return variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]


def _wait_for_instances(endpoint: str, condition: Any, timeout: float) -> tuple[int, int]:
    """The endpoint's counts once `condition(current, desired)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = _instances(endpoint)
        if condition(*counts):
            return counts
        time.sleep(1)
    raise AssertionError(f"{endpoint} still at {_instances(endpoint)} instances after {timeout} s")


def test_a_serve_that_crashes_at_start_fails_deploydev_and_leaves_prod(
    cloud: LocalCloud, first_run: RunReport, tmp_path: Path
) -> None:
    # GIVEN model code whose serve program dies as it starts
    broken, serve = model_code_copy(tmp_path)
    serve.write_text(
        "#!/usr/bin/env python3\nraise SystemExit('serve: simulated crash at start')\n"
    )
    serve.chmod(0o755)
    prod_before = prod_config(cloud)
    # WHEN the pipeline runs it
    report = cloud.run_pipeline(approve_all, model_code=broken)
    # THEN DeployDev fails with the reason, and prod still serves the earlier model
    assert report.status == "Failed"
    assert report.message.startswith("DeployDev/DevStatus:"), report.message
    assert "simulated crash at start" in report.message
    assert [s.name for s in report.stages][-1] == "DeployDev"
    assert prod_config(cloud) == prod_before
    assert predict(cloud, "prod", raw_records(cloud, 3)[0]).status_code == 200


def test_bad_training_data_fails_the_gate_and_prod_keeps_its_model(
    cloud: LocalCloud, first_run: RunReport
) -> None:
    # GIVEN new training data whose labels are shuffled noise
    assert cloud.pipeline_stack is not None
    data_bucket = cloud.pipeline_stack.outputs["DataBucketName"]
    good_splits = cloud.state_dir / "data"
    rows = list(csv.DictReader((good_splits / "train" / "train.csv").open(newline="")))
    rings = [row["rings"] for row in rows]
    random.Random(0).shuffle(rings)
    noisy = io.StringIO()
    writer = csv.DictWriter(noisy, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({**row, "rings": r} for row, r in zip(rows, rings, strict=True))
    s3 = boto3.client("s3")
    s3.put_object(Bucket=data_bucket, Key="train/train.csv", Body=noisy.getvalue().encode())
    prod_before = prod_config(cloud)
    try:
        # WHEN the pipeline retrains on it
        report = cloud.run_pipeline(approve_all)
    finally:
        upload_training_data(cloud.session, data_bucket, good_splits)
    # THEN the gate stops the run before approval, naming the numbers
    assert report.status == "Failed"
    assert report.message.startswith("Evaluate/EvaluateModel:"), report.message
    assert "MSE" in report.message and "4.6" in report.message
    assert "Approve" not in [s.name for s in report.stages]
    # AND prod keeps the previous model and still answers
    assert prod_config(cloud) == prod_before
    assert predict(cloud, "prod", raw_records(cloud, 3)[0]).status_code == 200


def test_a_retrain_rolls_through_prods_canary_under_steady_load_dropping_no_request(
    cloud: LocalCloud, first_run: RunReport
) -> None:
    # GIVEN prod on 2 or more instances (the load may scale it out), clients calling it without
    # pause, and a watcher of its updates
    records, _ = raw_records(cloud, 1)
    sagemaker = boto3.client("sagemaker")
    (variant,) = sagemaker.describe_endpoint(EndpointName=PROD)["ProductionVariants"]
    assert variant["CurrentInstanceCount"] >= 2
    stop = threading.Event()
    outcomes: list[int] = []
    threads = _steady_load(cloud, outcomes, stop)
    statuses: list[str] = []
    threads.append(_watch_rollout(sagemaker, statuses, stop))
    prod_before = prod_config(cloud)
    try:
        # WHEN the pipeline retrains and updates dev in place and prod through its canary
        report = cloud.run_pipeline(approve_all)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    # THEN the run succeeded, prod moved to the new model, and no request failed
    assert report.status == "Succeeded", report.message
    assert prod_config(cloud) != prod_before
    # ... a canary of the new fleet (half of it, rounded down) baked with a share of the traffic,
    # then all of the new fleet did
    launched = re.fullmatch(r"Creating: Launching (\d+) instance\(s\)\.", statuses[0])
    assert launched, statuses
    bake = LOCAL_PIPELINE_PARAMETERS["ProdBakeSeconds"]
    baking = f"Baking: Baking for {bake} seconds (WaitIntervalInSeconds) with traffic enabled on"
    assert f"{baking} canary capacity of {launched[1]} instance(s)." in statuses
    full = [
        re.fullmatch(rf"{re.escape(baking)} full capacity of (\d+) instance\(s\)\.", s)
        for s in statuses
    ]
    (fleet,) = [int(m[1]) for m in full if m]
    assert int(launched[1]) == fleet // 2, statuses
    # AND the very next answer names the new model (the container says which model answered)
    assert predict(cloud, "prod", records).json()["model"] == prod_config(cloud)
    assert len(outcomes) > 50
    assert set(outcomes) == {200}, {code: outcomes.count(code) for code in set(outcomes)}


def test_a_slow_model_is_rolled_back_by_the_canarys_latency_alarm_and_rejected(
    cloud: LocalCloud, first_run: RunReport, tmp_path: Path
) -> None:
    # GIVEN model code that passes the gate but answers 0.3 s late (its serve wraps the
    # predictor), and prod under steady load
    slow = slow_model_code(tmp_path)
    sagemaker = boto3.client("sagemaker")
    prod_before = prod_config(cloud)
    stop = threading.Event()
    outcomes: list[int] = []
    seconds: list[float] = []
    threads = _steady_load(cloud, outcomes, stop, seconds)
    try:
        # WHEN the pipeline runs it
        report = cloud.run_pipeline(approve_all, model_code=slow)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    # THEN ProdStatus fails naming the alarm that rolled prod back, prod is on its old model,
    # and the version is Rejected with the reason
    assert report.status == "Failed"
    assert report.message.startswith("DeployProd/ProdStatus:"), report.message
    assert "abalone-prod-canary-latency in ALARM" in report.message
    assert prod_config(cloud) == prod_before
    described = _describe_with_the_aws_cli(PROD)
    assert described["EndpointStatus"] == "InService"
    assert "alarm(s) abalone-prod-canary-latency in ALARM" in described["FailureReason"]
    rejected = report.artifacts["ProdDeployment"]["ModelPackageArn"]
    package = sagemaker.describe_model_package(ModelPackageName=rejected)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "abalone-prod-canary-latency" in package["ApprovalDescription"]
    # AND it was rolled out once: of the two deployers of the approval (the registry rule and
    # DeployProd), the one that waited followed the other's rollout instead of starting another
    configs = sagemaker.list_endpoint_configs(NameContains=f"{PROD}-")["EndpointConfigs"]
    made = [c["EndpointConfigName"] for c in configs]
    assert [name for name in made if config_package(sagemaker, name) == rejected] == [
        report.artifacts["ProdDeployment"]["EndpointConfigName"]
    ], made
    # AND no request failed: the canary's were slow, not lost (the note reports how many)
    assert set(outcomes) == {200}, {code: outcomes.count(code) for code in set(outcomes)}
    slow_answers = sum(1 for taken in seconds if taken >= SLOW_SECONDS)
    print(f"{slow_answers} of {len(seconds)} answers took {SLOW_SECONDS} s or more (the canary's)")
    assert 0 < slow_answers < len(seconds)
    assert predict(cloud, "prod", raw_records(cloud, 3)[0]).status_code == 200


def _watch_rollout(sagemaker: Any, statuses: list[str], stop: threading.Event) -> threading.Thread:
    """A thread noting each new `<Status>: <StatusMessage>` of prod's pending fleet."""

    def watch() -> None:
        while not stop.is_set():
            pending = sagemaker.describe_endpoint(EndpointName=PROD).get("PendingDeploymentSummary")
            for variant in (pending or {}).get("ProductionVariants", []):
                for status in variant.get("VariantStatus", []):
                    seen = f"{status['Status']}: {status['StatusMessage']}"
                    if not statuses or statuses[-1] != seen:
                        statuses.append(seen)
            time.sleep(0.2)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def _steady_load(
    cloud: LocalCloud,
    outcomes: list[int],
    stop: threading.Event,
    seconds: list[float] | None = None,
) -> list[threading.Thread]:
    """Two clients calling prod without pause (past the template's throttle, so lifted) until
    `stop` is set; each answer's status code goes in `outcomes` (and its time in `seconds`)."""
    lift_usage_limits(cloud)
    records, _ = raw_records(cloud, 1)

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    outcomes.append(predict(cloud, "prod", records, session=session).status_code)
                except requests.RequestException:
                    outcomes.append(0)
                if seconds is not None:
                    seconds.append(time.perf_counter() - started)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    return threads


def _wait_for_prod_on(sagemaker: Any, arn: str, timeout: float = 300) -> None:
    """Until prod is InService on the model of package `arn`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        endpoint = sagemaker.describe_endpoint(EndpointName="abalone-prod")
        if (
            endpoint["EndpointStatus"] == "InService"
            and served_package(sagemaker, "abalone-prod") == arn
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"prod did not reach {arn} in {timeout} s")


def _s3_json(uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _sources(section: dict[str, Any]) -> list[str]:
    """Every S3Uri of a ModelMetrics or DriftCheckBaselines section."""
    return [
        leaf["S3Uri"]
        for part in section.values()
        for leaf in part.values()
        if isinstance(leaf, dict) and "S3Uri" in leaf
    ]


def test_rejecting_prods_version_rolls_back_and_rejecting_the_last_approved_keeps_prod(
    cloud: LocalCloud, first_run: RunReport
) -> None:
    sagemaker = boto3.client("sagemaker")
    # GIVEN at least two approved runs (the module's other tests may have made the second)
    approved = versions(sagemaker, "abalone", APPROVED)
    if len(approved) < 2:
        report = cloud.run_pipeline(approve_all)
        assert report.status == "Succeeded", report.message
        approved = versions(sagemaker, "abalone", APPROVED)
    newest, previous = (summary["ModelPackageArn"] for summary in approved[:2])
    assert version_of(newest) > version_of(previous)
    # THEN each carries metrics and drift baselines whose S3 objects exist and parse
    for arn in (newest, previous):
        described = sagemaker.describe_model_package(ModelPackageName=arn)
        metrics, baselines = described["ModelMetrics"], described["DriftCheckBaselines"]
        assert {"ModelQuality", "ModelDataQuality", "Bias", "Explainability"} <= set(metrics)
        assert {"ModelQuality", "ModelDataQuality"} <= set(baselines)
        for uri in _sources(metrics) + _sources(baselines):
            assert _s3_json(uri), uri
        statistics = _s3_json(metrics["ModelDataQuality"]["Statistics"]["S3Uri"])
        assert "sex" in {feature["name"] for feature in statistics["features"]}
        assert described["MetadataProperties"]["CommitId"]
        assert "Approved in abalone-pipeline" in described["ApprovalDescription"]
    # AND prod's model was created from the newest version
    _wait_for_prod_on(sagemaker, newest)
    # GIVEN the topic's messages in a queue
    topic = cloud.pipeline_stack.outputs["NotificationTopicArn"]
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="registry-announcements")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    boto3.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
    )
    packages_before = versions(sagemaker, "abalone")
    outcomes: list[int] = []
    stop = threading.Event()
    threads = _steady_load(cloud, outcomes, stop)
    try:
        # WHEN the newest version is rejected in the registry, under steady load
        sagemaker.update_model_package(
            ModelPackageArn=newest,
            ModelApprovalStatus="Rejected",
            ApprovalDescription="misbehaves in prod",
        )
        # THEN prod returns to the previous version's model
        _wait_for_prod_on(sagemaker, previous)
        # WHEN every Approved version left is rejected
        for summary in versions(sagemaker, "abalone", APPROVED):
            sagemaker.update_model_package(
                ModelPackageArn=summary["ModelPackageArn"], ModelApprovalStatus="Rejected"
            )
        # THEN the topic hears that none is left, and prod is left as it is
        announced = _wait_for_message(sqs, queue, "no Approved model version left")
        assert "left as it is" in announced
        assert served_package(sagemaker, "abalone-prod") == previous
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for summary in reversed(packages_before):  # oldest first: prod ends on the newest
            if summary["ModelApprovalStatus"] == APPROVED:
                sagemaker.update_model_package(
                    ModelPackageArn=summary["ModelPackageArn"], ModelApprovalStatus=APPROVED
                )
    # AND no request failed during any of it, and nothing was deleted
    assert len(outcomes) > 20
    assert set(outcomes) == {200}, {code: outcomes.count(code) for code in set(outcomes)}
    assert [v["ModelPackageArn"] for v in versions(sagemaker, "abalone")] == [
        v["ModelPackageArn"] for v in packages_before
    ]
    # AND approving again puts the newest back in prod
    _wait_for_prod_on(sagemaker, newest)


def _wait_for_message(sqs: Any, queue: str, subject: str, timeout: float = 120) -> str:
    """The text of the first SNS message with `subject` in its subject."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
            envelope = json.loads(message["Body"])
            if subject in envelope.get("Subject", ""):
                return str(envelope["Message"])
    raise AssertionError(f"no message about {subject!r} in {timeout} s")


def test_a_rejected_approval_marks_the_runs_version_rejected_and_prod_stays(
    cloud: LocalCloud, first_run: RunReport
) -> None:
    sagemaker = boto3.client("sagemaker")
    prod_before = prod_config(cloud)
    # WHEN a run's approval is rejected
    report = cloud.run_pipeline(lambda stage, action, configuration: (False, "not this one"))
    # THEN the run stops at the approval, its version is Rejected with the reason (CodePipeline's
    # action-failed event, the template's rule, RecordApproval), and prod keeps its model
    assert report.status == "Failed"
    assert report.message.startswith("Approve/ApproveProd:"), report.message
    arn = report.artifacts["Registration"]["ModelPackageArn"]
    deadline = time.monotonic() + 60
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    while described["ModelApprovalStatus"] != "Rejected" and time.monotonic() < deadline:
        time.sleep(0.5)
        described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert "not this one" in described["ApprovalDescription"]
    assert prod_config(cloud) == prod_before
