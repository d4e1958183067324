"""The AWS CLI against the local cloud with only `python -m localcloud env` set, as users run it."""

from __future__ import annotations

import sys

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
