"""CloudWatch's M-out-of-N rule and its missing-data treatments (the table in its docs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localcloud.alarms.evaluation import Period, UnsupportedAlarm, evaluate

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def _alarm(treatment: str, **overrides: Any) -> dict[str, Any]:
    return {
        "AlarmName": "a", "StateValue": "OK", "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 1.0, "EvaluationPeriods": 5, "DatapointsToAlarm": 3,
        "TreatMissingData": treatment, "Statistic": "Average", "Period": 60, **overrides,
    }  # fmt: skip


def _periods(text: str) -> list[Period]:
    """'0 - X - X', oldest first as in CloudWatch's table: X breaches, 0 does not, - missing."""
    values = {"X": 5.0, "0": 0.0, "-": None}
    marks = text.split()
    return [
        Period(NOW - timedelta(minutes=i + 1), values[mark])
        for i, mark in enumerate(reversed(marks))
    ]


# CloudWatch's table for 3 out of 5 ("Configuring how alarms treat missing data"), per treatment
# (missing, ignore, breaching, notBreaching); None keeps the current state.
TABLE = [
    ("0 - X - X", "OK", "OK", "ALARM", "OK"),
    ("- - - - 0", "OK", "OK", "ALARM", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", None, "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
]


@pytest.mark.parametrize(("marks", "missing", "ignore", "breaching", "not_breaching"), TABLE)
def test_missing_data_is_treated_as_cloudwatch_documents(
    marks: str, missing: str, ignore: str | None, breaching: str, not_breaching: str
) -> None:
    for treatment, expected in [
        ("missing", missing), ("ignore", ignore), ("breaching", breaching),
        ("notBreaching", not_breaching),
    ]:  # fmt: skip
        verdict = evaluate(_alarm(treatment), _periods(marks), NOW)
        assert (verdict.state if verdict else None) == expected, (marks, treatment)


def test_the_reason_counts_the_breaching_datapoints_newest_first() -> None:
    verdict = evaluate(_alarm("missing", StateValue="OK"), _periods("0 X X - X"), NOW)
    assert verdict is not None
    assert verdict.reason == (
        "Threshold Crossed: 3 out of the last 5 datapoints [5.0 (02/12/26 02:59:00), "
        "5.0 (02/12/26 02:57:00), 5.0 (02/12/26 02:56:00)] were greater than the threshold (1.0) "
        "(minimum 3 datapoints for OK -> ALARM transition)."
    )
    assert len(verdict.reason_data["evaluatedDatapoints"]) == 4  # the datapoints present


def test_an_alarm_on_an_anomaly_band_is_refused() -> None:
    alarm = _alarm("missing", ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold")
    with pytest.raises(UnsupportedAlarm, match="not evaluated locally"):
        evaluate(alarm, _periods("X"), NOW)
