"""`python -m scripts.registry` as a user runs it against the local cloud: through the
environment `localcloud env` prints (the AWS path: credentials, region, endpoint) and with
`--local`, with the same answers. tests/scripts/test_registry_cli.py covers the rest in moto."""

from __future__ import annotations

import subprocess
import sys

import pytest

from localcloud.client import aws_client
from localcloud.constants import REPO_ROOT
from tests.clients.conftest import UserShell

GROUP = "cliregistry"  # not the stack's group: approving here deploys nothing


def registry(shell: UserShell, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.registry", *args],
        env=shell.environment,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def group(shell: UserShell) -> list[str]:
    """Two versions of GROUP, as RegisterModel leaves them (PendingManualApproval)."""
    sagemaker = aws_client(shell.connection, "sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    return [
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/abalone:x",
                        "ModelDataUrl": "s3://models/job/output/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            MetadataProperties={"CommitId": commit},
            CustomerMetadataProperties={"mse": mse, "rmse": "2.0"},
        )["ModelPackageArn"]
        for commit, mse in (("1111111aaaa", "4.5"), ("2222222bbbb", "4.1"))
    ]


def test_both_ways_list_the_same_versions_newest_first(shell: UserShell, group: list[str]):
    # WHEN listed through the environment (the AWS path) and with --local
    local = ["--local", "--state-dir", str(shell.state_dir)]
    through_env = registry(shell, "--project", GROUP, "list")
    through_local = registry(shell, *local, "--project", GROUP, "list")
    # THEN both print the same rows, version 2 above version 1 (AWS's default is ascending)
    assert through_env.returncode == 0, through_env.stderr
    assert through_local.returncode == 0, through_local.stderr
    rows = through_env.stdout.splitlines()[1:]
    assert rows == through_local.stdout.splitlines()[1:]
    assert rows[0].split()[:6] == ["VERSION", "STATUS", "MSE", "RMSE", "COMMIT", "CREATED"]
    assert rows[1].split()[:5] == ["2", "PendingManualApproval", "4.1", "2.0", "2222222"]
    assert rows[2].split()[:5] == ["1", "PendingManualApproval", "4.5", "2.0", "1111111"]


def test_approve_then_reject_change_the_status_in_the_local_registry(
    shell: UserShell, group: list[str]
):
    sagemaker = aws_client(shell.connection, "sagemaker")
    approved = registry(shell, "--project", GROUP, "approve", "1", "--comment", "looks good")
    assert approved.returncode == 0, approved.stderr
    described = sagemaker.describe_model_package(ModelPackageName=group[0])
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"].endswith(": looks good")
    rejected = registry(shell, "--project", GROUP, "reject", "1")
    assert rejected.returncode == 0, rejected.stderr
    described = sagemaker.describe_model_package(ModelPackageName=group[0])
    assert described["ModelApprovalStatus"] == "Rejected"
