"""scripts.registry against a moto server: versions as RegisterModel creates them, listed newest
first with the version prod serves marked, shown with their reports, approved and rejected
(once: a second time changes nothing), and each bad input or missing registry as one error line
with its exit status."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from localcloud.background import free_port
from localcloud.client import CONNECTION_FILE
from localcloud.constants import ACCOUNT_ID, REGION
from scripts.registry.command import main
from tests.conftest import REPO_ROOT
from tests.moto_support import use_only_moto

PROJECT = "abalone"
PROD, DEV = f"{PROJECT}-prod", f"{PROJECT}-dev"
EVIDENCE = "abalone-models/models/job-{n}/output/evidence/"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/demo-sagemaker-execution"
IMAGE = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/abalone-model"
COMMITS = {1: "1111111aaaaaaa", 2: "2222222bbbbbbb"}
METRICS = {1: {"mse": 4.8, "rmse": 2.19, "mae": 1.6, "r2": 0.52}, 2: {"mse": 4.5, "rmse": 2.12}}
ERROR_BY_GROUP = {
    "version": 0.0,
    "label": "rings",
    "dataset": {"item_count": 627},
    "groups": {
        "sex": [
            {"value": "F", "count": 199, "mse": 6.25, "mae": 1.9, "mean_error": -0.31},
            {"value": "I", "count": 201, "mse": 2.5, "mae": 1.1, "mean_error": 0.12},
        ]
    },
}
FEATURE_IMPORTANCE = {
    "version": 0.0,
    "method": "permutation",
    "metric": "mse",
    "label": "rings",
    "repeats": 3,
    "seed": 0,
    "baseline_mse": 4.5,
    "features": [
        {"name": "shell_weight", "importance_mean": 3.25, "importance_std": 0.125},
        {"name": "sex", "importance_mean": 0.5, "importance_std": 0.0625},
    ],
}


@dataclass(frozen=True)
class Registry:
    """The moto server's clients and the two versions' ARNs."""

    url: str
    sagemaker: Any
    s3: Any
    arns: dict[int, str]

    def status(self, version: int) -> dict[str, Any]:
        return self.sagemaker.describe_model_package(ModelPackageName=self.arns[version])

    def approve_in_moto(self, version: int) -> None:
        # moto's UpdateModelPackage drops the CustomerMetadataProperties it is not given (AWS
        # keeps them), so the arrangement passes them back.
        metadata = self.status(version)["CustomerMetadataProperties"]
        self.sagemaker.update_model_package(
            ModelPackageArn=self.arns[version],
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties=metadata,
        )

    def serve(self, endpoint: str, version: int | None) -> None:
        """`endpoint` InService with a model from the version's package (DeployModel's prod),
        or with None from an image and model data (dev)."""
        name = f"{endpoint}-{version or 'image'}-{time.monotonic_ns()}"
        container = (
            {"ModelPackageName": self.arns[version]}
            if version
            else {"Image": f"{IMAGE}:{COMMITS[1]}", "ModelDataUrl": "s3://b/model.tar.gz"}
        )
        self.sagemaker.create_model(
            ModelName=name, Containers=[container], ExecutionRoleArn=ROLE_ARN
        )
        self.sagemaker.create_endpoint_config(
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
        endpoints = self.sagemaker.list_endpoints(NameContains=endpoint)["Endpoints"]
        if any(found["EndpointName"] == endpoint for found in endpoints):
            self.sagemaker.delete_endpoint(EndpointName=endpoint)  # moto has no UpdateEndpoint
        self.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=name)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def register(sagemaker: Any, version: int) -> str:
    """CreateModelPackage with RegisterModel's own request (lambdas/register_model/app.py)."""
    app = importlib.import_module("lambdas.register_model.app")  # its clients: made at import
    settings = app.Settings(
        model_package_group=PROJECT,
        data_bucket="abalone-data",
        test_key="pipeline/test/test.csv",
        mse_threshold=6.0,
        repository=PROJECT,
        pipeline_arn=f"arn:aws:codepipeline:{REGION}:{ACCOUNT_ID}:{PROJECT}",
    )
    commit = COMMITS[version]
    evaluation = {
        "metrics": {"mae": 1.5, "r2": 0.55, **METRICS[version]},
        "model_data_url": f"s3://abalone-models/models/job-{version}/output/model.tar.gz",
        "training_job": f"{PROJECT}-train-{version}",
        "reason": "mse below the threshold",
    }
    image = app.Image(f"{IMAGE}:{commit}", "abalone-model", commit, "sha256:" + str(version) * 64)
    names = [
        f"{prefix}-{kind}.json"
        for prefix in ("model-quality", "data-quality")
        for kind in ("statistics", "constraints")
    ] + ["error-by-group.json", "feature-importance.json"]
    prefix = "s3://" + EVIDENCE.format(n=version)
    uris = {name: prefix + name for name in names}
    request = app.registration_request(
        settings, evaluation, image, uris, f"execution-{version}", f"token-{version}"
    )
    return sagemaker.create_model_package(**request)["ModelPackageArn"]


@pytest.fixture
def registry(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A fresh moto with the project's group, versions 1 and 2 (PendingManualApproval) and
    version 2's reports in S3; boto3's environment reaches only moto."""
    use_only_moto(moto_url, monkeypatch, AWS_EC2_METADATA_DISABLED="true")
    monkeypatch.setenv("USER", "tester")
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
    sagemaker.create_model_package_group(ModelPackageGroupName=PROJECT)
    arns = {}
    for version in (1, 2):
        arns[version] = register(sagemaker, version)
        time.sleep(0.01)  # distinct CreationTimes, so newest first has one answer
    bucket, _, key = EVIDENCE.format(n=2).partition("/")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key + "error-by-group.json", Body=json.dumps(ERROR_BY_GROUP))
    s3.put_object(
        Bucket=bucket, Key=key + "feature-importance.json", Body=json.dumps(FEATURE_IMPORTANCE)
    )
    return Registry(moto_url, sagemaker, s3, arns)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """main(argv): (exit status, stdout, stderr); argparse's exits count as statuses."""
    try:
        status = main(list(argv))
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def utc_cells(moment: datetime) -> list[str]:
    """A creation time as the table shows it (two cells: date, time)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S").split()


def rows(output: str) -> list[list[str]]:
    """The table's data rows, split on runs of spaces (the title and header dropped)."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("VERSION"))
    return [line.split() for line in lines[header + 1 :]]


def test_list_is_newest_first_and_marks_the_version_prod_serves(registry, capsys):
    # GIVEN version 1 Approved and served by prod, version 2 pending, dev from an image
    registry.approve_in_moto(1)
    registry.serve(PROD, 1)
    registry.serve(DEV, None)
    # WHEN the versions are listed
    status, out, err = run(capsys, "list")
    # THEN version 2 comes first (ListModelPackages' own order is ascending), each row has its
    # status, MSE, RMSE, short commit and creation time, and only version 1 is marked, by prod
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == f"model package group {PROJECT} in AWS ({REGION}), newest first:"
    assert out.splitlines()[1].split() == [
        "VERSION",
        "STATUS",
        "MSE",
        "RMSE",
        "COMMIT",
        "CREATED",
        "(UTC)",
    ]
    created = {v: registry.status(v)["CreationTime"] for v in (1, 2)}
    assert rows(out) == [
        ["2", "PendingManualApproval", "4.5", "2.12", "2222222", *utc_cells(created[2])],
        ["1", "Approved", "4.8", "2.19", "1111111", *utc_cells(created[1]), "<-", PROD],
    ]


def test_list_json_filters_by_status_with_iso_times(registry, capsys):
    # GIVEN version 1 Approved and served by prod
    registry.approve_in_moto(1)
    registry.serve(PROD, 1)
    # WHEN the Approved versions are listed as JSON
    status, out, _ = run(capsys, "list", "--status", "Approved", "--json")
    # THEN only version 1 is there, described, with the endpoints that serve it and ISO times
    listed = json.loads(out)
    assert status == 0
    assert listed["ModelPackageGroupName"] == PROJECT
    assert listed["Served"] == {PROD: registry.arns[1], DEV: None}
    (package,) = listed["ModelPackages"]
    assert package["ModelPackageArn"] == registry.arns[1]
    assert package["ServedBy"] == [PROD]
    assert package["CustomerMetadataProperties"]["TrainingJobName"] == f"{PROJECT}-train-1"
    created = datetime.fromisoformat(package["CreationTime"])
    assert created == registry.status(1)["CreationTime"]


def test_list_of_a_status_no_version_has_says_so(registry, capsys):
    status, out, _ = run(capsys, "list", "--status", "Rejected")
    assert status == 0
    assert out == f"model package group {PROJECT} in AWS ({REGION}): no Rejected versions\n"


def test_show_says_everything_about_a_version_and_reads_its_reports(registry, capsys):
    # WHEN version 2 is shown with its reports
    status, out, err = run(capsys, "show", "2", "--reports")
    # THEN every field RegisterModel set is there, each report URI, and the two reports read
    # from S3 in a few lines
    assert (status, err) == (0, "")
    fields = dict(line.split("  ", 1) for line in out.split("\n\n")[0].splitlines())
    fields = {name.strip(): value.strip() for name, value in fields.items()}
    evidence = "s3://" + EVIDENCE.format(n=2)
    assert fields["version"] == f"2 of {PROJECT}"
    assert fields["status"] == "PendingManualApproval"
    assert fields["served by"] == "no endpoint"
    assert fields["commit"] == COMMITS[2]
    assert fields["repository"] == PROJECT
    assert fields["generated by"].endswith(f":{PROJECT}/execution/execution-2")
    assert fields["training job"] == f"{PROJECT}-train-2"
    assert fields["image"] == f"{IMAGE}:{COMMITS[2]}"
    assert fields["image digest"] == "sha256:" + "2" * 64
    assert fields["model data"] == "s3://abalone-models/models/job-2/output/model.tar.gz"
    assert fields["metrics"] == "mse 4.5, rmse 2.12, mae 1.5, r2 0.55"
    assert fields["metrics Bias.Report"] == evidence + "error-by-group.json"
    assert fields["metrics Explainability.Report"] == evidence + "feature-importance.json"
    assert fields["metrics ModelQuality.Statistics"] == evidence + "model-quality-statistics.json"
    assert fields["baseline ModelDataQuality.Constraints"] == (
        evidence + "data-quality-constraints.json"
    )
    assert "error by group (label rings, 627 held-out records):" in out
    assert "  sex=F        n=199   mse 6.25     mae 1.9      mean error -0.31" in out
    assert "feature importance (permutation, mse increase over 4.5, 3 repeats):" in out
    assert "  shell_weight  +3.25 ± 0.12" in out


def test_show_json_carries_the_reports_documents(registry, capsys):
    status, out, _ = run(capsys, "--json", "show", "2", "--reports")
    shown = json.loads(out)
    assert status == 0
    assert shown["ModelPackageArn"] == registry.arns[2]
    assert shown["Reports"] == {"Bias": ERROR_BY_GROUP, "Explainability": FEATURE_IMPORTANCE}
    assert datetime.fromisoformat(shown["CreationTime"]).tzinfo is not None


def test_approve_records_who_and_why_and_a_second_approve_changes_nothing(registry, capsys):
    # GIVEN prod serves Approved version 1
    registry.approve_in_moto(1)
    registry.serve(PROD, 1)
    # WHEN version 2 is approved with a comment
    status, out, err = run(capsys, "approve", "2", "--comment", "lower mse")
    # THEN it is Approved, its ApprovalDescription names the CLI, the caller and the comment,
    # and the output says the registry's rule moves prod to it
    described = registry.status(2)
    expected = (
        "Approved with python -m scripts.registry by "
        f"arn:aws:sts::{ACCOUNT_ID}:user/moto (user tester): lower mse"
    )
    assert (status, err) == (0, "")
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == expected
    assert out.splitlines() == [
        f"version 2 of {PROJECT}: PendingManualApproval -> Approved",
        f"  approval: {expected}",
        f"The registry's EventBridge rule now has DeployModel move {PROD} to the newest "
        "Approved version, 2 (it serves version 1).",
    ]
    # WHEN it is approved again THEN nothing changes, and the output says so
    status, out, _ = run(capsys, "approve", "2", "--comment", "again")
    assert status == 0
    assert out.splitlines()[0] == f"version 2 of {PROJECT} is already Approved: nothing changed"
    assert registry.status(2)["ApprovalDescription"] == expected


def test_rejecting_the_version_prod_serves_rolls_back_then_none_is_left(registry, capsys):
    # GIVEN both versions Approved and prod serving the newest, 2
    registry.approve_in_moto(1)
    registry.approve_in_moto(2)
    registry.serve(PROD, 2)
    # WHEN version 2 is rejected (as JSON) THEN it is Rejected and prod goes back to version 1
    status, out, _ = run(capsys, "reject", "2", "--json")
    answer = json.loads(out)
    assert status == 0
    assert registry.status(2)["ModelApprovalStatus"] == "Rejected"
    assert answer == {
        "ModelPackageGroupName": PROJECT,
        "ModelPackageArn": registry.arns[2],
        "ModelPackageVersion": 2,
        "PreviousStatus": "Approved",
        "ModelApprovalStatus": "Rejected",
        "ApprovalDescription": "Rejected with python -m scripts.registry by "
        f"arn:aws:sts::{ACCOUNT_ID}:user/moto (user tester)",
        "Changed": True,
        "Prod": {
            "EndpointName": PROD,
            "ServedModelPackageArn": registry.arns[2],
            "NewestApprovedModelPackageArn": registry.arns[1],
        },
    }
    # WHEN prod has rolled back and version 1 is rejected too THEN no Approved one is left
    registry.serve(PROD, 1)
    status, out, _ = run(capsys, "reject", "1")
    assert status == 0
    assert out.splitlines()[-1] == (
        "No Approved version is left: the registry's EventBridge rule has DeployModel leave "
        f"{PROD} as it is (it serves version 1) and say so on the notification topic; approve a "
        "version to deploy it."
    )
    # WHEN a Rejected version is rejected again THEN nothing changes
    status, out, _ = run(capsys, "reject", "2", "--comment", "again")
    assert status == 0
    assert out.splitlines()[0] == f"version 2 of {PROJECT} is already Rejected: nothing changed"


def test_reject_text_names_the_rollback(registry, capsys):
    registry.approve_in_moto(1)
    registry.approve_in_moto(2)
    registry.serve(PROD, 2)
    status, out, _ = run(capsys, "reject", "2")
    assert status == 0
    assert out.splitlines()[-1] == (
        f"The registry's EventBridge rule now has DeployModel move {PROD} to the newest "
        "Approved version, 1 (it serves version 2, now Rejected)."
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "x"], "argument VERSION: 'x' is not a version number (1, 2, ...)"),
        (["approve", "0"], "argument VERSION: '0' is not a version number (1, 2, ...)"),
        (
            ["--project", "Bad_Name", "list"],
            "argument --project: 'Bad_Name' is not a project name (3 to 24 characters",
        ),
        (["list", "--status", "Done"], "argument --status: invalid choice: 'Done'"),
        (["--local", "--region", "eu-west-1", "list"], "--region does not go with --local"),
        (["--state-dir", "/tmp", "list"], "--state-dir is the local cloud's: use it with --local"),
    ],
)
def test_bad_arguments_are_argparse_errors_with_status_2(capsys, argv, message):
    # WHEN the arguments are wrong THEN argparse's usage and one error line, exit status 2,
    # before anything is asked of AWS
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert err.splitlines()[0].startswith("usage: python -m scripts.registry")
    assert message in err.splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["approve", "1", "--comment", "x" * 1000], 2, "--comment is 1000 characters: the "),
        (
            ["show", "9"],
            1,
            f"model package group '{PROJECT}' has no version 9 (its versions: 1, 2)",
        ),
        (
            ["--project", "other", "list"],
            1,
            f"AWS ({REGION}) has no model package group 'other' (ValidationException: "
            f"ModelPackageGroup arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model-package-group/"
            "other does not exist.); is --project right?",
        ),
    ],
)
def test_what_the_registry_refuses_is_one_error_line(registry, capsys, argv, code, message):
    status, out, err = run(capsys, *argv)
    assert (status, out) == (code, "")
    assert err.startswith(f"python -m scripts.registry: error: {message}")
    assert len(err.splitlines()) == 1
    assert registry.status(1)["ModelApprovalStatus"] == "PendingManualApproval"


def test_an_aws_error_is_its_code_and_message(registry, capsys, monkeypatch):
    # GIVEN a report URI whose object is gone
    bucket, _, key = EVIDENCE.format(n=2).partition("/")
    registry.s3.delete_object(Bucket=bucket, Key=key + "error-by-group.json")
    # WHEN the reports are read THEN S3's NoSuchKey is the error, exit status 1
    status, _, err = run(capsys, "show", "2", "--reports")
    assert status == 1
    assert err == (
        "python -m scripts.registry: error: AWS NoSuchKey in GetObject: "
        "The specified key does not exist.\n"
    )


def test_no_credentials_is_one_line(registry, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    status, _, err = run(capsys, "list")
    assert status == 1
    assert err.startswith("python -m scripts.registry: error: no AWS credentials:")
    assert len(err.splitlines()) == 1


def test_local_reads_the_running_cloud_connection(registry, capsys, tmp_path, monkeypatch):
    # GIVEN no local cloud in this state folder THEN --local says it is not running
    status, _, err = run(capsys, "--local", "--state-dir", str(tmp_path), "list")
    assert status == 1
    assert err == (
        "python -m scripts.registry: error: the local cloud is not running (no live "
        f"{tmp_path / CONNECTION_FILE}): start it with `make up` or `python -m localcloud start`\n"
    )
    # GIVEN a live connection file (this process's pid) to a cloud of project abalone, and an
    # AWS environment that points nowhere THEN --local lists from the connection's endpoint
    connection = {
        "pid": os.getpid(),
        "region": REGION,
        "aws_access_key_id": "local-key",
        "aws_secret_access_key": "local-secret",
        "endpoints": {"default": registry.url},
        "stacks": {"prep": {"ProjectName": PROJECT}, "pipeline": {}},
    }
    (tmp_path / CONNECTION_FILE).write_text(json.dumps(connection))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    status, out, _ = run(capsys, "list", "--local", "--state-dir", str(tmp_path), "--json")
    assert status == 0
    assert json.loads(out)["Where"] == "the local cloud"
    assert [p["ModelPackageVersion"] for p in json.loads(out)["ModelPackages"]] == [2, 1]


def test_python_m_scripts_registry_help():
    result = subprocess.run(
        [sys.executable, "-m", "scripts.registry", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0
    for command in ("list", "show", "approve", "reject", "--local", "--json", "--project"):
        assert command in result.stdout
