"""CodePipeline's EventBridge events: what each execution puts on the bus, in AWS's shapes.

The shapes are those of "Monitoring CodePipeline events" (CodePipeline User Guide). Executions
run on the four-stage pipeline of `test_pipeline_api.py`, driven through a real boto3 client;
the sink records every event in the order it was put, and the rejection test puts them on a
real local bus whose rule is the pipeline template's rejected-approval rule.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from localcloud.codepipeline import CodePipelineService
from localcloud.codepipeline.definition import Action, PipelineDefinition, Stage
from localcloud.codepipeline.runner import SUCCEEDED, ActionRecord, RunReport, StageRecord
from localcloud.codepipeline.state_events import PipelineEvents
from localcloud.events import EventBus, Rule, Target, TargetServices
from localcloud.events.patterns import matches, validate
from tests.localcloud.codepipeline.support import wait_for
from tests.localcloud.codepipeline.test_pipeline_api import (
    ACCOUNT,
    PIPELINE,
    Functions,
    answer,
    approval_token,
    codepipeline,
    ends_as,
    functions,
    service,
    start,
)

# The fixtures imported above, which pytest finds in this module by name.
__all__ = ["codepipeline", "functions", "service"]
REGION = "us-east-1"
PIPELINE_ARN = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{PIPELINE}"
# The pipeline template's ApprovalRejectedRule, for this pipeline.
REJECTED_APPROVAL = {
    "source": ["aws.codepipeline"],
    "detail-type": ["CodePipeline Action Execution State Change"],
    "detail": {"pipeline": [PIPELINE], "action": ["ApproveProd"], "state": ["FAILED"]},
}
START_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
LAMBDA = {"owner": "AWS", "provider": "Lambda", "category": "Invoke", "version": "1"}
MANUAL = {"owner": "AWS", "provider": "Manual", "category": "Approval", "version": "1"}


class Recorder:
    """Stands in for the bus's put_event: every event, in the order it was put."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any], list[str]]] = []
        self._lock = threading.Lock()

    def __call__(
        self, source: str, detail_type: str, detail: dict[str, Any], resources: Any
    ) -> None:
        with self._lock:
            self.events.append((source, detail_type, detail, list(resources)))

    def steps(self, execution_id: str | None = None) -> list[tuple[str, str, str]]:
        """(Pipeline|Stage|Action, its name, state) of each event (of one execution)."""
        return [step(detail_type, detail) for detail_type, detail in self.of(execution_id)]

    def of(self, execution_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(detail-type, detail) of each event (of one execution)."""
        return [
            (detail_type, detail)
            for _, detail_type, detail, _ in self.events
            if execution_id in (None, detail["execution-id"])
        ]

    def details(self, kind: str, name: str, state: str) -> dict[str, Any]:
        """The detail of the one event of that kind, name and state."""
        (found,) = [d for t, d in self.of() if step(t, d) == (kind, name, state)]
        return found

    def ended(self, attempt: float = 1.0) -> bool:
        """Whether the end of the execution's attempt was put on the bus."""
        return any(
            step(detail_type, detail)[0] == "Pipeline"
            and detail["state"] not in ("STARTED", "RESUMED", "STOPPING")
            and detail["pipeline-execution-attempt"] == attempt
            for detail_type, detail in self.of()
        )


def step(detail_type: str, detail: dict[str, Any]) -> tuple[str, str, str]:
    """An event as (Pipeline|Stage|Action, the action's or stage's name, state)."""
    kind = detail_type.split()[1]
    name = {"Pipeline": "", "Stage": detail.get("stage"), "Action": detail.get("action")}[kind]
    return kind, str(name), detail["state"]


@pytest.fixture
def recorder(service: CodePipelineService) -> Recorder:
    sink = Recorder()
    service.set_event_sink(sink)
    return sink


def stage_steps(stage: str, *actions: str, end: str = "SUCCEEDED") -> list[tuple[str, str, str]]:
    """A stage that starts, runs each action to success, and ends."""
    steps = [("Stage", stage, "STARTED")]
    for action in actions:
        steps += [("Action", action, "STARTED"), ("Action", action, "SUCCEEDED")]
    return [*steps, ("Stage", stage, end)]


def action_ids(codepipeline: Any, execution_id: str) -> dict[tuple[str, str], str]:
    """(action, status) -> actionExecutionId, from ListActionExecutions."""
    details = codepipeline.list_action_executions(
        pipelineName=PIPELINE, filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    return {(d["actionName"], d["status"]): d["actionExecutionId"] for d in details}


def test_a_run_emits_action_stage_and_pipeline_events_in_order(
    codepipeline: Any, functions: Functions, recorder: Recorder
) -> None:
    # GIVEN an execution, WHEN it is approved and runs to its end
    execution_id = start(codepipeline)
    answer(codepipeline, approval_token(codepipeline), summary="Looks good")
    ends_as(codepipeline, execution_id, "Succeeded")
    wait_for(recorder.ended)
    # THEN each action, stage and the pipeline put their state changes, in order
    assert recorder.steps() == [
        ("Pipeline", "", "STARTED"),
        *stage_steps("Build", "Compile"),
        *stage_steps("Test", "UnitTests", "Lint"),
        *stage_steps("Approve", "ApproveProd"),
        *stage_steps("Deploy", "DeployProd"),
        ("Pipeline", "", "SUCCEEDED"),
    ]
    # AND every event is CodePipeline's, about the pipeline, of this execution
    assert {(source, tuple(resources)) for source, _, _, resources in recorder.events} == {
        ("aws.codepipeline", (PIPELINE_ARN,))
    }
    started = recorder.details("Pipeline", "", "STARTED")["start-time"]
    assert START_TIME.fullmatch(started)
    moment = datetime.strptime(started, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 30
    common = {"pipeline": PIPELINE, "execution-id": execution_id, "start-time": started}
    numbers = {"version": 1.0, "pipeline-execution-attempt": 1.0}
    for _, _, detail, _ in recorder.events:
        assert {key: detail[key] for key in common} == common
        assert all(type(detail[key]) is float for key in numbers)  # numbers, as AWS sends them
    # AND each detail has the documented keys
    assert recorder.details("Pipeline", "", "STARTED") == {
        **common,
        "execution-trigger": {"trigger-type": "StartPipelineExecution", "trigger-detail": ""},
        "state": "STARTED",
        **numbers,
    }
    assert recorder.details("Pipeline", "", "SUCCEEDED") == {
        **common,
        "state": "SUCCEEDED",
        **numbers,
    }
    assert recorder.details("Stage", "Build", "STARTED") == {
        **common,
        "stage": "Build",
        "state": "STARTED",
        **numbers,
    }
    ids = action_ids(codepipeline, execution_id)
    assert recorder.details("Action", "Compile", "STARTED") == {
        **common,
        "stage": "Build",
        "action-execution-id": ids[("Compile", "Succeeded")],
        "action": "Compile",
        "state": "STARTED",
        "region": REGION,
        "type": LAMBDA,
        **numbers,
    }
    assert recorder.details("Action", "Compile", "SUCCEEDED") == {
        **common,
        "stage": "Build",
        "execution-result": {
            "external-execution-summary": "compile done",
            "external-execution-id": "compile",
        },
        "action-execution-id": ids[("Compile", "Succeeded")],
        "action": "Compile",
        "state": "SUCCEEDED",
        "region": REGION,
        "type": LAMBDA,
        **numbers,
    }
    approved = recorder.details("Action", "ApproveProd", "SUCCEEDED")
    assert approved["type"] == MANUAL
    assert approved["execution-result"]["external-execution-summary"] == "Looks good"


def test_a_rejected_approval_fails_and_the_rejection_rule_gets_the_action_event(
    service: CodePipelineService, codepipeline: Any, functions: Functions
) -> None:
    # GIVEN the local bus with the template's rejected-approval rule, sending to a function
    validate(REJECTED_APPROVAL)
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:record-approval"
    rule = Rule(
        name="approval-rejected",
        arn=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/approval-rejected",
        enabled=True,
        targets=(Target(id="record-approval", arn=function_arn),),
        pattern=REJECTED_APPROVAL,
    )
    invocations: list[tuple[str, Any]] = []
    bus = EventBus(
        [rule],
        TargetServices(
            start_pipeline_execution=lambda *args: pytest.fail("no pipeline target"),
            invoke_lambda=lambda name, payload: invocations.append((name, payload)),
            publish_sns=lambda *args: pytest.fail("no topic target"),
        ),
        account_id=ACCOUNT,
        region=REGION,
    )
    recorder = Recorder()

    def sink(source: str, detail_type: str, detail: dict[str, Any], resources: Any) -> None:
        recorder(source, detail_type, detail, resources)
        bus.put_event(source, detail_type, detail, resources)

    service.set_event_sink(sink)
    try:
        # WHEN the approval is rejected
        execution_id = start(codepipeline)
        token = approval_token(codepipeline)
        answer(codepipeline, token, status="Rejected", summary="MSE too high")
        ends_as(codepipeline, execution_id, "Failed")
        wait_for(recorder.ended)
        delivered = wait_for(lambda: invocations)
    finally:
        bus.stop()
    # THEN the action, its stage and the execution failed, and nothing after them ran
    assert recorder.steps()[-3:] == [
        ("Action", "ApproveProd", "FAILED"),
        ("Stage", "Approve", "FAILED"),
        ("Pipeline", "", "FAILED"),
    ]
    assert not [step for step in recorder.steps() if step[1] in ("Deploy", "DeployProd")]
    failed = recorder.details("Action", "ApproveProd", "FAILED")
    assert failed == {
        "pipeline": PIPELINE,
        "execution-id": execution_id,
        "start-time": failed["start-time"],
        "stage": "Approve",
        "execution-result": {
            "external-execution-summary": "Rejected: MSE too high",
            "external-execution-id": token,
            "error-code": "JobFailed",
        },
        "action-execution-id": action_ids(codepipeline, execution_id)[("ApproveProd", "Failed")],
        "action": "ApproveProd",
        "state": "FAILED",
        "region": REGION,
        "type": MANUAL,
        "version": 1.0,
        "pipeline-execution-attempt": 1.0,
    }
    # AND the rule's pattern matches that event and no other of the execution
    matching = [
        detail
        for source, detail_type, detail, resources in recorder.events
        if matches(
            REJECTED_APPROVAL,
            {
                "source": source,
                "detail-type": detail_type,
                "detail": detail,
                "resources": resources,
            },
        )
    ]
    assert matching == [failed]
    # AND the function got it in EventBridge's envelope, as RecordApproval reads it
    ((function, event),) = delivered
    assert function == "record-approval"
    assert event["detail"] == failed
    assert (event["source"], event["detail-type"], event["resources"]) == (
        "aws.codepipeline",
        "CodePipeline Action Execution State Change",
        [PIPELINE_ARN],
    )
    assert (event["account"], event["region"]) == (ACCOUNT, REGION)


def test_stop_and_abandon_emits_stopping_then_abandoned_and_stopped(
    codepipeline: Any, functions: Functions, recorder: Recorder
) -> None:
    # GIVEN an execution waiting at the approval, WHEN it is stopped, abandoning the approval
    execution_id = start(codepipeline)
    approval_token(codepipeline)
    codepipeline.stop_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id, abandon=True, reason="wrong data"
    )
    ends_as(codepipeline, execution_id, "Stopped")
    wait_for(recorder.ended)
    # THEN the execution and its stage were stopping, the approval abandoned, then both stopped
    assert recorder.steps()[-5:] == [
        ("Pipeline", "", "STOPPING"),
        ("Stage", "Approve", "STOPPING"),
        ("Action", "ApproveProd", "ABANDONED"),
        ("Stage", "Approve", "STOPPED"),
        ("Pipeline", "", "STOPPED"),
    ]
    stopping = recorder.details("Pipeline", "", "STOPPING")
    assert stopping["stop-execution-comments"] == "wrong data"
    assert stopping["state"] == "STOPPING"
    abandoned = recorder.details("Action", "ApproveProd", "ABANDONED")
    assert "execution-result" not in abandoned
    assert abandoned["type"] == MANUAL


def test_a_retried_stage_resumes_the_execution_as_its_next_attempt(
    codepipeline: Any, functions: Functions, recorder: Recorder
) -> None:
    # GIVEN a run whose Test stage failed on Lint
    functions.failing.add("lint")
    execution_id = start(codepipeline)
    ends_as(codepipeline, execution_id, "Failed")
    wait_for(recorder.ended)
    assert recorder.steps()[-4:] == [
        ("Action", "Lint", "STARTED"),
        ("Action", "Lint", "FAILED"),
        ("Stage", "Test", "FAILED"),
        ("Pipeline", "", "FAILED"),
    ]
    assert recorder.details("Action", "Lint", "FAILED")["execution-result"] == {
        "external-execution-summary": "lint broke",
        "error-code": "JobFailed",
    }
    failed_at = len(recorder.events)
    # WHEN the failed actions are retried and the approval given
    functions.failing.clear()
    codepipeline.retry_stage_execution(
        pipelineName=PIPELINE,
        stageName="Test",
        pipelineExecutionId=execution_id,
        retryMode="FAILED_ACTIONS",
    )
    answer(codepipeline, approval_token(codepipeline))
    ends_as(codepipeline, execution_id, "Succeeded")
    wait_for(lambda: recorder.ended(attempt=2.0))
    # THEN the execution and the stage resume, only Lint runs again, as attempt 2
    assert recorder.steps()[failed_at:] == [
        ("Pipeline", "", "RESUMED"),
        ("Stage", "Test", "RESUMED"),
        ("Action", "Lint", "STARTED"),
        ("Action", "Lint", "SUCCEEDED"),
        ("Stage", "Test", "SUCCEEDED"),
        *stage_steps("Approve", "ApproveProd"),
        *stage_steps("Deploy", "DeployProd"),
        ("Pipeline", "", "SUCCEEDED"),
    ]
    later = [detail for _, _, detail, _ in recorder.events[failed_at:]]
    assert {detail["pipeline-execution-attempt"] for detail in later} == {2.0}
    assert "execution-trigger" not in later[0]
    # AND the retried stage's events say when it was retried; the others do not
    retried = recorder.details("Stage", "Test", "RESUMED")["stage-last-retry-attempt-time"]
    assert START_TIME.fullmatch(retried)
    assert recorder.details("Stage", "Test", "SUCCEEDED")["stage-last-retry-attempt-time"] == (
        retried
    )
    assert "stage-last-retry-attempt-time" not in recorder.details("Stage", "Approve", "STARTED")


def test_a_superseded_execution_ends_with_its_pipeline_event(
    codepipeline: Any, functions: Functions, recorder: Recorder
) -> None:
    # GIVEN an execution waiting at a disabled transition, WHEN a newer one arrives there
    codepipeline.disable_stage_transition(
        pipelineName=PIPELINE, stageName="Deploy", transitionType="Inbound", reason="Hold"
    )
    first = start(codepipeline)
    answer(codepipeline, approval_token(codepipeline))
    wait_for(lambda: ("Stage", "Approve", "SUCCEEDED") in recorder.steps())
    start(codepipeline)
    answer(codepipeline, approval_token(codepipeline))
    ends_as(codepipeline, first, "Superseded")
    # THEN the older one's last event is the pipeline's SUPERSEDED, after its Approve stage
    wait_for(lambda: recorder.steps(first)[-1] == ("Pipeline", "", "SUPERSEDED"))
    assert recorder.steps(first)[-2:] == [
        ("Stage", "Approve", "SUCCEEDED"),
        ("Pipeline", "", "SUPERSEDED"),
    ]


def test_a_failing_sink_neither_fails_nor_holds_the_run(
    service: CodePipelineService,
    codepipeline: Any,
    functions: Functions,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*event: Any) -> None:
        raise RuntimeError("the bus is gone")

    service.set_event_sink(broken)
    with caplog.at_level(logging.ERROR, logger="localcloud.codepipeline"):
        execution_id = start(codepipeline)
        answer(codepipeline, approval_token(codepipeline))
        ends_as(codepipeline, execution_id, "Succeeded")
    assert "could not put CodePipeline Pipeline Execution State Change" in caplog.text


def test_artifacts_are_in_the_started_and_succeeded_action_events() -> None:
    # GIVEN a build action with an input and an output artifact
    build = Action("Image", "Build", "CodeBuild", {}, ("Source",), ("Image",), 1)
    definition = PipelineDefinition("p", "artifacts", (Stage("Build", (build,)),))
    events = PipelineEvents(definition, REGION)
    source = {"name": "Source", "s3location": {"bucket": "artifacts", "key": "p/Source/e.zip"}}
    image = {"name": "Image", "s3location": {"bucket": "artifacts", "key": "p/Image/e.zip"}}
    report = RunReport("e", "p")
    stage = StageRecord("Build")
    record = ActionRecord("Build", "Image", inputs=[source])
    stage.actions.append(record)
    report.stages.append(stage)
    # WHEN it starts, THEN its STARTED event carries its input artifacts
    running = report.to_json()
    _, _, (kind, detail) = events.changes(None, running)
    assert kind == "CodePipeline Action Execution State Change"
    assert detail["input-artifacts"] == [source]
    assert "output-artifacts" not in detail
    assert detail["type"] == {
        "owner": "AWS",
        "provider": "CodeBuild",
        "category": "Build",
        "version": "1",
    }
    # WHEN it succeeds, THEN its SUCCEEDED event carries its output artifacts and result
    record.status = stage.status = report.status = SUCCEEDED
    record.outputs, record.message = [image], "sha256:abc"
    (_, succeeded), (_, stage_end), (_, pipeline_end) = events.changes(running, report.to_json())
    assert succeeded["output-artifacts"] == [image]
    assert succeeded["execution-result"] == {"external-execution-summary": "sha256:abc"}
    assert "input-artifacts" not in succeeded
    assert (stage_end["state"], pipeline_end["state"]) == ("SUCCEEDED", "SUCCEEDED")
