"""The two templates read the way a console user fills them in and follow docs/design.md:
sections, parameters and their constraints, outputs and exports, the pipeline's stages,
actions and artifacts, the Lambdas, the build, the API."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from localcloud.cfn import render
from scripts.aws_stacks.constraints import violation
from scripts.template_choices import SOURCE_CHOICES
from tests.templates.conftest import (
    SECTION_ORDER,
    TEMPLATE_PATHS,
    as_list,
    design_actions,
    design_lambdas,
    design_template_names,
    load_template,
    parameter_defaults,
    render_sub,
    resources_of_type,
    walk,
)

NAMES = ("prep", "pipeline")
PROJECT = {"Project": "abalone", "ProjectName": "abalone"}


def _import_of(value: Any) -> str | None:
    """The export suffix an {"Fn::ImportValue": {"Fn::Sub": "${PrepStackName}-X"}} reads."""
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        sub = value["Fn::ImportValue"]["Fn::Sub"]
        assert sub.startswith("${PrepStackName}-"), sub
        return sub.removeprefix("${PrepStackName}-")
    return None


def _render(value: Any, template: dict[str, Any]) -> str:
    """A Sub rendered with the parameter defaults and the project 'abalone'."""
    variables = {**parameter_defaults(template), **PROJECT}
    variables.update({"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"})
    variables.update({"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"})
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), list):
        text, mapping = value["Fn::Sub"]
        for key, item in mapping.items():
            if _import_of(item) == "ProjectName":
                variables[key] = "abalone"
        return render_sub(text, variables)
    return render_sub(value, variables)


# --- sections, description, console metadata ------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_sections_come_in_the_fixed_order(name: str) -> None:
    sections = list(load_template(name))
    assert sections == [s for s in SECTION_ORDER if s in sections]
    assert set(SECTION_ORDER) - set(sections) <= {"Conditions"}


@pytest.mark.parametrize("name", NAMES)
def test_description_says_what_it_creates_and_what_it_costs(name: str) -> None:
    description = load_template(name)["Description"]
    assert len(description) <= 1024
    assert "cost" in description.lower()
    assert "USD" in description


@pytest.mark.parametrize("name", NAMES)
def test_console_interface_groups_and_labels_every_parameter_once(name: str) -> None:
    template = load_template(name)
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for group in interface["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"]), "each parameter in one group"
    assert all(group["Label"]["default"] for group in interface["ParameterGroups"])
    labels = interface["ParameterLabels"]
    assert set(labels) == set(template["Parameters"])
    assert all(label["default"] for label in labels.values())


@pytest.mark.parametrize("name", NAMES)
def test_no_lambda_code_inline_and_no_hardcoded_partition(name: str) -> None:
    text = TEMPLATE_PATHS[name].read_text()
    assert "ZipFile" not in text
    assert "arn:aws:" not in text, "ARNs are built with ${AWS::Partition}"


# --- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_parameter_names_are_the_ones_design_md_lists(name: str) -> None:
    listed = set(design_template_names()[name]["Parameters"])
    if name == "pipeline":  # "and the optional `...ZipVersion` of each"
        listed |= {n.replace("ZipKey", "ZipVersion") for n in listed if n.endswith("ZipKey")}
    assert listed <= set(load_template(name)["Parameters"])


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_has_a_description_and_a_constraint_its_default_meets(name: str) -> None:
    for param, spec in load_template(name)["Parameters"].items():
        assert spec["Type"] in ("String", "Number"), param
        assert spec.get("Description"), f"{param} has no Description"
        if "AllowedValues" not in spec:
            if spec["Type"] == "Number":
                assert "MinValue" in spec, f"{param} has no MinValue"
            else:
                assert spec.get("AllowedPattern"), (
                    f"{param} has neither AllowedValues nor a pattern"
                )
            assert spec.get("ConstraintDescription"), f"{param} has no ConstraintDescription"
        # ... and its default passes the check `make deploy` applies to every value
        if "Default" in spec:
            assert violation(param, spec, str(spec["Default"])) is None, param


@pytest.mark.parametrize("name", NAMES)
def test_optional_parameters_default_to_empty_and_are_used_through_a_condition(name: str) -> None:
    template = load_template(name)
    optional = {p: s for p, s in template["Parameters"].items() if "(Optional)" in s["Description"]}
    for param, spec in template["Parameters"].items():
        assert ("(Optional)" in spec["Description"]) == spec["Description"].startswith(
            "(Optional)"
        ), param
    for param, spec in optional.items():
        assert spec["Default"] == ""
        assert re.fullmatch(spec["AllowedPattern"], "")
        ref = {"Fn::Equals": [{"Ref": param}, ""]}
        conditions = [c for c in template.get("Conditions", {}).values() if ref in walk(c)]
        assert conditions, f"no Condition tests {param} against ''"
    if name == "pipeline":
        assert set(optional) == {
            "ApprovalEmail",
            "AllowedSourceCidrs",
            *(f"{fn}ZipVersion" for fn in ("TrainModel", "GetStatus", "DeployModel")),
            *(f"{fn}ZipVersion" for fn in ("EvaluateModel", "PredictProxy")),
            *(f"{fn}ZipVersion" for fn in ("RegisterModel", "RecordApproval", "GroundTruth")),
            *(f"{fn}ZipVersion" for fn in ("StartBatchTransform", "ReportBatchTransform")),
        }


VALID_PROJECT_NAMES = ["abalone", "abc", "a1-b2", "my-project-2024", "a" + "b" * 23, "x-9"]
INVALID_PROJECT_NAMES = [
    "",
    "ab",  # too short
    "a" * 25,  # too long
    "Abalone",  # uppercase
    "1abalone",  # starts with a digit
    "-abalone",
    "abalone-",  # trailing hyphen
    "aba_lone",
    "aba lone",
    "abalone.",
    "abälone",
]


@pytest.mark.parametrize("value", VALID_PROJECT_NAMES)
def test_project_name_pattern_accepts(value: str) -> None:
    spec = load_template("prep")["Parameters"]["ProjectName"]
    assert re.fullmatch(spec["AllowedPattern"], value)


@pytest.mark.parametrize("value", INVALID_PROJECT_NAMES)
def test_project_name_pattern_rejects(value: str) -> None:
    spec = load_template("prep")["Parameters"]["ProjectName"]
    assert not re.fullmatch(spec["AllowedPattern"], value)


def test_project_name_constraint_description_states_the_rule() -> None:
    text = load_template("prep")["Parameters"]["ProjectName"]["ConstraintDescription"]
    for words in ("3 to 24", "lowercase", "digits", "hyphens", "letter", "ending with a hyphen"):
        assert words in text


@pytest.mark.parametrize(
    ("param", "good", "bad"),
    [
        ("Hyperparameters", ["{}", '{"alpha": "0.3"}'], ["", '{"a": {"b": "c"}}', "[]"]),
        ("ApprovalEmail", ["", "ml@example.com"], ["ml@", "not an email"]),
        ("TrainModelZipVersion", ["", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"], ["a b"]),
        ("TrainingInstanceType", ["ml.m5.large", "ml.g4dn.xlarge"], ["m5.large", "ml.m5"]),
        ("PrepStackName", ["abalone-prep", "Prep1"], ["1prep", "prep_stack", ""]),
        ("BranchName", ["main", "feature/x-1"], ["", "-main", "a b"]),
        (
            "AllowedSourceCidrs",
            ["", "10.0.0.0/8", "203.0.113.0/24,198.51.100.7/32"],
            ["10.0.0.0", "256.0.0.0/8", "10.0.0.0/33", "10.0.0.0/8,", "10.0.0.0/8, 1.2.3.4/32"],
        ),
    ],
)
def test_pipeline_parameter_patterns(param: str, good: list[str], bad: list[str]) -> None:
    pattern = load_template("pipeline")["Parameters"][param]["AllowedPattern"]
    for value in good:
        assert re.fullmatch(pattern, value), (param, value)
    for value in bad:
        assert not re.fullmatch(pattern, value), (param, value)


def test_defaults_are_the_ones_design_md_names() -> None:
    pipeline = parameter_defaults(load_template("pipeline"))
    assert "PrepStackName" not in pipeline, "the console user names the prep stack"
    for logical_id, (folder, _) in design_lambdas().items():
        key = logical_id.removesuffix("Function") + "ZipKey"
        assert pipeline[key] == f"lambdas/{folder.removeprefix('lambdas/')}.zip"


# --- outputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_outputs_are_the_design_md_ones_each_described_and_exported(name: str) -> None:
    outputs = load_template(name)["Outputs"]
    assert list(outputs) == list(design_template_names()[name]["Outputs"])
    for key, output in outputs.items():
        assert output.get("Description"), key
        assert output["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{key}"}


def test_pipeline_outputs_render_to_the_contracted_values() -> None:
    template = load_template("pipeline")
    outputs = template["Outputs"]
    for stage in ("dev", "prod"):
        url = outputs[f"{stage.capitalize()}PredictUrl"]["Value"]
        assert url == {
            "Fn::Sub": f"https://${{Api}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
            f"/{stage}/predict"
        }
    assert _render(outputs["PipelineName"]["Value"], template) == "abalone-pipeline"
    assert outputs["ApiKeyId"]["Value"] == {"Ref": "ApiKey"}
    assert outputs["EcrRepositoryUri"]["Value"] == {
        "Fn::GetAtt": ["EcrRepository", "RepositoryUri"]
    }


def test_pipeline_stack_imports_only_outputs_the_prep_stack_exports() -> None:
    exported = set(load_template("prep")["Outputs"])
    imported = {_import_of(v) for v in walk(load_template("pipeline")["Resources"])} - {None}
    assert imported
    assert imported <= exported


# --- prep stack -----------------------------------------------------------------------------


def test_notebook_instance_uses_imdsv2_the_repository_and_its_lifecycle_config() -> None:
    template = load_template("prep")
    (notebook,) = resources_of_type(template, "AWS::SageMaker::NotebookInstance").values()
    props = notebook["Properties"]
    assert props["InstanceMetadataServiceConfiguration"] == {
        "MinimumInstanceMetadataServiceVersion": "2"
    }
    assert props["LifecycleConfigName"] == {
        "Fn::GetAtt": ["NotebookLifecycleConfig", "NotebookInstanceLifecycleConfigName"]
    }
    assert props["InstanceType"] == {"Ref": "NotebookInstanceType"}
    assert props["RoleArn"] == {"Fn::GetAtt": ["NotebookRole", "Arn"]}
    assert props["PlatformIdentifier"] == "notebook-al2-v3"
    assert props["RootAccess"] == "Disabled"
    (repository,) = resources_of_type(template, "AWS::CodeCommit::Repository").values()
    assert repository["Properties"]["RepositoryName"] == {"Ref": "ProjectName"}


@pytest.mark.parametrize(
    ("choice", "repository"),
    [
        ("CodeCommit", {"Fn::GetAtt": ["Repository", "CloneUrlHttp"]}),
        ("CodeConnection", {"Ref": "GitCloneUrl"}),
        ("S3", None),  # the lifecycle script unpacks the pushed zip instead
    ],
)
def test_the_notebook_clones_the_source_the_stack_was_made_for(
    choice: str, repository: dict[str, Any] | None
) -> None:
    prep = render(load_template("prep"), SOURCE_CHOICES[choice]["prep"])
    notebook = prep["Resources"]["NotebookInstance"]["Properties"]
    assert notebook.get("DefaultCodeRepository") == repository
    assert ("Repository" in prep["Resources"]) == (choice == "CodeCommit")
    codecommit_outputs = {"RepositoryName", "RepositoryCloneUrlHttp"} & set(prep["Outputs"])
    assert codecommit_outputs == (
        {"RepositoryName", "RepositoryCloneUrlHttp"} if choice == "CodeCommit" else set()
    )
    if choice == "CodeCommit":
        assert _render(prep["Outputs"]["RepositoryCloneUrlHttp"]["Value"], prep) == (
            "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/abalone"
        )


# --- pipeline stack: the pipeline -----------------------------------------------------------


def _rendered(choice: str = "S3") -> dict[str, Any]:
    """The pipeline template as a stack of that model-code source is made of it."""
    return render(load_template("pipeline"), SOURCE_CHOICES[choice]["pipeline"])


def _pipeline(choice: str = "S3") -> dict[str, Any]:
    (pipeline,) = resources_of_type(_rendered(choice), "AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]


def _actions(choice: str = "S3") -> list[tuple[str, dict[str, Any]]]:
    return [
        (stage["Name"], action)
        for stage in _pipeline(choice)["Stages"]
        for action in stage["Actions"]
    ]


def test_pipeline_is_v2_and_named_after_the_project() -> None:
    template = load_template("pipeline")
    props = _pipeline()
    assert props["PipelineType"] == "V2"
    assert _render(props["Name"], template) == "abalone-pipeline"
    assert props["ArtifactStore"] == {"Type": "S3", "Location": {"Ref": "ArtifactBucket"}}


def test_stages_and_actions_follow_design_md_in_order() -> None:
    expected_stages = list(dict.fromkeys(a.stage for a in design_actions()))
    assert [s["Name"] for s in _pipeline()["Stages"]] == expected_stages
    actual = [
        (
            stage,
            action["Name"],
            tuple(a["Name"] for a in action.get("InputArtifacts", [])),
            tuple(a["Name"] for a in action.get("OutputArtifacts", [])),
        )
        for stage, action in _actions()
    ]
    expected = [(a.stage, a.action, a.inputs, a.outputs) for a in design_actions()]
    assert actual == expected


def test_actions_within_a_stage_run_in_sequence_except_the_two_sources() -> None:
    for stage in _pipeline()["Stages"]:
        orders = [action["RunOrder"] for action in stage["Actions"]]
        if stage["Name"] == "Source":
            assert orders == [1, 1]
        else:
            assert orders == list(range(1, len(orders) + 1)), stage["Name"]


def test_action_providers_and_functions_match_design_md() -> None:
    by_name = {action["Name"]: action for _, action in _actions()}
    for row in design_actions():
        action = by_name[row.action]
        type_id = action["ActionTypeId"]
        assert type_id["Owner"] == "AWS" and type_id["Version"] == "1"
        if row.kind.startswith("Lambda"):
            function = re.search(r"\((\w+)\)", row.kind)
            logical_id = f"{function.group(1) if function else row.action}Function"
            assert logical_id in design_lambdas()
            assert (type_id["Category"], type_id["Provider"]) == ("Invoke", "Lambda")
            assert action["Configuration"]["FunctionName"] == {"Ref": logical_id}
        elif row.kind.startswith("S3"):
            assert (type_id["Category"], type_id["Provider"]) == ("Source", "S3")
        elif row.kind == "CodeBuild":
            assert (type_id["Category"], type_id["Provider"]) == ("Build", "CodeBuild")
            assert action["Configuration"]["ProjectName"] == {"Ref": "BuildProject"}
        else:
            assert row.kind.startswith("Manual approval")
            assert (type_id["Category"], type_id["Provider"]) == ("Approval", "Manual")
            assert action["Configuration"]["NotificationArn"] == {"Ref": "NotificationTopic"}


def test_user_parameters_match_design_md() -> None:
    template = load_template("pipeline")
    by_name = {action["Name"]: action for _, action in _actions()}
    for row in design_actions():
        configured = by_name[row.action].get("Configuration", {}).get("UserParameters")
        if not row.user_parameters:
            assert configured is None, row.action
        elif "..." not in row.user_parameters:  # static: exactly the JSON design.md shows
            assert json.loads(configured) == json.loads(row.user_parameters), row.action
        else:  # built from parameters: render with the defaults and compare the shape
            rendered = json.loads(_render(configured, template))
            documented_keys = set(re.findall(r'"(\w+)":', row.user_parameters))
            if ", ..." in row.user_parameters:  # {"env": "prod", ...}: as for dev
                documented_keys |= {"instance_type", "instance_count"}
            assert set(rendered) == documented_keys, row.action
            env = re.search(r'"env": "(\w+)"', row.user_parameters)
            if env:
                assert rendered["env"] == env.group(1)
                prefix = env.group(1).capitalize()
                assert (
                    rendered["instance_type"]
                    == parameter_defaults(template)[f"{prefix}InstanceType"]
                )
                assert isinstance(rendered["instance_count"], int)


# What starts the pipeline, by model-code source: its rules (logical id -> event source) and
# its model-code action's configuration.
SOURCE_STARTERS = {
    "S3": {
        "ModelCodeUploadRule": "aws.s3",
        "TrainingDataRule": "aws.s3",
        "RetrainOnDriftRule": "aws.cloudwatch",
    },
    "CodeCommit": {
        "ModelCodeRule": "aws.codecommit",
        "TrainingDataRule": "aws.s3",
        "RetrainOnDriftRule": "aws.cloudwatch",
    },
    "CodeConnection": {"TrainingDataRule": "aws.s3", "RetrainOnDriftRule": "aws.cloudwatch"},
}
MODEL_CODE_CONFIGURATION = {
    "S3": {
        "S3Bucket": {"Ref": "DataBucket"},
        "S3ObjectKey": "pipeline/model-code.zip",
        "PollForSourceChanges": False,
    },
    "CodeCommit": {
        "RepositoryName": {"Fn::ImportValue": {"Fn::Sub": "${PrepStackName}-RepositoryName"}},
        "BranchName": {"Ref": "BranchName"},
        "PollForSourceChanges": False,
    },
    "CodeConnection": {
        "ConnectionArn": {"Ref": "ConnectionArn"},
        "FullRepositoryId": {"Ref": "FullRepositoryId"},
        "BranchName": {"Ref": "BranchName"},
        "OutputArtifactFormat": "CODE_ZIP",
    },
}


@pytest.mark.parametrize("choice", SOURCE_CHOICES)
def test_sources_are_event_driven(choice: str) -> None:
    template = _rendered(choice)
    by_name = {action["Name"]: action for _, action in _actions(choice)}
    assert by_name["ModelCode"]["Configuration"] == MODEL_CODE_CONFIGURATION[choice]
    assert by_name["ModelCode"]["OutputArtifacts"] == [{"Name": "SourceOutput"}]
    data = by_name["TrainingData"]["Configuration"]
    assert data == {
        "S3Bucket": {"Ref": "DataBucket"},
        "S3ObjectKey": "pipeline/data.zip",
        "PollForSourceChanges": False,
    }
    bucket = template["Resources"]["DataBucket"]["Properties"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"] == {
        "EventBridgeEnabled": True
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}

    rules = resources_of_type(template, "AWS::Events::Rule")
    starters = {
        logical_id: r["Properties"]
        for logical_id, r in rules.items()
        if r["Properties"]["Targets"][0].get("RoleArn")  # the ones that start the pipeline
    }
    sources = {k: r["EventPattern"]["source"][0] for k, r in starters.items()}
    assert sources == SOURCE_STARTERS[choice]
    drift = starters["RetrainOnDriftRule"]
    raw_drift = load_template("pipeline")["Resources"]["RetrainOnDriftRule"]["Properties"]
    assert raw_drift["State"] == {"Fn::If": ["RetrainsOnDrift", "ENABLED", "DISABLED"]}
    assert drift["EventPattern"]["detail"] == {
        "alarmName": [{"Ref": "DataDriftAlarm"}],
        "state": {"value": ["ALARM"]},
    }
    if choice == "CodeCommit":
        codecommit = starters["ModelCodeRule"]["EventPattern"]
        assert codecommit["detail"]["referenceName"] == [{"Ref": "BranchName"}]
    uploads = {
        "TrainingDataRule": "pipeline/data.zip",
        "ModelCodeUploadRule": "pipeline/model-code.zip",
    }
    for logical_id, key in uploads.items():
        if logical_id in starters:
            s3 = starters[logical_id]["EventPattern"]
            assert s3["detail-type"] == ["Object Created"]
            assert s3["detail"] == {
                "bucket": {"name": [{"Ref": "DataBucket"}]},
                "object": {"key": [key]},
            }
    triggers = _pipeline(choice).get("Triggers")
    if choice == "CodeConnection":  # a push to the branch, through the connection
        assert triggers == [
            {
                "ProviderType": "CodeStarSourceConnection",
                "GitConfiguration": {
                    "SourceActionName": "ModelCode",
                    "Push": [{"Branches": {"Includes": [{"Ref": "BranchName"}]}}],
                },
            }
        ]
    else:
        assert triggers is None
    for rule in starters.values():
        (target,) = rule["Targets"]
        assert _render(target["Arn"], template) == (
            "arn:aws:codepipeline:us-east-1:123456789012:abalone-pipeline"
        )
        assert target["RoleArn"] == {"Fn::GetAtt": ["PipelineEventsRole", "Arn"]}


# --- pipeline stack: Lambdas, build, API, storage -------------------------------------------


def test_lambdas_run_a_supported_python_from_the_code_bucket() -> None:
    template = load_template("pipeline")
    functions = resources_of_type(template, "AWS::Lambda::Function")
    for logical_id, function in functions.items():
        props = function["Properties"]
        short = logical_id.removesuffix("Function")
        assert props["Runtime"] == "python3.13"
        assert all(
            isinstance(v, (dict, str)) for v in props["Environment"]["Variables"].values()
        ), "environment values are strings"
        code = props["Code"]
        assert _import_of(code["S3Bucket"]) == "LambdaCodeBucketName"
        assert code["S3Key"] == {"Ref": f"{short}ZipKey"}
        assert code["S3ObjectVersion"] == {
            "Fn::If": [
                f"Has{short}ZipVersion",
                {"Ref": f"{short}ZipVersion"},
                {"Ref": "AWS::NoValue"},
            ]
        }
        assert _render(props["FunctionName"], template).startswith("abalone-")
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert template["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"


def test_evaluate_and_deploy_get_longer_timeouts_and_the_proxy_fits_api_gateway() -> None:
    functions = resources_of_type(load_template("pipeline"), "AWS::Lambda::Function")
    timeout = {k.removesuffix("Function"): v["Properties"]["Timeout"] for k, v in functions.items()}
    quick = max(timeout["TrainModel"], timeout["GetStatus"])
    assert timeout["EvaluateModel"] > quick and timeout["DeployModel"] > quick
    assert timeout["PredictProxy"] < 29, "API Gateway stops waiting after 29 s"


def test_every_log_group_has_a_retention_and_each_concern_has_one() -> None:
    template = load_template("pipeline")
    groups = resources_of_type(template, "AWS::Logs::LogGroup")
    assert len(groups) == len(design_lambdas()) + 2  # + CodeBuild + API access log
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    (build,) = resources_of_type(template, "AWS::CodeBuild::Project").values()
    assert build["Properties"]["LogsConfig"]["CloudWatchLogs"]["GroupName"]["Ref"] in groups


def test_build_project_uses_the_buildspec_a_current_image_and_docker() -> None:
    template = load_template("pipeline")
    (build,) = resources_of_type(template, "AWS::CodeBuild::Project").values()
    props = build["Properties"]
    assert props["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": "buildspecs/buildspec.yml"}
    environment = props["Environment"]
    assert environment["Image"] in (
        "aws/codebuild/standard:7.0",
        "aws/codebuild/amazonlinux-x86_64-standard:5.0",
    )
    assert environment["PrivilegedMode"] is True
    variables = {v["Name"]: v["Value"] for v in environment["EnvironmentVariables"]}
    assert variables == {"REPOSITORY_URI": {"Fn::GetAtt": ["EcrRepository", "RepositoryUri"]}}
    assert _render(props["Name"], template) == "abalone-build"


def test_ecr_repository_scans_keeps_tags_immutable_and_expires_old_images() -> None:
    template = load_template("pipeline")
    props = template["Resources"]["EcrRepository"]["Properties"]
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert props["ImageTagMutability"] == "IMMUTABLE"
    policy = json.loads(_render(props["LifecyclePolicy"]["LifecyclePolicyText"], template))
    (rule,) = policy["rules"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] == int(parameter_defaults(template)["ImagesToKeep"])
    assert rule["action"] == {"type": "expire"}


# Each route of the REST API: its path, and the function answering it.
ROUTES = {"predict": "PredictProxyFunction", "ground-truth": "GroundTruthFunction"}


def test_api_has_post_predict_and_ground_truth_behind_an_api_key_on_dev_and_prod() -> None:
    template = load_template("pipeline")
    (api,) = resources_of_type(template, "AWS::ApiGateway::RestApi").values()
    assert _render(api["Properties"]["Name"], template) == "abalone-api"
    resources = resources_of_type(template, "AWS::ApiGateway::Resource")
    paths = {k: r["Properties"]["PathPart"] for k, r in resources.items()}
    assert sorted(paths.values()) == sorted(ROUTES)
    methods = resources_of_type(template, "AWS::ApiGateway::Method")
    assert len(methods) == len(ROUTES)
    for method in methods.values():
        props = method["Properties"]
        path = paths[props["ResourceId"]["Ref"]]
        assert props["HttpMethod"] == "POST"
        assert props["ApiKeyRequired"] is True
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert f"${{{ROUTES[path]}.Arn}}" in props["Integration"]["Uri"]["Fn::Sub"]
    # ... and the stages' deployment is made after every method, so it holds them all
    (deployment,) = resources_of_type(template, "AWS::ApiGateway::Deployment").values()
    assert sorted(as_list(deployment["DependsOn"])) == sorted(methods)

    stages = resources_of_type(template, "AWS::ApiGateway::Stage")
    by_name = {s["Properties"]["StageName"]: (k, s["Properties"]) for k, s in stages.items()}
    assert set(by_name) == {"dev", "prod"}
    for stage, (_, stage_props) in by_name.items():
        variables = stage_props["Variables"]
        assert _render(variables["endpointName"], template) == f"abalone-{stage}"
        assert stage_props["AccessLogSetting"]["DestinationArn"] == {
            "Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]
        }

    (plan,) = resources_of_type(template, "AWS::ApiGateway::UsagePlan").values()
    plan_props = plan["Properties"]
    assert {s["Stage"]["Ref"] for s in plan_props["ApiStages"]} == {k for k, _ in by_name.values()}
    assert plan_props["Throttle"]["RateLimit"] > 0 and plan_props["Throttle"]["BurstLimit"] > 0
    assert plan_props["Quota"]["Limit"] > 0
    (plan_key,) = resources_of_type(template, "AWS::ApiGateway::UsagePlanKey").values()
    assert plan_key["Properties"]["KeyId"] == {"Ref": "ApiKey"}

    permissions = {
        p["Properties"]["FunctionName"]["Ref"]: p["Properties"]
        for p in resources_of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }
    assert set(permissions) == set(ROUTES.values())
    for path, function in ROUTES.items():
        assert permissions[function]["SourceArn"] == {
            "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}"
            f":${{Api}}/*/POST/{path}"
        }
    # ... and the allow list, when set, covers both routes
    statement = api["Properties"]["Policy"]["Fn::If"][1]["Statement"][0]
    assert statement["Resource"] == [f"execute-api:/*/POST/{path}" for path in ROUTES]


def test_bucket_names_stay_valid_for_the_longest_project_and_region() -> None:
    # (tests/lambdas/test_iam_scope.py checks that the notebook role names each of them.)
    prep = load_template("prep")
    names = [
        _render(b["Properties"]["BucketName"], prep)
        for b in resources_of_type(prep, "AWS::S3::Bucket").values()
    ]
    pipeline = load_template("pipeline")
    names += [
        _render(b["Properties"]["BucketName"], pipeline)
        for b in resources_of_type(pipeline, "AWS::S3::Bucket").values()
    ]
    assert len(names) == 4
    for bucket in names:
        assert re.fullmatch(r"abalone-[a-z]+-123456789012-us-east-1", bucket), bucket
        # The longest project name in the longest region name still makes a valid bucket name.
        longest = bucket.replace("abalone", "a" * 24).replace("us-east-1", "ap-southeast-5")
        assert len(longest) <= 63, longest
