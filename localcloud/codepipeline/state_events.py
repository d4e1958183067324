"""CodePipeline's EventBridge events: the pipeline, stage and action execution state changes.

Built from an execution's successive snapshots (`RunReport.to_json()`): whatever changed between
two of them becomes the events AWS emits for it, in AWS's order (the pipeline starting, then each
stage's start, its actions, its end, then the pipeline's end). Shapes and state names follow
"Monitoring CodePipeline events" in the CodePipeline User Guide: the API's `InProgress` is
`STARTED` (`RESUMED` after RetryStageExecution), the others upper-cased. StopPipelineExecution's
`STOPPING` comes from the request itself (`stopping`), as nothing in a snapshot shows it.

The sink is the local bus's `put_event`, set once the bus exists; without one, events are dropped,
and a sink that fails is logged, never allowed to fail the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from localcloud.codepipeline.definition import PIPELINE_VERSION, Action, PipelineDefinition
from localcloud.codepipeline.runner import FAILED, IN_PROGRESS, SUCCEEDED

LOG = logging.getLogger("localcloud.codepipeline")
SOURCE = "aws.codepipeline"
PIPELINE_CHANGE = "CodePipeline Pipeline Execution State Change"
STAGE_CHANGE = "CodePipeline Stage Execution State Change"
ACTION_CHANGE = "CodePipeline Action Execution State Change"
STARTED, RESUMED, STOPPING = "STARTED", "RESUMED", "STOPPING"
# (source, detail-type, detail, resources): the local bus's put_event
EventSink = Callable[[str, str, dict[str, Any], Iterable[str]], Any]
Event = tuple[str, dict[str, Any]]  # (detail-type, detail)


def event_state(status: str) -> str:
    """The event's state for a finished execution, stage or action: `Succeeded` -> `SUCCEEDED`."""
    return status.upper()


def event_time(epoch: float) -> str:
    """CodePipeline's times in events: ISO 8601 in UTC to the millisecond."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class EventEmitter:
    """Where a service's events go: the sink once the bus is connected, nowhere before."""

    def __init__(self) -> None:
        self.sink: EventSink | None = None

    def emit(self, build: Callable[[], list[Event]], resources: list[str]) -> None:
        """Build the events (only when there is a sink) and hand each to the sink, which
        returns at once (the bus delivers on its own threads); a failure is logged and the run
        goes on."""
        sink = self.sink
        if sink is None:
            return
        try:
            events = build()
        except Exception:
            LOG.exception("could not build the state-change events of %s", resources)
            return
        for detail_type, detail in events:
            try:
                sink(SOURCE, detail_type, detail, resources)
            except Exception:
                LOG.exception("could not put %s (%s) on the bus", detail_type, detail["state"])


class PipelineEvents:
    """The state-change events of one pipeline's executions."""

    def __init__(self, definition: PipelineDefinition, region: str) -> None:
        self.definition = definition
        self.region = region

    def changes(self, before: dict[str, Any] | None, after: dict[str, Any]) -> list[Event]:
        """The events for what changed from snapshot `before` (None: the execution is new)
        to snapshot `after` of the same execution."""
        events: list[Event] = []
        was = before["status"] if before is not None else None
        if after["status"] == IN_PROGRESS and was != IN_PROGRESS:
            events.append(self._pipeline(after, STARTED if before is None else RESUMED))
        earlier = {stage["name"]: stage for stage in before["stages"]} if before else {}
        for stage in after["stages"]:
            events += self._stage_changes(after, earlier.get(stage["name"]), stage)
        if after["status"] != IN_PROGRESS and was != after["status"]:
            events.append(self._pipeline(after, event_state(after["status"])))
        return events

    def stopping(self, snapshot: dict[str, Any], comments: str) -> list[Event]:
        """StopPipelineExecution was accepted: the execution and its stage in progress stop."""
        detail_type, detail = self._pipeline(snapshot, STOPPING)
        pipeline = (detail_type, detail | {"stop-execution-comments": comments})
        stages = [
            (STAGE_CHANGE, self._stage(snapshot, stage, STOPPING))
            for stage in snapshot["stages"]
            if stage["status"] == IN_PROGRESS
        ]
        return [pipeline, *stages]

    # --- details ---------------------------------------------------------------------------
    def _common(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        return {
            "pipeline": snapshot["pipeline"],
            "execution-id": snapshot["execution_id"],
            "start-time": event_time(snapshot["started"]),
        }

    def _numbers(self, snapshot: dict[str, Any]) -> dict[str, float]:
        # Both are numbers in CodePipeline's events (1.0), not strings; each stage retry is
        # another attempt of the execution.
        attempt = 1 + sum(stage["manual_retries"] for stage in snapshot["stages"])
        return {"version": float(PIPELINE_VERSION), "pipeline-execution-attempt": float(attempt)}

    def _pipeline(self, snapshot: dict[str, Any], state: str) -> Event:
        detail = self._common(snapshot)
        if state == STARTED:
            trigger = snapshot["trigger"]
            detail["execution-trigger"] = {
                "trigger-type": trigger["triggerType"],
                "trigger-detail": trigger["triggerDetail"],
            }
        detail |= {"state": state, **self._numbers(snapshot)}
        return PIPELINE_CHANGE, detail

    def _stage(self, snapshot: dict[str, Any], stage: dict[str, Any], state: str) -> dict[str, Any]:
        detail = self._common(snapshot)
        if stage["last_retry"] is not None:
            detail["stage-last-retry-attempt-time"] = event_time(stage["last_retry"])
        return detail | {"stage": stage["name"], "state": state, **self._numbers(snapshot)}

    def _stage_changes(
        self, snapshot: dict[str, Any], before: dict[str, Any] | None, stage: dict[str, Any]
    ) -> list[Event]:
        events: list[Event] = []
        was = before["status"] if before is not None else None
        if stage["status"] != was and was != IN_PROGRESS:
            # Entered (or retried) since `before`, even when it already ended in this step.
            state = STARTED if before is None else RESUMED
            events.append((STAGE_CHANGE, self._stage(snapshot, stage, state)))
        earlier = {a["action_execution_id"]: a for a in before["actions"]} if before else {}
        for record in stage["actions"]:
            previous = earlier.get(record["action_execution_id"])
            if previous is None or previous["status"] != record["status"]:
                events.append((ACTION_CHANGE, self._action(snapshot, record)))
        if stage["status"] not in (IN_PROGRESS, was):
            ended = event_state(stage["status"])
            events.append((STAGE_CHANGE, self._stage(snapshot, stage, ended)))
        return events

    def _action(self, snapshot: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        status = record["status"]
        detail = self._common(snapshot) | {"stage": record["stage"]}
        result = {}
        if record["message"]:
            result["external-execution-summary"] = record["message"]
        if record["external_execution_id"]:
            result["external-execution-id"] = record["external_execution_id"]
        if status == FAILED:
            result["error-code"] = record["error_code"] or "JobFailed"
        if result and status in (SUCCEEDED, FAILED):
            detail["execution-result"] = result
        if status == SUCCEEDED and record["outputs"]:
            detail["output-artifacts"] = record["outputs"]
        detail |= {"action-execution-id": record["action_execution_id"], "action": record["action"]}
        if status == IN_PROGRESS and record["inputs"]:
            detail["input-artifacts"] = record["inputs"]
        action = self._definition_of(record)
        return detail | {
            "state": STARTED if status == IN_PROGRESS else event_state(status),
            "region": self.region,
            "type": {
                "owner": action.owner,
                "provider": action.provider,
                "category": action.category,
                "version": action.version,
            },
            **self._numbers(snapshot),
        }

    def _definition_of(self, record: dict[str, Any]) -> Action:
        index = self.definition.stage_index(record["stage"])
        assert index is not None  # records are only made for the definition's actions
        return next(a for a in self.definition.stages[index].actions if a.name == record["action"])
