"""The pipeline on AWS: CodePipeline's own API (what the console does), and the tear-down."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import boto3

from .connect import REPO_ROOT
from .progress import ActionProgress, Approval, Progress, StageInfo, stages_of

DESTROY_SCRIPT = REPO_ROOT / "scripts" / "aws_stacks" / "__main__.py"


def progress_from_aws(
    state: Mapping[str, Any], execution: Mapping[str, Any], stages: list[StageInfo]
) -> Progress:
    """get_pipeline_state + get_pipeline_execution; stages still on an older run are Pending."""
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
            rows.append(ActionProgress(stage.name, action, status, note))
            if status == "InProgress" and latest.get("token"):
                approval = Approval(stage.name, action, latest["token"])
    return Progress(state["pipelineName"], execution_id, execution["status"], tuple(rows), approval)


class CodePipelineControl:
    """Start, follow and approve runs with CodePipeline's API, as the notebook role allows."""

    poll_seconds = 10.0

    def __init__(self, session: boto3.Session, pipeline_name: str, project: str) -> None:
        self.codepipeline = session.client("codepipeline")
        self.pipeline_name = pipeline_name
        self.project = project

    def stages(self) -> list[StageInfo]:
        """The deployed pipeline's stages (GetPipeline)."""
        return stages_of(self.codepipeline.get_pipeline(name=self.pipeline_name))

    def start(self) -> str:
        """StartPipelineExecution: a run of the branch's latest commit."""
        started = self.codepipeline.start_pipeline_execution(name=self.pipeline_name)
        return str(started["pipelineExecutionId"])

    def progress(self, execution_id: str, stages: list[StageInfo]) -> Progress:
        """GetPipelineState and GetPipelineExecution, as one progress table."""
        state = self.codepipeline.get_pipeline_state(name=self.pipeline_name)
        execution = self.codepipeline.get_pipeline_execution(
            pipelineName=self.pipeline_name, pipelineExecutionId=execution_id
        )["pipelineExecution"]
        return progress_from_aws(state, execution, stages)

    def approve(self, approval: Approval, comment: str) -> None:
        """PutApprovalResult with the approval's token."""
        self.codepipeline.put_approval_result(
            pipelineName=self.pipeline_name,
            stageName=approval.stage,
            actionName=approval.action,
            result={"summary": comment, "status": "Approved"},
            token=approval.token,
        )

    def clean_up(self, confirm_destroy: bool) -> None:
        """`python -m scripts.aws_stacks destroy`, only if confirmed and from a project clone."""
        command = ["-m", "scripts.aws_stacks", "destroy", "--project", self.project, "--yes"]
        if not confirm_destroy:
            print(
                "Nothing deleted. Set CONFIRM_DESTROY = True and run this cell again, or run "
                f"`python {shlex.join(command)}` from the repository: it deletes the endpoints, "
                f"models, bucket contents and both stacks of {self.project}."
            )
            return
        if not DESTROY_SCRIPT.is_file():
            raise RuntimeError(
                f"nothing deleted: {DESTROY_SCRIPT} is not in this copy of the notebook (the "
                f"notebook instance has none); run `make destroy PROJECT={self.project}` from a "
                "clone of the project"
            )
        subprocess.run([sys.executable, *command], cwd=REPO_ROOT, check=True)
