"""scripts/aws_stacks against moto server: deploy creates then updates both stacks with the
uploaded zip versions; bad parameters files are refused before any AWS call; destroy removes
what the pipeline made, empties the versioned buckets, deletes both stacks, and is idempotent."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.stacks import REPO_ROOT, lambda_functions
from scripts import package_lambdas, upload_lambdas
from scripts.aws_stacks.command import main
from scripts.aws_stacks.common import Failure, template
from scripts.aws_stacks.parameters import check_section, deploy_sets
from scripts.aws_stacks.stacks import create_or_update
from tests.deploy.conftest import (
    EXAMPLE_PARAMETERS,
    PIPELINE_STACK,
    PREP_STACK,
    PROJECT,
    Aws,
    Result,
)

# moto's CloudFormation warns about each resource type it skips (tests/templates pins which).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")

FUNCTIONS = lambda_functions()
STAMPED = "20240101-120000-ab12"  # the <YYYYmmdd-HHMMSS>-<hex> end of DeployModel's names
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/sagemaker"
IMAGE = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/abalone:0123456"


def test_deploy_creates_both_stacks_from_the_example_file(aws: Aws, deployed: Result, tmp_path):
    # GIVEN deploy/parameters.example.json WHEN deployed (fixture) THEN both stacks exist
    assert aws.stack(PREP_STACK)["StackStatus"] == "CREATE_COMPLETE"
    assert aws.stack(PIPELINE_STACK)["StackStatus"] == "CREATE_COMPLETE"
    # AND stack 2 imports stack 1 and points at each uploaded zip, with its version
    parameters = aws.parameters(PIPELINE_STACK)
    assert parameters["PrepStackName"] == PREP_STACK
    bucket = aws.outputs(PREP_STACK)["LambdaCodeBucketName"]
    for folder, function in FUNCTIONS.items():
        key = parameters[function.zip_key_parameter]
        assert key == f"lambdas/{folder}.zip"
        head = aws.s3.head_object(Bucket=bucket, Key=key)
        assert parameters[function.zip_version_parameter] == head.get("VersionId", "")
        uploaded = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert uploaded == (tmp_path / "dist" / f"{folder}.zip").read_bytes()
    # AND the example's pipeline values reached the stack
    example = json.loads(EXAMPLE_PARAMETERS.read_text())["pipeline"]
    assert parameters["MseThreshold"] == example["MseThreshold"]
    assert parameters["Hyperparameters"] == "{}"
    # AND the summary shows the outputs (ApiKeyId too, from the local models) and what to run next
    out = deployed.out
    assert f"PipelineName                {PROJECT}-pipeline" in out
    assert f"ApiKeyId                    {aws.outputs(PIPELINE_STACK)['ApiKeyId']}" in out
    assert aws.outputs(PIPELINE_STACK)["ProdPredictUrl"] in out
    assert "aws apigateway get-api-key --api-key" in out and "--include-value" in out
    assert aws.outputs(PREP_STACK)["NotebookInstanceUrl"] in out
    # AND both stacks have the example's S3 source, whose code make push-code uploads
    assert parameters["SourceProvider"] == aws.parameters(PREP_STACK)["SourceProvider"] == "S3"
    assert f"make push-code PROJECT={PROJECT}" in out
    assert aws.outputs(PIPELINE_STACK)["ModelCodeUploadUri"] in out
    assert "git push" not in out


def test_deploy_again_with_nothing_changed_succeeds_and_uploads_nothing_new(
    aws: Aws, deployed: Result, run
):
    # GIVEN deployed stacks and a versioned Lambda-code bucket
    bucket = aws.outputs(PREP_STACK)["LambdaCodeBucketName"]
    aws.version(bucket)
    before = {name: aws.parameters(name) for name in (PREP_STACK, PIPELINE_STACK)}
    # WHEN deployed again with the same file and code
    result = run("deploy", "--params", str(EXAMPLE_PARAMETERS))
    # THEN it succeeds and both stacks kept their parameters (CloudFormation reports no changes;
    # moto updates a stack whenever a parameter was left to its default, as GitCloneUrl is)
    assert result.code == 0, result.err
    for name, parameters in before.items():
        assert aws.stack(name)["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        assert aws.parameters(name) == parameters
    # AND no zip was uploaded again (a new version would make CloudFormation update the function)
    for folder in FUNCTIONS:
        versions = aws.s3.list_object_versions(Bucket=bucket, Prefix=f"lambdas/{folder}.zip")
        assert len(versions["Versions"]) == 1


def test_a_changed_function_is_uploaded_as_a_new_version_and_updates_the_stack(
    aws: Aws, deployed: Result, run, tmp_path, monkeypatch
):
    # GIVEN deployed stacks, a versioned Lambda-code bucket, and one function's code changed
    bucket = aws.outputs(PREP_STACK)["LambdaCodeBucketName"]
    aws.version(bucket)
    before = aws.parameters(PIPELINE_STACK)
    sources = tmp_path / "lambdas"
    shutil.copytree(REPO_ROOT / "lambdas", sources, ignore=shutil.ignore_patterns("__pycache__"))
    with (sources / "train_model" / "app.py").open("a") as app:
        app.write("# changed\n")
    monkeypatch.setattr(package_lambdas, "LAMBDAS", sources)
    # WHEN deployed again
    result = run("deploy", "--params", str(EXAMPLE_PARAMETERS))
    # THEN the pipeline stack is updated with the new zip's version; the others kept theirs
    assert result.code == 0, result.err
    assert f"stack {PIPELINE_STACK}: updating" in result.out
    assert aws.stack(PIPELINE_STACK)["StackStatus"] == "UPDATE_COMPLETE"
    after = aws.parameters(PIPELINE_STACK)
    latest = aws.s3.head_object(Bucket=bucket, Key="lambdas/train_model.zip")["VersionId"]
    assert after["TrainModelZipVersion"] == latest != before["TrainModelZipVersion"]
    for folder in set(FUNCTIONS) - {"train_model"}:
        version = FUNCTIONS[folder].zip_version_parameter
        assert after[version] == before[version]
    # AND the function now runs the new zip
    zip_bytes = (tmp_path / "dist" / "train_model.zip").read_bytes()
    config = aws.lambda_.get_function_configuration(FunctionName=f"{PROJECT}-train-model")
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


@pytest.mark.parametrize("default_region", [None, "us-west-2"])
def test_deploy_and_destroy_work_in_the_region_aws_region_names(
    aws: Aws, run, monkeypatch, default_region: str | None
):
    # GIVEN AWS_REGION names the region, alone or with another AWS_DEFAULT_REGION (boto3 itself
    # reads only the latter; AWS_REGION wins, as in the AWS CLI)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    if default_region is None:
        monkeypatch.delenv("AWS_DEFAULT_REGION")
    else:
        monkeypatch.setenv("AWS_DEFAULT_REGION", default_region)
    cfn = {r: boto3.client("cloudformation", region_name=r) for r in (REGION, "eu-west-1")}
    # WHEN deployed THEN both stacks are in that region, and the summary says so
    deployed = run("deploy", "--params", str(EXAMPLE_PARAMETERS))
    assert deployed.code == 0, deployed.err
    assert "region eu-west-1" in deployed.out
    names = {s["StackName"] for s in cfn["eu-west-1"].describe_stacks()["Stacks"]}
    assert names == {PREP_STACK, PIPELINE_STACK}
    assert cfn[REGION].describe_stacks()["Stacks"] == []
    # WHEN destroyed THEN they are gone from that region
    destroyed = run("destroy", "--project", PROJECT, "--yes")
    assert destroyed.code == 0, destroyed.err
    assert f"stack {PREP_STACK}: deleted" in destroyed.out
    assert cfn["eu-west-1"].describe_stacks()["Stacks"] == []


def test_upload_lambdas_uses_the_region_aws_region_names(monkeypatch, aws: Aws):
    # GIVEN AWS_REGION and another AWS_DEFAULT_REGION
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    regions = []

    def upload(s3, bucket, dist):
        regions.append(s3.meta.region_name)
        return []

    monkeypatch.setattr(upload_lambdas, "upload", upload)
    # WHEN the upload command runs THEN its S3 client is in AWS_REGION's region
    assert upload_lambdas.main(["--bucket", "b"]) == 0
    assert regions == ["eu-west-1"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"pipeline": {"MseThresold": "4.0"}},
            "pipeline.MseThresold: unknown parameter, templates/02-pipeline.yml has no "
            "parameter 'MseThresold' (did you mean MseThreshold?)",
        ),
        (
            {"prep": {"Region": "eu-west-1"}},
            "prep.Region: unknown parameter, templates/01-prep.yml has no parameter 'Region'",
        ),
        ({"Stage": "prod"}, "unknown top-level key 'Stage'"),
        ({"prep": {"ProjectName": "other"}}, "prep.ProjectName: goes at the top level"),
        ({"pipeline": {"PrepStackName": "x"}}, "pipeline.PrepStackName: deploy sets it"),
        ({"pipeline": {"TrainModelZipVersion": "v1"}}, "deploy sets it to the zip it uploads"),
        (
            {"pipeline": {"MseThreshold": "low"}},
            "Parameter 'MseThreshold' failed to satisfy constraint: A non-negative decimal",
        ),
        (
            {"pipeline": {"LogLevel": "TRACE"}},
            "Parameter 'LogLevel' must be one of AllowedValues: DEBUG, INFO, WARNING, ERROR",
        ),
        (
            {"pipeline": {"DevInstanceCount": [1]}},
            "pipeline.DevInstanceCount: expected a string, number or boolean, got [1]",
        ),
        (
            {"pipeline": {"MseThreshold": {"value": "4.0"}}},
            "pipeline.MseThreshold: expected a string, number or boolean, got {'value': '4.0'} "
            "(only Hyperparameters takes an object)",
        ),
        (
            {"pipeline": {"Hyperparameters": {"n_components": 6, "target": "rings", "x": True}}},
            'pipeline.Hyperparameters: hyperparameter values must be strings (write 6 as "6"): '
            "n_components=6, x=true",
        ),
        (
            {"pipeline": {"Hyperparameters": '{"n_components": 6}'}},
            'pipeline.Hyperparameters: hyperparameter values must be strings (write 6 as "6"): '
            "n_components=6",
        ),
        (
            {"pipeline": {"Hyperparameters": {"alpah": "0.3"}}},
            "pipeline.Hyperparameters: unknown hyperparameter 'alpah'; known: ",
        ),
        (
            {"pipeline": {"Hyperparameters": '{"alpha": "-1"}'}},
            "pipeline.Hyperparameters: hyperparameter alpha='-1' is invalid",
        ),
        (
            {"pipeline": {"Hyperparameters": "alpha=0.3"}},
            "pipeline.Hyperparameters: expected a JSON object of strings such as "
            '{"alpha": "0.3"}, got \'alpha=0.3\'',
        ),
        (
            {"pipeline": {"Hyperparameters": ["alpha", "0.3"]}},
            "pipeline.Hyperparameters: expected a JSON object of strings such as "
            "{\"alpha\": \"0.3\"}, got ['alpha', '0.3']",
        ),
        (
            {"ProjectName": "Abalone_1"},
            "ProjectName='Abalone_1': Parameter 'ProjectName' failed to satisfy constraint: "
            "3 to 24 characters",
        ),
        ({"pipeline": "ml.m5.large"}, "pipeline must be a JSON object"),
    ],
)
def test_a_bad_parameters_file_is_refused_before_any_aws_call(
    aws: Aws, run, params_file, changes, message
):
    # GIVEN a parameters file with one mistake WHEN deploying
    result = run("deploy", "--params", str(params_file(**changes)))
    # THEN one error line names it, and nothing was created
    assert result.code == 1
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert message in result.err
    assert result.out == ""
    assert aws.cfn.describe_stacks()["Stacks"] == []
    assert aws.bucket_names() == set()


def test_json_values_are_passed_as_the_strings_cloudformation_takes(aws: Aws, run, params_file):
    # GIVEN numbers, a boolean and an object where the templates take strings
    path = params_file(
        pipeline={
            "MseThreshold": 4.5,
            "DevInstanceCount": 1,
            "ConfigureApiGatewayAccount": False,
            "Hyperparameters": {"alpha": "0.3"},
        }
    )
    # WHEN deployed THEN the stack holds them as the strings the templates expect
    assert run("deploy", "--params", str(path)).code == 0
    parameters = aws.parameters(PIPELINE_STACK)
    assert parameters["MseThreshold"] == "4.5"
    assert parameters["DevInstanceCount"] == "1"
    assert parameters["ConfigureApiGatewayAccount"] == "false"
    assert json.loads(parameters["Hyperparameters"]) == {"alpha": "0.3"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: command"),
        (["deploy"], "the following arguments are required: --params"),
        (["destroy"], "the following arguments are required: --project"),
        (["destroy", "--project", "Bad_Name"], "'Bad_Name' is not a project name"),
    ],
)
def test_bad_arguments_are_usage_errors(capsys, argv, message):
    # GIVEN wrong arguments WHEN run THEN argparse stops with status 2 and says what is wrong
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_or_broken_parameters_file_is_named(aws: Aws, run, tmp_path):
    # GIVEN no file, then a file that is not JSON WHEN deploying THEN each is one clear line
    missing = run("deploy", "--params", str(tmp_path / "nope.json"))
    assert missing.code == 1
    assert "nope.json does not exist: copy deploy/parameters.example.json" in missing.err
    broken = tmp_path / "broken.json"
    broken.write_text("{'ProjectName': 'abalone'}")
    result = run("deploy", "--params", str(broken))
    assert result.code == 1
    assert "broken.json is not valid JSON" in result.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not UTF-8 text (byte 0 is 0x89)"),
        ('{"ProjectName": "abalöne"}'.encode("latin-1"), "is not UTF-8 text (byte 21 is 0xf6)"),
        (b"\x00\x01\x02 binary", "is not valid JSON"),
    ],
)
def test_a_binary_or_non_utf8_parameters_file_is_one_error_line(
    aws: Aws, run, tmp_path, content, message
):
    # GIVEN a parameters file that is not UTF-8 text (an image, a Latin-1 save) or not text at all
    path = tmp_path / "parameters.json"
    path.write_bytes(content)
    # WHEN deploying THEN one error line names the file and the problem, and nothing was created
    result = run("deploy", "--params", str(path))
    assert result.code == 1
    assert result.err.startswith(f"error: {path} ") and result.err.count("\n") == 1
    assert message in result.err
    assert aws.cfn.describe_stacks()["Stacks"] == []


def test_every_template_default_passes_the_local_checks():
    # GIVEN each parameter's default WHEN checked like a parameters file value THEN it passes,
    # so the local check never refuses what CloudFormation would take
    for section in ("prep", "pipeline"):
        managed = deploy_sets(PROJECT) if section == "pipeline" else {}
        declared = template(section)["Parameters"]
        given = {k: v["Default"] for k, v in declared.items() if "Default" in v}
        given = {k: v for k, v in given.items() if k not in managed}
        checked = check_section(Path("p.json"), "", given, section, managed)
        assert checked == {k: str(v) for k, v in given.items()}


def test_a_failed_stack_prints_its_failed_resources_and_fails(capsys):
    # GIVEN CloudFormation answering that the creation failed and rolled back
    cfn = boto3.client(
        "cloudformation",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/demo-prep/1"
    rolled_back = {
        "StackId": stack_id,
        "StackName": "demo-prep",
        "StackStatus": "ROLLBACK_COMPLETE",
        "StackStatusReason": "The following resource(s) failed to create: [NotebookInstance].",
        "CreationTime": "2024-01-01T00:00:00Z",
    }

    def event(logical_id: str, status: str, reason: str, physical: str = "") -> dict:
        return {
            "StackId": stack_id,
            "EventId": f"{logical_id}-{status}",
            "StackName": "demo-prep",
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": physical,
            "ResourceType": "AWS::SageMaker::NotebookInstance",
            "Timestamp": "2024-01-01T00:00:00Z",
            "ResourceStatus": status,
            "ResourceStatusReason": reason,
        }

    events = [  # newest first, as CloudFormation lists them
        event("demo-prep", "ROLLBACK_COMPLETE", "", stack_id),
        event("NotebookInstance", "CREATE_FAILED", "ml.t3.medium is not available"),
        event("demo-prep", "CREATE_IN_PROGRESS", "User Initiated", stack_id),
        event("Old", "UPDATE_FAILED", "a failure of an earlier operation"),
    ]
    with Stubber(cfn) as stubber:
        stubber.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id demo-prep does not exist"
        )
        stubber.add_response("create_stack", {"StackId": stack_id})
        stubber.add_response("describe_stacks", {"Stacks": [rolled_back]})
        stubber.add_response("describe_stacks", {"Stacks": [rolled_back]})
        stubber.add_response("describe_stack_events", {"StackEvents": events})
        # WHEN the stack is created
        with pytest.raises(Failure, match="stack demo-prep ended ROLLBACK_COMPLETE"):
            create_or_update(cfn, "demo-prep", {}, {"TemplateBody": "{}"})
    # THEN this operation's failed resource and its reason are printed, older ones are not
    err = capsys.readouterr().err
    assert "NotebookInstance (AWS::SageMaker::NotebookInstance) CREATE_FAILED: " in err
    assert "ml.t3.medium is not available" in err
    assert "earlier operation" not in err


# --- destroy ------------------------------------------------------------------------------------


def _sagemaker_resources(aws: Aws, names: list[str], endpoints: dict[str, str]) -> None:
    """A model and an endpoint configuration per name; endpoint name -> configuration."""
    for name in names:
        aws.sagemaker.create_model(
            ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": IMAGE}
        )
        aws.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.t2.medium",
                }
            ],
        )
    for endpoint, config in endpoints.items():
        aws.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)


def _names(aws: Aws) -> set[str]:
    models = {m["ModelName"] for m in aws.sagemaker.list_models()["Models"]}
    configs = {
        c["EndpointConfigName"] for c in aws.sagemaker.list_endpoint_configs()["EndpointConfigs"]
    }
    endpoints = {e["EndpointName"] for e in aws.sagemaker.list_endpoints()["Endpoints"]}
    return models | configs | endpoints


def test_destroy_removes_what_the_pipeline_made_empties_the_buckets_and_deletes_both_stacks(
    aws: Aws, deployed: Result, run
):
    # GIVEN the pipeline's endpoints, configurations and models, and others' that must stay
    ours = [
        f"{PROJECT}-dev-{STAMPED}",
        f"{PROJECT}-prod-{STAMPED}",
        f"{PROJECT}-dev-20231231-235959-cd34",  # an older version DeployModel kept
    ]
    others = [f"other-dev-{STAMPED}", f"{PROJECT}-v2-dev-{STAMPED}"]  # another project's
    _sagemaker_resources(
        aws,
        ours + others,
        {f"{PROJECT}-dev": ours[0], f"{PROJECT}-prod": ours[1], "other-dev": others[0]},
    )
    # AND versioned buckets holding several versions and a delete marker
    buckets = {
        v
        for stack in (PREP_STACK, PIPELINE_STACK)
        for k, v in aws.outputs(stack).items()
        if k.endswith("BucketName")
    }
    assert len(buckets) == 4
    for bucket in buckets:
        aws.version(bucket)
        for body in (b"one", b"two", b"three"):
            aws.s3.put_object(Bucket=bucket, Key="train/train.csv", Body=body)
        aws.s3.delete_object(Bucket=bucket, Key="train/train.csv")
    # AND prod's variant registered for autoscaling, as ProdStatus leaves it, and a look-alike's
    autoscaling = boto3.client("application-autoscaling")
    for endpoint in (f"{PROJECT}-prod", f"{PROJECT}-v2-prod"):
        autoscaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=f"endpoint/{endpoint}/variant/AllTraffic",
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            MinCapacity=2,
            MaxCapacity=4,
        )
    # WHEN destroyed
    result = run("destroy", "--project", PROJECT, "--yes")
    # THEN only the project's SageMaker resources are gone, monitoring (here none) first, then
    # prod's autoscaling, then the endpoints
    assert result.code == 0, result.err
    assert _names(aws) == {*others, "other-dev"}
    registered = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")
    assert [t["ResourceId"] for t in registered["ScalableTargets"]] == [
        f"endpoint/{PROJECT}-v2-prod/variant/AllTraffic"
    ]
    order = [
        "monitoring schedules: none left",
        f"autoscaling endpoint/{PROJECT}-prod/variant/AllTraffic: deregistered",
        f"endpoint {PROJECT}-dev: deleting",
    ]
    assert sorted(order, key=result.out.index) == order
    # AND every bucket was emptied of all versions and delete markers (moto's CloudFormation
    # leaves the buckets themselves behind; AWS deletes them with the stacks)
    for bucket in buckets:
        assert f"bucket {bucket}: emptied (" in result.out
        versions = aws.s3.list_object_versions(Bucket=bucket)
        assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    # AND both stacks are gone
    assert aws.stack(PIPELINE_STACK) is None
    assert aws.stack(PREP_STACK) is None
    assert result.out.rstrip().endswith(f"project {PROJECT}: destroyed")


def test_destroy_twice_or_on_a_half_deleted_project_finishes_and_says_what_was_gone(
    aws: Aws, deployed: Result, run
):
    # GIVEN a project whose pipeline stack was already deleted by hand
    aws.cfn.delete_stack(StackName=PIPELINE_STACK)
    # WHEN destroyed THEN the prep stack goes, and the missing pieces are reported
    first = run("destroy", "--project", PROJECT, "--yes")
    assert first.code == 0, first.err
    assert f"stack {PIPELINE_STACK}: already gone" in first.out
    assert f"stack {PREP_STACK}: deleted" in first.out
    assert aws.stack(PREP_STACK) is None
    # WHEN destroyed again THEN everything is reported gone, and it succeeds
    second = run("destroy", "--project", PROJECT, "--yes")
    assert second.code == 0, second.err
    for line in (
        f"endpoint {PROJECT}-dev: already gone",
        f"endpoint {PROJECT}-prod: already gone",
        "models: none left",
        "buckets: no stack left to name them",
        f"stack {PIPELINE_STACK}: already gone",
        f"stack {PREP_STACK}: already gone",
    ):
        assert line in second.out


def test_destroy_without_yes_refuses_when_stdin_is_not_a_terminal(aws: Aws, run, monkeypatch):
    # GIVEN a model of the project and no terminal on stdin
    _sagemaker_resources(aws, [f"{PROJECT}-dev-{STAMPED}"], {})
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    # WHEN destroyed without --yes THEN it refuses, saying how, and deletes nothing
    result = run("destroy", "--project", PROJECT)
    assert result.code == 1
    assert "refusing to destroy abalone without --yes" in result.err
    assert "CONFIRM=yes" in result.err
    assert _names(aws) == {f"{PROJECT}-dev-{STAMPED}"}


@pytest.mark.parametrize(("answer", "deleted"), [("abalone", True), ("yes", False)])
def test_destroy_at_a_terminal_asks_for_the_project_name(
    aws: Aws, run, monkeypatch, answer: str, deleted: bool
):
    # GIVEN a model of the project and someone at a terminal
    _sagemaker_resources(aws, [f"{PROJECT}-dev-{STAMPED}"], {})
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: answer)
    # WHEN destroyed without --yes THEN only the project's name goes on
    result = run("destroy", "--project", PROJECT)
    assert (result.code == 0) is deleted
    assert (_names(aws) == set()) is deleted
    if not deleted:
        assert "not confirmed; nothing was deleted" in result.err


# --- make -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("deploy", "PARAMS is not set: make deploy PARAMS="),
        ("destroy", "PROJECT is not set: make destroy PROJECT="),
    ],
)
def test_make_targets_without_their_variable_stop_at_once(target: str, message: str):
    # GIVEN no PARAMS / PROJECT WHEN the target runs THEN make stops with a clear error
    result = subprocess.run(
        ["make", "-C", str(REPO_ROOT), target, "PARAMS=", "PROJECT="],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "aws_stacks" not in result.stdout
