"""CodePipeline's output shapes, built from a pipeline's definition and its executions' snapshots.

Members are named and typed as botocore's model of each output has them; timestamps are epoch
seconds, as JSON 1.1 sends them. Snapshots are `RunReport.to_json()` dictionaries.
"""

from __future__ import annotations

from typing import Any

from localcloud.codepipeline.definition import PIPELINE_VERSION, Action, PipelineDefinition
from localcloud.codepipeline.models import INBOUND, STOPPING, Pipeline, PipelineView, Transition
from localcloud.codepipeline.runner import FAILED, IN_PROGRESS
from localcloud.constants import REGION

EXECUTION_TYPE = "STANDARD"


def _configuration(action: Action) -> dict[str, str]:
    """ActionConfigurationMap: every value a string, as CloudFormation passes them."""
    return {
        key: (str(value).lower() if isinstance(value, bool) else str(value))
        for key, value in action.configuration.items()
    }


def _type_id(action: Action) -> dict[str, str]:
    return {
        "category": action.category,
        "owner": action.owner,
        "provider": action.provider,
        "version": action.version,
    }


def declaration(definition: PipelineDefinition) -> dict[str, Any]:
    """PipelineDeclaration, as GetPipeline answers it."""
    return {
        "name": definition.name,
        "roleArn": definition.role_arn,
        "artifactStore": {"type": "S3", "location": definition.artifact_bucket},
        "stages": [
            {
                "name": stage.name,
                "actions": [
                    {
                        "name": action.name,
                        "actionTypeId": _type_id(action),
                        "runOrder": action.run_order,
                        "configuration": _configuration(action),
                        "inputArtifacts": [{"name": name} for name in action.input_artifacts],
                        "outputArtifacts": [{"name": name} for name in action.output_artifacts],
                    }
                    for action in stage.actions
                ],
            }
            for stage in definition.stages
        ],
        "version": PIPELINE_VERSION,
        "executionMode": definition.execution_mode,
        "pipelineType": definition.pipeline_type,
    }


def pipeline_summary(pipeline: Pipeline) -> dict[str, Any]:
    """PipelineSummary, as ListPipelines answers it."""
    return {
        "name": pipeline.definition.name,
        "version": PIPELINE_VERSION,
        "pipelineType": pipeline.definition.pipeline_type,
        "executionMode": pipeline.definition.execution_mode,
        "created": pipeline.created,
        "updated": pipeline.updated,
    }


def metadata(pipeline: Pipeline) -> dict[str, Any]:
    """PipelineMetadata."""
    return {"pipelineArn": pipeline.arn, "created": pipeline.created, "updated": pipeline.updated}


# --- executions ------------------------------------------------------------------------------
def execution(pipeline: Pipeline, status: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    """PipelineExecution, as GetPipelineExecution answers it."""
    shape = {
        "pipelineName": pipeline.definition.name,
        "pipelineVersion": PIPELINE_VERSION,
        "pipelineExecutionId": snapshot["execution_id"],
        "status": status,
        "artifactRevisions": [dict(revision) for revision in snapshot["revisions"]],
        "variables": [],
        "trigger": dict(snapshot["trigger"]),
        "executionMode": pipeline.definition.execution_mode,
        "executionType": EXECUTION_TYPE,
    }
    if snapshot["message"]:
        shape["statusSummary"] = snapshot["message"]
    return shape


def execution_summary(pipeline: Pipeline, status: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    """PipelineExecutionSummary, as ListPipelineExecutions answers it."""
    actions = {a["action"]: a for s in snapshot["stages"] for a in s["actions"]}
    shape = {
        "pipelineExecutionId": snapshot["execution_id"],
        "status": status,
        "startTime": snapshot["started"],
        "lastUpdateTime": snapshot["last_change"],
        "sourceRevisions": [
            {"actionName": action["action"], "revisionId": action["revision"]}
            for action in actions.values()
            if action["revision"]
        ],
        "trigger": dict(snapshot["trigger"]),
        "executionMode": pipeline.definition.execution_mode,
        "executionType": EXECUTION_TYPE,
    }
    if snapshot["message"]:
        shape["statusSummary"] = snapshot["message"]
    if snapshot["stop_reason"] is not None:
        shape["stopTrigger"] = {"reason": snapshot["stop_reason"]}
    return shape


def action_execution_detail(
    pipeline: Pipeline, snapshot: dict[str, Any], record: dict[str, Any]
) -> dict[str, Any]:
    """ActionExecutionDetail, as ListActionExecutions answers it."""
    definition = pipeline.definition
    index = definition.stage_index(record["stage"])
    assert index is not None
    action = next(a for a in definition.stages[index].actions if a.name == record["action"])
    result: dict[str, Any] = {}
    if record["external_execution_id"]:
        result["externalExecutionId"] = record["external_execution_id"]
    if record["message"] and record["status"] != FAILED:
        result["externalExecutionSummary"] = record["message"]
    if record["status"] == FAILED:
        result["errorDetails"] = _error_details(record)
    detail = {
        "pipelineExecutionId": snapshot["execution_id"],
        "actionExecutionId": record["action_execution_id"],
        "pipelineVersion": PIPELINE_VERSION,
        "stageName": record["stage"],
        "actionName": record["action"],
        "startTime": record["started"],
        "lastUpdateTime": record["last_change"],
        "status": record["status"],
        "input": {
            "actionTypeId": _type_id(action),
            "configuration": _configuration(action),
            "resolvedConfiguration": _configuration(action),
            "region": REGION,
            "inputArtifacts": record["inputs"],
        },
        "output": {
            "outputArtifacts": record["outputs"],
            "executionResult": result,
            "outputVariables": dict(record["output_variables"]),
        },
    }
    if record["updated_by"]:
        detail["updatedBy"] = record["updated_by"]
    return detail


def action_records(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """Every action execution of a snapshot, retried ones included."""
    return [a for stage in snapshot["stages"] for a in stage["actions"]] + list(snapshot["retried"])


# --- GetPipelineState ------------------------------------------------------------------------
def _error_details(record: dict[str, Any]) -> dict[str, str]:
    return {"code": record["error_code"] or "JobFailed", "message": record["message"][:5000]}


def _transition_state(transition: Transition) -> dict[str, Any]:
    state: dict[str, Any] = {"enabled": transition.enabled}
    if transition.changed_at is not None:
        state["lastChangedBy"] = transition.changed_by
        state["lastChangedAt"] = transition.changed_at
    if not transition.enabled:
        state["disabledReason"] = transition.reason
    return state


def _latest_action_execution(record: dict[str, Any]) -> dict[str, Any]:
    latest: dict[str, Any] = {
        "actionExecutionId": record["action_execution_id"],
        "status": record["status"],
        "lastStatusChange": record["last_change"],
    }
    if record["status"] == FAILED:
        latest["errorDetails"] = _error_details(record)
    elif record["message"]:
        latest["summary"] = record["message"]
    if record["token"]:
        latest["token"] = record["token"]
    if record["external_execution_id"]:
        latest["externalExecutionId"] = record["external_execution_id"]
    if record["updated_by"]:
        latest["lastUpdatedBy"] = record["updated_by"]
    return latest


def pipeline_state(pipeline: Pipeline, view: PipelineView) -> dict[str, Any]:
    """GetPipelineState's answer: each stage's transition, latest execution and actions."""
    snapshots = {eid: (status, snapshot) for eid, status, snapshot in view.executions}
    latest_action: dict[tuple[str, str], dict[str, Any]] = {}
    for _, _, snapshot in view.executions:
        for record in action_records(snapshot):
            key = (record["stage"], record["action"])
            if key not in latest_action or record["started"] >= latest_action[key]["started"]:
                latest_action[key] = record
    stages = []
    for index, stage in enumerate(pipeline.definition.stages):
        state: dict[str, Any] = {
            "stageName": stage.name,
            "inboundTransitionState": _transition_state(view.transitions[(stage.name, INBOUND)]),
            "actionStates": [],
        }
        if index in view.waiting:
            inbound = {
                "pipelineExecutionId": view.waiting[index],
                "status": IN_PROGRESS,
                "type": EXECUTION_TYPE,
            }
            state["inboundExecution"] = inbound
            state["inboundExecutions"] = [inbound]
        latest_id = view.latest_in_stage.get(stage.name)
        if latest_id is not None:
            status, snapshot = snapshots[latest_id]
            record = next((s for s in snapshot["stages"] if s["name"] == stage.name), None)
            stage_status = record["status"] if record else IN_PROGRESS
            if stage_status == IN_PROGRESS and status == STOPPING:
                stage_status = STOPPING
            state["latestExecution"] = {
                "pipelineExecutionId": latest_id,
                "status": stage_status,
                "type": EXECUTION_TYPE,
            }
            if record and record["manual_retries"]:
                state["retryStageMetadata"] = {
                    "autoStageRetryAttempt": 0,
                    "manualStageRetryAttempt": record["manual_retries"],
                    "latestRetryTrigger": "ManualStageRetry",
                }
        for action in stage.actions:
            action_state: dict[str, Any] = {"actionName": action.name}
            latest = latest_action.get((stage.name, action.name))
            if latest is not None:
                action_state["latestExecution"] = _latest_action_execution(latest)
                if latest["revision"]:
                    action_state["currentRevision"] = {
                        "revisionId": latest["revision"],
                        "created": latest["last_change"],
                    }
            state["actionStates"].append(action_state)
        stages.append(state)
    return {
        "pipelineName": pipeline.definition.name,
        "pipelineVersion": PIPELINE_VERSION,
        "stageStates": stages,
        "created": pipeline.created,
        "updated": pipeline.updated,
    }
