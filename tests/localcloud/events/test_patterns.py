"""EventBridge's content filters, with the patterns and events of its documentation."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.events.exceptions import InvalidEventPattern
from localcloud.events.patterns import matches, validate

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.123",
        "location": "eu-west",
        "file-name": "photo.PNG",
        "tags": ["prod", "web"],
        "nested": [{"name": "a", "value": 1}, {"name": "b", "value": 2}],
        "flag": True,
        "nothing": None,
    },
}

# (pattern, matches EC2_EVENT)
CASES: list[tuple[dict[str, Any], bool]] = [
    ({"source": ["aws.ec2"]}, True),
    ({"source": ["aws.s3"]}, False),
    ({"source": ["aws.s3", "aws.ec2"]}, True),  # an array is OR
    ({"detail": {"state": ["terminated"]}}, True),
    ({"detail": {"state": ["running"]}}, False),
    ({"detail": {"c-count": [5]}}, True),
    ({"detail": {"c-count": ["5"]}}, False),  # a string never equals a number
    ({"detail": {"flag": [True]}}, True),
    ({"detail": {"nothing": [None]}}, True),
    ({"detail": {"tags": ["web"]}}, True),  # an array in the event: any element
    ({"detail": {"tags": ["dev"]}}, False),
    ({"detail": {"nested": {"name": ["b"]}}}, True),
    ({"detail": {"state": [{"prefix": "term"}]}}, True),
    ({"detail": {"state": [{"prefix": "run"}]}}, False),
    ({"detail": {"location": [{"prefix": {"equals-ignore-case": "EU-"}}]}}, True),
    ({"detail": {"file-name": [{"suffix": ".png"}]}}, False),
    ({"detail": {"file-name": [{"suffix": {"equals-ignore-case": ".png"}}]}}, True),
    ({"detail": {"state": [{"equals-ignore-case": "TERMINATED"}]}}, True),
    ({"detail": {"state": [{"anything-but": "initializing"}]}}, True),
    ({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, False),
    ({"detail": {"c-count": [{"anything-but": [5, 6]}]}}, False),
    ({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, True),
    ({"detail": {"file-name": [{"anything-but": {"suffix": ".PNG"}}]}}, False),
    ({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["TERMINATED"]}}]}}, False),
    ({"detail": {"state": [{"anything-but": {"wildcard": "run*"}}]}}, True),
    ({"detail": {"missing": [{"anything-but": "x"}]}}, False),  # needs the field
    ({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
    ({"detail": {"d-count": [{"numeric": ["<", 10]}]}}, True),
    ({"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}}, True),
    ({"detail": {"c-count": [{"numeric": [">", 5]}]}}, False),
    ({"detail": {"state": [{"numeric": [">", 0]}]}}, False),
    ({"detail": {"state": [{"exists": True}]}}, True),
    ({"detail": {"missing": [{"exists": True}]}}, False),
    ({"detail": {"missing": [{"exists": False}]}}, True),
    ({"detail": {"state": [{"exists": False}]}}, False),
    ({"absent": {"inner": [{"exists": False}]}}, True),
    ({"detail": {"file-name": [{"wildcard": "*.PNG"}]}}, True),
    ({"detail": {"file-name": [{"wildcard": "photo*G"}]}}, True),
    ({"detail": {"file-name": [{"wildcard": "*.png"}]}}, False),
    ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, True),
    ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, False),
    ({"detail": {"$or": [{"c-count": [{"numeric": [">", 10]}]}, {"d-count": [3]}]}}, True),
    ({"detail": {"$or": [{"c-count": [9]}, {"d-count": [9]}]}}, False),
    ({"source": ["aws.ec2"], "detail": {"state": ["running"]}}, False),  # fields are AND
]


@pytest.mark.parametrize(("pattern", "expected"), CASES)
def test_pattern_matches_as_eventbridge_does(pattern: dict[str, Any], expected: bool) -> None:
    # GIVEN a pattern EventBridge accepts
    validate(pattern)
    # THEN it matches the documentation's EC2 event exactly when EventBridge would
    assert matches(pattern, EC2_EVENT) is expected


def test_wildcard_escapes_a_literal_star() -> None:
    pattern = {"detail": {"name": [{"wildcard": "a\\*b*"}]}}
    validate(pattern)
    assert matches(pattern, {"detail": {"name": "a*bc"}})
    assert not matches(pattern, {"detail": {"name": "axbc"}})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ({"source": "aws.ec2"}, '"source" must be an object or an array'),
        ({"source": []}, 'Empty arrays are not allowed: "source"'),
        ({"detail": {"x": [{"regex": "a.*"}]}}, 'Unrecognized match type "regex" in "x"'),
        ({"detail": {"x": [{"numeric": [">>", 1]}]}}, "unrecognized numeric operator '>>'"),
        ({"detail": {"x": [{"numeric": ["<", 5, ">", 1]}]}}, "a range is a lower bound"),
        ({"detail": {"x": [{"wildcard": "a**b"}]}}, "consecutive wildcard characters"),
        ({"detail": {"x": [{"exists": "yes"}]}}, '"x.exists" must be true or false'),
        ({"detail": {"x": [{"cidr": "10.0.0/33"}]}}, "is not a CIDR range"),
        ({"detail": {"x": [{"anything-but": {"numeric": [">", 1]}}]}}, "Unsupported anything-but"),
        ({"$or": [{"source": ["a"]}]}, '"$or" must be an array of at least two objects'),
        ({"detail": {"x": [{"prefix": "a", "suffix": "b"}]}}, "one content filter"),
    ],
)
def test_a_pattern_eventbridge_refuses_is_refused(pattern: dict[str, Any], reason: str) -> None:
    with pytest.raises(
        InvalidEventPattern, match=r"^Event pattern is not valid\. Reason: "
    ) as error:
        validate(pattern)
    assert reason in str(error.value)
