"""Deploy both stacks to AWS from a parameters file, or tear a project down.

deploy: create or update `<project>-prep`, package the Lambda zips and upload them (and the
pipeline template, too big to pass inline) to its Lambda-code bucket, then create or update
`<project>-pipeline` with the uploaded object versions, so changed code updates the functions.
destroy: delete the SageMaker endpoints, endpoint configurations and models the pipeline made,
empty the stacks' versioned buckets, then delete both stacks; safe to run again.
Credentials, region and endpoint come from the usual AWS environment (AWS_PROFILE, AWS_REGION or
AWS_DEFAULT_REGION, AWS_ENDPOINT_URL).
Usage: aws_stacks.py deploy --params deploy/parameters.json [--dist dist/lambdas]
       aws_stacks.py destroy --project NAME [--yes]
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import package_lambdas
import upload_lambdas
import yaml
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = {
    "prep": REPO_ROOT / "templates" / "01-prep.yml",
    "pipeline": REPO_ROOT / "templates" / "02-pipeline.yml",
}
# The pipeline template is over CloudFormation's 51,200-byte TemplateBody limit, so it goes to
# the Lambda-code bucket first and the stack reads it from there.
PIPELINE_TEMPLATE_KEY = "templates/02-pipeline.yml"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
# Poll every 10 s for up to 90 minutes (a notebook instance alone takes about 5).
WAITER_CONFIG = {"Delay": 10, "MaxAttempts": 540}
UPDATABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}
NO_UPDATES = "No updates are to be performed"
HYPERPARAMETERS = "Hyperparameters"  # the one pipeline parameter a JSON object may be given for
SECTIONS = ("prep", "pipeline")
# The first abalone record, raw features only: what POST /predict takes.
SAMPLE_REQUEST = json.dumps(
    {
        "instances": [
            {
                "sex": "M",
                "length": 0.455,
                "diameter": 0.365,
                "height": 0.095,
                "whole_weight": 0.514,
                "shucked_weight": 0.2245,
                "viscera_weight": 0.101,
                "shell_weight": 0.15,
            }
        ]
    }
)
ENVIRONMENTS = ("dev", "prod")
# What destroy lists and deletes in SageMaker: (kind, list call, result key, name field, delete
# call). Configurations first: they name the models.
PIPELINE_MADE = (
    (
        "endpoint configurations",
        "list_endpoint_configs",
        "EndpointConfigs",
        "EndpointConfigName",
        "delete_endpoint_config",
    ),
    ("models", "list_models", "Models", "ModelName", "delete_model"),
)
DELETE_OBJECTS_LIMIT = 1000


class Failure(Exception):
    """A problem reported as one `error:` line and exit status 1."""


class _TemplateLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """CloudFormation YAML: the short-form intrinsics (!Sub, !Ref...) load as None."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@cache
def load_template(name: str) -> dict[str, Any]:
    """The 'prep' or 'pipeline' template (read once; do not modify), for Parameters and Outputs."""
    return yaml.load(TEMPLATES[name].read_text(), Loader=_TemplateLoader)  # noqa: S506


def stack_name(project: str, section: str) -> str:
    """`<project>-prep` or `<project>-pipeline`."""
    return f"{project}-{section}"


# --- the parameters file ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeployParameters:
    """A checked parameters file: the project and each stack's CloudFormation parameters."""

    project: str
    prep: dict[str, str]
    pipeline: dict[str, str]


def _as_parameter_value(where: str, key: str, value: Any) -> str:
    # CloudFormation takes strings; JSON numbers and booleans, and an object for Hyperparameters,
    # are accepted for convenience and written the way the templates expect them.
    if key == HYPERPARAMETERS:
        return _hyperparameters(where, value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise Failure(
        f"{where}: expected a string, number or boolean, got {value!r}"
        + (f" (only {HYPERPARAMETERS} takes an object)" if isinstance(value, dict) else "")
    )


def _hyperparameters(where: str, value: Any) -> str:
    """The Hyperparameters text, given as an object or as its JSON text; its values must be
    strings, as TrainModel (and SageMaker) take them, so a number fails here, not in a run."""
    document = value
    if isinstance(value, str):
        try:
            document = json.loads(value)
        except json.JSONDecodeError:
            document = None
    if not isinstance(document, dict):
        raise Failure(
            f'{where}: expected a JSON object of strings such as {{"max_depth": "6"}}, '
            f"got {value!r}"
        )
    not_strings = [f"{k}={json.dumps(v)}" for k, v in document.items() if not isinstance(v, str)]
    if not_strings:
        raise Failure(
            f'{where}: hyperparameter values must be strings (write 6 as "6"): '
            + ", ".join(not_strings)
        )
    return value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))


def _check_section(
    path: Path, section: str, given: dict[str, Any], template: str, managed: dict[str, str]
) -> dict[str, str]:
    """Refuse unknown, managed or malformed keys; return the values as strings."""
    declared = load_template(template)["Parameters"]
    values = {}
    for key, raw in given.items():
        where = f"{path}: {section}{key}"
        if key in managed:
            raise Failure(f"{where}: {managed[key]}; remove it")
        if key not in declared:
            close = difflib.get_close_matches(key, declared, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise Failure(
                f"{where}: unknown parameter, {TEMPLATES[template].relative_to(REPO_ROOT)} "
                f"has no parameter {key!r}{hint}"
            )
        value = _as_parameter_value(where, key, raw)
        spec = declared[key]
        allowed = [str(v) for v in spec.get("AllowedValues", [])]
        if allowed and value not in allowed:
            raise Failure(f"{where}={value!r}: must be one of {', '.join(allowed)}")
        pattern = spec.get("AllowedPattern")
        # CloudFormation matches the whole value (Java's matches()), hence fullmatch.
        if pattern and not re.fullmatch(pattern, value):
            reason = spec.get("ConstraintDescription", f"must match {pattern}")
            raise Failure(f"{where}={value!r}: {reason}")
        values[key] = value
    missing = [k for k, v in declared.items() if "Default" not in v and k not in managed]
    missing = [k for k in missing if k not in values]
    if missing:
        raise Failure(f"{path}: {section}{missing[0]} is required")
    return values


def read_parameters(path: Path) -> DeployParameters:
    """Load and check a parameters file against both templates, before any AWS call."""
    if not path.is_file():
        raise Failure(f"{path} does not exist: copy deploy/parameters.example.json and edit it")
    data = path.read_bytes()
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise Failure(
            f"{path} is not UTF-8 text (byte {err.start} is {data[err.start]:#04x}): "
            "save it as UTF-8 JSON"
        ) from None
    except json.JSONDecodeError as err:
        raise Failure(f"{path} is not valid JSON: {err}") from None
    if not isinstance(document, dict) or "ProjectName" not in document:
        raise Failure(f"{path}: expected a JSON object with ProjectName, prep and pipeline")
    unknown = sorted(set(document) - {"ProjectName", *SECTIONS})
    if unknown:
        raise Failure(
            f"{path}: unknown top-level key {unknown[0]!r}; expected ProjectName, prep, pipeline"
        )
    sections = {section: document.get(section, {}) for section in SECTIONS}
    for section, given in sections.items():
        if not isinstance(given, dict):
            raise Failure(f"{path}: {section} must be a JSON object of parameter names to values")
    prep = _check_section(path, "", {"ProjectName": document["ProjectName"]}, "prep", {})
    prep |= _check_section(
        path,
        "prep.",
        sections["prep"],
        "prep",
        {"ProjectName": "goes at the top level of the file, not under prep"},
    )
    project = prep["ProjectName"]
    pipeline = _check_section(
        path, "pipeline.", sections["pipeline"], "pipeline", _deploy_sets(project)
    )
    return DeployParameters(project, prep, pipeline)


def _deploy_sets(project: str) -> dict[str, str]:
    """Pipeline parameters deploy fills in itself, each with why."""
    managed = {"PrepStackName": f"deploy sets it to {stack_name(project, 'prep')}"}
    for name in load_template("pipeline")["Parameters"]:
        if name.endswith(("ZipKey", "ZipVersion")):
            managed[name] = "deploy sets it to the zip it uploads"
    return managed


# --- stacks -------------------------------------------------------------------------------------


def describe_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack, or None when there is none (never created, or deleted)."""
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as err:
        if "does not exist" in err.response["Error"].get("Message", ""):
            return None
        raise
    return None if stack["StackStatus"] == "DELETE_COMPLETE" else stack


def stack_outputs(stack: dict[str, Any]) -> dict[str, str]:
    """Output key -> value."""
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def failed_events(cfn: Any, stack_id: str) -> list[str]:
    """`LogicalId (Type) STATUS: reason` for each failure of the stack's latest operation."""
    lines = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page["StackEvents"]:  # newest first
            if event["ResourceStatus"].endswith("_FAILED"):
                lines.append(
                    f"{event['LogicalResourceId']} ({event.get('ResourceType', '?')}) "
                    f"{event['ResourceStatus']}: {event.get('ResourceStatusReason', 'no reason')}"
                )
            if (
                event.get("PhysicalResourceId") == stack_id
                and event.get("ResourceStatusReason") == "User Initiated"
            ):
                return lines[::-1]
    return lines[::-1]


def wait(cfn: Any, waiter: str, stack_id: str, name: str) -> None:
    """Wait for the stack's operation; on failure print the failed resources and raise."""
    try:
        cfn.get_waiter(waiter).wait(StackName=stack_id, WaiterConfig=WAITER_CONFIG)
    except WaiterError:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            raise Failure(
                f"stack {name} is still {status} after 90 minutes: follow it in the "
                "CloudFormation console"
            ) from None
        print(f"stack {name} is {status}: {stack.get('StackStatusReason', '')}", file=sys.stderr)
        for line in failed_events(cfn, stack_id):
            print(f"  {line}", file=sys.stderr)
        raise Failure(f"stack {name} ended {status} (failed resources above)") from None


def create_or_update(
    cfn: Any, name: str, parameters: dict[str, str], template: dict[str, str]
) -> dict[str, Any]:
    """Create the stack or update it in place, wait, and return it; no changes is fine."""
    arguments = {
        "StackName": name,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": CAPABILITIES,
        **template,
    }
    stack = describe_stack(cfn, name)
    if stack is None:
        print(f"stack {name}: creating, waiting for CREATE_COMPLETE")
        stack_id = cfn.create_stack(**arguments)["StackId"]
        wait(cfn, "stack_create_complete", stack_id, name)
    else:
        status, stack_id = stack["StackStatus"], stack["StackId"]
        if status not in UPDATABLE:
            raise Failure(_not_updatable(name, status))
        try:
            cfn.update_stack(**arguments)
        except ClientError as err:
            if NO_UPDATES not in err.response["Error"].get("Message", ""):
                raise
            print(f"stack {name}: no changes")
            return stack
        print(f"stack {name}: updating, waiting for UPDATE_COMPLETE")
        wait(cfn, "stack_update_complete", stack_id, name)
    return cfn.describe_stacks(StackName=stack_id)["Stacks"][0]


def _not_updatable(name: str, status: str) -> str:
    project = name.rsplit("-", 1)[0]
    if status.endswith("_IN_PROGRESS"):
        return f"stack {name} is busy ({status}): wait until it settles, then deploy again"
    if status == "ROLLBACK_COMPLETE":
        return (
            f"stack {name} is ROLLBACK_COMPLETE (its creation failed) and cannot be updated: "
            f"make destroy PROJECT={project} CONFIRM=yes, then deploy again"
        )
    return f"stack {name} is {status} and cannot be updated: fix it in the console first"


# --- deploy ------------------------------------------------------------------------------------


def zip_parameters(uploaded: list[tuple[str, str | None]]) -> dict[str, str]:
    """The pipeline's `<Function>ZipKey`/`ZipVersion` for each uploaded lambdas/<folder>.zip."""
    declared = load_template("pipeline")["Parameters"]
    parameters = {}
    for key, version in uploaded:
        function = "".join(p.capitalize() for p in Path(key).stem.split("_"))
        if f"{function}ZipKey" not in declared:
            raise Failure(f"{key}: templates/02-pipeline.yml has no {function}ZipKey parameter")
        parameters[f"{function}ZipKey"] = key
        parameters[f"{function}ZipVersion"] = version or ""
    missing = sorted(k for k in declared if k.endswith("ZipKey") and k not in parameters)
    if missing:
        raise Failure(f"no zip was uploaded for {', '.join(missing)}")
    return parameters


def upload_code(s3: Any, bucket: str, region: str, dist: Path) -> tuple[dict[str, str], str]:
    """Package and upload the zips and the pipeline template; their parameters and its URL."""
    if package_lambdas.main(["--out", str(dist)]) != 0:
        raise Failure("packaging the Lambda zips failed (see above)")
    uploaded = upload_lambdas.upload(s3, bucket, dist)
    for key, version in uploaded:
        print(f"s3://{bucket}/{key}  VersionId={version or '(bucket not versioned)'}")
    s3.put_object(
        Bucket=bucket,
        Key=PIPELINE_TEMPLATE_KEY,
        Body=TEMPLATES["pipeline"].read_bytes(),
        ContentType="application/x-yaml",
    )
    url = f"https://{bucket}.s3.{region}.amazonaws.com/{PIPELINE_TEMPLATE_KEY}"
    print(f"s3://{bucket}/{PIPELINE_TEMPLATE_KEY}")
    return zip_parameters(uploaded), url


def deploy(session: Any, params_path: Path, dist: Path) -> None:
    """Both stacks, created or updated from the parameters file, then a summary."""
    parameters = read_parameters(params_path)
    print(f"project {parameters.project}: {whoami(session)}")
    region = session.region_name
    cfn, s3 = session.client("cloudformation"), session.client("s3")
    prep_name = stack_name(parameters.project, "prep")
    pipeline_name = stack_name(parameters.project, "pipeline")

    print(f"[1/3] prep stack {prep_name}")
    prep = create_or_update(
        cfn, prep_name, parameters.prep, {"TemplateBody": TEMPLATES["prep"].read_text()}
    )
    bucket = stack_outputs(prep).get("LambdaCodeBucketName")
    if not bucket:
        raise Failure(f"stack {prep_name} has no LambdaCodeBucketName output to upload to")

    print(f"[2/3] Lambda zips and the pipeline template to s3://{bucket}")
    zips, template_url = upload_code(s3, bucket, region, dist)

    print(f"[3/3] pipeline stack {pipeline_name}")
    pipeline = create_or_update(
        cfn,
        pipeline_name,
        {"PrepStackName": prep_name, **zips, **parameters.pipeline},
        {"TemplateURL": template_url},
    )
    branch = parameters.pipeline.get(
        "BranchName", str(load_template("pipeline")["Parameters"]["BranchName"]["Default"])
    )
    print_summary(prep, pipeline, region, branch)


def print_summary(prep: dict[str, Any], pipeline: dict[str, Any], region: str, branch: str) -> None:
    """Every output (saying which the stacks did not report) and what to do next."""
    outputs: dict[str, str] = {}
    print()
    for section, stack in (("prep", prep), ("pipeline", pipeline)):
        print(f"{stack['StackName']}  {stack['StackStatus']}")
        reported = stack_outputs(stack)
        outputs |= reported
        for key in load_template(section)["Outputs"]:
            print(f"  {key:<27} {reported.get(key, '(not reported by the stack)')}")

    def output(key: str) -> str:
        return outputs.get(key, f"<{key}: not reported by the stack>")

    project = output("ProjectName")
    code_dir = f"build/{project}-model-code"
    pipeline_url = (
        f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/"
        f"{output('PipelineName')}/view?region={region}"
    )
    print(f"""
Next steps
  Notebook:  {output("NotebookInstanceUrl")}
  Pipeline:  {pipeline_url}
  API key:   API_KEY=$(aws apigateway get-api-key --api-key {output("ApiKeyId")} \\
               --include-value --query value --output text)
  Predict:   curl -X POST {output("ProdPredictUrl")} -H "x-api-key: $API_KEY" \\
               -H 'Content-Type: application/json' -d '{SAMPLE_REQUEST}'
  Data:      train/, validation/, test/ and pipeline/data.zip into s3://{output("DataBucketName")}
               (the walkthrough notebook uploads them; docs/design.md has the layout)
  Model code: push model-code/ and buildspecs/ to {output("RepositoryCloneUrlHttp")}
    (branch {branch}; pip install git-remote-codecommit, or use the HTTPS credential helper):
    git clone codecommit::{region}://{output("RepositoryName")} {code_dir}
    git archive HEAD:model-code | tar -x -C {code_dir}
    git archive HEAD buildspecs | tar -x -C {code_dir}
    cd {code_dir} && git add -A && git commit -m "Model code" && git push origin HEAD:{branch}""")


# --- destroy -----------------------------------------------------------------------------------


def confirm(project: str, where: str) -> None:
    """Go on only when someone at a terminal types the project name."""
    if not sys.stdin.isatty():
        raise Failure(
            f"refusing to destroy {project} without --yes when stdin is not a terminal "
            f"(make destroy PROJECT={project} CONFIRM=yes)"
        )
    answer = input(
        f"Delete project {project}'s endpoints, models, bucket contents and both stacks "
        f"({where})? Type the project name to go on: "
    )
    if answer.strip() != project:
        raise Failure("not confirmed; nothing was deleted")


def _gone(err: ClientError) -> bool:
    """SageMaker says a resource does not exist with a ValidationException 'Could not find'."""
    return err.response["Error"]["Code"] == "ValidationException" and "Could not find" in (
        err.response["Error"].get("Message", "")
    )


def delete_endpoints(sagemaker: Any, project: str) -> None:
    """Delete `<project>-dev` and `<project>-prod` and wait until they are gone."""
    deleted = []
    for env in ENVIRONMENTS:
        name = f"{project}-{env}"
        try:
            sagemaker.delete_endpoint(EndpointName=name)
        except ClientError as err:
            if not _gone(err):
                raise
            print(f"endpoint {name}: already gone")
            continue
        print(f"endpoint {name}: deleting")
        deleted.append(name)
    for name in deleted:
        sagemaker.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=WAITER_CONFIG)
        print(f"endpoint {name}: deleted")


def delete_pipeline_made(sagemaker: Any, project: str) -> None:
    """Delete the endpoint configurations, then the models, named as DeployModel names them."""
    # `<project>-<env>-<YYYYmmdd-HHMMSS>-<4 hex>` (docs/design.md, Names): a plain prefix would
    # also catch another project whose name starts with this one's.
    ours = re.compile(rf"{re.escape(project)}-(dev|prod)-\d{{8}}-\d{{6}}-[0-9a-f]{{4}}")
    for kind, operation, items, field, delete in PIPELINE_MADE:
        pages = sagemaker.get_paginator(operation).paginate(NameContains=f"{project}-")
        names = [i[field] for page in pages for i in page[items] if ours.fullmatch(i[field])]
        for name in names:
            try:
                getattr(sagemaker, delete)(**{field: name})
            except ClientError as err:
                if not _gone(err):
                    raise
        print(f"{kind}: deleted {len(names)}" if names else f"{kind}: none left")


def stack_buckets(cfn: Any, stack: dict[str, Any]) -> list[str]:
    """The buckets a stack names in its outputs or still holds as resources."""
    buckets = {v for k, v in stack_outputs(stack).items() if k.endswith("BucketName")}
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"])
    for page in pages:
        for resource in page["StackResourceSummaries"]:
            if (
                resource["ResourceType"] == "AWS::S3::Bucket"
                and resource["ResourceStatus"] != "DELETE_COMPLETE"
                and resource.get("PhysicalResourceId")
            ):
                buckets.add(resource["PhysicalResourceId"])
    return sorted(buckets)


def empty_bucket(s3: Any, bucket: str) -> int | None:
    """Delete every object version and delete marker; how many, or None if there is no bucket."""
    deleted = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            found = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(found), DELETE_OBJECTS_LIMIT):
                batch = found[start : start + DELETE_OBJECTS_LIMIT]
                response = s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
                )
                if response.get("Errors"):
                    error = response["Errors"][0]
                    raise Failure(f"s3://{bucket}/{error['Key']}: {error['Message']}")
                deleted += len(batch)
    except ClientError as err:
        if err.response["Error"]["Code"] == "NoSuchBucket":
            return None
        raise
    return deleted


def delete_stack(cfn: Any, name: str) -> None:
    """Delete the stack and wait; a stack already gone is fine."""
    stack = describe_stack(cfn, name)
    if stack is None:
        print(f"stack {name}: already gone")
        return
    print(f"stack {name}: deleting, waiting for DELETE_COMPLETE")
    cfn.delete_stack(StackName=stack["StackId"])
    wait(cfn, "stack_delete_complete", stack["StackId"], name)
    print(f"stack {name}: deleted")


def destroy(session: Any, project: str, yes: bool) -> None:
    """After confirmation: SageMaker resources, bucket contents, then stack 2 and stack 1."""
    where = whoami(session)
    print(f"project {project}: {where}")
    if not yes:
        confirm(project, where)
    cfn, s3, sagemaker = (session.client(s) for s in ("cloudformation", "s3", "sagemaker"))
    delete_endpoints(sagemaker, project)
    delete_pipeline_made(sagemaker, project)
    stacks = [stack_name(project, s) for s in reversed(SECTIONS)]
    found = [s for s in (describe_stack(cfn, name) for name in stacks) if s is not None]
    buckets = sorted({b for stack in found for b in stack_buckets(cfn, stack)})
    if not found:
        print("buckets: no stack left to name them")
    for bucket in buckets:
        count = empty_bucket(s3, bucket)
        if count is None:
            print(f"bucket {bucket}: already gone")
        else:
            print(f"bucket {bucket}: emptied ({count} object versions and delete markers)")
    # The ECR repository needs no emptying: the template sets EmptyOnDelete.
    for name in stacks:
        delete_stack(cfn, name)
    print(f"project {project}: destroyed")


# --- command line ------------------------------------------------------------------------------


def whoami(session: Any) -> str:
    """`account A, region R` of the credentials in use; fails early without any."""
    if not session.region_name:
        raise Failure("no AWS region: set AWS_REGION (or a profile's region)")
    account = session.client("sts").get_caller_identity()["Account"]
    return f"account {account}, region {session.region_name}"


def _project_name(value: str) -> str:
    pattern = load_template("prep")["Parameters"]["ProjectName"]["AllowedPattern"]
    if not re.fullmatch(pattern, value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a project name (3 to 24 lowercase letters, digits, hyphens)"
        )
    return value


def main(argv: list[str] | None = None) -> int:
    """Command line: `deploy` or `destroy`; errors are one line and exit status 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    deploy_parser = commands.add_parser("deploy", help="create or update both stacks")
    deploy_parser.add_argument("--params", type=Path, required=True, help="parameters JSON file")
    deploy_parser.add_argument("--dist", type=Path, default=REPO_ROOT / "dist" / "lambdas")
    destroy_parser = commands.add_parser("destroy", help="delete everything of a project")
    destroy_parser.add_argument("--project", type=_project_name, required=True)
    destroy_parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    try:
        session = upload_lambdas.aws_session()
        if args.command == "deploy":
            deploy(session, args.params, args.dist)
        else:
            destroy(session, args.project, args.yes)
    except Failure as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as err:
        print(f"error: AWS: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
