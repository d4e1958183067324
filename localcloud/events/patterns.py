"""EventBridge event patterns: checked once when a rule is read, then matched against events.

Implements the documented content filters (exact values, arrays as OR, `prefix`, `suffix`,
`anything-but`, `numeric`, `exists`, `equals-ignore-case`, `wildcard`, `cidr`, `$or`), with
EventBridge's rules for arrays in events (any element may match) and absent fields (only
`{"exists": false}` matches them). A pattern outside this grammar is refused with
`InvalidEventPatternException`'s wording, never matched loosely.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from localcloud.events.exceptions import InvalidEventPattern

_MISSING = object()
_NUMERIC_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda value, bound: value == bound,
    "<": lambda value, bound: value < bound,
    "<=": lambda value, bound: value <= bound,
    ">": lambda value, bound: value > bound,
    ">=": lambda value, bound: value >= bound,
}
_LOWER_BOUNDS = {">", ">="}
_UPPER_BOUNDS = {"<", "<="}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_exact(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or _is_number(value)


def _invalid(reason: str) -> InvalidEventPattern:
    return InvalidEventPattern(f"Event pattern is not valid. Reason: {reason}")


# --- validation ------------------------------------------------------------------------------
def validate(pattern: Any) -> None:
    """Raise InvalidEventPattern naming the first part of `pattern` EventBridge would refuse."""
    if not isinstance(pattern, dict) or not pattern:
        raise _invalid("Filter is not an object")
    _validate_object(pattern)


def _validate_object(pattern: dict[str, Any]) -> None:
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _invalid('"$or" must be an array of at least two objects')
            for branch in value:
                if not isinstance(branch, dict) or not branch:
                    raise _invalid('"$or" must be an array of at least two objects')
                _validate_object(branch)
        elif isinstance(value, dict):
            if not value:
                raise _invalid(f'Empty objects are not allowed: "{key}"')
            _validate_object(value)
        elif isinstance(value, list):
            if not value:
                raise _invalid(f'Empty arrays are not allowed: "{key}"')
            for matcher in value:
                _validate_matcher(key, matcher)
        else:
            raise _invalid(f'"{key}" must be an object or an array')


def _validate_matcher(key: str, matcher: Any) -> None:
    if _is_exact(matcher):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise _invalid(
            f'"{key}": a match value must be a string, number, boolean, null or an '
            "object with one content filter"
        )
    (name, argument), *_ = matcher.items()
    checks: dict[str, Callable[[str, Any], None]] = {
        "prefix": _check_affix,
        "suffix": _check_affix,
        "equals-ignore-case": _check_string,
        "wildcard": _check_wildcard,
        "exists": _check_exists,
        "numeric": _check_numeric,
        "cidr": _check_cidr,
        "anything-but": _check_anything_but,
    }
    if name not in checks:
        raise _invalid(f'Unrecognized match type "{name}" in "{key}"')
    checks[name](f"{key}.{name}", argument)


def _check_string(where: str, argument: Any) -> None:
    if not isinstance(argument, str):
        raise _invalid(f'"{where}" must be a string')


def _check_affix(where: str, argument: Any) -> None:
    if isinstance(argument, dict) and list(argument) == ["equals-ignore-case"]:
        _check_string(where, argument["equals-ignore-case"])
    else:
        _check_string(where, argument)


def _check_wildcard(where: str, argument: Any) -> None:
    _check_string(where, argument)
    for token in re.findall(r"\\.|\\$|\*+|[^\\*]+", argument, flags=re.DOTALL):
        if token.startswith("**"):
            raise _invalid(f'"{where}": consecutive wildcard characters are not allowed')
        if token.startswith("\\") and token not in ("\\*", "\\\\"):
            raise _invalid(f'"{where}": a backslash may only escape "*" or "\\"')


def _check_exists(where: str, argument: Any) -> None:
    if not isinstance(argument, bool):
        raise _invalid(f'"{where}" must be true or false')


def _check_numeric(where: str, argument: Any) -> None:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise _invalid(f'"{where}" must be an array of one or two operator/value pairs')
    pairs = [argument[i : i + 2] for i in range(0, len(argument), 2)]
    for operator, bound in pairs:
        if operator not in _NUMERIC_OPERATORS:
            raise _invalid(f'"{where}": unrecognized numeric operator {operator!r}')
        if not _is_number(bound):
            raise _invalid(f'"{where}": {operator!r} must be followed by a number')
    if len(pairs) == 2 and not (pairs[0][0] in _LOWER_BOUNDS and pairs[1][0] in _UPPER_BOUNDS):
        raise _invalid(f'"{where}": a range is a lower bound (> or >=) then an upper (< or <=)')


def _check_cidr(where: str, argument: Any) -> None:
    _check_string(where, argument)
    try:
        ipaddress.ip_network(argument, strict=False)
    except ValueError:
        raise _invalid(f'"{where}": {argument!r} is not a CIDR range') from None


def _check_anything_but(where: str, argument: Any) -> None:
    if isinstance(argument, dict):
        if len(argument) != 1:
            raise _invalid(f'"{where}" takes one of prefix, suffix, equals-ignore-case, wildcard')
        (name, inner), *_ = argument.items()
        if name in ("prefix", "suffix"):
            _check_string(f"{where}.{name}", inner)
        elif name in ("equals-ignore-case", "wildcard"):
            check = _check_string if name == "equals-ignore-case" else _check_wildcard
            for item in inner if isinstance(inner, list) else [inner]:
                check(f"{where}.{name}", item)
        else:
            raise _invalid(f'Unsupported anything-but pattern: "{name}"')
        return
    values = argument if isinstance(argument, list) else [argument]
    if not values or not all(isinstance(v, str) or _is_number(v) for v in values):
        raise _invalid(f'"{where}" must be a string, a number, or an array of them')


# --- matching --------------------------------------------------------------------------------
def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether `event` matches a pattern that `validate` accepted."""
    return _match_object(pattern, event)


def _match_object(pattern: dict[str, Any], event: Any) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(_match_object(branch, event) for branch in expected):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(expected, dict):
            candidates = value if isinstance(value, list) else [value]
            if not any(
                _match_object(expected, c if isinstance(c, dict) else {}) for c in candidates
            ):
                return False
        elif not _match_leaf(expected, value):
            return False
    return True


def _match_leaf(matchers: list[Any], value: Any) -> bool:
    if value is _MISSING or value == []:
        return any(_is_exists(m, expected=False) for m in matchers)
    values = value if isinstance(value, list) else [value]
    leaves = [v for v in values if not isinstance(v, dict | list)]
    return any(_match_one(matcher, leaf) for matcher in matchers for leaf in leaves)


def _is_exists(matcher: Any, *, expected: bool) -> bool:
    return isinstance(matcher, dict) and matcher.get("exists") is expected


def _equal(expected: Any, value: Any) -> bool:
    if _is_number(expected):
        return _is_number(value) and float(value) == float(expected)
    if isinstance(expected, bool) or expected is None:
        return value is expected
    return isinstance(value, str) and value == expected


def _match_one(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _equal(matcher, value)
    (name, argument), *_ = matcher.items()
    if name == "exists":
        return bool(argument)
    if name == "anything-but":
        return not _anything_but_excludes(argument, value)
    return _CONTENT_FILTERS[name](argument, value)


def _affix(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def match(argument: Any, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if isinstance(argument, dict):
            return test(value.casefold(), argument["equals-ignore-case"].casefold())
        return test(value, argument)

    return match


def _wildcard(argument: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = re.split(r"(\\\\|\\\*|\*)", argument)
    translated = {"\\\\": re.escape("\\"), "\\*": re.escape("*"), "*": ".*"}
    regex = "".join(translated.get(part, re.escape(part)) for part in parts)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _numeric(argument: list[Any], value: Any) -> bool:
    if not _is_number(value):
        return False
    pairs = [argument[i : i + 2] for i in range(0, len(argument), 2)]
    return all(_NUMERIC_OPERATORS[op](float(value), float(bound)) for op, bound in pairs)


def _cidr(argument: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(argument, strict=False)
    except ValueError:
        return False


def _ignore_case(argument: str, value: Any) -> bool:
    return isinstance(value, str) and value.casefold() == argument.casefold()


_CONTENT_FILTERS: dict[str, Callable[[Any, Any], bool]] = {
    "prefix": _affix(str.startswith),
    "suffix": _affix(str.endswith),
    "equals-ignore-case": _ignore_case,
    "wildcard": _wildcard,
    "numeric": _numeric,
    "cidr": _cidr,
}


def _anything_but_excludes(argument: Any, value: Any) -> bool:
    """Whether `value` is one of the values an anything-but filter rules out."""
    if isinstance(argument, dict):
        (name, inner), *_ = argument.items()
        inner_values = inner if isinstance(inner, list) else [inner]
        return any(_CONTENT_FILTERS[name](item, value) for item in inner_values)
    excluded = argument if isinstance(argument, list) else [argument]
    return any(_equal(item, value) for item in excluded)
