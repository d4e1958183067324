"""A parameter value checked against its template declaration, as CloudFormation checks it.

Type String or Number, MinLength/MaxLength (strings), MinValue/MaxValue (numbers), AllowedValues
and AllowedPattern, read from the template itself; the message is CloudFormation's, with the
parameter's ConstraintDescription in place of the constraint when the template gives one.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from localcloud.cfn import TemplateError

# What CloudFormation takes as a Number: an integer or a decimal, no inf, NaN or hex.
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_BY_TYPE = {
    "String": {"MinLength", "MaxLength", "AllowedValues", "AllowedPattern"},
    "Number": {"MinValue", "MaxValue", "AllowedValues"},
}
_CONSTRAINTS = {"MinLength", "MaxLength", "MinValue", "MaxValue", "AllowedValues", "AllowedPattern"}


def _broken(spec: dict[str, Any], value: str) -> str | None:
    """What the value breaks, in CloudFormation's words after "Parameter 'X' ", or None."""
    if spec["Type"] == "Number":
        if not _NUMBER.fullmatch(value):
            return "must be a number"
        number = Decimal(value)
        if "MinValue" in spec and number < Decimal(str(spec["MinValue"])):
            return f"must be a number not less than {spec['MinValue']}"
        if "MaxValue" in spec and number > Decimal(str(spec["MaxValue"])):
            return f"must be a number not greater than {spec['MaxValue']}"
    else:
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            return f"must contain at least {spec['MinLength']} characters"
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            return f"must contain at most {spec['MaxLength']} characters"
    allowed = [str(v) for v in spec.get("AllowedValues", [])]
    same = (lambda v: Decimal(v) == Decimal(value)) if spec["Type"] == "Number" else value.__eq__
    if allowed and not any(same(v) for v in allowed):
        return f"must be one of AllowedValues: {', '.join(allowed)}"
    pattern = spec.get("AllowedPattern")
    # CloudFormation matches the whole value (Java's matches()), hence fullmatch.
    if pattern is not None and not re.fullmatch(str(pattern), value):
        return f"must match pattern {pattern}"
    return None


def violation(name: str, spec: dict[str, Any], value: str) -> str | None:
    """CloudFormation's message for the constraint `value` breaks, or None when it is valid."""
    kind = spec.get("Type")
    if kind not in _BY_TYPE:
        raise TemplateError(f"parameter {name}: Type {kind!r} is not checked (String or Number)")
    misplaced = sorted((_CONSTRAINTS - _BY_TYPE[kind]) & set(spec))
    if misplaced:
        raise TemplateError(f"parameter {name}: {misplaced[0]} does not apply to Type {kind}")
    broken = _broken(spec, value)
    if broken is None:
        return None
    if "ConstraintDescription" in spec:
        return f"Parameter '{name}' failed to satisfy constraint: {spec['ConstraintDescription']}"
    return f"Parameter '{name}' {broken}"
