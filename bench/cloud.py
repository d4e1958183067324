"""The local cloud as a user meets it: `python -m localcloud up` in the background, then measured.

The cloud runs in its own processes (as with `make up`), so the bench's clients do not share an
interpreter with the gateway they measure. Gives the pipeline's run report, the gateway's p50
overhead over a direct InvokeEndpoint, and boto3 clients for the hardening runs.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from bench.usage_limits import lift_usage_limits
from localcloud.apigateway.server import REFRESH_SECONDS
from localcloud.background import free_port
from localcloud.client import read_connection
from localcloud.samples import sample_records
from localcloud.stacks import REPO_ROOT

ENDPOINT = "abalone-prod"


@dataclass(frozen=True)
class Cloud:
    """A running local cloud: where to reach it and what its first pipeline run reported."""

    state_dir: Path
    connection: dict[str, Any]
    report: dict[str, Any]
    up_seconds: float

    @property
    def predict_url(self) -> str:
        """The prod stage's POST /predict."""
        return f"{self.connection['api_url']}/prod/predict"

    @property
    def api_key(self) -> str:
        """The key the gateway requires."""
        return str(self.connection["api_key"])

    def client(self, service: str) -> Any:
        """A boto3 client of one of the local cloud's services (through its edge), retries off."""
        return boto3.client(
            service,
            endpoint_url=self.connection["endpoints"]["default"],
            region_name=self.connection["region"],
            aws_access_key_id=self.connection["aws_access_key_id"],
            aws_secret_access_key=self.connection["aws_secret_access_key"],
            config=Config(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=5),
        )

    def record(self) -> dict[str, Any]:
        """The first test-split record, raw, as a client sends it."""
        return sample_records(self.state_dir / "data", 1)[0][0]

    def gateway_call(self, body: bytes) -> Callable[[requests.Session], int]:
        """One POST /prod/predict with the API key, for the load generator."""
        return predict_call(self.predict_url, self.api_key, body)


def predict_call(url: str, api_key: str, body: bytes) -> Callable[[requests.Session], int]:
    """One POST of `body` to a /predict URL with the API key: its status, for `Load`."""
    headers = {"Content-Type": "application/json", "x-api-key": api_key}
    return lambda session: session.post(url, data=body, headers=headers, timeout=30).status_code


@contextmanager
def local_cloud(work: Path, dist: Path) -> Iterator[Cloud]:
    """`localcloud up --auto-approve` on a private state dir and port; `down` at the end."""
    state_dir = work / "localcloud"
    base = [sys.executable, "-m", "localcloud", "--state-dir", str(state_dir), "--dist", str(dist)]
    log_path = work / "localcloud-up.log"
    started = time.monotonic()
    try:
        with log_path.open("w") as log:
            up = subprocess.run(
                [*base, "up", "--auto-approve", "--port", str(free_port())],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                check=False,
            )
        up_seconds = time.monotonic() - started
        connection = read_connection(state_dir)
        if up.returncode != 0 or connection is None:
            raise RuntimeError(f"`localcloud up` failed; see {log_path}")
        report = json.loads((state_dir / "runs" / "latest.json").read_text())
        cloud = Cloud(state_dir, connection, report, round(up_seconds, 1))
        lift_usage_limits(cloud.client("apigateway"), connection["stacks"]["pipeline"])
        time.sleep(2 * REFRESH_SECONDS)  # the gateway picks the new limits up
        yield cloud
    finally:
        subprocess.run([*base, "down"], capture_output=True, cwd=REPO_ROOT, check=False)


def pipeline_figures(cloud: Cloud) -> dict[str, Any]:
    """Seconds of the whole run and of each stage, from the run report."""
    report = cloud.report
    return {
        "status": report["status"],
        "seconds": round(report["seconds"], 1),
        "stages": {stage["name"]: round(stage["seconds"], 1) for stage in report["stages"]},
        "cloud_start_and_run_wall_seconds": cloud.up_seconds,
    }


def gateway_overhead(cloud: Cloud, requests_each: int, warmup: int = 50) -> dict[str, Any]:
    """p50 of POST /prod/predict against p50 of a direct InvokeEndpoint, one record, alternating."""
    body = json.dumps({"instances": [cloud.record()]}).encode()
    runtime = cloud.client("sagemaker-runtime")
    call = cloud.gateway_call(body)
    gateway, direct = [], []
    with requests.Session() as session:
        for index in range(warmup + requests_each):
            started = time.perf_counter()
            status = call(session)
            middle = time.perf_counter()
            answer = runtime.invoke_endpoint(
                EndpointName=ENDPOINT, Body=body, ContentType="application/json"
            )
            answer["Body"].read()
            ended = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"POST /prod/predict answered {status}")
            if index >= warmup:
                gateway.append(middle - started)
                direct.append(ended - middle)
    gateway_ms = statistics.median(gateway) * 1000
    direct_ms = statistics.median(direct) * 1000
    return {
        "requests_each": requests_each,
        "gateway_p50_ms": round(gateway_ms, 2),
        "direct_invoke_p50_ms": round(direct_ms, 2),
        "overhead_p50_ms": round(gateway_ms - direct_ms, 2),
    }
