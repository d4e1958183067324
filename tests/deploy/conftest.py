"""Fixtures for the real-AWS deploy path: scripts/aws_stacks against a moto server, with an
AWS environment that points botocore only at it (AWS_ENDPOINT_URL, dummy credentials)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core.responses import ActionResult
from moto.sagemaker.responses import SageMakerResponse
from moto.server import ThreadedMotoServer

from localcloud import cfn_models
from localcloud.stacks import REPO_ROOT
from scripts.aws_stacks.command import main
from tests.moto_support import use_only_moto

EXAMPLE_PARAMETERS = REPO_ROOT / "deploy" / "parameters.example.json"
PROJECT = json.loads(EXAMPLE_PARAMETERS.read_text())["ProjectName"]
PREP_STACK = f"{PROJECT}-prep"
PIPELINE_STACK = f"{PROJECT}-pipeline"


def _none_listed(result_key: str) -> Any:
    def answer(self: SageMakerResponse) -> ActionResult:
        return ActionResult({result_key: []})

    return answer


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server on a loopback port the kernel picks, for the session, with the local
    cloud's models of the resource types moto's CloudFormation skips (as the local cloud has).

    moto 5.2.5 has no monitoring schedules and no model-quality job definitions: its SageMaker
    answers those two listings as SageMaker does in an account with none, which is what these
    projects have (tests/localcloud/sagemaker/test_destroy_monitoring.py deletes real ones).
    """
    cfn_models.install()
    with pytest.MonkeyPatch.context() as patch:
        for action, result_key in (
            ("list_monitoring_schedules", "MonitoringScheduleSummaries"),
            ("list_model_quality_job_definitions", "JobDefinitionSummaries"),
        ):
            patch.setattr(SageMakerResponse, action, _none_listed(result_key), raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


@dataclass(frozen=True)
class Aws:
    """Test-side clients of the moto server, to arrange and inspect what the script did."""

    cfn: Any
    s3: Any
    sagemaker: Any
    lambda_: Any

    def stack(self, name: str) -> dict[str, Any] | None:
        """describe_stacks of a live stack, or None."""
        stacks = [s for s in self.cfn.describe_stacks()["Stacks"] if s["StackName"] == name]
        return stacks[0] if stacks else None

    def parameters(self, name: str) -> dict[str, str]:
        """A stack's parameters."""
        stack = self.stack(name)
        assert stack is not None
        return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}

    def outputs(self, name: str) -> dict[str, str]:
        """A stack's outputs."""
        stack = self.stack(name)
        assert stack is not None
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def bucket_names(self) -> set[str]:
        """Every bucket."""
        return {b["Name"] for b in self.s3.list_buckets()["Buckets"]}

    def version(self, bucket: str) -> None:
        """Turn versioning on, as the templates' VersioningConfiguration does on AWS.

        moto's CloudFormation ignores that property, so its buckets start unversioned.
        """
        self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """A fresh moto state and an AWS environment that reaches only it."""
    use_only_moto(moto_url, monkeypatch)
    return Aws(
        cfn=boto3.client("cloudformation"),
        s3=boto3.client("s3"),
        sagemaker=boto3.client("sagemaker"),
        lambda_=boto3.client("lambda"),
    )


@dataclass(frozen=True)
class Result:
    """What one run of the command line did."""

    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Callable[..., Result]:
    """`run("deploy", "--params", ...)`: main() in process; deploy packages into tmp_path."""

    def invoke(*argv: str) -> Result:
        args = list(argv)
        if args[:1] == ["deploy"] and "--dist" not in args:
            args += ["--dist", str(tmp_path / "dist")]
        capsys.readouterr()
        code = main(args)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def params_file(tmp_path: Path) -> Callable[..., Path]:
    """`params_file(pipeline={...})`: the example file with sections merged in, written out."""

    def write(**changes: Any) -> Path:
        document = json.loads(EXAMPLE_PARAMETERS.read_text())
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(document.get(key), dict):
                document[key] = {**document[key], **value}
            else:
                document[key] = value
        path = tmp_path / "parameters.json"
        path.write_text(json.dumps(document))
        return path

    return write


@pytest.fixture
def deployed(aws: Aws, run: Callable[..., Result]) -> Result:
    """Both stacks deployed from the example parameters file."""
    result = run("deploy", "--params", str(EXAMPLE_PARAMETERS))
    assert result.code == 0, result.err
    return result
