"""Load, faults and fuzzing through the local API gateway, short (`make bench` runs them long).

One cloud serves the module; the last test kills prod's instances (which are then replaced).
Speed is not asserted here (bench/ measures it): only that nothing is lost, every
fault is visible, and no request goes unanswered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from bench.fuzz import fuzz, poster
from bench.hardening import kill_a_worker_under_load, kill_the_instance_under_load
from bench.load import Load
from localcloud.cloud import LocalCloud
from localcloud.codepipeline.runner import RunReport
from tests.cloud_support import lift_usage_limits, predict, raw_records
from tests.conftest import running_cloud

pytestmark = pytest.mark.e2e
ENDPOINT = "abalone-prod"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, lambda_zips: Path) -> Iterator[LocalCloud]:
    """The module's cloud, prod kept at its 2 instances (no autoscaling room), so the faults
    below hit a fleet of known size."""
    with running_cloud(tmp_path_factory, lambda_zips, ProdMaxInstanceCount="2") as local_cloud:
        yield local_cloud


@pytest.fixture(scope="module")
def record(cloud: LocalCloud, first_run: RunReport) -> dict[str, Any]:
    """One raw test record, once prod serves the model the pipeline trained."""
    assert first_run.status == "Succeeded", first_run.message
    lift_usage_limits(cloud)  # these loads are far past the template's 25 requests a second
    return raw_records(cloud, 1)[0][0]


def call_prod(cloud: LocalCloud, record: dict[str, Any]) -> Any:
    """One POST /prod/predict per call on the load generator's session; its status."""
    return lambda session: predict(cloud, "prod", [record], session).status_code


def test_a_short_load_through_the_gateway_loses_no_request(
    cloud: LocalCloud, record: dict[str, Any], record_property: Any
) -> None:
    # WHEN 8 clients call prod without pause for 3 s
    with Load(call_prod(cloud, record), concurrency=8) as load:
        time.sleep(3)
    summary = load.summary()
    record_property("load", summary)  # p50/p99 reported, not asserted
    # THEN every request was answered 200
    assert summary["requests"] > 0
    assert summary["errors"] == 0, summary


def test_malformed_bodies_get_4xx_json_from_the_gateway_never_5xx_trace_or_hang(
    cloud: LocalCloud, record: dict[str, Any]
) -> None:
    # GIVEN malformed, oversized, wrongly typed and wrongly encoded bodies (fixed seed)
    with requests.Session() as session:
        send = poster(session, f"{cloud.gateway_url}/prod/predict", {"x-api-key": cloud.api_key})
        # WHEN each is posted THEN each answer is in time, < 500, and a JSON message if an error
        outcome = fuzz(send, record, error_key="message", examples=150, derandomize=True)
    assert outcome["requests"] >= 150


def test_a_killed_serve_worker_is_replaced_and_prod_keeps_answering(
    cloud: LocalCloud, record: dict[str, Any], record_property: Any
) -> None:
    # WHEN one uvicorn worker of prod's serve is SIGKILLed while 4 clients call
    outcome = kill_a_worker_under_load(
        call_prod(cloud, record), cloud.state_dir, ENDPOINT, concurrency=4, before=1, after=1.5
    )
    record_property("worker_kill", outcome)  # errors in the gap are counted, and reported
    # THEN uvicorn started a replacement, requests were answered meanwhile, and after it
    # every request succeeded
    assert outcome["replacement_pids"], outcome
    assert outcome["workers_after"] == 2, outcome
    assert outcome["answered_during_gap"] > 0, outcome
    assert outcome["errors_after_replacement"] == 0, outcome


def test_a_killed_prod_instance_is_replaced_within_seconds_and_prod_stays_in_service(
    cloud: LocalCloud, record: dict[str, Any], record_property: Any
) -> None:
    # WHEN prod's serve processes (both its instances) are SIGKILLed while 4 clients call
    runtime = boto3.client(
        "sagemaker-runtime", config=Config(retries={"max_attempts": 1}, read_timeout=10)
    )
    body = json.dumps({"instances": [record]}).encode()
    outcome = kill_the_instance_under_load(
        call_prod(cloud, record),
        cloud.state_dir,
        ENDPOINT,
        boto3.client("sagemaker"),
        runtime,
        body,
        concurrency=4,
        before=1,
        after=1.5,
        replace_timeout=90,
    )
    record_property("instance_kill", outcome)
    # THEN InvokeEndpoint answered SageMaker's error at once, not a hang (10 s read timeout)
    assert outcome["invoke_error_code"] == "ServiceUnavailable", outcome
    assert outcome["invoke_seconds"] < 2, outcome
    # AND new instances serve, the endpoint InService throughout, nothing failing after
    assert outcome["instances"] == 2, outcome
    assert outcome["statuses_seen"] == ["InService"], outcome
    assert outcome["errors_after_replacement"] == 0, outcome
    assert outcome["answered_after_replacement"] > 0, outcome
    answer = predict(cloud, "prod", [record])
    assert answer.status_code == 200, answer.text
