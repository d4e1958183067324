"""EventBridge schedule expressions: `rate(value unit)` and the six-field `cron(...)`, in UTC.

cron fields: minutes hours day-of-month month day-of-week year, with `, - * / ? L W #`, month
names JAN-DEC and day names SUN-SAT (1 = Sunday). One of day-of-month and day-of-week must be
`?`, as EventBridge requires.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from localcloud.events.exceptions import EventRuleError

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_SEARCH_YEARS = 8  # a cron that fires nowhere in this span (e.g. 30 FEB) never fires


def _invalid(expression: str) -> EventRuleError:
    return EventRuleError(f"Parameter ScheduleExpression is not valid: {expression!r}")


class Schedule(Protocol):
    """When a scheduled rule fires next."""

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment`, or None if there is none."""


@dataclass(frozen=True)
class RateSchedule:
    """`rate(...)`: every `seconds`, counted from when the rule was created (the bus started)."""

    seconds: int
    origin: datetime

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after `moment`."""
        elapsed = (moment - self.origin).total_seconds()
        periods = int(elapsed // self.seconds) + 1 if elapsed >= 0 else 1
        return self.origin + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True)
class CronSchedule:
    """`cron(...)`: the minutes, hours, months and years to fire in, and a test for the day."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int]
    day_matches: Callable[[date], bool]

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (a whole minute), or None."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(366 * _SEARCH_YEARS):
            if day.year in self.years and day.month in self.months and self.day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        fire = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                        if fire >= start:
                            return fire
            day += timedelta(days=1)
        return None


def parse_schedule(expression: str, origin: datetime) -> Schedule:
    """Parse a ScheduleExpression; EventBridge's refusal for anything it would refuse."""
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise _invalid(expression)
        return RateSchedule(value * _UNIT_SECONDS[unit.rstrip("s")], origin)
    if expression.startswith("cron(") and expression.endswith(")"):
        return _parse_cron(expression, expression[5:-1].split())
    raise _invalid(expression)


def _parse_cron(expression: str, fields: list[str]) -> CronSchedule:
    if len(fields) != 6:
        raise _invalid(expression)
    minutes, hours, day_of_month, months, day_of_week, years = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise _invalid(expression)  # exactly one of the two day fields is "?"
    try:
        return CronSchedule(
            minutes=tuple(sorted(_values(minutes, 0, 59))),
            hours=tuple(sorted(_values(hours, 0, 23))),
            months=frozenset(_values(months, 1, 12, _MONTHS)),
            years=frozenset(_values(years, 1970, 2199)),
            day_matches=(
                _day_of_week(day_of_week) if day_of_month == "?" else _day_of_month(day_of_month)
            ),
        )
    except ValueError:
        raise _invalid(expression) from None


def _number(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """The values a comma list of `*`, `a`, `a-b`, `a/step`, `a-b/step`, `*/step` stands for."""
    values: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = _number(step_text, None) if step_text else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first_text, last_text = span.split("-", 1)
            first, last = _number(first_text, names), _number(last_text, names)
        else:
            first = _number(span, names)
            last = high if step_text else first
        if not (low <= first <= high and low <= last <= high) or step < 1 or first > last:
            raise ValueError(part)
        values.update(range(first, last + 1, step))
    return values


def _weekday(day: date) -> int:
    """EventBridge's day-of-week number: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _day_of_month(field: str) -> Callable[[date], bool]:
    if field == "L":
        return lambda day: day.day == _last_day(day)
    if field.endswith("W"):
        target = _number(field[:-1], None)
        if not 1 <= target <= 31:
            raise ValueError(field)
        return lambda day: day == _nearest_weekday(day, target)
    days = _values(field, 1, 31)
    return lambda day: day.day in days


def _nearest_weekday(day: date, target: int) -> date | None:
    """The weekday nearest the target day of the month, never crossing into another month."""
    if target > _last_day(day):
        return None
    wanted = day.replace(day=target)
    if wanted.weekday() == 5:  # Saturday: the Friday before, or Monday if that is the 1st
        return wanted - timedelta(days=1) if target > 1 else wanted + timedelta(days=2)
    if wanted.weekday() == 6:  # Sunday: the Monday after, or Friday if the month ends
        return wanted + timedelta(days=1) if target < _last_day(day) else wanted - timedelta(2)
    return wanted


def _day_of_week(field: str) -> Callable[[date], bool]:
    if "#" in field:
        weekday_text, nth_text = field.split("#", 1)
        weekday, nth = _number(weekday_text, _DAYS), _number(nth_text, None)
        if not (1 <= weekday <= 7 and 1 <= nth <= 5):
            raise ValueError(field)
        return lambda day: _weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    if field.endswith("L"):
        weekday = _number(field[:-1], _DAYS) if field != "L" else 7
        if not 1 <= weekday <= 7:
            raise ValueError(field)
        return lambda day: _weekday(day) == weekday and day.day + 7 > _last_day(day)
    days = _values(field, 1, 7, _DAYS)
    return lambda day: _weekday(day) in days
