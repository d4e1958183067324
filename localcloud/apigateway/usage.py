"""Usage plans as API Gateway enforces them: a token bucket per key (throttle), a quota per period.

API Gateway throttles with the token bucket algorithm: a bucket holds up to `burstLimit`
tokens, refills at `rateLimit` tokens a second, and each request takes one; an empty bucket
answers 429 Too Many Requests. The quota counts a key's requests per DAY, WEEK or MONTH (less
`offset` in the first period); past it, 429 Limit Exceeded. Periods here start at 00:00 UTC,
weeks on Monday, months on the 1st.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

PERIODS = ("DAY", "WEEK", "MONTH")


@dataclass(frozen=True)
class Throttle:
    """`rateLimit` requests a second on average, `burstLimit` at once."""

    rate_limit: float
    burst_limit: int


@dataclass(frozen=True)
class Quota:
    """At most `limit` requests per `period` (`offset` fewer in the first one)."""

    limit: int
    period: str
    offset: int = 0

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"quota period {self.period!r} is not one of {', '.join(PERIODS)}")


class Verdict(Enum):
    """What the meter says about one request."""

    ALLOWED = "allowed"
    THROTTLED = "throttled"
    QUOTA_EXCEEDED = "quota exceeded"


def period_start(period: str, now: float) -> float:
    """The epoch second the quota period holding `now` began (UTC)."""
    day = dt.datetime.fromtimestamp(now, dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "WEEK":
        day -= dt.timedelta(days=day.weekday())
    elif period == "MONTH":
        day = day.replace(day=1)
    return day.timestamp()


class _Bucket:
    def __init__(self, throttle: Throttle, now: float) -> None:
        self.throttle = throttle
        self.tokens = float(throttle.burst_limit)
        self.updated = now

    def take(self, now: float) -> bool:
        capacity = float(self.throttle.burst_limit)
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(capacity, self.tokens + elapsed * self.throttle.rate_limit)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class _Count:
    def __init__(self, quota: Quota, now: float) -> None:
        self.quota = quota
        self.first_period = period_start(quota.period, now)
        self.period = self.first_period
        self.used = 0

    def room(self, now: float) -> bool:
        start = period_start(self.quota.period, now)
        if start != self.period:
            self.period, self.used = start, 0
        offset = self.quota.offset if self.period == self.first_period else 0
        return self.used < self.quota.limit - offset


class UsageMeter:
    """Throttle buckets and quota counts, by whatever key the caller meters (plan and API key).

    State survives changes of the limits only where they did not change: a new throttle starts
    a full bucket, a new quota a new count, as a new usage plan setting does.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[object, _Bucket] = {}
        self._counts: dict[object, _Count] = {}

    def admit(self, meter: object, throttle: Throttle | None, quota: Quota | None) -> Verdict:
        """Count one request against `meter`'s limits, or say which limit refuses it."""
        with self._lock:
            now = self._clock()
            count = None
            if quota is not None:
                count = self._counts.get(meter)
                if count is None or count.quota != quota:
                    count = self._counts[meter] = _Count(quota, now)
                if not count.room(now):
                    return Verdict.QUOTA_EXCEEDED
            if throttle is not None:
                bucket = self._buckets.get(meter)
                if bucket is None or bucket.throttle != throttle:
                    bucket = self._buckets[meter] = _Bucket(throttle, now)
                if not bucket.take(now):
                    return Verdict.THROTTLED
            if count is not None:
                count.used += 1
            return Verdict.ALLOWED
