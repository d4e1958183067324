"""The AWS CLI against the local cloud with only `python -m localcloud env` set, as users run it."""

from __future__ import annotations

import base64
import json
import re
import sys
import time
from pathlib import Path

from tests.clients.conftest import UserShell


def test_env_sets_only_the_endpoint_the_credentials_and_the_region(shell: UserShell) -> None:
    cloud_variables = {name for name in shell.environment if name.startswith("AWS_")}
    assert cloud_variables == {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    }
    assert shell.environment["AWS_ENDPOINT_URL"] == shell.connection["endpoints"]["default"]


def test_one_endpoint_reaches_sts_s3_cloudformation_and_the_local_sagemaker(
    shell: UserShell,
) -> None:
    assert shell.aws("sts", "get-caller-identity")["Account"] == "123456789012"
    stacks = shell.aws("cloudformation", "describe-stacks")["Stacks"]
    assert {stack["StackName"] for stack in stacks} == {"abalone-prep", "abalone-pipeline"}
    buckets = {bucket["Name"] for bucket in shell.aws("s3api", "list-buckets")["Buckets"]}
    assert "abalone-data-123456789012-us-east-1" in buckets
    assert shell.aws("sagemaker", "list-endpoints")["Endpoints"] == []
    # the runtime is the local one: AWS's error for a missing endpoint, not moto's placeholder
    error = shell.aws_error(
        "sagemaker-runtime", "invoke-endpoint", "--endpoint-name", "abalone-prod",
        "--body", "1", "--content-type", "text/csv", "/dev/null",
    )  # fmt: skip
    assert "Endpoint abalone-prod of account 123456789012 not found." in error


def test_the_readme_eval_line_works_in_a_shell(shell: UserShell) -> None:
    env_command = f"{sys.executable} -m localcloud env --state-dir {shell.state_dir}"
    result = shell.run(
        f'unset ${{!AWS_*}}; eval "$({env_command})"; '
        "aws sts get-caller-identity --query Account --output text"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "123456789012"


def test_lambda_invoke_runs_the_function_locally_and_its_log_reaches_cloudwatch(
    shell: UserShell, tmp_path: Path
) -> None:
    answer_file = tmp_path / "answer.json"
    invoked = shell.aws(
        "lambda", "invoke", "--function-name", "abalone-predict-proxy", "--log-type", "Tail",
        "--payload", '{"body": "not json"}',
        str(answer_file),
    )  # fmt: skip
    assert invoked["StatusCode"] == 200
    tail = base64.b64decode(invoked["LogResult"]).decode()
    assert re.search(r"^START RequestId: \S+ Version: \$LATEST", tail, re.MULTILINE)
    assert re.search(r"^REPORT RequestId: .*Duration: [\d.]+ ms", tail, re.MULTILINE)
    answer = json.loads(answer_file.read_text())
    assert answer["statusCode"] == 400  # the proxy's own answer to a body that is not JSON
    deadline = time.monotonic() + 15
    messages: list[str] = []
    while time.monotonic() < deadline and not any(m.startswith("REPORT") for m in messages):
        events = shell.aws(
            "logs", "filter-log-events", "--log-group-name", "/aws/lambda/abalone-predict-proxy"
        )["events"]
        messages = [event["message"] for event in events]
        time.sleep(0.5)
    assert any(m.startswith("START RequestId:") for m in messages)
    assert any(m.startswith("REPORT RequestId:") for m in messages)


def test_the_registry_lists_newest_first_and_records_an_approval(shell: UserShell) -> None:
    # the pipeline stack's group is in the local SageMaker
    stack_group = shell.aws(
        "sagemaker", "describe-model-package-group", "--model-package-group-name", "abalone"
    )
    assert stack_group["ModelPackageGroupArn"].endswith(":model-package-group/abalone")
    # versions go in a group of their own: the stack's rule deploys the abalone group's
    group = "cli-registry"
    shell.aws("sagemaker", "create-model-package-group", "--model-package-group-name", group)
    specification = json.dumps(
        {"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}]}
    )
    arns = [
        shell.aws(
            "sagemaker", "create-model-package", "--model-package-group-name", group,
            "--inference-specification", specification,
        )["ModelPackageArn"]
        for _ in range(3)
    ]  # fmt: skip
    listed = shell.aws(
        "sagemaker", "list-model-packages", "--model-package-group-name", group,
        "--sort-order", "Descending",
    )["ModelPackageSummaryList"]  # fmt: skip
    assert [package["ModelPackageArn"] for package in listed] == arns[::-1]
    assert [package["ModelPackageVersion"] for package in listed] == [3, 2, 1]
    assert shell.aws(
        "sagemaker", "update-model-package", "--model-package-arn", arns[1],
        "--model-approval-status", "Approved", "--approval-description", "reviewed",
    ) == {"ModelPackageArn": arns[1]}  # fmt: skip
    described = shell.aws("sagemaker", "describe-model-package", "--model-package-name", arns[1])
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "reviewed"
    error = shell.aws_error(
        "sagemaker", "update-model-package", "--model-package-arn", f"{arns[0][:-1]}9",
        "--model-approval-status", "Rejected",
    )  # fmt: skip
    assert f"ModelPackage {arns[0][:-1]}9 does not exist." in error
