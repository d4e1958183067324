"""Test support: a moto server, an SQS queue subscribed to an SNS topic, a bus that records."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from localcloud.background import free_port
from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.events import EventBus, Rule, Target, TargetServices


@pytest.fixture(scope="module")
def moto_session() -> Iterator[boto3.session.Session]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto keeps its state per process: start from none of the resources earlier tests made.
    reset = urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=30).close()
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    session.endpoint = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield session
    server.stop()


def client(session: boto3.session.Session, service: str) -> Any:
    return session.client(service, endpoint_url=session.endpoint)  # type: ignore[attr-defined]


class TopicReader:
    """An SNS topic in moto with an SQS queue subscribed: what was published, as SQS got it."""

    def __init__(self, session: boto3.session.Session, name: str) -> None:
        self.sns, self.sqs = client(session, "sns"), client(session, "sqs")
        self.topic_arn = self.sns.create_topic(Name=name)["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def messages(self) -> list[dict[str, Any]]:
        """The SNS envelopes the queue holds now."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def recording_bus(session: boto3.session.Session, detail_type: str, topic: TopicReader) -> EventBus:
    """A bus whose one rule sends `detail_type` events to the topic, through moto's SNS."""
    rule = Rule(
        name="record",
        arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/record",
        enabled=True,
        targets=(Target(id="topic", arn=topic.topic_arn),),
        pattern={"detail-type": [detail_type]},
    )
    sns = topic.sns
    services = TargetServices(
        start_pipeline_execution=lambda name, trigger, event: None,
        invoke_lambda=lambda name, payload: None,
        publish_sns=lambda arn, message: sns.publish(TopicArn=arn, Message=message),
    )
    return EventBus([rule], services, account_id=ACCOUNT_ID, region=REGION)
