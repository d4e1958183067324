"""Deploy: both stacks from a parameters file, the zips and the pipeline template uploaded."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.cfn import render
from localcloud.stacks import lambda_functions
from scripts import package_lambdas, upload_lambdas
from scripts.aws_stacks.common import TEMPLATES, Failure, stack_name, template, whoami
from scripts.aws_stacks.parameters import read_parameters
from scripts.aws_stacks.stacks import create_or_update, describe_stack, stack_outputs
from scripts.prepare_data import COLUMNS, DEFAULT_INPUT, TARGET

# API Gateway applies a changed resource policy only when the stage is deployed again, and
# CloudFormation's update of the stack does not create a deployment: deploy does (see the
# template's ApiDeployment).
POLICY_PARAMETER = "AllowedSourceCidrs"

# The pipeline template is over CloudFormation's 51,200-byte TemplateBody limit, so it goes to
# the Lambda-code bucket first and the stack reads it from there.
PIPELINE_TEMPLATE_KEY = "templates/02-pipeline.yml"


def sample_request() -> str:
    """The data set's first record, raw features only: what POST /predict takes."""
    values = DEFAULT_INPUT.read_text().splitlines()[0].split(",")
    record = dict(zip(COLUMNS, values, strict=True))
    del record[TARGET]
    # Every feature is a number but the first, sex (M, F or I).
    instance = {k: v if k == COLUMNS[0] else float(v) for k, v in record.items()}
    return json.dumps({"instances": [instance]})


def zip_parameters(uploaded: list[tuple[str, str | None]]) -> dict[str, str]:
    """Each function's zip key and version parameters, from the (key, VersionId) uploaded."""
    versions = dict(uploaded)
    parameters = {}
    for function in lambda_functions().values():
        key = function.default_zip_key
        if key not in versions:
            raise Failure(f"no zip was uploaded for {function.logical_id} ({key})")
        parameters[function.zip_key_parameter] = key
        if function.zip_version_parameter is not None:
            parameters[function.zip_version_parameter] = versions[key] or ""
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
    before = describe_stack(cfn, pipeline_name)
    pipeline = create_or_update(
        cfn,
        pipeline_name,
        {"PrepStackName": prep_name, **zips, **parameters.pipeline},
        {"TemplateURL": template_url},
    )
    if before is not None:
        redeploy_if_policy_changed(session.client("apigateway"), before, pipeline)
    print_summary(prep, pipeline, region, parameters.pipeline)


def _parameter(stack: dict[str, Any], name: str) -> str:
    values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return values.get(name, "")


def redeploy_if_policy_changed(
    apigateway: Any, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """A new deployment of each stage when the update changed the API's resource policy."""
    if _parameter(before, POLICY_PARAMETER) == _parameter(after, POLICY_PARAMETER):
        return
    api_id = stack_outputs(after)["ApiId"]
    for stage in apigateway.get_stages(restApiId=api_id)["item"]:
        deployment = apigateway.create_deployment(
            restApiId=api_id,
            stageName=stage["stageName"],
            description=f"{POLICY_PARAMETER} changed by make deploy",
        )
        print(
            f"stage {stage['stageName']}: deployed {deployment['id']} ({POLICY_PARAMETER} changed)"
        )


def model_code_steps(output: Callable[[str], str], region: str, chosen: dict[str, str]) -> str:
    """What to do so the pipeline gets the model code, for the source the stacks were given."""
    source = chosen["SourceProvider"]
    branch = chosen.get(
        "BranchName", str(template("pipeline")["Parameters"]["BranchName"]["Default"])
    )
    if source == "CodeConnection":
        return f"""  Connection: a new connection is PENDING until confirmed once: in the console,
    Developer Tools > Settings > Connections > {chosen["ConnectionArn"]}
    > Update pending connection (authorize the provider's app for {chosen["FullRepositoryId"]})
  Model code: push the contents of model-code/ and buildspecs/ to branch {branch} of
    {chosen["FullRepositoryId"]}; each push to it starts the pipeline"""
    if source == "CodeCommit":
        code_dir = f"build/{output('ProjectName')}-model-code"
        clone_url = output("RepositoryCloneUrlHttp")
        return f"""  Model code: push model-code/ and buildspecs/ to {clone_url}
    (branch {branch}; pip install git-remote-codecommit, or use the HTTPS credential helper):
    git clone codecommit::{region}://{output("RepositoryName")} {code_dir}
    git archive HEAD:model-code | tar -x -C {code_dir}
    git archive HEAD buildspecs | tar -x -C {code_dir}
    cd {code_dir} && git add -A && git commit -m "Model code" && git push origin HEAD:{branch}"""
    return f"""  Model code: make push-code PROJECT={output("ProjectName")}
    (zips the committed model-code/ and buildspecs/ to {output("ModelCodeUploadUri")};
    each upload starts the pipeline)"""


def print_summary(
    prep: dict[str, Any], pipeline: dict[str, Any], region: str, chosen: dict[str, str]
) -> None:
    """Every output (saying which the stacks did not report) and what to do next, for the
    source in `chosen`, the pipeline parameters deploy passed."""
    outputs: dict[str, str] = {}
    print()
    for section, stack in (("prep", prep), ("pipeline", pipeline)):
        print(f"{stack['StackName']}  {stack['StackStatus']}")
        reported = stack_outputs(stack)
        outputs |= reported
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        # The outputs a stack of these parameters has (the source's own among them).
        for key in render(template(section), parameters)["Outputs"]:
            print(f"  {key:<27} {reported.get(key, '(not reported by the stack)')}")

    def output(key: str) -> str:
        return outputs.get(key, f"<{key}: not reported by the stack>")

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
               -H 'Content-Type: application/json' -d '{sample_request()}'
  Data:      train/, validation/, test/ and pipeline/data.zip into s3://{output("DataBucketName")}
               (the walkthrough notebook uploads them; docs/design.md has the layout)
{model_code_steps(output, region, chosen)}""")
