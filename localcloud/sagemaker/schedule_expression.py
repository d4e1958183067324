"""Model Monitor's schedule expressions and analysis offsets, as SageMaker takes them.

A monitoring schedule runs hourly `cron(0 * ? * * *)`, daily at hour H `cron(0 H ? * * *)`, every
N hours from hour H `cron(0 H/N ? * * *)` (UTC), or once, at once, `NOW`
(model-monitor-schedule-expression). Offsets (`StartTimeOffset`, `DataAnalysisStartTime`) are
negative ISO 8601 durations such as `-PT1H` or `-P1D`: how far before the scheduled time a
window starts or ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from localcloud.sagemaker.exceptions import ValidationException

NOW = "NOW"
_CRON = re.compile(r"cron\(0 (\*|\d{1,2}(?:/\d{1,2})?) \? \* \* \*\)")
_OFFSET = re.compile(r"-P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?")
ACCEPTED = (
    "cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H), cron(0 H/N ? * * *) "
    "(every N hours from hour H, UTC) or NOW"
)


@dataclass(frozen=True)
class ScheduleExpression:
    """The UTC hours a schedule fires at (empty for NOW: once, when created)."""

    text: str
    hours: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> ScheduleExpression:
        """The expression, or a ValidationException saying which forms there are."""
        if text == NOW:
            return cls(text, frozenset())
        match = _CRON.fullmatch(text)
        if match is None:
            raise ValidationException(f"Invalid ScheduleExpression {text!r}: use {ACCEPTED}")
        hour = match.group(1)
        if hour == "*":
            return cls(text, frozenset(range(24)))
        start, _, step = hour.partition("/")
        every = int(step) if step else 24
        if int(start) > 23 or not 1 <= every <= 24:
            raise ValidationException(
                f"Invalid ScheduleExpression {text!r}: the hour is 0 to 23 and N of H/N is 1 to 24"
            )
        return cls(text, frozenset(range(int(start), 24, every)))

    @property
    def once(self) -> bool:
        """NOW: one execution, right away."""
        return not self.hours

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled time strictly after `moment` (a whole UTC hour)."""
        hour = moment.replace(minute=0, second=0, microsecond=0)
        for _ in range(25):
            hour += timedelta(hours=1)
            if hour.hour in self.hours:
                return hour
        raise AssertionError("an hourly schedule fires within a day")


def parse_offset(text: str, member: str) -> timedelta:
    """A negative ISO 8601 duration (`-PT1H`, `-P1D`, `-PT0H`), as a timedelta of 0 or less."""
    match = _OFFSET.fullmatch(text)
    if match is None or text in {"-P", "-PT"}:
        raise ValidationException(
            f"{member} {text!r} is not a negative ISO 8601 duration such as -PT1H or -P1D"
        )
    days, hours, minutes = (int(group or 0) for group in match.groups())
    return -timedelta(days=days, hours=hours, minutes=minutes)
