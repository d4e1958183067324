"""make deploy's model-code source: pipeline.SourceProvider picks S3, CodeCommit or
CodeConnection, prep gets the same value, and a parameter the chosen source ignores or needs is
one error line before any AWS call; the summary says how to get code to that source."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.aws_stacks.common import Failure, template
from scripts.aws_stacks.deploy import model_code_steps
from scripts.aws_stacks.parameters import read_parameters
from tests.deploy.conftest import EXAMPLE_PARAMETERS, PIPELINE_STACK, PREP_STACK, Aws, Result

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")

ARN = (
    "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
)
REPO_ID = "octo-org/abalone-model"
CLONE_URL = "https://github.com/octo-org/abalone-model.git"
CONNECTION = {"SourceProvider": "CodeConnection", "ConnectionArn": ARN, "FullRepositoryId": REPO_ID}
DEFAULT_SOURCE = str(template("pipeline")["Parameters"]["SourceProvider"]["Default"])


def _without_source(tmp_path: Path, **pipeline: Any) -> Path:
    """The example file with no pipeline.SourceProvider, and `pipeline` merged in."""
    document = json.loads(EXAMPLE_PARAMETERS.read_text())
    del document["pipeline"]["SourceProvider"]
    document["pipeline"] |= pipeline
    path = tmp_path / "no-source.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"pipeline": {"ConnectionArn": ARN}},
            "pipeline.ConnectionArn: only the CodeConnection source takes a connection "
            "(SourceProvider is S3); remove it or set pipeline.SourceProvider to CodeConnection",
        ),
        (
            {"pipeline": {"SourceProvider": "CodeCommit", "FullRepositoryId": REPO_ID}},
            "pipeline.FullRepositoryId: only the CodeConnection source takes a repository id "
            "(SourceProvider is CodeCommit); remove it or set pipeline.SourceProvider to "
            "CodeConnection",
        ),
        (
            {"pipeline": {"BranchName": "main"}},
            "pipeline.BranchName: only the CodeCommit and CodeConnection sources take a branch "
            "(SourceProvider is S3); remove it or set pipeline.SourceProvider to CodeCommit or "
            "CodeConnection",
        ),
        (
            {"pipeline": {"SourceProvider": "CodeCommit"}, "prep": {"GitCloneUrl": CLONE_URL}},
            "prep.GitCloneUrl: only the CodeConnection source takes a clone URL "
            "(SourceProvider is CodeCommit); remove it or set pipeline.SourceProvider to "
            "CodeConnection",
        ),
        (
            {"pipeline": {"SourceProvider": "CodeConnection", "FullRepositoryId": REPO_ID}},
            "pipeline.ConnectionArn is required when pipeline.SourceProvider is CodeConnection",
        ),
        (
            {"pipeline": {**CONNECTION, "ConnectionArn": ""}},
            "pipeline.ConnectionArn is required when pipeline.SourceProvider is CodeConnection",
        ),
        (
            {"pipeline": {"SourceProvider": "CodeConnection", "ConnectionArn": ARN}},
            "pipeline.FullRepositoryId is required when pipeline.SourceProvider is CodeConnection",
        ),
        (
            {"prep": {"SourceProvider": "CodeCommit"}},
            "prep.SourceProvider: deploy sets it from pipeline.SourceProvider; remove it",
        ),
    ],
)
def test_a_source_parameter_the_source_ignores_or_needs_is_one_line_before_any_aws_call(
    aws: Aws, run: Callable[..., Result], params_file: Callable[..., Path], changes, message
):
    # GIVEN a parameters file whose source parameters do not fit its SourceProvider
    path = params_file(**changes)
    # WHEN deploying THEN the one error line names the parameter, and nothing was created
    result = run("deploy", "--params", str(path))
    assert result.code == 1
    assert result.err == f"error: {path}: {message}\n"
    assert result.out == ""
    assert aws.cfn.describe_stacks()["Stacks"] == []
    assert aws.bucket_names() == set()


def test_with_no_source_named_a_branch_is_refused_by_the_template_default(tmp_path):
    # GIVEN no pipeline.SourceProvider, so the template's default source, and a branch
    path = _without_source(tmp_path, BranchName="main")
    # WHEN read THEN the branch is refused by the default source, named in the message
    with pytest.raises(Failure) as refused:
        read_parameters(path)
    assert str(refused.value) == (
        f"{path}: pipeline.BranchName: only the CodeCommit and CodeConnection sources take a "
        f"branch (SourceProvider is {DEFAULT_SOURCE}); remove it or set pipeline.SourceProvider "
        "to CodeCommit or CodeConnection"
    )


@pytest.mark.parametrize(
    ("pipeline", "prep"),
    [
        ({**CONNECTION, "BranchName": "release"}, {"GitCloneUrl": CLONE_URL}),
        (CONNECTION, {}),
        ({"SourceProvider": "S3"}, {}),
        ({"SourceProvider": "CodeCommit", "BranchName": "develop"}, {}),
        ({"SourceProvider": "CodeCommit"}, {}),
    ],
)
def test_a_source_with_its_own_parameters_is_accepted_and_prep_gets_the_same_source(
    params_file: Callable[..., Path], pipeline: dict[str, str], prep: dict[str, str]
):
    # GIVEN a source and only the parameters it takes WHEN read
    checked = read_parameters(params_file(pipeline=pipeline, prep=prep))
    # THEN they are passed as given, and prep is given the pipeline's source
    assert checked.pipeline.items() >= pipeline.items()
    assert checked.prep.items() >= prep.items()
    assert (
        checked.prep["SourceProvider"]
        == checked.pipeline["SourceProvider"]
        == pipeline["SourceProvider"]
    )


def test_with_no_source_named_both_stacks_get_the_template_default(tmp_path):
    # GIVEN no pipeline.SourceProvider WHEN read
    checked = read_parameters(_without_source(tmp_path))
    # THEN both stacks are given the pipeline template's default explicitly
    assert checked.pipeline["SourceProvider"] == DEFAULT_SOURCE
    assert checked.prep["SourceProvider"] == DEFAULT_SOURCE
    assert template("prep")["Parameters"]["SourceProvider"]["Default"] == DEFAULT_SOURCE


def _output(key: str) -> str:
    return {
        "ProjectName": "abalone",
        "RepositoryName": "abalone",
        "RepositoryCloneUrlHttp": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/abalone",
        "ModelCodeUploadUri": "s3://abalone-data-123456789012/pipeline/model-code.zip",
    }[key]


def test_next_steps_say_how_to_get_model_code_to_the_chosen_source():
    # GIVEN each source WHEN the summary's model-code steps are written THEN they fit it
    connection = model_code_steps(_output, "us-east-1", {**CONNECTION, "BranchName": "release"})
    assert "Developer Tools > Settings > Connections > " + ARN in connection
    assert "Update pending connection" in connection
    assert f"to branch release of\n    {REPO_ID}" in connection
    assert "codecommit" not in connection and "push-code" not in connection

    commit = model_code_steps(_output, "us-east-1", {"SourceProvider": "CodeCommit"})
    assert "push model-code/ and buildspecs/ to " + _output("RepositoryCloneUrlHttp") in commit
    assert "git clone codecommit::us-east-1://abalone build/abalone-model-code" in commit
    assert "git push origin HEAD:main" in commit  # the template's default branch

    s3 = model_code_steps(_output, "us-east-1", {"SourceProvider": "S3"})
    assert "make push-code PROJECT=abalone" in s3
    assert _output("ModelCodeUploadUri") in s3
    assert "git" not in s3 and "Connection" not in s3


@pytest.mark.parametrize(
    ("pipeline", "prep", "steps"),
    [
        (
            {"SourceProvider": "CodeCommit", "BranchName": "develop"},
            {},
            "git push origin HEAD:develop",
        ),
        (
            {**CONNECTION, "BranchName": "release"},
            {"GitCloneUrl": CLONE_URL},
            "Update pending connection",
        ),
    ],
)
def test_deploy_gives_both_stacks_the_source_and_says_how_to_push_to_it(
    aws: Aws, run: Callable[..., Result], params_file: Callable[..., Path], pipeline, prep, steps
):
    # GIVEN a git source and its parameters WHEN deployed
    result = run("deploy", "--params", str(params_file(pipeline=pipeline, prep=prep)))
    # THEN both stacks hold the source (prep its clone URL too) and the steps fit it
    assert result.code == 0, result.err
    assert aws.parameters(PIPELINE_STACK).items() >= pipeline.items()
    assert (
        aws.parameters(PREP_STACK).items()
        >= {**prep, "SourceProvider": pipeline["SourceProvider"]}.items()
    )
    assert steps in result.out
    if pipeline["SourceProvider"] == "CodeCommit":
        assert aws.outputs(PREP_STACK)["RepositoryCloneUrlHttp"] in result.out
