"""One generic resource store: lookup, not-found, Describe, List (filters, sort, pages) and tags.

Every SageMaker resource lives in a `ResourceStore` described by its `Kind`, so a new resource
type writes its record (state and rules) and its actions, never its own lookup or list code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from localcloud.core.exceptions import AwsError
from localcloud.sagemaker.common import arn, list_page
from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.tags import TagStore


class Resource(Protocol):
    """What the store reads from a record: its name, ARN and its two answers."""

    name: str

    @property
    def arn(self) -> str: ...

    def describe(self) -> dict[str, Any]: ...

    def summary(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Resource)


@dataclass(frozen=True)
class Kind:
    """The facts about one resource type that its Describe, List and errors differ by."""

    arn_kind: str  # "training-job": the ARN's resource part
    label: str  # "training job": how SageMaker's messages name it
    name_key: str  # "TrainingJobName"
    list_key: str  # "TrainingJobSummaries": where List* puts the summaries
    status_key: str | None = None  # "TrainingJobStatus", for StatusEquals and SortBy=Status
    not_found: Callable[[str], AwsError] | None = None  # default: 'Could not find <label> "<arn>".'
    taken: Callable[[str], AwsError] | None = None  # default: 'Cannot create already existing …'
    sort_keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = {"Name": self.name_key, "CreationTime": "CreationTime"}
        if self.status_key:
            keys["Status"] = self.status_key
        object.__setattr__(self, "sort_keys", {**keys, **self.sort_keys})

    def missing(self, name: str) -> AwsError:
        """SageMaker's answer for an unknown resource of this kind."""
        if self.not_found is not None:
            return self.not_found(name)
        return ValidationException(f'Could not find {self.label} "{arn(self.arn_kind, name)}".')

    def exists(self, name: str) -> AwsError:
        """SageMaker's answer for a name that is already taken."""
        if self.taken is not None:
            return self.taken(name)
        return ValidationException(
            f'Cannot create already existing {self.label} "{arn(self.arn_kind, name)}".'
        )


class ResourceStore(Generic[R]):
    """The resources of one kind, by name; thread-safe under the backend's one lock."""

    def __init__(self, kind: Kind, lock: threading.RLock, tags: TagStore) -> None:
        self.kind = kind
        self._lock = lock
        self._tags = tags
        self._items: dict[str, R] = {}

    def add(self, resource: R, tags: Iterable[dict[str, str]] = ()) -> R:
        """Store a new resource with the Tags its Create* request gave; a taken name is refused."""
        tags = list(tags)
        with self._lock:
            if resource.name in self._items:
                raise self.kind.exists(resource.name)
            self._tags.open(resource.arn, tags)  # checks the tags before anything is stored
            self._items[resource.name] = resource
        return resource

    def get(self, name: str) -> R:
        """The resource, or this kind's not-found error."""
        resource = self.find(name)
        if resource is None:
            raise self.kind.missing(name)
        return resource

    def find(self, name: str) -> R | None:
        """The resource, or None."""
        with self._lock:
            return self._items.get(name)

    def remove(self, name: str) -> R:
        """Delete the resource and its tags; the not-found error if there is none."""
        with self._lock:
            resource = self._items.pop(name, None)
            if resource is None:
                raise self.kind.missing(name)
            self._tags.close(resource.arn)
        return resource

    def all(self) -> list[R]:
        """Every resource of this kind, oldest first."""
        with self._lock:
            return list(self._items.values())

    def describe(self, name: str) -> dict[str, Any]:
        """The Describe* answer."""
        with self._lock:
            return self.get(name).describe()

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        """The List* answer: NameContains, StatusEquals, time bounds, SortBy/SortOrder, pages."""
        with self._lock:
            summaries = [resource.summary() for resource in self._items.values()]
        page, token = list_page(
            summaries,
            params,
            name_key=self.kind.name_key,
            status_key=self.kind.status_key,
            sort_keys=self.kind.sort_keys,
        )
        return {self.kind.list_key: page, **({"NextToken": token} if token else {})}
