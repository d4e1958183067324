"""CodePipeline's pipelines and their executions: state and rules, no HTTP.

A pipeline is its definition (read from the template) plus what its executions did, kept in
memory (each run's report is also saved by the `on_change` callback). Each execution runs on a
thread of its own (`PipelineRunner`); readers only ever see whole snapshots of its report.

Execution mode SUPERSEDED, the template's and AWS's default: a stage holds one execution at a
time. An execution that is done with a stage waits at the next one while that stage is busy or
its inbound transition (or the outbound one of the stage before) is disabled; a newer execution
arriving at the same place supersedes the one waiting there. Executions in different stages
run side by side.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.codepipeline.definition import PipelineDefinition
from localcloud.codepipeline.exceptions import (
    ActionNotFoundException,
    ApprovalAlreadyCompletedException,
    DuplicatedStopRequestException,
    InvalidApprovalTokenException,
    NotLatestPipelineExecutionException,
    PipelineExecutionNotFoundException,
    PipelineExecutionNotStoppableException,
    PipelineNotFoundException,
    StageNotFoundException,
    StageNotRetryableException,
)
from localcloud.codepipeline.runner import (
    FAILED,
    IN_PROGRESS,
    STOPPED,
    SUPERSEDED,
    Abandoned,
    ActionRecord,
    ActionServices,
    PipelineRunner,
    RunReport,
    StopRequest,
)
from localcloud.codepipeline.state_events import Event, EventEmitter, PipelineEvents
from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.core.exceptions import ValidationException

STOPPING = "Stopping"
SHUTDOWN_WAIT_SECONDS = 10.0  # for an execution to record that the cloud's stop abandoned it
INBOUND, OUTBOUND = "Inbound", "Outbound"
TRIGGER_TYPES = {
    "CreatePipeline",
    "StartPipelineExecution",
    "PollForSourceChanges",
    "Webhook",
    "CloudWatchEvent",
    "PutActionRevision",
    "WebhookV2",
}

# What an execution's actions run with; the path, when given, replaces the model code's.
ServicesFactory = Callable[[Path | None], ActionServices]
# An in-process approver: (stage, action, configuration) -> (approved, summary).
Approver = Callable[[str, str, dict[str, Any]], tuple[bool, str]]


@dataclass
class Transition:
    """A stage transition: enabled, or disabled with a reason, and who changed it when."""

    enabled: bool = True
    reason: str = ""
    changed_by: str | None = None
    changed_at: float | None = None


@dataclass
class Approval:
    """A manual approval one execution waits on, by its token."""

    execution_id: str
    stage: str
    action: str
    answer: tuple[bool, str, str] | None = None  # (approved, summary, who answered)
    expired: bool = False


@dataclass(frozen=True)
class PipelineView:
    """A consistent copy of what GetPipelineState and the List actions read."""

    latest_in_stage: dict[str, str]
    waiting: dict[int, str]
    transitions: dict[tuple[str, str], Transition]
    executions: list[tuple[str, str, dict[str, Any]]]  # (id, status, snapshot), oldest first


class Execution:
    """One execution: its runner, its thread, a stop asked for it, and the latest snapshot."""

    def __init__(
        self,
        pipeline: Pipeline,
        report: RunReport,
        services: ActionServices,
        approver: Approver | None,
        observer: Callable[[RunReport], None],
    ) -> None:
        self.pipeline = pipeline
        self.id = report.execution_id
        self.runner = PipelineRunner(pipeline.definition, services, self, report)
        self.approver = approver
        self.observer = observer
        self.stop: StopRequest | None = None
        self.superseded_by: str | None = None
        self.snapshot = report.to_json()
        self.published: dict[str, Any] | None = None  # the snapshot the last events described
        self.done = threading.Event()

    @property
    def status(self) -> str:
        """The execution's status; Stopping between a stop and the end of its actions."""
        status = str(self.snapshot["status"])
        return STOPPING if status == IN_PROGRESS and self.stop is not None else status

    def start(self, first_stage: int = 0, retry_mode: str | None = None) -> None:
        """Run (or, from a retried stage, run again) on a thread of its own."""
        self.done.clear()
        thread = threading.Thread(
            target=self._run, args=(first_stage, retry_mode), name=f"pipeline-{self.id[:8]}"
        )
        thread.daemon = True
        thread.start()

    def _run(self, first_stage: int, retry_mode: str | None) -> None:
        try:
            self.runner.run(first_stage, retry_mode)
        finally:
            self.done.set()

    # --- ExecutionControl: what the runner asks ----------------------------------------------
    def enter_stage(self, index: int) -> tuple[str, str] | None:
        """Wait at stage `index`'s transition; None once entered, or how the execution ends."""
        return self.pipeline.enter(self, index)

    def leave_stage(self, index: int) -> None:
        """Free the stage for the next execution."""
        self.pipeline.leave(self, index)

    def stop_request(self) -> StopRequest | None:
        """The stop asked for this execution, if any."""
        return self.stop

    def pause(self, seconds: float) -> None:
        """Sleep, unless a stop abandons the action meanwhile."""
        with self.pipeline.condition:
            if self.pipeline.condition.wait_for(self.abandoned, timeout=seconds):
                raise Abandoned

    def await_approval(
        self, record: ActionRecord, configuration: dict[str, Any]
    ) -> tuple[bool, str, str]:
        """Register the approval's token, ask the in-process approver if any, and wait."""
        assert record.token is not None
        return self.pipeline.await_approval(
            self, record.stage, record.action, record.token, configuration
        )

    def changed(self, report: RunReport) -> None:
        """Publish a whole snapshot, save it, tell the observer."""
        snapshot = report.to_json()  # on the runner's thread, the only one changing the report
        with self.pipeline.condition:
            self.snapshot = snapshot
            self.pipeline.condition.notify_all()
        self.pipeline.on_change(snapshot)
        self.publish(snapshot)
        self.observer(report)

    def publish(self, snapshot: dict[str, Any]) -> None:
        """Put on the bus the state changes since the last snapshot published."""
        before, self.published = self.published, snapshot
        self.pipeline.emit(lambda: self.pipeline.events.changes(before, snapshot))

    def abandoned(self) -> bool:
        """Whether a stop abandons the action in progress."""
        return self.stop is not None and self.stop.abandon


class Pipeline:
    """One pipeline: its definition, transitions, executions and the approvals they wait on."""

    def __init__(
        self,
        definition: PipelineDefinition,
        services: ServicesFactory,
        on_change: Callable[[dict[str, Any]], None],
        account_id: str,
        region: str,
        emitter: EventEmitter,
    ) -> None:
        self.definition = definition
        self.services = services
        self.on_change = on_change
        self.account_id = account_id
        self.arn = f"arn:aws:codepipeline:{region}:{account_id}:{definition.name}"
        self.events = PipelineEvents(definition, region)
        self.emitter = emitter
        self.created = self.updated = time.time()
        self.caller_arn = f"arn:aws:iam::{account_id}:root"
        self.condition = threading.Condition()
        self.transitions = {
            (stage.name, kind): Transition()
            for stage in definition.stages
            for kind in (INBOUND, OUTBOUND)
        }
        self.executions: dict[str, Execution] = {}
        self._occupants: dict[int, str] = {}
        self._waiting: dict[int, Execution] = {}
        self._latest_in_stage: dict[str, str] = {}
        self._approvals: dict[str, Approval] = {}
        self._request_tokens: dict[str, str] = {}

    def emit(self, events: Callable[[], list[Event]]) -> None:
        """Put the state-change events `events` builds on the bus, about this pipeline."""
        self.emitter.emit(events, [self.arn])

    # --- what the API reads ------------------------------------------------------------------
    def view(self) -> PipelineView:
        """Everything the state and list answers read, copied at one instant."""
        with self.condition:
            return PipelineView(
                latest_in_stage=dict(self._latest_in_stage),
                waiting={index: e.id for index, e in self._waiting.items()},
                transitions={key: Transition(**vars(t)) for key, t in self.transitions.items()},
                executions=[(e.id, e.status, e.snapshot) for e in self.executions.values()],
            )

    def execution(self, execution_id: str) -> Execution:
        """The execution with this id, or PipelineExecutionNotFoundException."""
        execution = self.executions.get(execution_id)
        if execution is None:
            raise PipelineExecutionNotFoundException(
                self.account_id, self.definition.name, execution_id
            )
        return execution

    def stage_index(self, stage: str) -> int:
        """The stage's position, or StageNotFoundException."""
        index = self.definition.stage_index(stage)
        if index is None:
            raise StageNotFoundException(self.definition.name, stage)
        return index

    # --- starting, stopping, retrying --------------------------------------------------------
    def start_execution(
        self,
        trigger: dict[str, str],
        client_request_token: str | None = None,
        approver: Approver | None = None,
        observer: Callable[[RunReport], None] = lambda report: None,
        model_code: Path | None = None,
    ) -> Execution:
        """A new execution, running; the same one again for a client request token seen."""
        services = self.services(model_code)  # boto3 clients: made before taking the lock
        with self.condition:
            if client_request_token in self._request_tokens:
                return self.executions[self._request_tokens[client_request_token]]
            report = RunReport(str(uuid.uuid4()), self.definition.name, trigger=dict(trigger))
            execution = Execution(self, report, services, approver, observer)
            self.executions[execution.id] = execution
            if client_request_token:
                self._request_tokens[client_request_token] = execution.id
        self.on_change(execution.snapshot)
        execution.publish(execution.snapshot)
        execution.start()
        return execution

    def stop_execution(self, execution_id: str, abandon: bool, reason: str) -> None:
        """Ask an execution in progress to stop; a second identical ask is refused."""
        with self.condition:
            execution = self.executions.get(execution_id)
            status = execution.status if execution else None
            if execution is None or status not in (IN_PROGRESS, STOPPING):
                raise PipelineExecutionNotStoppableException(execution_id, status)
            if execution.stop is not None and (execution.stop.abandon or not abandon):
                raise DuplicatedStopRequestException(execution_id)
            if execution.stop is None:
                # Before the runner can see the stop, so that STOPPING precedes STOPPED.
                snapshot = execution.snapshot
                self.emit(lambda: self.events.stopping(snapshot, reason))
            execution.stop = StopRequest(abandon, reason)
            self.condition.notify_all()

    def retry_stage(self, stage: str, execution_id: str, retry_mode: str) -> None:
        """Run a failed or stopped stage of a finished execution again, then the stages after."""
        index = self.stage_index(stage)
        with self.condition:
            execution = self.executions.get(execution_id)
            if execution is None or self._latest_in_stage.get(stage) != execution_id:
                raise NotLatestPipelineExecutionException(stage, execution_id)
            record = execution.runner.report.stage(stage)
            status = record.status if record else None
            if not execution.done.is_set() or status not in (FAILED, STOPPED):
                shown = execution.status if not execution.done.is_set() else status
                raise StageNotRetryableException(stage, shown)
            execution.stop = execution.superseded_by = None
            # The runner thread has ended: until the new one starts, this is the only writer.
            execution.runner.report.status = IN_PROGRESS
            execution.runner.report.stop_reason = None
            execution.snapshot = execution.runner.report.to_json()
        execution.start(index, retry_mode)

    def set_transition(self, stage: str, kind: str, enabled: bool, reason: str = "") -> None:
        """Enable or disable a stage's inbound or outbound transition."""
        self.stage_index(stage)
        with self.condition:
            self.transitions[(stage, kind)] = Transition(
                enabled, "" if enabled else reason, self.caller_arn, time.time()
            )
            self.condition.notify_all()

    def abandon_all(self, reason: str, wait_seconds: float) -> None:
        """Stop every execution in progress, abandoning its actions, and give each up to
        `wait_seconds` to record that (the cloud is stopping)."""
        with self.condition:
            running = [e for e in self.executions.values() if not e.done.is_set()]
            for execution in running:
                execution.stop = StopRequest(True, reason)
            self.condition.notify_all()
        for execution in running:
            execution.done.wait(wait_seconds)

    # --- transitions and the stage lock ------------------------------------------------------
    def enter(self, execution: Execution, index: int) -> tuple[str, str] | None:
        """Wait until stage `index` is free and its transitions enabled (see the module doc)."""
        with self.condition:
            rival = self._waiting.get(index)
            if rival is not None and rival is not execution:
                rival.superseded_by = execution.id
            self._waiting[index] = execution
            self.condition.notify_all()
            self.condition.wait_for(
                lambda: execution.superseded_by or execution.stop or self._open(index)
            )
            if self._waiting.get(index) is execution:
                del self._waiting[index]
            if execution.superseded_by:
                return SUPERSEDED, f"Superseded by execution {execution.superseded_by}"
            if execution.stop is not None:
                return STOPPED, execution.stop.reason
            if index < len(self.definition.stages):
                self._occupants[index] = execution.id
                self._latest_in_stage[self.definition.stages[index].name] = execution.id
            return None

    def leave(self, execution: Execution, index: int) -> None:
        """Free stage `index` if this execution holds it."""
        with self.condition:
            if self._occupants.get(index) == execution.id:
                del self._occupants[index]
                self.condition.notify_all()

    def _open(self, index: int) -> bool:
        stages = self.definition.stages
        if index < len(stages) and (
            index in self._occupants or not self.transitions[(stages[index].name, INBOUND)].enabled
        ):
            return False
        return index == 0 or self.transitions[(stages[index - 1].name, OUTBOUND)].enabled

    # --- approvals ---------------------------------------------------------------------------
    def await_approval(
        self,
        execution: Execution,
        stage: str,
        action: str,
        token: str,
        configuration: dict[str, Any],
    ) -> tuple[bool, str, str]:
        """Wait for PutApprovalResult (or the in-process approver) to answer `token`."""
        approval = Approval(execution.id, stage, action)
        with self.condition:
            self._approvals[token] = approval
        if execution.approver is not None:
            approved, summary = execution.approver(stage, action, configuration)
            self.answer_approval(stage, action, token, approved, summary)
        with self.condition:
            self.condition.wait_for(lambda: approval.answer is not None or execution.abandoned())
            if approval.answer is None:
                approval.expired = True
                raise Abandoned
            return approval.answer

    def answer_approval(
        self, stage: str, action: str, token: str, approved: bool, summary: str
    ) -> float:
        """PutApprovalResult: answer the approval `token` names; when it was answered."""
        index = self.stage_index(stage)
        if action not in {a.name for a in self.definition.stages[index].actions}:
            raise ActionNotFoundException(stage, action)
        with self.condition:
            approval = self._approvals.get(token)
            if (
                approval is None
                or approval.expired
                or (approval.stage, approval.action)
                != (
                    stage,
                    action,
                )
            ):
                raise InvalidApprovalTokenException(token)
            if approval.answer is not None:
                raise ApprovalAlreadyCompletedException
            approval.answer = (approved, summary, self.caller_arn)
            self.condition.notify_all()
        return time.time()


@dataclass
class CodePipelineBackend:
    """The account's pipelines, by name."""

    account_id: str = ACCOUNT_ID
    region: str = REGION
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    emitter: EventEmitter = field(default_factory=EventEmitter)  # every pipeline's events

    def add_pipeline(
        self,
        definition: PipelineDefinition,
        services: ServicesFactory,
        on_change: Callable[[dict[str, Any]], None] = lambda snapshot: None,
    ) -> Pipeline:
        """Serve a pipeline (the stack's, read from its template) whose actions run with
        `services`; `on_change` gets every whole snapshot of every execution."""
        pipeline = Pipeline(
            definition, services, on_change, self.account_id, self.region, self.emitter
        )
        self.pipelines[definition.name] = pipeline
        return pipeline

    def pipeline(self, name: str) -> Pipeline:
        """The pipeline called `name`, or PipelineNotFoundException."""
        pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise PipelineNotFoundException(self.account_id, name)
        return pipeline

    def start_execution(
        self, name: str, trigger: dict[str, str] | None = None, **options: Any
    ) -> Execution:
        """Start an execution of pipeline `name`; `trigger` is how it started (ExecutionTrigger:
        `triggerType`, `triggerDetail`), StartPipelineExecution's by default."""
        trigger = trigger or {"triggerType": "StartPipelineExecution", "triggerDetail": ""}
        if trigger.get("triggerType") not in TRIGGER_TYPES or set(trigger) - {
            "triggerType",
            "triggerDetail",
        }:
            raise ValidationException(f"Invalid execution trigger {trigger!r}")
        trigger = {"triggerDetail": "", **trigger}
        return self.pipeline(name).start_execution(trigger, **options)

    def shutdown(self) -> None:
        """Abandon every execution still in progress: the cloud is stopping."""
        for pipeline in self.pipelines.values():
            pipeline.abandon_all("Abandoned: the local cloud was stopped", SHUTDOWN_WAIT_SECONDS)
