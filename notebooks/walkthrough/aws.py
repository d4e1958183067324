"""The pipeline through CodePipeline's own API (what the console does), and the AWS tear-down.

The same calls on both targets: the local cloud serves CodePipeline's API too.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3

from .connect import REPO_ROOT
from .progress import ActionProgress, Approval, Progress, StageInfo, stages_of

DESTROY_SCRIPT = REPO_ROOT / "scripts" / "aws_stacks" / "__main__.py"


def action_seconds(details: list[Mapping[str, Any]]) -> dict[tuple[str, str], float]:
    """How long each action's latest attempt in ListActionExecutions' details ran (so far,
    if it runs)."""
    now = datetime.now(UTC)
    return {
        (d["stageName"], d["actionName"]): (
            (now if d["status"] == "InProgress" else d["lastUpdateTime"]) - d["startTime"]
        ).total_seconds()
        for d in sorted(details, key=lambda d: d["startTime"])
    }


def progress_from_aws(
    state: Mapping[str, Any],
    execution: Mapping[str, Any],
    stages: list[StageInfo],
    seconds: Mapping[tuple[str, str], float] | None = None,
) -> Progress:
    """get_pipeline_state + get_pipeline_execution (+ each action's `seconds`); stages still
    on an older run are Pending."""
    seconds = seconds or {}
    execution_id = execution["pipelineExecutionId"]
    by_stage = {s["stageName"]: s for s in state.get("stageStates", [])}
    rows, approval = [], None
    for stage in stages:
        stage_state = by_stage.get(stage.name, {})
        current = stage_state.get("latestExecution", {}).get("pipelineExecutionId") == execution_id
        actions = {a["actionName"]: a for a in stage_state.get("actionStates", [])}
        for action, _ in stage.actions:
            latest = actions.get(action, {}).get("latestExecution", {}) if current else {}
            status = latest.get("status", "Pending")
            note = latest.get("summary") or latest.get("errorDetails", {}).get("message", "")
            took = seconds.get((stage.name, action)) if current else None
            rows.append(ActionProgress(stage.name, action, status, note, took))
            if status == "InProgress" and latest.get("token"):
                approval = Approval(stage.name, action, latest["token"])
    return Progress(state["pipelineName"], execution_id, execution["status"], tuple(rows), approval)


class CodePipelineControl:
    """Start, follow and approve runs with CodePipeline's API, as the notebook role allows."""

    def __init__(
        self, session: boto3.Session, pipeline_name: str, poll_seconds: float = 10.0
    ) -> None:
        self.codepipeline = session.client("codepipeline")
        self.pipeline_name = pipeline_name
        self.poll_seconds = poll_seconds

    def stages(self) -> list[StageInfo]:
        """The deployed pipeline's stages (GetPipeline)."""
        return stages_of(self.codepipeline.get_pipeline(name=self.pipeline_name))

    def start(self) -> str:
        """StartPipelineExecution: a run of the branch's latest commit."""
        started = self.codepipeline.start_pipeline_execution(name=self.pipeline_name)
        return str(started["pipelineExecutionId"])

    def progress(self, execution_id: str, stages: list[StageInfo]) -> Progress:
        """GetPipelineState, GetPipelineExecution and ListActionExecutions, as one table."""
        state = self.codepipeline.get_pipeline_state(name=self.pipeline_name)
        execution = self.codepipeline.get_pipeline_execution(
            pipelineName=self.pipeline_name, pipelineExecutionId=execution_id
        )["pipelineExecution"]
        details = self.codepipeline.list_action_executions(
            pipelineName=self.pipeline_name, filter={"pipelineExecutionId": execution_id}
        )["actionExecutionDetails"]
        return progress_from_aws(state, execution, stages, action_seconds(details))

    def approve(self, approval: Approval, comment: str) -> None:
        """PutApprovalResult with the approval's token."""
        self.codepipeline.put_approval_result(
            pipelineName=self.pipeline_name,
            stageName=approval.stage,
            actionName=approval.action,
            result={"summary": comment, "status": "Approved"},
            token=approval.token,
        )


def destroy_stacks(project: str, confirm_destroy: bool) -> None:
    """`python -m scripts.aws_stacks destroy`, only if confirmed and from a project clone."""
    command = ["-m", "scripts.aws_stacks", "destroy", "--project", project, "--yes"]
    if not confirm_destroy:
        print(
            "Nothing deleted. Set CONFIRM_DESTROY = True and run this cell again, or run "
            f"`python {shlex.join(command)}` from the repository: it deletes the endpoints, "
            f"models, bucket contents and both stacks of {project}."
        )
        return
    if not DESTROY_SCRIPT.is_file():
        raise RuntimeError(
            f"nothing deleted: {DESTROY_SCRIPT} is not in this copy of the notebook (the "
            f"notebook instance has none); run `make destroy PROJECT={project}` from a "
            "clone of the project"
        )
    subprocess.run([sys.executable, *command], cwd=REPO_ROOT, check=True)
