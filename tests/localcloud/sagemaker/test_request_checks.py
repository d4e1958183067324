"""Hostile requests to the local SageMaker are refused before any work, with AWS's error codes.

Names are matched whole against botocore's model, nothing built from a request leaves its
folder, and a request's Environment cannot change how the host starts a program.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.processes import base_path
from tests.localcloud.sagemaker.conftest import (
    IMAGE_URI,
    ROLE_ARN,
    Cloud,
    container_processes,
    error_of,
    unique,
)


def _channel(name: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://abalone-data/train/"}
        },
    }


def _files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        (
            "../../../../../elsewhere",
            "1 validation error detected: Value '../../../../../elsewhere' at "
            "'inputDataConfig.1.member.channelName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: [A-Za-z0-9\\.\\-_]+",
        ),
        ("..", "at 'inputDataConfig.1.member.channelName' failed to satisfy constraint"),
        ("train\n", "Member must satisfy regular expression pattern: [A-Za-z0-9\\.\\-_]+"),
    ],
)
def test_a_channel_name_that_would_leave_the_job_folder_is_refused(
    cloud: Cloud, channel: str, message: str
) -> None:
    name = unique("traversal")
    before = _files_under(cloud.state_dir)
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_training_job(
            **cloud.training_job_request(name, InputDataConfig=[_channel(channel)])
        )
    code, text = error_of(excinfo)
    assert code == "ValidationException"
    assert message in text
    # nothing was created, in the state folder or beside it
    assert _files_under(cloud.state_dir) == before
    assert not (cloud.state_dir.parent / "elsewhere").exists()
    with pytest.raises(ClientError) as missing:
        cloud.sagemaker.describe_training_job(TrainingJobName=name)
    assert error_of(missing)[0] == "ResourceNotFound"


@pytest.mark.parametrize("name", ["abc\n", "abc\ndef", "-abc", "a" * 64])
def test_names_are_matched_whole(cloud: Cloud, name: str) -> None:
    before = _files_under(cloud.state_dir)
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_training_job(**cloud.training_job_request(name))
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert "at 'trainingJobName' failed to satisfy constraint" in message
    assert _files_under(cloud.state_dir) == before


@pytest.mark.parametrize(
    "variable",
    [
        "PATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "LD_PRELOAD",
        "SAGEMAKER_BASE_DIR",
        "SMDEBUG_CONFIG_FILE_PATH",
    ],
)
def test_an_environment_that_changes_how_the_host_starts_programs_is_refused(
    cloud: Cloud, variable: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_training_job(
            **cloud.training_job_request(unique("env"), Environment={variable: "/tmp/evil"})
        )
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert f"Environment variable {variable} at 'environment' cannot be set" in message

    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_model(
            ModelName=unique("env-model"),
            PrimaryContainer={"Image": IMAGE_URI, "Environment": {variable: "x"}},
            ExecutionRoleArn=ROLE_ARN,
        )
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert f"{variable} at 'primaryContainer.environment' cannot be set" in message


def test_a_program_gets_a_clean_environment_not_the_clouds(cloud: Cloud, endpoint: str) -> None:
    # GIVEN this process (the cloud's) holds the credentials; WHEN serve runs THEN its doesn't
    processes = container_processes(cloud.state_dir / "sagemaker" / "endpoints" / endpoint)
    assert processes
    for environment in processes.values():
        assert "AWS_SECRET_ACCESS_KEY" not in environment
        assert cloud.credentials.secret_access_key not in environment.values()
        assert environment["PATH"] == base_path()


def test_runtime_members_the_local_sagemaker_does_not_serve_are_refused(
    cloud: Cloud, endpoint: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        cloud.runtime.invoke_endpoint(
            EndpointName=endpoint,
            Body=b"1",
            ContentType="text/csv",
            TargetModel="other.tar.gz",
        )
    code, message = error_of(excinfo)
    assert code == "ValidationError"
    assert "does not support TargetModel" in message


def test_runtime_headers_are_checked_against_the_model(cloud: Cloud, endpoint: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        cloud.runtime.invoke_endpoint(
            EndpointName=endpoint,
            Body=b"1",
            ContentType="text/csv",
            InferenceId="x" * 65,
        )
    code, message = error_of(excinfo)
    assert code == "ValidationError"
    assert "at 'inferenceId' failed to satisfy constraint: Member must have length less" in message
