"""What a new resource type costs: a record and a `Kind`; the store gives the rest.

`Widget` stands for the next resource (a processing job, a model package): it declares only its
state and its two answers, and gets Describe, not-found and taken-name errors, List with
filters, sort and pages, and tags that go with it when it is deleted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest

from localcloud.core.exceptions import AwsError
from localcloud.sagemaker.common import arn
from localcloud.sagemaker.store import Kind, ResourceStore
from localcloud.sagemaker.tags import TagStore

WIDGET = Kind("widget", "widget", "WidgetName", "WidgetSummaries", status_key="WidgetStatus")


@dataclass
class Widget:
    """The whole of a new resource's record, as far as the store is concerned."""

    name: str
    status: str
    created: float

    @property
    def arn(self) -> str:
        return arn("widget", self.name)

    def summary(self) -> dict[str, Any]:
        return {"WidgetName": self.name, "WidgetStatus": self.status, "CreationTime": self.created}

    def describe(self) -> dict[str, Any]:
        return {**self.summary(), "WidgetArn": self.arn}


@pytest.fixture
def stores() -> tuple[ResourceStore[Widget], TagStore]:
    lock = threading.RLock()
    tags = TagStore(lock)
    return ResourceStore(WIDGET, lock, tags), tags


def test_a_new_kind_gets_describe_and_aws_errors(
    stores: tuple[ResourceStore[Widget], TagStore],
) -> None:
    widgets, _ = stores
    widgets.add(Widget("blue", "Ready", 1.0))
    assert widgets.describe("blue")["WidgetArn"].endswith(":widget/blue")
    with pytest.raises(AwsError, match=r'^Could not find widget "arn:aws:.*:widget/red"\.$'):
        widgets.describe("red")
    with pytest.raises(AwsError, match=r'^Cannot create already existing widget ".*/blue"\.$'):
        widgets.add(Widget("blue", "Ready", 2.0))


def test_a_new_kind_gets_list_filters_sort_and_pages(
    stores: tuple[ResourceStore[Widget], TagStore],
) -> None:
    widgets, _ = stores
    for index, status in enumerate(["Ready", "Failed", "Ready", "Ready"]):
        widgets.add(Widget(f"widget-{index}", status, float(index)))
    ready = widgets.list({"StatusEquals": "Ready", "SortBy": "Name", "SortOrder": "Ascending"})
    assert [w["WidgetName"] for w in ready["WidgetSummaries"]] == [
        "widget-0",
        "widget-2",
        "widget-3",
    ]
    after = {"MaxResults": 2, "CreationTimeAfter": 0.5}  # newest first, by default
    first = widgets.list(after)
    assert [w["WidgetName"] for w in first["WidgetSummaries"]] == ["widget-3", "widget-2"]
    rest = widgets.list({**after, "NextToken": first["NextToken"]})
    assert [w["WidgetName"] for w in rest["WidgetSummaries"]] == ["widget-1"]
    assert "NextToken" not in rest


def test_a_new_kind_gets_tags_that_go_with_it(
    stores: tuple[ResourceStore[Widget], TagStore],
) -> None:
    widgets, tags = stores
    widget = widgets.add(Widget("tagged", "Ready", 1.0), [{"Key": "team", "Value": "a"}])
    assert tags.list(widget.arn, {}) == {"Tags": [{"Key": "team", "Value": "a"}]}
    widgets.remove("tagged")
    with pytest.raises(AwsError, match="Could not find resource"):
        tags.list(widget.arn, {})
