"""Follow a pipeline run: its stages, a progress table that refreshes, and the approval.

The same for both targets: `Config.control` (CodePipeline's API, which the local cloud serves
too) starts runs, reports their state as a `Progress` and answers approvals.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.display import Markdown, display

if TYPE_CHECKING:
    from .connect import Config

# Drawn from the pipeline template by `python -m notebooks.draw_architecture`.
ARCHITECTURE_PNG = Path(__file__).resolve().parents[1] / "architecture.png"
STAGE_NOTES = {
    "Source": "Takes the model code (SourceProvider: an S3 zip, CodeCommit or a Git "
    "connection) and the training-data manifest (S3); a new zip, a push or a new "
    "pipeline/data.zip starts a run.",
    "Build": "CodeBuild runs the container's unit tests, builds the image and pushes it to ECR, "
    "tagged with the commit.",
    "Train": "A SageMaker training job runs the image's `train` on the train and validation "
    "splits; a status Lambda follows it to the end.",
    "DeployDev": "Creates or updates the dev endpoint with the new model and waits for InService.",
    "Evaluate": "Sends the held-out test split through the dev endpoint: fails when the MSE is "
    "over the threshold or worse than prod's; else registers the model as a registry version.",
    "Approve": "Waits for a person (SNS notification with the evaluation summary); the answer "
    "becomes the version's status.",
    "DeployProd": "Rolls the Approved version out to prod: a canary bakes, then all traffic "
    "moves; an alarm in ALARM rolls it back.",
}


@dataclass(frozen=True)
class StageInfo:
    """One stage of the pipeline: its name and (action, what runs it) in order."""

    name: str
    actions: tuple[tuple[str, str], ...]


def runner_of(provider: str, configuration: Mapping[str, Any]) -> str:
    """What runs an action, in words: `λ <function>`, `manual approval`, or the provider."""
    if provider == "Lambda":
        function = configuration["FunctionName"]
        name = function["Ref"] if isinstance(function, dict) else str(function)
        return f"λ {name.removesuffix('Function')}"
    return "manual approval" if provider == "Manual" else provider


def stages_of(pipeline: Mapping[str, Any]) -> list[StageInfo]:
    """The stages of a GetPipeline answer."""
    return [
        StageInfo(
            stage["name"],
            tuple(
                (
                    action["name"],
                    runner_of(action["actionTypeId"]["provider"], action.get("configuration", {})),
                )
                for action in sorted(stage["actions"], key=lambda a: a.get("runOrder", 1))
            ),
        )
        for stage in pipeline["pipeline"]["stages"]
    ]


def stage_table(stages: list[StageInfo]) -> Markdown:
    """Stage, actions and what the stage does, as a table under the picture."""
    lines = ["| stage | actions | what it does |", "|---|---|---|"]
    for stage in stages:
        actions = "<br>".join(f"{name} ({runner})" for name, runner in stage.actions)
        lines.append(f"| **{stage.name}** | {actions} | {STAGE_NOTES.get(stage.name, '')} |")
    return Markdown("\n".join(lines))


@dataclass(frozen=True)
class ActionProgress:
    """One row of the progress table."""

    stage: str
    action: str
    status: str
    note: str = ""
    seconds: float | None = None


@dataclass(frozen=True)
class Approval:
    """A manual approval that waits, with the token PutApprovalResult needs."""

    stage: str
    action: str
    token: str


@dataclass(frozen=True)
class Progress:
    """An execution's state, as GetPipelineState and GetPipelineExecution tell it."""

    pipeline: str
    execution_id: str
    status: str
    actions: tuple[ActionProgress, ...]
    approval: Approval | None = None

    @property
    def state(self) -> str:
        """The status in words, the wait for an approval included."""
        return "waiting for approval" if self.approval else self.status

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """The table as text, for consoles and text exports."""
        lines = [f"{self.pipeline} execution {self.execution_id}: {self.state}"]
        for a in self.actions:
            seconds = "" if a.seconds is None else f"{a.seconds:.1f}s"
            lines.append(f"{a.stage:<12}{a.action:<18}{a.status:<11}{seconds:>7}  {a.note[:60]}")
        printer.text("\n".join(lines))

    def _repr_html_(self) -> str:
        """The table the notebook shows and refreshes."""
        colours = {"Succeeded": "#2e7d32", "Failed": "#c62828", "InProgress": "#1565c0"}
        rows = "".join(
            f"<tr><td>{html.escape(a.stage)}</td><td>{html.escape(a.action)}</td>"
            f"<td style='color:{colours.get(a.status, '#777')}'>{html.escape(a.status)}</td>"
            f"<td>{'' if a.seconds is None else f'{a.seconds:.1f}s'}</td>"
            f"<td style='text-align:left'>{html.escape(a.note[:140])}</td></tr>"
            for a in self.actions
        )
        return (
            f"<b>{html.escape(self.pipeline)}</b> execution {html.escape(self.execution_id)}: "
            f"<b>{html.escape(self.state)}</b><table><tr><th>stage</th><th>action</th>"
            f"<th>status</th><th>time</th><th>note</th></tr>{rows}</table>"
        )


def watch_pipeline(
    config: Config, execution_id: str, stop_at_approval: bool = False, timeout: float = 3600
) -> Progress:
    """Show a progress table that refreshes until the run ends (or waits for approval)."""
    control = config.control
    stages = control.stages()
    progress = control.progress(execution_id, stages)
    handle = display(progress, display_id=True)
    deadline = time.monotonic() + timeout
    while progress.status == "InProgress" and time.monotonic() < deadline:
        if stop_at_approval and progress.approval:
            break
        time.sleep(control.poll_seconds)
        progress = control.progress(execution_id, stages)
        handle.update(progress)
    if progress.status == "InProgress" and not (stop_at_approval and progress.approval):
        print(f"Still running after {timeout:.0f}s: call watch_pipeline again to keep watching.")
    return progress


def approve(config: Config, progress: Progress, comment: str) -> None:
    """Approve the waiting manual approval (what a reviewer does in the console)."""
    if progress.approval is None:
        raise RuntimeError(f"nothing waits for approval: the run is {progress.status}")
    config.control.approve(progress.approval, comment)
    print(f"{progress.approval.stage}/{progress.approval.action}: approved ({comment}).")
