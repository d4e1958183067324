"""Alarms in moto's CloudWatch move with their metrics, run their SNS actions and emit events."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from localcloud.alarms import AlarmActions, AlarmEvaluator
from tests.localcloud.events.moto_support import (
    TopicReader,
    client,
    moto_session,  # noqa: F401 - the fixture
    recording_bus,
)

START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)


class Clock:
    """The evaluator's time, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def setup(moto_session: boto3.session.Session) -> tuple:  # noqa: F811
    actions_topic = TopicReader(moto_session, "alarm-actions")
    events_topic = TopicReader(moto_session, "alarm-events")
    bus = recording_bus(moto_session, "CloudWatch Alarm State Change", events_topic)
    clock = Clock()
    cloudwatch = client(moto_session, "cloudwatch")
    evaluator = AlarmEvaluator(cloudwatch, AlarmActions(actions_topic.sns, bus), clock=clock)
    yield cloudwatch, evaluator, clock, actions_topic, events_topic, bus
    bus.stop()


def _state_events(topic: TopicReader) -> list[dict]:
    return [json.loads(envelope["Message"]) for envelope in topic.messages()]


def test_an_alarm_moves_to_alarm_and_back_to_ok_with_its_metric(setup: tuple) -> None:
    cloudwatch, evaluator, clock, actions_topic, events_topic, _ = setup
    # GIVEN an alarm on the maximum of a metric over one minute, and a datapoint above it
    topic = actions_topic.topic_arn
    cloudwatch.put_metric_alarm(
        AlarmName="errors", Namespace="Local/Test", MetricName="Errors", Statistic="Maximum",
        Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic], OKActions=[topic], TreatMissingData="missing",
    )  # fmt: skip
    high_at = START - timedelta(seconds=30)
    cloudwatch.put_metric_data(
        Namespace="Local/Test",
        MetricData=[{"MetricName": "Errors", "Value": 5.0, "Timestamp": high_at}],
    )
    # WHEN the evaluator runs
    evaluator.evaluate_all()
    # THEN the alarm is in ALARM with CloudWatch's reason, and its topic got the notification
    alarm = cloudwatch.describe_alarms(AlarmNames=["errors"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    period = (START - timedelta(seconds=60)).strftime("%d/%m/%y %H:%M:%S")
    assert alarm["StateReason"] == (
        f"Threshold Crossed: 1 out of the last 1 datapoints [5.0 ({period})] was greater than "
        "the threshold (1.0) (minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition)."
    )
    [envelope] = actions_topic.messages()
    assert envelope["Subject"] == 'ALARM: "errors" in US East (N. Virginia)'
    message = json.loads(envelope["Message"])
    assert message["NewStateValue"] == "ALARM"
    assert message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["NewStateReason"] == alarm["StateReason"]
    assert message["Trigger"]["MetricName"] == "Errors"
    assert message["Trigger"]["Statistic"] == "MAXIMUM"
    [event] = _state_events(events_topic)
    assert event["source"] == "aws.cloudwatch"
    assert event["resources"] == [alarm["AlarmArn"]]
    assert event["detail"]["state"]["value"] == "ALARM"
    assert event["detail"]["previousState"]["value"] == "INSUFFICIENT_DATA"
    # WHEN two minutes pass with a low datapoint in the last one
    clock.now = START + timedelta(minutes=2)
    cloudwatch.put_metric_data(
        Namespace="Local/Test",
        MetricData=[
            {"MetricName": "Errors", "Value": 0.0, "Timestamp": clock.now - timedelta(seconds=10)}
        ],
    )
    evaluator.evaluate_all()
    # THEN it is OK again, and the OK action ran
    alarm = cloudwatch.describe_alarms(AlarmNames=["errors"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "OK"
    assert alarm["StateReason"].startswith(
        "Threshold Crossed: 1 out of the last 1 datapoints [0.0 ("
    )
    assert "was not greater than the threshold (1.0)" in alarm["StateReason"]
    [envelope] = actions_topic.messages()
    assert json.loads(envelope["Message"])["NewStateValue"] == "OK"
    cloudwatch.delete_alarms(AlarmNames=["errors"])


def test_set_alarm_state_runs_the_actions_and_emits_the_event(setup: tuple) -> None:
    cloudwatch, evaluator, _, actions_topic, events_topic, _ = setup
    # GIVEN an alarm whose missing data keeps its state
    cloudwatch.put_metric_alarm(
        AlarmName="manual", Namespace="Local/Test", MetricName="Nothing", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[actions_topic.topic_arn], TreatMissingData="ignore",
    )  # fmt: skip
    evaluator.evaluate_all()
    _state_events(events_topic)  # drain
    # AND an evaluator running in the background, watching for changes often
    watcher = AlarmEvaluator(
        cloudwatch, evaluator.actions, interval_seconds=3600, watch_seconds=0.1
    )
    watcher.notice_changes()
    watcher.start()
    # WHEN a user sets it to ALARM, as `aws cloudwatch set-alarm-state` does
    cloudwatch.set_alarm_state(AlarmName="manual", StateValue="ALARM", StateReason="testing")
    # THEN its topic gets CloudWatch's message and the bus the state-change event, promptly
    envelopes = []
    deadline = time.monotonic() + 10
    while not envelopes and time.monotonic() < deadline:
        envelopes = actions_topic.messages()
    watcher.stop()
    [envelope] = envelopes
    message = json.loads(envelope["Message"])
    assert (message["AlarmName"], message["NewStateValue"]) == ("manual", "ALARM")
    assert message["NewStateReason"] == "testing"
    [event] = _state_events(events_topic)
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["detail"]["alarmName"] == "manual"
    assert event["detail"]["state"]["reason"] == "testing"
    # and it stays there: with its data missing, nothing moves it back
    watcher.evaluate_all()
    assert actions_topic.messages() == []
    cloudwatch.delete_alarms(AlarmNames=["manual"])


def test_an_alarm_set_before_the_evaluator_first_sees_it_still_runs_its_actions(
    setup: tuple,
) -> None:
    cloudwatch, evaluator, _, actions_topic, events_topic, _ = setup
    # GIVEN a new alarm, set to ALARM at once (`put-metric-alarm`, then `set-alarm-state`)
    cloudwatch.put_metric_alarm(
        AlarmName="quick", Namespace="Local/Test", MetricName="Nothing", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[actions_topic.topic_arn], TreatMissingData="ignore",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName="quick", StateValue="ALARM", StateReason="at once")
    # WHEN the evaluator first looks
    evaluator.notice_changes()
    # THEN the change from the state alarms are created in ran the actions, as on AWS
    [envelope] = actions_topic.messages()
    message = json.loads(envelope["Message"])
    assert (message["AlarmName"], message["OldStateValue"], message["NewStateValue"]) == (
        "quick",
        "INSUFFICIENT_DATA",
        "ALARM",
    )
    [event] = _state_events(events_topic)
    assert event["detail"]["previousState"]["value"] == "INSUFFICIENT_DATA"
    cloudwatch.delete_alarms(AlarmNames=["quick"])
