"""`python -m localcloud.sagemaker`: prints its URL once listening, answers requests signed with
its environment's credentials (only those), exits 0 on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud.core.signing import Credentials
from tests.conftest import REPO_ROOT


def _client(url: str, credentials: Credentials) -> object:
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
    )


def test_runs_as_its_own_process_until_sigterm(tmp_path: Path) -> None:
    credentials = Credentials.generate()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **credentials.environment()}
    process = subprocess.Popen(
        [sys.executable, "-m", "localcloud.sagemaker", "--state-dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()

        assert url.startswith("http://127.0.0.1:")
        assert _client(url, credentials).list_endpoints()["Endpoints"] == []
        with pytest.raises(ClientError) as excinfo:
            _client(url, Credentials.generate()).list_endpoints()
        assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_refuses_to_start_without_credentials(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    }
    result = subprocess.run(
        [sys.executable, "-m", "localcloud.sagemaker", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in result.stderr
