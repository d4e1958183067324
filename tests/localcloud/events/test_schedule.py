"""Scheduled rules: rate and six-field cron expressions, and the "Scheduled Event" they fire."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.events import EventBus, EventRuleError, Rule, Target, TargetServices
from localcloud.events.schedule import parse_schedule
from tests.localcloud.events.moto_support import TopicReader, moto_session  # noqa: F401

ORIGIN = datetime(2026, 12, 2, 3, 0, 30, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(5 minutes)", ORIGIN, ORIGIN + timedelta(minutes=5)),
        ("rate(1 hour)", ORIGIN + timedelta(minutes=61), ORIGIN + timedelta(hours=2)),
        ("cron(0 10 * * ? *)", ORIGIN, datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
        ("cron(15 12 * * ? *)", datetime(2026, 12, 2, 12, 15, tzinfo=UTC),
         datetime(2026, 12, 3, 12, 15, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", ORIGIN, datetime(2026, 12, 2, 3, 15, tzinfo=UTC)),
        ("cron(0 18 ? * MON-FRI *)", datetime(2026, 12, 4, 19, 0, tzinfo=UTC),
         datetime(2026, 12, 7, 18, 0, tzinfo=UTC)),
        ("cron(0 8 1 * ? *)", ORIGIN, datetime(2027, 1, 1, 8, 0, tzinfo=UTC)),
        ("cron(0 0 L * ? *)", ORIGIN, datetime(2026, 12, 31, 0, 0, tzinfo=UTC)),
        ("cron(0 9 ? * 6#3 *)", ORIGIN, datetime(2026, 12, 18, 9, 0, tzinfo=UTC)),
        ("cron(0 9 ? * 2L *)", ORIGIN, datetime(2026, 12, 28, 9, 0, tzinfo=UTC)),
        ("cron(0 9 5W * ? *)", ORIGIN, datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        ("cron(0 0 1 JAN ? 2030)", ORIGIN, datetime(2030, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_next_fire_time(expression: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(expression, ORIGIN).next_after(after) == expected


@pytest.mark.parametrize(
    "expression",
    ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(0 10 * * *)",
     "cron(0 10 * * MON *)", "cron(0 10 ? * ? *)", "cron(61 10 * * ? *)", "every 5 minutes"],
)  # fmt: skip
def test_a_schedule_eventbridge_refuses_is_refused(expression: str) -> None:
    with pytest.raises(EventRuleError, match="Parameter ScheduleExpression is not valid"):
        parse_schedule(expression, ORIGIN)


def test_a_scheduled_rule_fires_a_scheduled_event_to_its_target(
    moto_session: boto3.session.Session,  # noqa: F811
) -> None:
    # GIVEN a rule on rate(5 minutes) whose target is an SNS topic in moto
    topic = TopicReader(moto_session, "scheduled")
    arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/every-five"
    rule = Rule(
        name="every-five",
        arn=arn,
        enabled=True,
        targets=(Target(id="topic", arn=topic.topic_arn),),
        schedule=parse_schedule("rate(5 minutes)", ORIGIN),
    )
    services = TargetServices(
        start_pipeline_execution=lambda name, trigger, event: None,
        invoke_lambda=lambda name, payload: None,
        publish_sns=lambda target, message: topic.sns.publish(TopicArn=target, Message=message),
    )
    bus = EventBus([rule], services, account_id=ACCOUNT_ID, region=REGION, clock=lambda: ORIGIN)
    # WHEN its time has not come, then has
    assert bus.fire_due(ORIGIN + timedelta(minutes=4)) == []
    assert bus.fire_due(ORIGIN + timedelta(minutes=5, seconds=1)) == ["every-five"]
    # THEN the topic got one "Scheduled Event" naming the rule
    deadline = time.monotonic() + 10
    messages = []
    while not messages and time.monotonic() < deadline:
        messages = topic.messages()
    bus.stop()
    [event] = [json.loads(m["Message"]) for m in messages]
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [arn]
    assert event["detail"] == {}
    assert event["time"] == "2026-12-02T03:05:30Z"
