"""CloudWatch's metric alarm rule: M out of N periods against a threshold, missing data treated.

Pure: given the alarm (DescribeAlarms' MetricAlarm shape) and one value or None per evaluated
period, say the state the alarm should be in and why, in CloudWatch's wording.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
MISSING_DATA_TREATMENTS = ("missing", "notBreaching", "breaching", "ignore")
UNCHECKED_REASON = "Unchecked: Initial alarm creation"


class UnsupportedAlarm(ValueError):
    """An alarm the local evaluator cannot evaluate as CloudWatch would (it says so, in state)."""


@dataclass(frozen=True)
class Period:
    """One evaluated period: when it starts and its statistic, None if it had no data."""

    start: datetime
    value: float | None


@dataclass(frozen=True)
class Verdict:
    """The state an evaluation arrives at, with CloudWatch's reason text and reason data."""

    state: str
    reason: str
    reason_data: dict[str, Any]


def cloudwatch_time(moment: datetime) -> str:
    """CloudWatch's timestamp form in alarm data: 2026-12-02T03:00:00.000+0000."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def evaluate(alarm: dict[str, Any], periods: Sequence[Period], queried: datetime) -> Verdict | None:
    """The alarm's new state from `periods` (newest first); None keeps the current state."""
    operator = alarm["ComparisonOperator"]
    if operator not in COMPARISONS:
        raise UnsupportedAlarm(f"comparison operator {operator} is not evaluated locally")
    wording, breaches = COMPARISONS[operator]
    threshold = float(alarm["Threshold"])
    treatment = alarm.get("TreatMissingData") or "missing"
    if treatment not in MISSING_DATA_TREATMENTS:
        raise UnsupportedAlarm(f"TreatMissingData {treatment!r} is not one of CloudWatch's")
    evaluated = len(periods)
    needed = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    present = [p for p in periods if p.value is not None]
    missing = evaluated - len(present)
    if not present and treatment in ("missing", "ignore"):
        if treatment == "ignore":
            return None
        reason = f"Insufficient Data: {_plural(missing, 'datapoint')} " + (
            "was unknown." if missing == 1 else "were unknown."
        )
        return Verdict("INSUFFICIENT_DATA", reason, _reason_data(alarm, periods, queried))
    breaching = [p for p in present if breaches(p.value, threshold)]
    count = len(breaching) + (missing if treatment == "breaching" else 0)
    old = alarm["StateValue"]
    if count >= needed:
        shown, state, negation, minimum = breaching, "ALARM", "", needed
    else:
        shown = [p for p in present if not breaches(p.value, threshold)]
        state, negation, minimum = "OK", "not ", evaluated - needed + 1
    values = ", ".join(f"{p.value!r} ({p.start.strftime('%d/%m/%y %H:%M:%S')})" for p in shown)
    reason = (
        f"Threshold Crossed: {len(shown)} out of the last {evaluated} datapoints [{values}] "
        f"{'was' if len(shown) == 1 else 'were'} {negation}{wording} the threshold "
        f"({threshold!r}) (minimum {_plural(minimum, 'datapoint')} for {old} -> {state} "
        "transition)."
    )
    return Verdict(state, reason, _reason_data(alarm, periods, queried))


def _reason_data(alarm: dict[str, Any], periods: Sequence[Period], queried: datetime) -> dict:
    present = [p for p in periods if p.value is not None]
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": cloudwatch_time(queried),
    }
    if periods:
        data["startDate"] = cloudwatch_time(periods[-1].start)
    if "Statistic" in alarm:
        data["statistic"] = alarm["Statistic"]
    if "Period" in alarm:
        data["period"] = alarm["Period"]
    data["recentDatapoints"] = [p.value for p in present]
    data["threshold"] = float(alarm["Threshold"])
    data["evaluatedDatapoints"] = [
        {"timestamp": cloudwatch_time(p.start), "value": p.value} for p in present
    ]
    return data


def reason_data_text(verdict: Verdict) -> str:
    """The reason data as SetAlarmState takes it (a JSON string)."""
    return json.dumps(verdict.reason_data, separators=(",", ":"))
