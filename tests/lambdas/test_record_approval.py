"""RecordApproval: the pipeline's ApproveProd answer becomes the version's approval status, with
the approver's comment; a rejection arrives as the EventBridge rule's event."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from tests.lambdas.conftest import IMAGE_URI, Cloud, job_event, load_event, load_module

REGISTRATION = "demo-pipeline/Registrat/reg.zip"
EXECUTION = "0a1b2c3d-1111-2222-3333-444455556666"
APPROVER = "arn:aws:iam::123456789012:user/alice"
MODEL_URL = "s3://demo-models/models/demo-0123456-20250102-030405/output/model.tar.gz"
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
ANSWERED = datetime(2025, 1, 2, 4, 0, 0, tzinfo=UTC)


@pytest.fixture
def record_approval(cloud: Cloud) -> ModuleType:
    """lambdas/record_approval/app.py."""
    return load_module("record_approval/app")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, record_approval: ModuleType) -> None:
    """The template's environment."""
    for name, value in {
        "PIPELINE_NAME": "demo-pipeline",
        "APPROVAL_ACTION": "ApproveProd",
        "REGISTER_ACTION": "RegisterModel",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def version(cloud: Cloud) -> str:
    """Version 1 of the group, PendingManualApproval as RegisterModel left it, and the
    Registration artifact naming it; returns its ARN."""
    cloud.sagemaker.create_model_package_group(ModelPackageGroupName="demo")
    arn = cloud.sagemaker.create_model_package(
        ModelPackageGroupName="demo",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE_URI, "ModelDataUrl": MODEL_URL}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="PendingManualApproval",
    )["ModelPackageArn"]
    cloud.put_artifact(
        REGISTRATION, "registration.json", {"ModelPackageArn": arn, "ModelPackageVersion": 1}
    )
    return arn


def action_detail(name: str, stage: str, status: str, **output: Any) -> dict[str, Any]:
    """One ActionExecutionDetail of EXECUTION, as ListActionExecutions answers it."""
    return {
        "pipelineExecutionId": EXECUTION,
        "actionExecutionId": f"{name}-0000-1111-2222-333333333333",
        "pipelineVersion": 1,
        "stageName": stage,
        "actionName": name,
        "startTime": WHEN,
        "lastUpdateTime": ANSWERED,
        "status": status,
        "output": {"executionResult": {}, "outputVariables": {}, **output},
    }


def executions(arn: str, approval: str | None, comment: str = "") -> dict[str, Any]:
    """ListActionExecutions of EXECUTION: RegisterModel made the version; ApproveProd answered
    (Succeeded: approved, Failed: rejected) or still waiting (None)."""
    register = action_detail(
        "RegisterModel",
        "Evaluate",
        "Succeeded",
        outputVariables={"ModelPackageArn": arn, "ModelPackageVersion": "1"},
    )
    details = [register]
    if approval is None:
        details.append(action_detail("ApproveProd", "Approve", "InProgress"))
    else:
        result = (
            {"externalExecutionSummary": comment}
            if approval == "Succeeded"
            else {"errorDetails": {"code": "JobFailed", "message": comment}}
        )
        details.append(
            {
                **action_detail("ApproveProd", "Approve", approval, executionResult=result),
                "updatedBy": APPROVER,
            }
        )
    return {"actionExecutionDetails": list(reversed(details))}  # newest first, as AWS lists


def expect_executions(record_approval: ModuleType, stub, answer: dict[str, Any]) -> None:
    """Under Stubber: the one ListActionExecutions of EXECUTION."""
    stub(record_approval.CODEPIPELINE).add_response(
        "list_action_executions",
        answer,
        {"pipelineName": "demo-pipeline", "filter": {"pipelineExecutionId": EXECUTION}},
    )


def event() -> dict:
    """The Approve/RecordApproval job event."""
    return job_event({"execution_id": EXECUTION}, inputs={"Registration": REGISTRATION})


def rejected_event(**detail: Any) -> dict[str, Any]:
    """The captured Action Execution State Change (FAILED), as ApprovalRejectedRule delivers
    it for this pipeline's ApproveProd, with these detail fields changed."""
    captured = load_event("codepipeline_action_execution_state_change.json")
    captured["region"] = "us-east-1"
    captured["resources"] = ["arn:aws:codepipeline:us-east-1:123456789012:demo-pipeline"]
    captured["detail"].update(
        {
            "pipeline": "demo-pipeline",
            "execution-id": EXECUTION,
            "stage": "Approve",
            "action": "ApproveProd",
            "region": "us-east-1",
            "type": {"owner": "AWS", "provider": "Manual", "category": "Approval", "version": "1"},
            **detail,
        }
    )
    return captured


def status_of(cloud: Cloud, arn: str) -> tuple[str, str | None]:
    described = cloud.sagemaker.describe_model_package(ModelPackageName=arn)
    return described["ModelApprovalStatus"], described.get("ApprovalDescription")


def test_an_approval_makes_the_version_approved_with_the_comment(
    record_approval, cloud, pipeline, stub, version
):
    # GIVEN alice approved ApproveProd with a comment
    expect_executions(
        record_approval, stub, executions(version, "Succeeded", "MSE 1.25, better than prod")
    )
    pipeline.expect_success()
    # WHEN RecordApproval runs after it
    record_approval.handler(event(), None)
    # THEN the version is Approved, the comment and the approver its ApprovalDescription
    description = f"Approved in demo-pipeline by {APPROVER}: MSE 1.25, better than prod"
    assert status_of(cloud, version) == ("Approved", description)
    assert pipeline.summary_text == (
        f"version 1 is Approved (Approved in the pipeline by {APPROVER}: "
        "MSE 1.25, better than prod)"
    )


def test_a_version_rejected_in_the_registry_meanwhile_stays_rejected(
    record_approval, cloud, pipeline, stub, version
):
    # GIVEN the version rejected in the registry while ApproveProd waited, then approved there
    cloud.sagemaker.update_model_package(ModelPackageArn=version, ModelApprovalStatus="Rejected")
    expect_executions(record_approval, stub, executions(version, "Succeeded", "ship it"))
    pipeline.expect_failure()
    # WHEN RecordApproval runs
    record_approval.handler(event(), None)
    # THEN the registry's answer stands and the message says how to deploy it anyway
    assert status_of(cloud, version)[0] == "Rejected"
    assert pipeline.message == (
        f"version 1 ({version}) was Rejected in the model registry while it waited for "
        "approval; the pipeline's approval does not override that. Approve it in the "
        "registry to deploy it: python -m scripts.registry approve 1"
    )


def test_without_an_answered_approval_nothing_is_approved(
    record_approval, cloud, pipeline, stub, version
):
    # GIVEN ApproveProd not answered in this execution (RecordApproval run out of order)
    expect_executions(record_approval, stub, executions(version, None))
    pipeline.expect_failure()
    # WHEN RecordApproval runs THEN it fails and the version stays pending
    record_approval.handler(event(), None)
    assert pipeline.message == f"ApproveProd of execution {EXECUTION} has no approval on record"
    assert status_of(cloud, version)[0] == "PendingManualApproval"


def test_a_rejection_event_makes_the_version_rejected_with_the_reason(
    record_approval, cloud, stub, version
):
    # GIVEN alice rejected ApproveProd, and the rule delivers the action's FAILED event
    expect_executions(
        record_approval, stub, executions(version, "Failed", "error by sex I is too high")
    )
    # WHEN RecordApproval gets the event
    record_approval.handler(rejected_event(), None)
    # THEN the version this execution registered is Rejected, with the reason
    assert status_of(cloud, version) == (
        "Rejected",
        f"Rejected in demo-pipeline by {APPROVER}: error by sex I is too high",
    )


@pytest.mark.parametrize(
    ("detail", "problem"),
    [
        (
            {"pipeline": "demo-v2-pipeline"},
            "detail.pipeline is 'demo-v2-pipeline', not 'demo-pipeline'",
        ),
        ({"action": "DeployProdModel"}, "detail.action is 'DeployProdModel', not 'ApproveProd'"),
        ({"state": "SUCCEEDED"}, "detail.state is 'SUCCEEDED', not 'FAILED'"),
        ({"execution-id": None}, "detail.execution-id is missing"),
    ],
)
def test_an_event_of_another_pipeline_or_action_is_refused(
    record_approval, cloud, stub, version, detail, problem
):
    # GIVEN an event the rule should not have sent here (Stubber: no call to either service)
    stub(record_approval.CODEPIPELINE)
    stub(record_approval.SAGEMAKER)
    # WHEN RecordApproval gets it THEN it refuses, naming what is wrong, and changes nothing
    with pytest.raises(ValueError, match="not a failed ApproveProd event: ") as refused:
        record_approval.handler(rejected_event(**detail), None)
    assert problem in str(refused.value)
    assert status_of(cloud, version) == ("PendingManualApproval", None)
