"""The pipeline API through a real boto3 client, on a four-stage pipeline whose actions are fast.

The Lambda actions are stand-ins that report through the job API with boto3, as the real
functions do (the real ones run in `test_pipeline_in_cloud.py`); everything around them is the
real service: executions, stage states, approvals, stops, retries, transitions and errors.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.codepipeline import CodePipelineService
from localcloud.codepipeline.definition import Action, PipelineDefinition, Stage
from localcloud.codepipeline.runner import ActionServices
from localcloud.core.signing import Credentials
from tests.localcloud.codepipeline.support import codepipeline_client, wait_for
from tests.readme_commands import AWS_CLI, readme_blocks

CREDENTIALS = Credentials.generate()
PIPELINE = "abalone-pipeline"  # the README's commands name it
# The README's two commands: the token from get-pipeline-state, then put-approval-result.
APPROVAL_RECIPE = readme_blocks("### 3. Approve, then call the API")[0]
ACCOUNT = "123456789012"


def invoke(name: str, function: str, run_order: int = 1) -> Action:
    return Action(name, "Invoke", "Lambda", {"FunctionName": function}, (), (), run_order)


DEFINITION = PipelineDefinition(
    name=PIPELINE,
    artifact_bucket="demo-artifacts",
    stages=(
        Stage("Build", (invoke("Compile", "compile"),)),
        Stage("Test", (invoke("UnitTests", "unit-tests"), invoke("Lint", "lint", 2))),
        Stage(
            "Approve",
            (Action("ApproveProd", "Approval", "Manual", {"CustomData": "ok?"}, (), (), 1),),
        ),
        Stage("Deploy", (invoke("DeployProd", "deploy"),)),
    ),
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/demo-pipeline-role",
    pipeline_type="V2",
)


class Functions:
    """Stand-ins for the pipeline's Lambdas: each reports its job's result through the job API
    with boto3; `failing` ones report failure, `held` ones wait until released."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.failing: set[str] = set()
        self.held: dict[str, threading.Event] = {}
        self.calls: list[str] = []

    def __call__(self, function: str, event: dict[str, Any]) -> SimpleNamespace:
        self.calls.append(function)
        job_id = event["CodePipeline.job"]["id"]
        if function in self.held:
            self.held[function].wait(timeout=30)
        if function in self.failing:
            self.client.put_job_failure_result(
                jobId=job_id, failureDetails={"type": "JobFailed", "message": f"{function} broke"}
            )
        else:
            self.client.put_job_success_result(
                jobId=job_id,
                executionDetails={"summary": f"{function} done", "externalExecutionId": function},
            )
        return SimpleNamespace(error=None)


@pytest.fixture
def service() -> Iterator[CodePipelineService]:
    served = CodePipelineService(CREDENTIALS, port=0)
    served.start()
    yield served
    served.stop()


@pytest.fixture
def codepipeline(service: CodePipelineService) -> Any:
    return codepipeline_client(service.url, CREDENTIALS)


@pytest.fixture
def functions(service: CodePipelineService, codepipeline: Any) -> Iterator[Functions]:
    stand_ins = Functions(codepipeline)
    services = ActionServices(
        s3=None,
        jobs=service.jobs,
        invoke_lambda=stand_ins,
        source_code=lambda: (b"", ""),
        build_image=lambda *args: b"",
        artifact_credentials=Credentials.generate(temporary=True),
        poll_seconds=0.05,
    )
    service.pipelines.add_pipeline(DEFINITION, lambda model_code: services)
    yield stand_ins
    for event in stand_ins.held.values():
        event.set()


def error_of(call: Callable[..., Any], **parameters: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**parameters)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def stage_state(codepipeline: Any, stage: str) -> dict[str, Any]:
    state = codepipeline.get_pipeline_state(name=PIPELINE)
    return next(s for s in state["stageStates"] if s["stageName"] == stage)


def status_of(codepipeline: Any, execution_id: str) -> str:
    execution = codepipeline.get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id
    )
    return str(execution["pipelineExecution"]["status"])


def ends_as(codepipeline: Any, execution_id: str, status: str) -> None:
    wait_for(lambda: status_of(codepipeline, execution_id) == status)


def approval_token(codepipeline: Any) -> str:
    """The README's recipe: the Approve stage's first action's token, once it waits."""
    return str(
        wait_for(
            lambda: (
                stage_state(codepipeline, "Approve")["actionStates"][0]
                .get("latestExecution", {})
                .get("token")
            )
        )
    )


def answer(codepipeline: Any, token: str, status: str = "Approved", summary: str = "ok") -> Any:
    return codepipeline.put_approval_result(
        pipelineName=PIPELINE,
        stageName="Approve",
        actionName="ApproveProd",
        result={"summary": summary, "status": status},
        token=token,
    )


def transition(codepipeline: Any, stage: str, kind: str, disabled_for: str | None) -> None:
    """Disable a transition (with the reason given) or, with None, enable it again."""
    where = {"pipelineName": PIPELINE, "stageName": stage, "transitionType": kind}
    if disabled_for is None:
        codepipeline.enable_stage_transition(**where)
    else:
        codepipeline.disable_stage_transition(**where, reason=disabled_for)


def start_held(codepipeline: Any, functions: Functions) -> str:
    """An execution whose first action (Compile) is running and held there."""
    functions.held["compile"] = threading.Event()
    execution_id = start(codepipeline)
    wait_for(lambda: functions.calls == ["compile"])
    return execution_id


def start(codepipeline: Any, **parameters: Any) -> str:
    return str(
        codepipeline.start_pipeline_execution(name=PIPELINE, **parameters)["pipelineExecutionId"]
    )


def test_get_pipeline_and_list_pipelines_describe_the_definition(
    codepipeline: Any, functions: Functions
) -> None:
    answer_ = codepipeline.get_pipeline(name=PIPELINE)
    pipeline = answer_["pipeline"]
    assert pipeline["name"] == PIPELINE
    assert pipeline["roleArn"] == DEFINITION.role_arn
    assert pipeline["artifactStore"] == {"type": "S3", "location": "demo-artifacts"}
    assert (pipeline["version"], pipeline["pipelineType"], pipeline["executionMode"]) == (
        1,
        "V2",
        "SUPERSEDED",
    )
    assert [s["name"] for s in pipeline["stages"]] == ["Build", "Test", "Approve", "Deploy"]
    lint = pipeline["stages"][1]["actions"][1]
    assert lint == {
        "name": "Lint",
        "actionTypeId": {
            "category": "Invoke",
            "owner": "AWS",
            "provider": "Lambda",
            "version": "1",
        },
        "runOrder": 2,
        "configuration": {"FunctionName": "lint"},
        "inputArtifacts": [],
        "outputArtifacts": [],
    }
    assert (
        answer_["metadata"]["pipelineArn"] == f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:{PIPELINE}"
    )
    (summary,) = codepipeline.list_pipelines()["pipelines"]
    assert (summary["name"], summary["version"], summary["executionMode"]) == (
        PIPELINE,
        1,
        "SUPERSEDED",
    )
    assert error_of(codepipeline.get_pipeline, name="nope") == (
        "PipelineNotFoundException",
        f"Account '{ACCOUNT}' does not have a pipeline with name 'nope'",
    )
    assert error_of(codepipeline.get_pipeline, name=PIPELINE, version=2)[0] == (
        "PipelineVersionNotFoundException"
    )


def test_the_readme_approval_recipe_approves_and_the_run_succeeds(
    codepipeline: Any, functions: Functions
) -> None:
    # GIVEN an execution waiting at the manual approval
    execution_id = start(codepipeline)
    token = approval_token(codepipeline)
    approve = stage_state(codepipeline, "Approve")
    assert approve["latestExecution"] == {
        "pipelineExecutionId": execution_id,
        "status": "InProgress",
        "type": "STANDARD",
    }
    assert approve["actionStates"][0]["latestExecution"]["status"] == "InProgress"
    assert status_of(codepipeline, execution_id) == "InProgress"
    # WHEN the token from get-pipeline-state is given to put-approval-result
    approved = answer(codepipeline, token, summary="Looks good")
    # THEN the run goes on to deploy and succeeds
    assert approved["approvedAt"].timestamp() == pytest.approx(time.time(), abs=10)
    ends_as(codepipeline, execution_id, "Succeeded")
    latest = stage_state(codepipeline, "Approve")["actionStates"][0]["latestExecution"]
    assert latest["status"] == "Succeeded"
    assert latest["summary"] == "Looks good"
    assert latest["lastUpdatedBy"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert "token" not in latest
    deploy = stage_state(codepipeline, "Deploy")
    assert deploy["latestExecution"]["status"] == "Succeeded"
    assert deploy["actionStates"][0]["latestExecution"]["summary"] == "deploy done"
    assert functions.calls == ["compile", "unit-tests", "lint", "deploy"]
    # AND the same token again is an approval already completed
    assert error_of(answer, codepipeline=codepipeline, token=token) == (
        "ApprovalAlreadyCompletedException",
        "The approval action has already been approved or rejected.",
    )
    # AND every action execution is listed, newest first, with its input and result
    details = codepipeline.list_action_executions(
        pipelineName=PIPELINE, filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    assert [d["actionName"] for d in details] == [
        "DeployProd",
        "ApproveProd",
        "Lint",
        "UnitTests",
        "Compile",
    ]
    assert {d["status"] for d in details} == {"Succeeded"}
    assert details[0]["input"]["configuration"] == {"FunctionName": "deploy"}
    assert details[0]["output"]["executionResult"] == {
        "externalExecutionId": "deploy",
        "externalExecutionSummary": "deploy done",
    }
    assert details[1]["output"]["executionResult"]["externalExecutionId"] == token
    assert details[1]["updatedBy"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_put_approval_result_checks_pipeline_stage_action_and_token(
    codepipeline: Any, functions: Functions
) -> None:
    execution_id = start(codepipeline)
    token = approval_token(codepipeline)
    stranger = str(uuid.uuid4())

    def put(**overrides: Any) -> tuple[str, str]:
        parameters = {
            "pipelineName": PIPELINE,
            "stageName": "Approve",
            "actionName": "ApproveProd",
            "result": {"summary": "s", "status": "Approved"},
            "token": token,
            **overrides,
        }
        return error_of(codepipeline.put_approval_result, **parameters)

    assert put(pipelineName="nope")[0] == "PipelineNotFoundException"
    assert put(stageName="Nope") == (
        "StageNotFoundException",
        f"Stage 'Nope' does not exist in pipeline '{PIPELINE}'",
    )
    assert put(actionName="Nope") == (
        "ActionNotFoundException",
        "Action 'Nope' does not exist in stage 'Approve'",
    )
    code, message = put(token=stranger)
    assert code == "InvalidApprovalTokenException"
    assert stranger in message
    assert put(stageName="Deploy", actionName="DeployProd")[0] == "InvalidApprovalTokenException"
    code, message = put(token="not-a-uuid")
    assert code == "ValidationException"
    assert "Member must satisfy regular expression pattern" in message
    code, message = put(result={"summary": "s", "status": "Maybe"})
    assert (code, message.split(":")[0]) == ("ValidationException", "1 validation error detected")
    # the approval still waits, and the right token still works
    assert status_of(codepipeline, execution_id) == "InProgress"
    answer(codepipeline, token)
    ends_as(codepipeline, execution_id, "Succeeded")


def test_a_rejection_fails_the_run_before_deploy(codepipeline: Any, functions: Functions) -> None:
    execution_id = start(codepipeline)
    answer(codepipeline, approval_token(codepipeline), status="Rejected", summary="MSE too high")
    ends_as(codepipeline, execution_id, "Failed")
    latest = stage_state(codepipeline, "Approve")["actionStates"][0]["latestExecution"]
    assert latest["status"] == "Failed"
    assert latest["errorDetails"] == {"code": "JobFailed", "message": "Rejected: MSE too high"}
    execution = codepipeline.get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id
    )["pipelineExecution"]
    assert execution["statusSummary"] == "Approve/ApproveProd: Rejected: MSE too high"
    assert "deploy" not in functions.calls
    assert "latestExecution" not in stage_state(codepipeline, "Deploy")


def test_stop_and_abandon_ends_a_waiting_approval(codepipeline: Any, functions: Functions) -> None:
    execution_id = start(codepipeline)
    token = approval_token(codepipeline)
    stopped = codepipeline.stop_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id, abandon=True, reason="wrong data"
    )
    assert stopped["pipelineExecutionId"] == execution_id
    ends_as(codepipeline, execution_id, "Stopped")
    approve = stage_state(codepipeline, "Approve")
    assert approve["latestExecution"]["status"] == "Stopped"
    assert approve["actionStates"][0]["latestExecution"]["status"] == "Abandoned"
    (summary,) = codepipeline.list_pipeline_executions(pipelineName=PIPELINE)[
        "pipelineExecutionSummaries"
    ]
    assert summary["status"] == "Stopped"
    assert summary["stopTrigger"] == {"reason": "wrong data"}
    # the abandoned approval's token has expired, and a finished run cannot be stopped
    assert error_of(answer, codepipeline=codepipeline, token=token)[0] == (
        "InvalidApprovalTokenException"
    )
    code, message = error_of(
        codepipeline.stop_pipeline_execution,
        pipelineName=PIPELINE,
        pipelineExecutionId=execution_id,
    )
    assert code == "PipelineExecutionNotStoppableException"
    assert "it is Stopped" in message
    unknown = str(uuid.uuid4())
    assert error_of(
        codepipeline.stop_pipeline_execution, pipelineName=PIPELINE, pipelineExecutionId=unknown
    )[0] == ("PipelineExecutionNotStoppableException")


def test_stop_and_wait_lets_the_action_in_progress_finish(
    codepipeline: Any, functions: Functions
) -> None:
    # GIVEN an execution whose first action is still running
    execution_id = start_held(codepipeline, functions)
    # WHEN it is stopped without abandoning
    codepipeline.stop_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id, reason="not now"
    )
    # THEN it is Stopping until the action finishes, and the same stop again is refused
    assert status_of(codepipeline, execution_id) == "Stopping"
    assert stage_state(codepipeline, "Build")["latestExecution"]["status"] == "Stopping"
    code, message = error_of(
        codepipeline.stop_pipeline_execution,
        pipelineName=PIPELINE,
        pipelineExecutionId=execution_id,
    )
    assert code == "DuplicatedStopRequestException"
    assert execution_id in message
    functions.held["compile"].set()
    ends_as(codepipeline, execution_id, "Stopped")
    # AND the action it let finish succeeded, and nothing after it started
    build = stage_state(codepipeline, "Build")
    assert build["actionStates"][0]["latestExecution"]["status"] == "Succeeded"
    assert functions.calls == ["compile"]
    assert "latestExecution" not in stage_state(codepipeline, "Test")


def test_a_failed_stage_is_retried_by_failed_actions_and_then_all_actions(
    codepipeline: Any, functions: Functions
) -> None:
    # GIVEN a run whose Test stage failed on its second action
    functions.failing.add("lint")
    execution_id = start(codepipeline)
    ends_as(codepipeline, execution_id, "Failed")
    test = stage_state(codepipeline, "Test")
    assert test["latestExecution"]["status"] == "Failed"
    unit_tests, lint = (a["latestExecution"] for a in test["actionStates"])
    assert (unit_tests["status"], lint["status"]) == ("Succeeded", "Failed")
    assert lint["errorDetails"] == {"code": "JobFailed", "message": "lint broke"}

    def retry(stage: str, mode: str, execution: str = execution_id) -> Any:
        return codepipeline.retry_stage_execution(
            pipelineName=PIPELINE, stageName=stage, pipelineExecutionId=execution, retryMode=mode
        )

    # a stage the execution never reached, a stage that succeeded, or another id: refused
    assert error_of(retry, stage="Deploy", mode="ALL_ACTIONS")[0] == (
        "NotLatestPipelineExecutionException"
    )
    code, message = error_of(retry, stage="Build", mode="ALL_ACTIONS")
    assert (code, "Succeeded" in message) == ("StageNotRetryableException", True)
    assert error_of(retry, stage="Nope", mode="ALL_ACTIONS")[0] == "StageNotFoundException"
    assert error_of(retry, stage="Test", mode="ALL_ACTIONS", execution=str(uuid.uuid4()))[0] == (
        "NotLatestPipelineExecutionException"
    )
    # WHEN the cause is fixed and the failed actions are retried
    functions.failing.clear()
    assert retry("Test", "FAILED_ACTIONS")["pipelineExecutionId"] == execution_id
    # THEN only Lint runs again, and the same execution goes on to the approval
    token = approval_token(codepipeline)
    test = stage_state(codepipeline, "Test")
    assert test["latestExecution"] == {
        "pipelineExecutionId": execution_id,
        "status": "Succeeded",
        "type": "STANDARD",
    }
    assert test["retryStageMetadata"]["manualStageRetryAttempt"] == 1
    assert (
        test["actionStates"][0]["latestExecution"]["actionExecutionId"]
        == (unit_tests["actionExecutionId"])
    )
    assert functions.calls == ["compile", "unit-tests", "lint", "lint"]
    # WHEN the approval is rejected, and the Approve stage retried with all its actions
    answer(codepipeline, token, status="Rejected")
    ends_as(codepipeline, execution_id, "Failed")
    retry("Approve", "ALL_ACTIONS")
    second = approval_token(codepipeline)
    assert second != token
    code, _ = error_of(retry, stage="Approve", mode="ALL_ACTIONS")
    assert code == "StageNotRetryableException"  # the execution is in progress again
    answer(codepipeline, second)
    ends_as(codepipeline, execution_id, "Succeeded")
    # AND the history keeps every attempt
    details = codepipeline.list_action_executions(pipelineName=PIPELINE)["actionExecutionDetails"]
    attempts = [(d["actionName"], d["status"]) for d in details]
    assert attempts.count(("Lint", "Failed")) == 1
    assert attempts.count(("ApproveProd", "Failed")) == 1
    assert attempts.count(("ApproveProd", "Succeeded")) == 1


def test_a_disabled_transition_holds_an_execution_until_enabled(
    codepipeline: Any, functions: Functions
) -> None:
    transition(codepipeline, "Approve", "Inbound", "Change freeze")
    inbound = stage_state(codepipeline, "Approve")["inboundTransitionState"]
    assert inbound["enabled"] is False
    assert inbound["disabledReason"] == "Change freeze"
    assert inbound["lastChangedBy"] == f"arn:aws:iam::{ACCOUNT}:root"
    # WHEN an execution reaches the disabled transition
    execution_id = start(codepipeline)
    held = wait_for(lambda: stage_state(codepipeline, "Approve").get("inboundExecution"))
    # THEN it waits there, in progress, with Test done and Approve not entered
    assert held == {"pipelineExecutionId": execution_id, "status": "InProgress", "type": "STANDARD"}
    time.sleep(0.3)
    assert status_of(codepipeline, execution_id) == "InProgress"
    assert stage_state(codepipeline, "Test")["latestExecution"]["status"] == "Succeeded"
    assert "latestExecution" not in stage_state(codepipeline, "Approve")
    # WHEN the transition is enabled, THEN it enters the stage
    transition(codepipeline, "Approve", "Inbound", None)
    answer(codepipeline, approval_token(codepipeline))
    ends_as(codepipeline, execution_id, "Succeeded")
    approve = stage_state(codepipeline, "Approve")
    assert approve["inboundTransitionState"]["enabled"] is True
    assert "inboundExecution" not in approve
    # AND an unknown stage is refused
    assert error_of(
        codepipeline.disable_stage_transition,
        pipelineName=PIPELINE,
        stageName="Nope",
        transitionType="Inbound",
        reason="x",
    )[0] == ("StageNotFoundException")


def test_an_outbound_transition_holds_after_the_stage(
    codepipeline: Any, functions: Functions
) -> None:
    transition(codepipeline, "Build", "Outbound", "hold")
    execution_id = start(codepipeline)
    assert wait_for(lambda: stage_state(codepipeline, "Test").get("inboundExecution"))
    assert stage_state(codepipeline, "Build")["latestExecution"]["status"] == "Succeeded"
    assert functions.calls == ["compile"]
    transition(codepipeline, "Build", "Outbound", None)
    approval_token(codepipeline)
    assert status_of(codepipeline, execution_id) == "InProgress"


def test_a_newer_execution_supersedes_one_waiting_at_the_same_stage(
    codepipeline: Any, functions: Functions
) -> None:
    # GIVEN an execution waiting at a disabled transition
    transition(codepipeline, "Deploy", "Inbound", "Hold")
    first = start(codepipeline)
    answer(codepipeline, approval_token(codepipeline))
    wait_for(lambda: stage_state(codepipeline, "Deploy").get("inboundExecution"))
    # WHEN a newer execution arrives there too
    second = start(codepipeline)
    answer(codepipeline, approval_token(codepipeline))
    # THEN the older one is superseded, and the newer one waits in its place
    ends_as(codepipeline, first, "Superseded")
    waiting = wait_for(
        lambda: (
            stage_state(codepipeline, "Deploy")
            .get("inboundExecution", {})
            .get("pipelineExecutionId")
            == second
        )
    )
    assert waiting
    execution = codepipeline.get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=first
    )["pipelineExecution"]
    assert execution["statusSummary"] == f"Superseded by execution {second}"
    transition(codepipeline, "Deploy", "Inbound", None)
    ends_as(codepipeline, second, "Succeeded")
    assert functions.calls.count("deploy") == 1


def test_executions_are_listed_newest_first_a_page_at_a_time(
    codepipeline: Any, functions: Functions
) -> None:
    started = []
    for _ in range(3):
        started.append(start(codepipeline))
        answer(codepipeline, approval_token(codepipeline))
        ends_as(codepipeline, started[-1], "Succeeded")
    first = codepipeline.list_pipeline_executions(pipelineName=PIPELINE, maxResults=2)
    assert [s["pipelineExecutionId"] for s in first["pipelineExecutionSummaries"]] == started[:0:-1]
    second = codepipeline.list_pipeline_executions(
        pipelineName=PIPELINE, maxResults=2, nextToken=first["nextToken"]
    )
    assert [s["pipelineExecutionId"] for s in second["pipelineExecutionSummaries"]] == started[:1]
    assert "nextToken" not in second
    summary = second["pipelineExecutionSummaries"][0]
    assert summary["trigger"] == {"triggerType": "StartPipelineExecution", "triggerDetail": ""}
    assert summary["startTime"] <= summary["lastUpdateTime"]
    paginator = codepipeline.get_paginator("list_pipeline_executions")
    pages = list(paginator.paginate(pipelineName=PIPELINE, PaginationConfig={"PageSize": 1}))
    assert [p["pipelineExecutionSummaries"][0]["pipelineExecutionId"] for p in pages] == started[
        ::-1
    ]
    filtered = codepipeline.list_pipeline_executions(
        pipelineName=PIPELINE, filter={"succeededInStage": {"stageName": "Deploy"}}
    )
    assert len(filtered["pipelineExecutionSummaries"]) == 3
    actions = codepipeline.list_action_executions(pipelineName=PIPELINE, maxResults=4)
    assert len(actions["actionExecutionDetails"]) == 4 and actions["nextToken"]
    assert error_of(
        codepipeline.list_pipeline_executions, pipelineName=PIPELINE, nextToken="garbage"
    ) == (
        "InvalidNextTokenException",
        "The next token was specified in an invalid format. Make sure that the next token you "
        "provide is the token returned by a previous call.",
    )
    assert error_of(codepipeline.list_pipeline_executions, pipelineName="nope")[0] == (
        "PipelineNotFoundException"
    )


def test_start_pipeline_execution_refuses_what_it_cannot_run_and_is_idempotent(
    codepipeline: Any, functions: Functions
) -> None:
    code, message = error_of(
        codepipeline.start_pipeline_execution,
        name=PIPELINE,
        variables=[{"name": "Stage", "value": "prod"}],
    )
    assert (code, message) == (
        "ValidationException",
        f"Pipeline '{PIPELINE}' declares no variables: Stage",
    )
    code, message = error_of(
        codepipeline.start_pipeline_execution,
        name=PIPELINE,
        sourceRevisions=[
            {"actionName": "Compile", "revisionType": "COMMIT_ID", "revisionValue": "abc"}
        ],
    )
    assert code == "ValidationException" and "sourceRevisions" in message
    assert error_of(codepipeline.start_pipeline_execution, name="nope") == (
        "PipelineNotFoundException",
        f"Account '{ACCOUNT}' does not have a pipeline with name 'nope'",
    )
    once = start(codepipeline, clientRequestToken="request-1")
    assert start(codepipeline, clientRequestToken="request-1") == once
    assert (
        len(
            codepipeline.list_pipeline_executions(pipelineName=PIPELINE)[
                "pipelineExecutionSummaries"
            ]
        )
        == 1
    )


def test_an_unknown_execution_is_not_found(codepipeline: Any, functions: Functions) -> None:
    unknown = str(uuid.uuid4())
    message = (
        f"Account '{ACCOUNT}' does not have an execution with id '{unknown}' "
        f"for pipeline '{PIPELINE}'"
    )
    assert error_of(
        codepipeline.get_pipeline_execution, pipelineName=PIPELINE, pipelineExecutionId=unknown
    ) == ("PipelineExecutionNotFoundException", message)
    assert error_of(
        codepipeline.list_action_executions,
        pipelineName=PIPELINE,
        filter={"pipelineExecutionId": unknown},
    ) == ("PipelineExecutionNotFoundException", message)


def test_start_execution_is_what_an_event_rule_target_calls(
    service: CodePipelineService, codepipeline: Any, functions: Functions
) -> None:
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/demo-data"
    execution_id = service.start_execution(
        PIPELINE, {"triggerType": "CloudWatchEvent", "triggerDetail": rule}
    )
    execution = codepipeline.get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id
    )["pipelineExecution"]
    assert execution["trigger"] == {"triggerType": "CloudWatchEvent", "triggerDetail": rule}
    with pytest.raises(Exception, match="Invalid execution trigger"):
        service.start_execution(PIPELINE, {"triggerType": "Telepathy"})


def test_simultaneous_starts_share_each_stage_one_execution_at_a_time(
    codepipeline: Any, functions: Functions
) -> None:
    # GIVEN the first stage busy with an execution whose action is held
    first = start_held(codepipeline, functions)
    barrier = threading.Barrier(6)
    others: list[str] = []

    def start_one() -> None:
        barrier.wait()
        others.append(start(codepipeline))

    # WHEN six more start at the same instant
    threads = [threading.Thread(target=start_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN each got its own execution, and all but one of them wait at Build, superseded
    assert len(set(others)) == 6 and first not in others
    wait_for(
        lambda: [status_of(codepipeline, e) for e in others].count("Superseded") == 5, timeout=10
    )
    assert functions.calls == ["compile"]
    functions.held["compile"].set()
    # AND the first and the one left go on, one after the other through each stage
    (survivor,) = [e for e in others if status_of(codepipeline, e) != "Superseded"]
    for execution_id in (first, survivor):
        answer(codepipeline, approval_token(codepipeline))
        ends_as(codepipeline, execution_id, "Succeeded")
    assert functions.calls.count("compile") == 2


def test_stopping_the_service_abandons_executions_and_records_why(
    service: CodePipelineService, codepipeline: Any, functions: Functions
) -> None:
    execution_id = start(codepipeline)
    approval_token(codepipeline)
    service.stop()
    execution = service.pipelines.pipeline(PIPELINE).execution(execution_id)
    assert execution.done.is_set()
    assert (execution.snapshot["status"], execution.snapshot["message"]) == (
        "Stopped",
        "Abandoned: the local cloud was stopped",
    )
    (approve,) = [s for s in execution.snapshot["stages"] if s["name"] == "Approve"]
    assert approve["actions"][0]["status"] == "Abandoned"


def test_the_readme_approval_recipe_works_verbatim_with_the_aws_cli(
    service: CodePipelineService, codepipeline: Any, functions: Functions
) -> None:
    execution_id = start(codepipeline)
    approval_token(codepipeline)
    environment = {
        **os.environ,
        **CREDENTIALS.environment(),
        "AWS_ENDPOINT_URL": service.url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": f"{AWS_CLI.parent}:{os.environ['PATH']}",  # the README says `aws`
    }
    environment.pop("AWS_ENDPOINT_URL_CODEPIPELINE", None)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", APPROVAL_RECIPE],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    ends_as(codepipeline, execution_id, "Succeeded")
    latest = stage_state(codepipeline, "Approve")["actionStates"][0]["latestExecution"]
    assert latest["summary"] == "Looks good"
