"""Rules read from a template: what a target receives, and what the cloud refuses to start with."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from localcloud.cfn import StackContext, load_template
from localcloud.events import EventRuleError, rules_of
from localcloud.events.targets import target_input
from localcloud.stacks import PIPELINE_TEMPLATE, Stack

CREATED = datetime(2026, 12, 2, tzinfo=UTC)
PIPELINE_ARN = "arn:aws:codepipeline:us-east-1:123456789012:abalone-pipeline"
EVENT = {
    "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "Object Created",
    "source": "aws.s3", "account": "123456789012", "time": "2026-12-02T03:00:00Z",
    "region": "us-east-1", "resources": ["arn:aws:s3:::data"],
    "detail": {"bucket": {"name": "data"}, "object": {"key": "pipeline/data.zip", "size": 8}},
}  # fmt: skip


def _stack(rule_properties: dict[str, Any]) -> Stack:
    template = {"Resources": {"Rule": {"Type": "AWS::Events::Rule", "Properties": rule_properties}}}
    context = StackContext("test", "us-east-1", "123456789012", {}, {"Rule": "test-Rule-ABC"})
    return Stack(name="test", template=template, context=context, outputs={})


def _rule(**target: Any) -> dict[str, Any]:
    return {
        "EventPattern": {"source": ["aws.s3"]},
        "Targets": [{"Id": "t", "Arn": "arn:aws:sns:us-east-1:123456789012:topic", **target}],
    }


def _attribute(logical_id: str, attribute: str) -> str:
    """What !GetAtt <id>.Arn gives for the template's functions and roles."""
    if logical_id.endswith("Function"):
        return f"arn:aws:lambda:us-east-1:123456789012:function:{logical_id}"
    return f"arn:aws:iam::123456789012:role/{logical_id}"


def _pipeline_rules(retrain_on_drift: str) -> dict[str, Any]:
    template = load_template(PIPELINE_TEMPLATE)
    context = StackContext(
        "abalone-pipeline", "us-east-1", "123456789012",
        {"BranchName": "main", "PrepStackName": "p", "RetrainOnDrift": retrain_on_drift},
        {"DataBucket": "data-bucket", "PipelineEventsRole": "role",
         "TrainingDataRule": "abalone-pipeline-TrainingDataRule-X", "SourceRule": "s",
         "DataDriftAlarm": "abalone-prod-data-drift",
         "RetrainOnDriftRule": "abalone-pipeline-RetrainOnDriftRule-X"},
        exports={"p-ProjectName": "abalone", "p-RepositoryName": "abalone-model"},
        conditions=template["Conditions"],
        get_att=_attribute,
    )  # fmt: skip
    stack = Stack(name="abalone-pipeline", template=template, context=context, outputs={})
    return {rule.name: rule for rule in rules_of([stack], CREATED)}


@pytest.mark.parametrize("retrain_on_drift", ["true", "false"])
def test_the_drift_alarm_starts_the_pipeline_unless_switched_off(retrain_on_drift: str) -> None:
    drift = _pipeline_rules(retrain_on_drift)["abalone-pipeline-RetrainOnDriftRule-X"]
    alarm = {
        **EVENT,
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": "abalone-prod-data-drift", "state": {"value": "ALARM"}},
    }
    # THEN an ALARM of the drift alarm starts the pipeline, unless the rule is switched off
    switched_on = retrain_on_drift == "true"
    assert drift.matches(alarm) is switched_on
    assert not drift.matches(alarm | {"detail": {**alarm["detail"], "state": {"value": "OK"}}})
    other = {**alarm["detail"], "alarmName": "abalone-prod-model-quality"}
    assert not drift.matches(alarm | {"detail": other})
    assert [t.arn for t in drift.targets] == [PIPELINE_ARN]


def test_the_pipeline_template_rules_are_read_with_their_names_and_targets() -> None:
    rules = _pipeline_rules("true")
    # ... the registry's and the approval's rules invoke their functions
    registry = next(r for r in rules.values() if "ModelPackageStateRule" in r.name)
    assert [t.arn for t in registry.targets] == [_attribute("DeployModelFunction", "Arn")]
    training = rules["abalone-pipeline-TrainingDataRule-X"]
    assert training.matches(
        EVENT
        | {"detail": {"bucket": {"name": "data-bucket"}, "object": {"key": "pipeline/data.zip"}}}
    )
    assert not training.matches(EVENT)  # another bucket
    assert [t.arn for t in training.targets] == [PIPELINE_ARN]
    assert training.targets[0].resource_name == "abalone-pipeline"


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"EventPattern": {"source": "aws.s3"}, "Targets": []}, "Event pattern is not valid"),
        ({"Targets": []}, "EventPattern or ScheduleExpression must be specified"),
        ({"ScheduleExpression": "rate(1 minutes)"}, "ScheduleExpression is not valid"),
        (_rule() | {"EventBusName": "orders"}, "only the default event bus"),
        (_rule() | {"State": "PAUSED"}, "Member must satisfy enum value set"),
        (_rule(RetryPolicy={"MaximumRetryAttempts": 1}), "does not support RetryPolicy"),
        (
            _rule(Arn="arn:aws:sqs:us-east-1:123456789012:q"),
            "delivers to codepipeline, lambda, sns",
        ),
        (_rule(Input="{}", InputPath="$.detail"), "only one of Input, InputPath"),
        (_rule(InputPath="detail.x"), "is not a JSON path"),
    ],
)
def test_a_rule_the_local_bus_cannot_run_stops_the_cloud(
    properties: dict[str, Any], message: str
) -> None:
    with pytest.raises(EventRuleError, match=r"^stack test, rule Rule: ") as error:
        rules_of([_stack(properties)], CREATED)
    assert message in str(error.value)


def test_a_target_gets_the_event_a_literal_a_part_or_a_transformation() -> None:
    rule_properties = _rule()
    [whole] = rules_of([_stack(rule_properties)], CREATED)
    assert json.loads(target_input(whole, whole.targets[0], EVENT)) == EVENT
    [literal] = rules_of([_stack(_rule(Input='{"retrain": true}'))], CREATED)
    assert target_input(literal, literal.targets[0], EVENT) == '{"retrain": true}'
    [part] = rules_of([_stack(_rule(InputPath="$.detail.object"))], CREATED)
    assert json.loads(target_input(part, part.targets[0], EVENT)) == EVENT["detail"]["object"]
    transformer = {
        "InputPathsMap": {"key": "$.detail.object.key", "size": "$.detail.object.size"},
        "InputTemplate": '{"file": "<key>", "bytes": <size>, "rule": "<aws.events.rule-name>"}',
    }
    [shaped] = rules_of([_stack(_rule(InputTransformer=transformer))], CREATED)
    assert json.loads(target_input(shaped, shaped.targets[0], EVENT)) == {
        "file": "pipeline/data.zip", "bytes": 8, "rule": "test-Rule-ABC",
    }  # fmt: skip
