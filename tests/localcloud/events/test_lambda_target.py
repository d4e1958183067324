"""A rule with a Lambda target invokes the function in the local runtime, asynchronously."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.events import EventBus, Rule, Target, TargetServices
from localcloud.lambda_runtime import LambdaFunction, LambdaRuntime
from tests.localcloud.lambda_runtime.conftest import build_zip

HANDLER = """
    import json, os

    def handler(event, context):
        with open(os.environ["OUT"] + ".partial", "w") as out:
            json.dump(event, out)
        os.replace(os.environ["OUT"] + ".partial", os.environ["OUT"])  # seen whole or not at all
"""


def test_a_matching_event_reaches_the_function_in_the_local_runtime(tmp_path: Path) -> None:
    # GIVEN a function in the local runtime and a rule that sends endpoint changes to it
    runtime = LambdaRuntime(tmp_path / "state", {"AWS_REGION": REGION})
    out = tmp_path / "event.json"
    runtime.register(
        LambdaFunction("on-endpoint", build_zip({"app.py": HANDLER}), "app.handler", {"OUT": out})
    )
    rule = Rule(
        name="endpoints",
        arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/endpoints",
        enabled=True,
        targets=(Target(id="fn", arn=runtime.arn("on-endpoint")),),
        pattern={"source": ["aws.sagemaker"], "detail": {"EndpointStatus": ["InService"]}},
    )
    services = TargetServices(
        start_pipeline_execution=lambda name, trigger, event: pytest.fail("no pipeline target"),
        invoke_lambda=runtime.invoke_async,
        publish_sns=lambda topic, message: pytest.fail("no topic target"),
    )
    bus = EventBus([rule], services, account_id=ACCOUNT_ID, region=REGION)
    try:
        # WHEN a local service puts the endpoint's state change on the bus
        put = bus.put_event(
            "aws.sagemaker",
            "SageMaker Endpoint State Change",
            {"EndpointName": "abalone-dev", "EndpointStatus": "InService"},
            [f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:endpoint/abalone-dev"],
        )
        # THEN the call returns at once and the function gets the event in AWS's envelope
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        received = json.loads(out.read_text())
    finally:
        bus.stop()
        runtime.shutdown()
    assert received == put
    assert received["account"] == ACCOUNT_ID and received["region"] == REGION
    assert received["detail-type"] == "SageMaker Endpoint State Change"
