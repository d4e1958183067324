"""The usage meter over time (a clock the test moves): token refill and quota periods."""

from __future__ import annotations

import datetime as dt

import pytest

from localcloud.apigateway.usage import Quota, Throttle, UsageMeter, Verdict, period_start


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now


def test_the_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    clock = Clock(dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC))
    meter, throttle = UsageMeter(clock), Throttle(rate_limit=2, burst_limit=4)
    assert [meter.admit("key", throttle, None) for _ in range(5)][-1] is Verdict.THROTTLED
    clock.now += 1.0  # two tokens back
    verdicts = [meter.admit("key", throttle, None) for _ in range(3)]
    assert verdicts == [Verdict.ALLOWED, Verdict.ALLOWED, Verdict.THROTTLED]
    clock.now += 60  # never more than the burst
    verdicts = [meter.admit("key", throttle, None) for _ in range(5)]
    assert verdicts.count(Verdict.ALLOWED) == 4
    # another key has its own bucket
    assert meter.admit("other", throttle, None) is Verdict.ALLOWED


def test_the_quota_resets_each_period_and_the_offset_counts_only_in_the_first() -> None:
    clock = Clock(dt.datetime(2026, 3, 4, 23, 59, tzinfo=dt.UTC))
    meter, quota = UsageMeter(clock), Quota(limit=2, period="DAY", offset=1)
    assert [meter.admit("key", None, quota) for _ in range(2)] == [
        Verdict.ALLOWED,
        Verdict.QUOTA_EXCEEDED,
    ]
    clock.now += 120  # the next day, 00:01 UTC
    assert [meter.admit("key", None, quota) for _ in range(3)] == [
        Verdict.ALLOWED,
        Verdict.ALLOWED,
        Verdict.QUOTA_EXCEEDED,
    ]


def test_a_throttled_request_does_not_count_against_the_quota() -> None:
    clock = Clock(dt.datetime(2026, 3, 4, tzinfo=dt.UTC))
    meter = UsageMeter(clock)
    throttle, quota = Throttle(1, 1), Quota(2, "DAY")
    assert meter.admit("k", throttle, quota) is Verdict.ALLOWED
    assert meter.admit("k", throttle, quota) is Verdict.THROTTLED
    clock.now += 1
    assert meter.admit("k", throttle, quota) is Verdict.ALLOWED
    clock.now += 1
    assert meter.admit("k", throttle, quota) is Verdict.QUOTA_EXCEEDED


@pytest.mark.parametrize(
    ("period", "start"),
    [
        ("DAY", dt.datetime(2026, 3, 4, tzinfo=dt.UTC)),
        ("WEEK", dt.datetime(2026, 3, 2, tzinfo=dt.UTC)),  # the Monday before
        ("MONTH", dt.datetime(2026, 3, 1, tzinfo=dt.UTC)),
    ],
)
def test_periods_start_at_midnight_utc(period: str, start: dt.datetime) -> None:
    now = dt.datetime(2026, 3, 4, 17, 30, tzinfo=dt.UTC).timestamp()
    assert period_start(period, now) == start.timestamp()


def test_an_unknown_quota_period_is_refused() -> None:
    with pytest.raises(ValueError, match="YEAR"):
        Quota(1, "YEAR")
