"""Parameter values checked against a template's own constraints, as CloudFormation checks them,
for String and Number parameters alike (small templates of the tests' own)."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.cfn import TemplateError, load_template
from scripts.aws_stacks.constraints import violation

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Count:
    Type: Number
    MinValue: 1
    MaxValue: 10
  Ratio:
    Type: Number
    MinValue: 0.5
  Size:
    Type: Number
    AllowedValues: [1, 2, 4]
  Threshold:
    Type: Number
    MaxValue: 100
    ConstraintDescription: A number of at most 100.
  Name:
    Type: String
    MinLength: 3
    MaxLength: 5
  Level:
    Type: String
    AllowedValues: [DEBUG, INFO]
  Key:
    Type: String
    AllowedPattern: "[a-z]+"
  Email:
    Type: String
    AllowedPattern: "[^@]+@[^@]+"
    ConstraintDescription: An email address.
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""


@pytest.fixture(scope="module")
def parameters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Parameters section of the small template, loaded as the deploy path loads ours."""
    path = tmp_path_factory.mktemp("template") / "template.yml"
    path.write_text(TEMPLATE)
    return load_template(path)["Parameters"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Count", "1"),
        ("Count", "10"),
        ("Count", "7"),
        ("Ratio", "0.5"),
        ("Ratio", "12.75"),
        ("Size", "4"),
        ("Size", "2.0"),
        ("Threshold", "-3"),
        ("Name", "abc"),
        ("Name", "abcde"),
        ("Level", "INFO"),
        ("Key", "abc"),
        ("Email", "a@b"),
    ],
)
def test_a_value_within_every_constraint_passes(parameters, name: str, value: str):
    # GIVEN a value inside the parameter's constraints WHEN checked THEN nothing is wrong
    assert violation(name, parameters[name], value) is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Count", "abc", "Parameter 'Count' must be a number"),
        ("Count", "inf", "Parameter 'Count' must be a number"),
        ("Count", "0x10", "Parameter 'Count' must be a number"),
        ("Count", "", "Parameter 'Count' must be a number"),
        ("Count", "0", "Parameter 'Count' must be a number not less than 1"),
        ("Count", "10.5", "Parameter 'Count' must be a number not greater than 10"),
        ("Ratio", "0.49", "Parameter 'Ratio' must be a number not less than 0.5"),
        ("Size", "3", "Parameter 'Size' must be one of AllowedValues: 1, 2, 4"),
        ("Threshold", "101", "Parameter 'Threshold' failed to satisfy constraint: A number of"),
        ("Threshold", "many", "Parameter 'Threshold' failed to satisfy constraint: A number of"),
        ("Name", "ab", "Parameter 'Name' must contain at least 3 characters"),
        ("Name", "abcdef", "Parameter 'Name' must contain at most 5 characters"),
        ("Level", "TRACE", "Parameter 'Level' must be one of AllowedValues: DEBUG, INFO"),
        ("Key", "abc1", "Parameter 'Key' must match pattern [a-z]+"),
        ("Email", "nobody", "Parameter 'Email' failed to satisfy constraint: An email address."),
    ],
)
def test_a_value_breaking_a_constraint_gets_cloudformations_message(
    parameters, name: str, value: str, message: str
):
    # GIVEN a value outside one constraint WHEN checked THEN the message names it
    problem = violation(name, parameters[name], value)
    assert problem is not None
    assert problem.startswith(message)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"Type": "List<Number>"}, "Type 'List<Number>' is not checked"),
        ({"Type": "String", "MinValue": 1}, "MinValue does not apply to Type String"),
        ({"Type": "Number", "MaxLength": 3}, "MaxLength does not apply to Type Number"),
        ({"Type": "Number", "AllowedPattern": "[0-9]+"}, "AllowedPattern does not apply"),
    ],
)
def test_a_declaration_the_check_cannot_honour_is_an_error_not_ignored(spec, message: str):
    # GIVEN a declaration whose constraints would otherwise go unchecked WHEN checking a value
    # THEN it fails naming the parameter and the problem
    with pytest.raises(TemplateError, match=message):
        violation("P", spec, "1")
