"""The pipeline template, docs/design.md and the Lambdas agree on every Lambda action: the
function it invokes, its UserParameters, the artifacts it reads and writes and the files in them,
and each function's handler, code key and environment."""

from __future__ import annotations

import dataclasses
import json
import re
from types import ModuleType
from typing import Any

import pytest

from localcloud.cfn import load_template
from localcloud.codepipeline.definition import Action, template_stages
from localcloud.stacks import lambda_functions
from tests.lambdas.conftest import REPO_ROOT, load_module

TEMPLATE = REPO_ROOT / "templates" / "02-pipeline.yml"

# What CodePipeline makes of `{"execution_id": "#{codepipeline.PipelineExecutionId}"}`.
EXECUTION_ID = "5b2a1f0e-0c1d-4e5f-8a9b-0c1d2e3f4a5b"
EXECUTION = {"execution_id": EXECUTION_ID}
# docs/design.md, "Pipeline stages, actions and artifacts": the Lambda actions, in order, with
# the UserParameters the design gives as examples.
DESIGN = [
    ("Train", "TrainModel", "train_model", {"hyperparameters": {}}, "BuildOutput", "TrainJob"),
    ("Train", "TrainStatus", "get_status", {"stage": "Training"}, "TrainJob", "TrainedModel"),
    (
        "DeployDev",
        "DeployDevModel",
        "deploy_model",
        {"env": "dev", "instance_type": "ml.m5.large", "instance_count": 1},
        "TrainedModel",
        "DevDeployment",
    ),
    (
        "DeployDev",
        "DevStatus",
        "get_status",
        {"stage": "Deployment"},
        "DevDeployment",
        "DevEndpoint",
    ),
    ("Evaluate", "EvaluateModel", "evaluate_model", None, "DevEndpoint", "Evaluation"),
    ("Evaluate", "RegisterModel", "register_model", EXECUTION, "Evaluation", "Registration"),
    ("Approve", "RecordApproval", "record_approval", EXECUTION, "Registration", None),
    (
        "DeployProd",
        "DeployProdModel",
        "deploy_model",
        {
            "env": "prod",
            "instance_type": "ml.m5.large",
            "instance_count": 1,
            "model_source": "registry",
        },
        "Registration",
        "ProdDeployment",
    ),
    (
        "DeployProd",
        "ProdStatus",
        "get_status",
        {"stage": "Deployment"},
        "ProdDeployment",
        "ProdEndpoint",
    ),
]
# The one JSON file each artifact holds (design.md); BuildOutput comes from CodeBuild.
ARTIFACT_FILES = {
    "BuildOutput": "imageDetail.json",
    "TrainJob": "training_job.json",
    "TrainedModel": "training_job.json",
    "DevDeployment": "deployment.json",
    "DevEndpoint": "deployment.json",
    "Evaluation": "evaluation.json",
    "Registration": "registration.json",
    None: None,  # RecordApproval writes no artifact
    "ProdDeployment": "deployment.json",
    "ProdEndpoint": "deployment.json",
}
LOGICAL_IDS = {folder: spec.logical_id for folder, spec in lambda_functions().items()}


@pytest.fixture
def apps(cloud) -> dict[str, ModuleType]:
    """Every function's app module, by folder."""
    return {folder: load_module(f"{folder}/app") for folder in LOGICAL_IDS}


def files_of(app: ModuleType, user_parameters: dict[str, Any] | None) -> tuple[str, str | None]:
    """The files a function declares it reads from its input and writes to its output artifact."""
    if hasattr(app, "STAGE_FILES"):  # GetStatus: the stage decides
        stage = app.parse_stage(user_parameters)
        return app.STAGE_FILES[stage], app.STAGE_FILES[stage]
    if hasattr(app, "INPUT_FILES"):  # DeployModel: the model's source decides
        return app.INPUT_FILES[app.parse_target(user_parameters).model_source], app.OUTPUT_FILE
    return app.INPUT_FILE, getattr(app, "OUTPUT_FILE", None)


def check_user_parameters(app: ModuleType, user_parameters: dict[str, Any] | None) -> None:
    """Run the function's own UserParameters parser: it raises on anything it would refuse."""
    # The function's own parser; else the shared one for `{"execution_id": ...}`, if it uses it.
    own = ("parse_hyperparameters", "parse_stage", "parse_target")
    defined = [getattr(app, name) for name in own if hasattr(app, name)]
    parser = next((f for f in defined if f.__module__ == app.__name__), None)
    parser = parser or getattr(app, "pipeline_execution_id", None)
    if parser is None:
        assert user_parameters is None, f"{app.__name__} takes no UserParameters"
    else:
        parser(user_parameters or {})


def environment_of(app: ModuleType) -> set[str]:
    """The variables a function reads: the fields of its settings dataclasses (Settings, and
    DeployModel's MonitoringSettings), upper-cased, and LOG_LEVEL."""
    settings = [
        value
        for name, value in vars(app).items()
        if name.endswith("Settings") and dataclasses.is_dataclass(value)
    ]
    if settings:
        return {f.name.upper() for cls in settings for f in dataclasses.fields(cls)} | {"LOG_LEVEL"}
    return {"MAX_INSTANCES", "LOG_LEVEL"}  # PredictProxy reads its one setting directly


@pytest.mark.parametrize(("stage", "action", "folder", "parameters", "source", "target"), DESIGN)
def test_each_function_reads_and_writes_the_designed_files(
    apps, stage, action, folder, parameters, source, target
):
    # GIVEN the design's row for this action
    app = apps[folder]
    # THEN the function accepts the designed UserParameters and declares the designed files
    check_user_parameters(app, parameters)
    assert files_of(app, parameters) == (ARTIFACT_FILES[source], ARTIFACT_FILES[target])


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """templates/02-pipeline.yml, intrinsic functions as cfn-lint decodes them."""
    return load_template(TEMPLATE)


def resolve(value: Any, template: dict[str, Any]) -> Any:
    """A Ref or Sub of parameters, with their defaults (all UserParameters need)."""
    defaults = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    if isinstance(value, dict) and "Ref" in value:
        return defaults[value["Ref"]]
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        assert isinstance(text, str), "UserParameters: use the one-string form of !Sub"
        return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: defaults[m.group(1)], text)
    if isinstance(value, str):
        return value.replace("#{codepipeline.PipelineExecutionId}", EXECUTION_ID)
    return value


def lambda_actions(template: dict[str, Any]) -> list[tuple[str, Action]]:
    """(stage name, action) of every Lambda invoke action of the pipeline, in order."""
    return [
        (stage.name, action)
        for stage in template_stages(template)
        for action in stage.actions
        if action.provider == "Lambda"
    ]


def test_the_template_has_the_designed_lambda_actions(template, apps):
    # GIVEN the pipeline in the template
    actions = lambda_actions(template)
    # THEN it has exactly the design's Lambda actions, in order
    assert [(stage, a.name) for stage, a in actions] == [(row[0], row[1]) for row in DESIGN]
    for (_, action), (_, name, folder, _, source, target) in zip(actions, DESIGN, strict=True):
        configuration = action.configuration
        # ... each invoking the designed function
        assert configuration["FunctionName"] == {"Ref": LOGICAL_IDS[folder]}, name
        # ... with UserParameters (parameter defaults filled in) the function accepts
        raw = configuration.get("UserParameters")
        parameters = None if raw is None else json.loads(resolve(raw, template))
        check_user_parameters(apps[folder], parameters)
        # ... and the designed artifacts, holding the files the function reads and writes
        outputs = () if target is None else (target,)
        assert (action.input_artifacts, action.output_artifacts) == ((source,), outputs), name
        assert files_of(apps[folder], parameters) == (
            ARTIFACT_FILES[source],
            ARTIFACT_FILES[target],
        ), name


def test_the_build_stage_produces_the_image_detail(template):
    # GIVEN the pipeline WHEN looking for who writes BuildOutput THEN it is the CodeBuild action
    writers = [
        action.provider
        for stage in template_stages(template)
        for action in stage.actions
        if "BuildOutput" in action.output_artifacts
    ]
    assert writers == ["CodeBuild"]
    assert "imageDetail.json" in (REPO_ROOT / "buildspecs" / "buildspec.yml").read_text()


@pytest.mark.parametrize("folder", sorted(LOGICAL_IDS))
def test_each_function_resource_matches_its_code(template, apps, folder):
    # GIVEN the function's resource
    properties = template["Resources"][LOGICAL_IDS[folder]]["Properties"]
    # THEN its handler and runtime are the contract, its code is the packager's zip ...
    assert properties["Handler"] == "app.handler"
    assert properties["Runtime"] == "python3.13"
    key = properties["Code"]["S3Key"]
    assert key == {"Ref": f"{LOGICAL_IDS[folder].removesuffix('Function')}ZipKey"}
    assert resolve(key, template) == f"lambdas/{folder}.zip"
    assert (REPO_ROOT / "lambdas" / folder / "app.py").exists()
    # ... and its environment is exactly what the function reads
    variables = set(properties["Environment"]["Variables"])
    assert variables == environment_of(apps[folder])


def test_each_api_stage_names_its_endpoint(template):
    # GIVEN the REST API stages WHEN PredictProxy reads stageVariables.endpointName THEN it is set
    stages = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ApiGateway::Stage"
    ]
    assert sorted(s["StageName"] for s in stages) == ["dev", "prod"]
    for stage in stages:
        assert "endpointName" in stage.get("Variables", {})
