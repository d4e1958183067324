"""The README's "Approve, then call the API" commands, verbatim, against the local cloud.

A run is started with `aws codepipeline start-pipeline-execution`, waits at the approval, is
approved with the README's get-pipeline-state + put-approval-result, prod then answers the
README's curl with the key from `aws apigateway get-api-key --include-value`, and the README's
ground-truth curl labels that prediction by the inference id it answered.
"""

from __future__ import annotations

import json
import time

import pytest

from localcloud.routes import local_urls
from tests.clients.conftest import UserShell
from tests.readme_commands import readme_blocks

pytestmark = pytest.mark.e2e
SECTION = "### 3. Approve, then call the API"


def wait_for(shell: UserShell, what: str, predicate, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = shell.aws("codepipeline", "get-pipeline-state", "--name", "abalone-pipeline")
        if predicate(state):
            return state
        assert time.monotonic() < deadline, f"{what}: {json.dumps(state)[:2000]}"
        time.sleep(2)


def stage(state: dict, name: str) -> dict:
    return next(s for s in state["stageStates"] if s["stageName"] == name)


def test_the_readme_approval_and_api_commands_run_unchanged(shell: UserShell) -> None:
    started = shell.aws("codepipeline", "start-pipeline-execution", "--name", "abalone-pipeline")
    execution_id = started["pipelineExecutionId"]

    def waiting_for_approval(state: dict) -> bool:
        action = stage(state, "Approve")["actionStates"][0].get("latestExecution", {})
        failed = [s["stageName"] for s in state["stageStates"]
                  if s.get("latestExecution", {}).get("status") == "Failed"]  # fmt: skip
        assert not failed, f"stages failed: {failed}"
        return action.get("status") == "InProgress" and bool(action.get("token"))

    wait_for(shell, "no approval waited", waiting_for_approval)
    approve, call_api, label = readme_blocks(SECTION)
    approved = shell.run(approve)
    assert approved.returncode == 0, approved.stderr
    deadline = time.monotonic() + 600
    while True:
        execution = shell.aws(
            "codepipeline", "get-pipeline-execution", "--pipeline-name", "abalone-pipeline",
            "--pipeline-execution-id", execution_id,
        )["pipelineExecution"]  # fmt: skip
        if execution["status"] != "InProgress":
            break
        assert time.monotonic() < deadline, execution
        time.sleep(2)
    assert execution["status"] == "Succeeded", execution
    approval = shell.aws(
        "codepipeline", "list-action-executions", "--pipeline-name", "abalone-pipeline",
        "--filter", f"pipelineExecutionId={execution_id}",
    )["actionExecutionDetails"]  # fmt: skip
    (approve_prod,) = [a for a in approval if a["actionName"] == "ApproveProd"]
    assert approve_prod["output"]["executionResult"]["externalExecutionSummary"] == "Looks good"

    outputs = shell.connection["stacks"]["pipeline"]
    local_prod = local_urls(outputs, shell.connection["api_url"])[outputs["ProdPredictUrl"]]
    script = call_api.replace("<ApiKeyId>", outputs["ApiKeyId"]).replace(
        "<ProdPredictUrl>", local_prod
    )
    answered = shell.run(script.replace("curl -X POST", "curl -s -f -X POST"))
    assert answered.returncode == 0, answered.stderr
    answer = json.loads(answered.stdout)
    predictions = answer["predictions"]
    assert len(predictions) == 1 and isinstance(predictions[0], float)

    # The README's label for that prediction: its id is in capture once the capture is written
    # (about a second), so the recipe is retried as the answer says to until then.
    local_labels = local_urls(outputs, shell.connection["api_url"])[outputs["ProdGroundTruthUrl"]]
    script = (
        label.replace("<ProdGroundTruthUrl>", local_labels)
        .replace("5f0c...-...", answer["inference_id"])
        .replace("curl -X POST", "curl -s -X POST")
    )
    script = f"API_KEY=$(aws apigateway get-api-key --api-key {outputs['ApiKeyId']} " + (
        f"--include-value --query value --output text)\n{script}"
    )
    deadline = time.monotonic() + 60
    while True:
        labelled = shell.run(script)
        assert labelled.returncode == 0, labelled.stderr
        accepted = json.loads(labelled.stdout)
        if "accepted" in accepted or time.monotonic() > deadline:
            break
        assert accepted["message"].startswith("unknown inference ids"), accepted
        time.sleep(1)
    assert accepted["accepted"] == 1, accepted
    assert accepted["s3_uri"].startswith(f"s3://{outputs['DataBucketName']}/ground-truth/")
