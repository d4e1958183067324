"""The stack's own pipeline, run in a local cloud through CodePipeline's API as a user would.

boto3 reaches the local CodePipeline through the cloud's `AWS_ENDPOINT_URL*` variables; the
approval is the README's recipe (get-pipeline-state for the token, then put-approval-result).
"""

from __future__ import annotations

import json

import boto3

from localcloud.cloud import LocalCloud
from localcloud.codepipeline.definition import template_stages
from tests.cloud_support import predict, prod_config, raw_records
from tests.localcloud.codepipeline.support import wait_for


def test_a_run_started_followed_and_approved_through_the_api(cloud: LocalCloud) -> None:
    assert cloud.pipeline_stack is not None
    name = cloud.pipeline_stack.outputs["PipelineName"]
    codepipeline = boto3.client("codepipeline")
    # GIVEN the pipeline GetPipeline describes: the template's stages and actions
    pipeline = codepipeline.get_pipeline(name=name)["pipeline"]
    declared = template_stages(cloud.pipeline_stack.template)
    assert [(s["name"], [a["name"] for a in s["actions"]]) for s in pipeline["stages"]] == [
        (stage.name, [action.name for action in stage.actions]) for stage in declared
    ]
    source = pipeline["stages"][0]["actions"][1]
    assert source["configuration"]["PollForSourceChanges"] == "false"
    assert pipeline["artifactStore"] == {
        "type": "S3",
        "location": cloud.pipeline_stack.outputs["ArtifactBucketName"],
    }
    # WHEN a run is started and reaches the approval
    execution_id = codepipeline.start_pipeline_execution(name=name)["pipelineExecutionId"]

    def token() -> str | None:
        state = codepipeline.get_pipeline_state(name=name)
        approve = next(s for s in state["stageStates"] if s["stageName"] == "Approve")
        return approve["actionStates"][0].get("latestExecution", {}).get("token")

    approval_token = wait_for(token, timeout=180, every=0.25)
    # THEN the stages before it succeeded in this execution, and prod was not touched yet
    state = codepipeline.get_pipeline_state(name=name)
    by_stage = {s["stageName"]: s for s in state["stageStates"]}
    for stage in ("Source", "Build", "Train", "DeployDev", "Evaluate"):
        assert by_stage[stage]["latestExecution"] == {
            "pipelineExecutionId": execution_id,
            "status": "Succeeded",
            "type": "STANDARD",
        }, stage
    assert "latestExecution" not in by_stage["DeployProd"]
    model_code = by_stage["Source"]["actionStates"][0]
    assert model_code["currentRevision"]["revisionId"]
    # WHEN it is approved with the token, as the README does
    codepipeline.put_approval_result(
        pipelineName=name,
        stageName="Approve",
        actionName="ApproveProd",
        token=approval_token,
        result={"summary": "Looks good", "status": "Approved"},
    )

    def finished() -> str | None:
        execution = codepipeline.get_pipeline_execution(
            pipelineName=name, pipelineExecutionId=execution_id
        )["pipelineExecution"]
        return None if execution["status"] == "InProgress" else execution["status"]

    # THEN the run succeeds, prod serves its model, and the history and report agree
    assert wait_for(finished, timeout=120, every=0.25) == "Succeeded"
    execution = codepipeline.get_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution_id
    )["pipelineExecution"]
    revisions = {r["name"]: r["revisionId"] for r in execution["artifactRevisions"]}
    assert revisions["SourceOutput"] == model_code["currentRevision"]["revisionId"]
    assert set(revisions) == {"SourceOutput", "DataOutput"}
    (latest,) = codepipeline.list_pipeline_executions(pipelineName=name, maxResults=1)[
        "pipelineExecutionSummaries"
    ]
    assert (latest["pipelineExecutionId"], latest["status"]) == (execution_id, "Succeeded")
    details = codepipeline.list_action_executions(
        pipelineName=name, filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    assert len(details) == sum(len(stage.actions) for stage in declared)
    assert {d["status"] for d in details} == {"Succeeded"}
    report = json.loads((cloud.state_dir / "runs" / f"{execution_id}.json").read_text())
    assert report["status"] == "Succeeded"
    assert report["artifacts"]["ProdDeployment"]["ModelName"] == prod_config(cloud)
    answer = predict(cloud, "prod", raw_records(cloud, 2)[0])
    assert answer.status_code == 200
    assert answer.json()["model"] == prod_config(cloud)
