"""Tags of every SageMaker resource, by ARN: AddTags, ListTags and DeleteTags with AWS's rules.

A resource's ARN is open while the resource exists (its Create* Tags are stored then) and closed
when it is deleted, which drops its tags. Lengths and characters are botocore's model's to check.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from localcloud.sagemaker.common import page
from localcloud.sagemaker.exceptions import ValidationException

MAX_TAGS = 50  # per resource: "SageMaker AI resources have a 50 tag limit"
RESERVED_PREFIX = "aws:"  # AWS's own tags; users may neither set nor delete them
LIST_TAGS_MAX_RESULTS = 50  # ListTags' default page (its model's minimum MaxResults)


def _refuse_reserved(keys: Iterable[str], member: str) -> None:
    for index, key in enumerate(keys, start=1):
        if key.lower().startswith(RESERVED_PREFIX):
            raise ValidationException(
                f"1 validation error detected: Value '{key}' at '{member}.{index}.member.key' "
                f"failed to satisfy constraint: Tag keys starting with '{RESERVED_PREFIX}' are "
                "reserved for AWS use"
            )


class TagStore:
    """The tags of every open ARN, in the order they were first added."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._tags: dict[str, dict[str, str]] = {}

    def open(self, arn: str, tags: list[dict[str, str]]) -> None:
        """A new resource with the Tags of its Create* request."""
        merged = self._merged({}, tags)
        with self._lock:
            self._tags[arn] = merged

    def close(self, arn: str) -> None:
        """The resource is gone, and so are its tags."""
        with self._lock:
            self._tags.pop(arn, None)

    def add(self, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
        """AddTags: new keys added, existing keys overwritten; every tag of the resource."""
        with self._lock:
            current = self._of(arn)
            current.update(self._merged(current, tags))
            return _as_list(current)

    def list(self, arn: str, params: dict[str, Any]) -> dict[str, Any]:
        """ListTags, paged with MaxResults and NextToken."""
        with self._lock:
            tags = _as_list(self._of(arn))
        selected, token = page(tags, params, LIST_TAGS_MAX_RESULTS)
        return {"Tags": selected, **({"NextToken": token} if token else {})}

    def mapping(self, arn: str) -> dict[str, str]:
        """The resource's tags as key: value (events carry them so)."""
        with self._lock:
            return dict(self._of(arn))

    def delete(self, arn: str, keys: list[str]) -> None:
        """DeleteTags: keys the resource does not have are no error, as in SageMaker."""
        _refuse_reserved(keys, "tagKeys")
        with self._lock:
            current = self._of(arn)
            for key in keys:
                current.pop(key, None)

    def _of(self, arn: str) -> dict[str, str]:
        tags = self._tags.get(arn)
        if tags is None:
            raise ValidationException(f'Could not find resource "{arn}".')
        return tags

    @staticmethod
    def _merged(current: dict[str, str], tags: list[dict[str, str]]) -> dict[str, str]:
        _refuse_reserved((tag["Key"] for tag in tags), "tags")
        merged = {**current, **{tag["Key"]: tag.get("Value", "") for tag in tags}}
        if len(merged) > MAX_TAGS:
            raise ValidationException(
                f"The resource would have {len(merged)} tags: a SageMaker resource can have at "
                f"most {MAX_TAGS}"
            )
        return merged


def _as_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]
