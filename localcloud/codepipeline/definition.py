"""The pipeline's stages and actions, read from its template and resolved against its stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localcloud.cfn import StackContext, TemplateError, render, resolve

PIPELINE_TYPE = "AWS::CodePipeline::Pipeline"
PIPELINE_VERSION = 1  # the local pipeline is never updated


@dataclass(frozen=True)
class Action:
    """One action of a stage, with its configuration resolved to plain values."""

    name: str
    category: str
    provider: str
    configuration: dict[str, Any]
    input_artifacts: tuple[str, ...]
    output_artifacts: tuple[str, ...]
    run_order: int
    owner: str = "AWS"
    version: str = "1"
    namespace: str | None = None  # where its output variables are found: #{<namespace>.<name>}


@dataclass(frozen=True)
class Stage:
    """A stage: its actions in run order."""

    name: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class PipelineDefinition:
    """What the runner executes: a name, the artifact bucket and the stages in order."""

    name: str
    artifact_bucket: str
    stages: tuple[Stage, ...]
    role_arn: str = ""
    pipeline_type: str = "V1"
    execution_mode: str = "SUPERSEDED"

    def stage_index(self, name: str) -> int | None:
        """The position of the stage called `name`, or None."""
        return next((i for i, stage in enumerate(self.stages) if stage.name == name), None)


def _action(raw: dict[str, Any]) -> Action:
    type_id = raw["ActionTypeId"]
    return Action(
        name=raw["Name"],
        category=type_id["Category"],
        provider=type_id["Provider"],
        configuration=dict(raw.get("Configuration", {})),
        input_artifacts=tuple(a["Name"] for a in raw.get("InputArtifacts", [])),
        output_artifacts=tuple(a["Name"] for a in raw.get("OutputArtifacts", [])),
        run_order=int(raw.get("RunOrder", 1)),
        owner=type_id.get("Owner", "AWS"),
        version=str(type_id.get("Version", "1")),
        namespace=raw.get("Namespace"),
    )


def _pipeline_resource(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    pipelines = [
        (logical_id, resource)
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == PIPELINE_TYPE
    ]
    if len(pipelines) != 1:
        raise TemplateError(f"expected exactly one {PIPELINE_TYPE}, found {len(pipelines)}")
    return pipelines[0]


def _stages(properties: dict[str, Any]) -> tuple[Stage, ...]:
    return tuple(
        Stage(
            name=stage["Name"],
            actions=tuple(
                sorted((_action(a) for a in stage["Actions"]), key=lambda a: a.run_order)
            ),
        )
        for stage in properties["Stages"]
    )


def template_stages(template: dict[str, Any]) -> tuple[Stage, ...]:
    """The template's stages as a stack with its default parameters has them (other intrinsic
    functions unresolved): what the pipeline is, for readers that have no stack (the
    architecture picture, the tests)."""
    return _stages(_pipeline_resource(render(template, {}))[1]["Properties"])


def read_pipeline(template: dict[str, Any], context: StackContext) -> PipelineDefinition:
    """Find the template's one pipeline and resolve it against the created stack."""
    logical_id, resource = _pipeline_resource(template)
    properties = resolve(resource["Properties"], context)
    store = properties.get("ArtifactStore") or {}
    if store.get("Type") != "S3":
        raise TemplateError(f"{logical_id}: the artifact store must be an S3 bucket")
    name = properties.get("Name") or context.physical_ids.get(logical_id, logical_id)
    mode = properties.get("ExecutionMode", "SUPERSEDED")
    if mode != "SUPERSEDED":
        raise TemplateError(
            f"{logical_id}: ExecutionMode {mode}: the local runner has SUPERSEDED only"
        )
    return PipelineDefinition(
        name=name,
        artifact_bucket=store["Location"],
        stages=_stages(properties),
        role_arn=str(properties.get("RoleArn", "")),
        pipeline_type=properties.get("PipelineType", "V1"),
        execution_mode=mode,
    )
