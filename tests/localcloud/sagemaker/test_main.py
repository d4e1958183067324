"""`python -m localcloud.sagemaker`: prints its URL once listening, answers, exits 0 on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3

from tests.conftest import REPO_ROOT


def test_runs_as_its_own_process_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "localcloud.sagemaker", "--state-dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        client = boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

        assert url.startswith("http://127.0.0.1:")
        assert client.list_endpoints()["Endpoints"] == []
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
