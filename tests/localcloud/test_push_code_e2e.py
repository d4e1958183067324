"""With the local cloud up on the S3 source, `make push-code LOCAL=yes` starts a pipeline run
from the uploaded zip, as the upload does on AWS: the run's ModelCode revision is the object's
version, and the image is tagged with the commit the zip was made from."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from localcloud.background import free_port
from localcloud.client import aws_client
from localcloud.codepipeline.build import image_tag
from tests.conftest import REPO_ROOT
from tests.localcloud.test_cli import localcloud

pytestmark = pytest.mark.e2e


def _wait_for_build(codepipeline: Any, pipeline: str, timeout: float = 180) -> dict[str, Any]:
    """The first execution's Source and Build action executions, once its build is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executions = codepipeline.list_pipeline_executions(pipelineName=pipeline)
        summaries = executions["pipelineExecutionSummaries"]
        if summaries:
            execution_id = summaries[-1]["pipelineExecutionId"]
            details = codepipeline.list_action_executions(
                pipelineName=pipeline, filter={"pipelineExecutionId": execution_id}
            )["actionExecutionDetails"]
            by_action = {d["actionName"]: d for d in details}
            build = by_action.get("BuildImage", {})
            if build.get("status") in ("Succeeded", "Failed"):
                return {"summary": summaries[-1], **by_action}
        time.sleep(1)
    raise AssertionError(f"no build of {pipeline} finished within {timeout}s")


def test_make_push_code_starts_a_run_from_the_uploaded_zip(
    tmp_path: Path, lambda_zips: Path
) -> None:
    # GIVEN the local cloud on the S3 source, with no run yet
    state, port = tmp_path / ".localcloud", free_port()
    start = localcloud(state, lambda_zips, "start", "--port", str(port), "--source", "S3")
    assert start.returncode == 0, start.stdout + start.stderr
    try:
        connection = json.loads((state / "connection.json").read_text())
        codepipeline = aws_client(connection, "codepipeline")
        pipeline = connection["stacks"]["pipeline"]["PipelineName"]
        assert (
            codepipeline.list_pipeline_executions(pipelineName=pipeline)[
                "pipelineExecutionSummaries"
            ]
            == []
        )
        # WHEN make push-code uploads the committed model code
        push = subprocess.run(
            ["make", "--no-print-directory", "push-code", "LOCAL=yes", f"STATE_DIR={state}"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert push.returncode == 0, push.stdout + push.stderr
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        uri = connection["stacks"]["pipeline"]["ModelCodeUploadUri"]
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        head = aws_client(connection, "s3").head_object(Bucket=bucket, Key=key)
        # moto's CloudFormation leaves VersioningConfiguration out: the ETag stands in for the
        # version (the local S3 source's revision, as CodePipeline's of an unversioned object).
        version = head.get("VersionId") or head["ETag"].strip('"')
        assert f"Uploaded {uri} in the local cloud" in push.stdout
        # THEN the upload's event starts a run whose source is that version, built as its commit
        run = _wait_for_build(codepipeline, pipeline)
        assert run["summary"]["trigger"]["triggerType"] == "CloudWatchEvent"
        assert run["ModelCode"]["status"] == "Succeeded"
        revisions = {r["actionName"]: r["revisionId"] for r in run["summary"]["sourceRevisions"]}
        assert revisions["ModelCode"] == version
        assert run["BuildImage"]["status"] == "Succeeded", run["BuildImage"]
        image = run["BuildImage"]["output"]["executionResult"]["externalExecutionSummary"]
        assert image.endswith(f":{image_tag(commit)}"), image
    finally:
        down = localcloud(state, lambda_zips, "down")
        assert down.returncode == 0, down.stdout + down.stderr
