"""Evaluate moto's metric alarms periodically, as CloudWatch does, and act on state changes.

moto stores alarms but never evaluates them. Every `watch_seconds` this reads every metric
alarm (DescribeAlarms) and notices state changes made by anyone else (a user's SetAlarmState,
whose actions AWS runs at once); every `interval_seconds` it also evaluates each alarm from
the metrics in moto (GetMetricData) and sets the new state (SetAlarmState). Every change runs
the alarm's actions and emits the event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from localcloud.alarms.actions import AlarmActions
from localcloud.alarms.evaluation import (
    UNCHECKED_REASON,
    Period,
    UnsupportedAlarm,
    Verdict,
    evaluate,
    reason_data_text,
)

LOG = logging.getLogger("localcloud.alarms")
_BASIC_STATISTICS = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AlarmEvaluator:
    """The evaluation loop over one account's CloudWatch alarms."""

    def __init__(
        self,
        cloudwatch: Any,
        actions: AlarmActions,
        *,
        interval_seconds: float = 60.0,
        watch_seconds: float = 1.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.cloudwatch = cloudwatch
        self.actions = actions
        self.interval_seconds = interval_seconds
        self.watch_seconds = watch_seconds
        self.clock = clock
        self._known: dict[str, dict[str, Any]] = {}  # alarm ARN -> the alarm as last seen
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Evaluate every `interval_seconds`, and look for others' changes every `watch_seconds`."""

        def loop() -> None:
            next_evaluation = time.monotonic() + self.interval_seconds
            while not self._stopping.wait(min(self.watch_seconds, self.interval_seconds)):
                try:
                    if time.monotonic() >= next_evaluation:
                        next_evaluation += self.interval_seconds
                        self.evaluate_all()
                    else:
                        self.notice_changes()
                except Exception:
                    LOG.exception("alarm evaluation failed")

        self._thread = threading.Thread(target=loop, name="alarm-evaluator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop evaluating; safe to call twice."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def notice_changes(self) -> list[dict[str, Any]]:
        """Act on every state change made by someone else (SetAlarmState); the alarms as now."""
        with self._lock:
            pages = self.cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmTypes=["MetricAlarm"]
            )
            alarms = [self._notice(alarm) for page in pages for alarm in page["MetricAlarms"]]
            arns = {alarm["AlarmArn"] for alarm in alarms}
            self._known = {arn: alarm for arn, alarm in self._known.items() if arn in arns}
            return alarms

    def evaluate_all(self) -> None:
        """One round: notice others' changes, evaluate each alarm, act on what changed."""
        for alarm in self.notice_changes():
            with self._lock:
                self._evaluate(alarm)

    def _notice(self, alarm: dict[str, Any]) -> dict[str, Any]:
        arn = alarm["AlarmArn"]
        if alarm["StateValue"] == "OK" and alarm.get("StateReason") == UNCHECKED_REASON:
            # moto creates alarms in OK; CloudWatch creates them in INSUFFICIENT_DATA, quietly.
            alarm = self._set_state(alarm, Verdict("INSUFFICIENT_DATA", UNCHECKED_REASON, {}))
            self._known[arn] = alarm
        previous = self._known.get(arn)
        if previous is None and alarm["StateReason"] != UNCHECKED_REASON:
            # Moved (SetAlarmState) before this watcher first saw it: from the state CloudWatch
            # creates alarms in, as on AWS, where that change runs the actions too.
            previous = {**alarm, "StateValue": "INSUFFICIENT_DATA", "StateReason": UNCHECKED_REASON}
        if previous is not None and previous["StateValue"] != alarm["StateValue"]:
            self.actions.state_changed(alarm, previous)
        self._known[arn] = alarm
        return alarm

    def _evaluate(self, alarm: dict[str, Any]) -> None:
        now = self.clock()
        try:
            verdict = evaluate(alarm, self._periods(alarm, now), now)
        except UnsupportedAlarm as refusal:
            verdict = Verdict(
                "INSUFFICIENT_DATA", f"Not evaluated by the local cloud: {refusal}", {}
            )
            if alarm.get("StateReason") == verdict.reason:
                return
        if verdict is None or verdict.state == alarm["StateValue"]:
            return
        changed = self._set_state(alarm, verdict)
        self._known[alarm["AlarmArn"]] = changed
        self.actions.state_changed(changed, alarm)

    def _set_state(self, alarm: dict[str, Any], verdict: Verdict) -> dict[str, Any]:
        data = reason_data_text(verdict) if verdict.reason_data else None
        self.cloudwatch.set_alarm_state(
            AlarmName=alarm["AlarmName"],
            StateValue=verdict.state,
            StateReason=verdict.reason,
            **({"StateReasonData": data} if data else {}),
        )
        described = self.cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]])
        return dict(described["MetricAlarms"][0])

    def _periods(self, alarm: dict[str, Any], now: datetime) -> list[Period]:
        """The alarm's evaluated periods, newest first, each with its statistic or None."""
        query, period = _query(alarm)
        count = int(alarm["EvaluationPeriods"])
        end = now.replace(microsecond=0)
        start = end - timedelta(seconds=period * count)
        result = self.cloudwatch.get_metric_data(
            MetricDataQueries=[query], StartTime=start, EndTime=end
        )["MetricDataResults"]
        values = {}
        for item in result:
            for timestamp, value in zip(item["Timestamps"], item["Values"], strict=True):
                values[timestamp.astimezone(UTC).replace(microsecond=0)] = value
        starts = [end - timedelta(seconds=period * (i + 1)) for i in range(count)]
        return [Period(moment, values.get(moment)) for moment in starts]


def _query(alarm: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The GetMetricData query that reads the alarm's metric, and its period."""
    if alarm.get("Metrics"):
        returned = [q for q in alarm["Metrics"] if q.get("ReturnData", True)]
        if any("MetricStat" not in q for q in alarm["Metrics"]) or len(returned) != 1:
            raise UnsupportedAlarm("metric math expressions are not evaluated locally")
        query = returned[0]
        if alarm.get("ThresholdMetricId"):
            raise UnsupportedAlarm("anomaly detection thresholds are not evaluated locally")
        stat = query["MetricStat"]["Stat"]
        if stat not in _BASIC_STATISTICS:
            raise UnsupportedAlarm(f"statistic {stat} is not evaluated locally")
        return {"Id": query["Id"], "MetricStat": query["MetricStat"]}, int(
            query["MetricStat"]["Period"]
        )
    if "ExtendedStatistic" in alarm or alarm.get("Statistic") not in _BASIC_STATISTICS:
        raise UnsupportedAlarm(
            f"statistic {alarm.get('ExtendedStatistic') or alarm.get('Statistic')} is not "
            "evaluated locally (moto computes no percentiles)"
        )
    metric: dict[str, Any] = {"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"]}
    if alarm.get("Dimensions"):
        metric["Dimensions"] = alarm["Dimensions"]
    stat: dict[str, Any] = {"Metric": metric, "Period": alarm["Period"], "Stat": alarm["Statistic"]}
    if alarm.get("Unit"):
        stat["Unit"] = alarm["Unit"]
    return {"Id": "m1", "MetricStat": stat}, int(alarm["Period"])
