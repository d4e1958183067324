"""What every resource shares: ARNs, settings, and the List* filters and pagination.

Names, enums, lengths and ranges are checked against botocore's model before any action runs
(`localcloud.core.validation`), so the resources here take them as valid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.sagemaker.exceptions import ValidationException

DEFAULT_MAX_RESULTS = 100
FAILURE_REASON_LIMIT = 1024  # SageMaker shows the first 1024 characters of a FailureReason
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """The knobs of a local SageMaker; the defaults are what the local cloud uses."""

    health_timeout: float = 60.0  # seconds a new serve process has to answer GET /ping with 200
    default_workers: int = (
        2  # SAGEMAKER_MODEL_SERVER_WORKERS unless the model's Environment sets it
    )
    invoke_timeout: float = 60.0  # seconds the container has to answer one invocation
    drain_timeout: float = 60.0  # seconds an old serve process may finish requests after an update
    replacement_attempts: int = 3  # starts of a new instance after one dies, before Failed
    replacement_backoff: float = 0.5  # seconds before the first restart; doubles each attempt
    capture_flush_seconds: float = 1.0  # how often captured records are written to S3
    monitoring_poll_seconds: float = 10.0  # how often the monitoring schedules are looked at
    rollback_poll_seconds: float = 1.0  # how often a baking update reads its rollback alarms


def event_time(moment: float) -> str:
    """A time as SageMaker's state-change events give it: ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def arn(kind: str, name: str) -> str:
    """The ARN SageMaker gives a resource (it lower-cases the name part)."""
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:{kind}/{name.lower()}"


def list_page(
    records: Iterable[dict[str, Any]],
    params: dict[str, Any],
    *,
    name_key: str,
    status_key: str | None,
    sort_keys: dict[str, str],
) -> tuple[list[dict[str, Any]], str | None]:
    """Filter, sort and page summaries the way the List* actions do (NextToken is an offset)."""
    selected = list(records)
    if contains := params.get("NameContains"):
        selected = [r for r in selected if contains.lower() in r[name_key].lower()]
    if status_key and (status := params.get("StatusEquals")):
        selected = [r for r in selected if r[status_key] == status]
    bounds: list[tuple[str, str, Callable[[float, float], bool]]] = [
        ("CreationTimeAfter", "CreationTime", float.__gt__),
        ("CreationTimeBefore", "CreationTime", float.__lt__),
        ("LastModifiedTimeAfter", "LastModifiedTime", float.__gt__),
        ("LastModifiedTimeBefore", "LastModifiedTime", float.__lt__),
    ]
    for param, key, keep in bounds:
        if param in params:
            limit = float(params[param])
            selected = [r for r in selected if key in r and keep(float(r[key]), limit)]
    sort_by = params.get("SortBy", "CreationTime")  # the model's enum: one of sort_keys
    selected.sort(
        key=lambda r: r[sort_keys[sort_by]], reverse=params.get("SortOrder") != "Ascending"
    )
    return page(selected, params, DEFAULT_MAX_RESULTS)


def page(items: list[T], params: dict[str, Any], default_size: int) -> tuple[list[T], str | None]:
    """One page of `items` by MaxResults and NextToken (an offset), and the next page's token."""
    start = _offset(params.get("NextToken"))
    end = start + int(params.get("MaxResults", default_size))
    return items[start:end], (str(end) if end < len(items) else None)


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    if not token.isdigit():
        raise ValidationException("Invalid pagination token")
    return int(token)
