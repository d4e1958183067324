"""What follows an alarm's state change: its SNS actions and the EventBridge event, as on AWS."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from functools import cache
from typing import Any

import botocore.session

from localcloud.alarms.evaluation import cloudwatch_time
from localcloud.events import EventBus

LOG = logging.getLogger("localcloud.alarms")
ACTIONS_BY_STATE = {
    "ALARM": "AlarmActions",
    "OK": "OKActions",
    "INSUFFICIENT_DATA": "InsufficientDataActions",
}
SUBJECT_LIMIT = 100  # SNS's Subject limit; CloudWatch's own subject is cut to fit


@cache
def region_description(region: str) -> str:
    """The region's name as CloudWatch writes it in notifications ("US East (N. Virginia)")."""
    endpoints = botocore.session.get_session().get_data("endpoints")
    for partition in endpoints["partitions"]:
        if region in partition["regions"]:
            return str(partition["regions"][region]["description"])
    return region


def _time(value: Any) -> str:
    return cloudwatch_time(value) if isinstance(value, datetime) else str(value)


def _dimensions(alarm: dict[str, Any]) -> list[dict[str, str]]:
    return [{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])]


def notification(alarm: dict[str, Any], old_state: str) -> dict[str, Any]:
    """The JSON message CloudWatch publishes to an alarm's SNS topics."""
    region = alarm["AlarmArn"].split(":")[3]
    if "MetricName" in alarm:
        trigger: dict[str, Any] = {
            "MetricName": alarm["MetricName"],
            "Namespace": alarm.get("Namespace"),
            "StatisticType": "ExtendedStatistic" if "ExtendedStatistic" in alarm else "Statistic",
            "Statistic": (alarm.get("ExtendedStatistic") or alarm.get("Statistic", "")).upper(),
            "Unit": alarm.get("Unit"),
            "Dimensions": _dimensions(alarm),
            "Period": alarm.get("Period"),
        }
    else:
        trigger = {"Metrics": alarm.get("Metrics", [])}
    trigger.update(
        {
            "EvaluationPeriods": alarm["EvaluationPeriods"],
            "DatapointsToAlarm": alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
            "ComparisonOperator": alarm["ComparisonOperator"],
            "Threshold": alarm.get("Threshold"),
            "TreatMissingData": alarm.get("TreatMissingData", "missing"),
            "EvaluateLowSampleCountPercentile": alarm.get("EvaluateLowSampleCountPercentile", ""),
        }
    )
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": alarm["AlarmArn"].split(":")[4],
        "AlarmConfigurationUpdatedTimestamp": _time(
            alarm.get("AlarmConfigurationUpdatedTimestamp")
        ),
        "NewStateValue": alarm["StateValue"],
        "NewStateReason": alarm.get("StateReason", ""),
        "StateChangeTime": _time(alarm["StateUpdatedTimestamp"]),
        "Region": region_description(region),
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": old_state,
        "OKActions": alarm.get("OKActions", []),
        "AlarmActions": alarm.get("AlarmActions", []),
        "InsufficientDataActions": alarm.get("InsufficientDataActions", []),
        "Trigger": trigger,
    }


def _event_state(alarm: dict[str, Any]) -> dict[str, Any]:
    state = {"value": alarm["StateValue"], "reason": alarm.get("StateReason", "")}
    if alarm.get("StateReasonData"):
        state["reasonData"] = alarm["StateReasonData"]
    state["timestamp"] = _time(alarm["StateUpdatedTimestamp"])
    return state


def _event_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    if "MetricName" not in alarm:
        return [
            {
                "id": query["Id"],
                "metricStat": {
                    "metric": {
                        "namespace": query["MetricStat"]["Metric"].get("Namespace"),
                        "name": query["MetricStat"]["Metric"]["MetricName"],
                        "dimensions": {
                            d["Name"]: d["Value"]
                            for d in query["MetricStat"]["Metric"].get("Dimensions", [])
                        },
                    },
                    "period": query["MetricStat"]["Period"],
                    "stat": query["MetricStat"]["Stat"],
                },
                "returnData": query.get("ReturnData", True),
            }
            for query in alarm.get("Metrics", [])
            if "MetricStat" in query
        ]
    return [
        {
            # CloudWatch gives a single-metric alarm's metric a generated id; keep it stable.
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm["AlarmArn"])),
            "metricStat": {
                "metric": {
                    "namespace": alarm.get("Namespace"),
                    "name": alarm["MetricName"],
                    "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
                },
                "period": alarm.get("Period"),
                "stat": alarm.get("ExtendedStatistic") or alarm.get("Statistic"),
            },
            "returnData": True,
        }
    ]


def state_change_detail(alarm: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """The detail of the "CloudWatch Alarm State Change" event."""
    configuration: dict[str, Any] = {"metrics": _event_metrics(alarm)}
    if alarm.get("AlarmDescription"):
        configuration = {"description": alarm["AlarmDescription"], **configuration}
    return {
        "alarmName": alarm["AlarmName"],
        "state": _event_state(alarm),
        "previousState": _event_state(previous),
        "configuration": configuration,
    }


class AlarmActions:
    """Runs an alarm's actions for its new state and puts the state-change event on the bus."""

    def __init__(self, sns: Any, bus: EventBus) -> None:
        self.sns = sns
        self.bus = bus

    def state_changed(self, alarm: dict[str, Any], previous: dict[str, Any]) -> None:
        """`alarm` in its new state (DescribeAlarms shape), `previous` as it was before."""
        old_state = previous["StateValue"]
        if alarm.get("ActionsEnabled", True):
            for arn in alarm.get(ACTIONS_BY_STATE[alarm["StateValue"]], []):
                self._run(alarm, old_state, arn)
        self.bus.put_event(
            "aws.cloudwatch",
            "CloudWatch Alarm State Change",
            state_change_detail(alarm, previous),
            [alarm["AlarmArn"]],
        )

    def _run(self, alarm: dict[str, Any], old_state: str, arn: str) -> None:
        if arn.split(":")[2:3] != ["sns"]:
            LOG.warning(
                "alarm %s: the local cloud runs SNS actions only, not %s", alarm["AlarmName"], arn
            )
            return
        region = region_description(alarm["AlarmArn"].split(":")[3])
        subject = f'{alarm["StateValue"]}: "{alarm["AlarmName"]}" in {region}'
        try:
            self.sns.publish(
                TopicArn=arn,
                Subject=subject[:SUBJECT_LIMIT],
                Message=json.dumps(notification(alarm, old_state)),
            )
        except Exception:
            LOG.exception("alarm %s: could not publish to %s", alarm["AlarmName"], arn)
