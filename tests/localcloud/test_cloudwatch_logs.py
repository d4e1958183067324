"""The CloudWatch Logs writer: lines reach moto's Logs in order, within PutLogEvents' limits."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from localcloud import cloudwatch_logs
from localcloud.cloudwatch_logs import MAX_MESSAGE_BYTES, LogStreamWriter


@pytest.fixture
def logs():
    with mock_aws():
        yield boto3.client("logs", region_name="us-east-1")


def _messages(logs, group: str, stream: str) -> list[str]:
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [event["message"] for event in events["events"]]


def test_lines_arrive_in_order_and_while_the_program_runs(logs) -> None:
    writer = LogStreamWriter(logs, "/aws/sagemaker/TrainingJobs", "job/algo-1-1700000000")
    writer.write("first")
    writer.flush()  # what the background thread does twice a second
    assert _messages(logs, "/aws/sagemaker/TrainingJobs", "job/algo-1-1700000000") == ["first"]
    writer.write("second")
    writer.write("third")
    writer.close()
    writer.close()
    assert _messages(logs, "/aws/sagemaker/TrainingJobs", "job/algo-1-1700000000") == [
        "first",
        "second",
        "third",
    ]


def test_a_second_writer_on_the_same_stream_appends(logs) -> None:
    LogStreamWriter(logs, "/aws/lambda/f", "s").close()
    writer = LogStreamWriter(logs, "/aws/lambda/f", "s")
    writer.write("again")
    writer.close()
    assert _messages(logs, "/aws/lambda/f", "s") == ["again"]


def test_big_output_is_split_into_batches_and_long_lines_cut(logs, monkeypatch) -> None:
    monkeypatch.setattr(cloudwatch_logs, "MAX_BATCH_EVENTS", 3)
    sent: list[int] = []
    put = logs.put_log_events
    monkeypatch.setattr(
        logs,
        "put_log_events",
        lambda **kwargs: sent.append(len(kwargs["logEvents"])) or put(**kwargs),
    )
    writer = LogStreamWriter(logs, "g", "s")
    for number in range(7):
        writer.write(f"line {number}")
    writer.write("x" * (300 * 1024))
    writer.close()
    assert sent == [3, 3, 2]
    messages = _messages(logs, "g", "s")
    assert messages[:7] == [f"line {number}" for number in range(7)]
    assert len(messages[7].encode()) == MAX_MESSAGE_BYTES
