"""Check a request against botocore's own model of the service, as AWS's front end does.

Every local service validates each request here before any work: required members, types,
lengths, counts, ranges, enums and patterns (matched whole). Messages use AWS's wording
("1 validation error detected: Value 'x' at 'inputDataConfig.1.member.channelName' failed to
satisfy constraint: ..."), so a call refused here is refused the same way by the real service.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import botocore.session
import regex
from botocore.model import OperationModel, ServiceModel, Shape

# Java regex constructs the service models use that the `regex` module spells differently.
# Java's POSIX classes are ASCII-only; its surrogate pair range means "any supplementary char".
_JAVA_CLASSES = {
    r"\p{Alnum}": "a-zA-Z0-9",
    r"\p{Print}": r"\x20-\x7E",
    r"\p{ASCII}": r"\x00-\x7F",
}
_JAVA_SURROGATES = r"\uD800\uDC00-\uDBFF\uDFFF"
_JSON_TYPES: dict[str, Any] = {
    "structure": dict,
    "map": dict,
    "list": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": int | float,
    "double": int | float,
    "timestamp": int | float | str,
    "blob": str | bytes,
}


class InvalidRequest(Exception):
    """The request breaks the model's constraints; the message is AWS's, listing each one."""


class MalformedRequest(Exception):
    """A member has the wrong JSON type (AWS answers SerializationException)."""


@cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of a service (loaded once per process)."""
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel:
    """One operation of a service's model."""
    return service_model(service).operation_model(operation)


def _translate(pattern: str) -> str:
    """A Java pattern from the model in the `regex` module's syntax."""
    translated = pattern.replace(_JAVA_SURROGATES, r"\U00010000-\U0010FFFF")
    out, in_class, index = [], False, 0
    while index < len(translated):
        for java, ranges in _JAVA_CLASSES.items():
            if translated.startswith(java, index):
                out.append(ranges if in_class else f"[{ranges}]")
                index += len(java)
                break
        else:
            char = translated[index]
            if char == "\\":
                out.append(translated[index : index + 2])
                index += 2
                continue
            if char == "[":
                in_class = True
            elif char == "]":
                in_class = False
            out.append(char)
            index += 1
    return "".join(out)


@cache
def compiled(pattern: str) -> regex.Pattern[str]:
    """A model pattern, compiled once."""
    return regex.compile(_translate(pattern))


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _value_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class _Checker:
    def __init__(self, camel_case: bool) -> None:
        self.camel_case = camel_case
        self.problems: list[str] = []

    def member(self, where: str, name: str) -> str:
        name = _lower_camel(name) if self.camel_case else name
        return f"{where}.{name}" if where else name

    def fail(self, shape: Shape, value: Any, where: str, constraint: str) -> None:
        shown = "" if shape.metadata.get("sensitive") else f" '{_value_text(value)}'"
        if value is None:
            shown = " null"
        self.problems.append(
            f"Value{shown} at '{where}' failed to satisfy constraint: {constraint}"
        )

    def check(self, shape: Shape, value: Any, where: str) -> None:
        kind = shape.type_name
        expected = _JSON_TYPES.get(kind, object)
        wrong_bool = kind in {"integer", "long", "float", "double"} and isinstance(value, bool)
        if not isinstance(value, expected) or wrong_bool:
            raise MalformedRequest(
                f"Unexpected {type(value).__name__} value at '{where or 'request'}': "
                f"expected a {kind}"
            )
        meta = shape.metadata
        if kind == "structure":
            for name in shape.required_members:
                if value.get(name) is None:
                    self.fail(shape, None, self.member(where, name), "Member must not be null")
            for name, member in shape.members.items():
                if value.get(name) is not None:
                    self.check(member, value[name], self.member(where, name))
        elif kind == "list":
            self._count(shape, value, where)
            for index, item in enumerate(value, start=1):
                self.check(shape.member, item, f"{where}.{index}.member")
        elif kind == "map":
            self._count(shape, value, where)
            for key, item in value.items():
                self._map_key(shape, value, key, where)
                self.check(shape.value, item, f"{where}.{key}")
        elif kind in {"string", "blob"}:
            self._string(shape, value, where)
        elif kind in {"integer", "long", "float", "double"}:
            if "min" in meta and value < meta["min"]:
                self.fail(
                    shape,
                    value,
                    where,
                    f"Member must have value greater than or equal to {meta['min']}",
                )
            if "max" in meta and value > meta["max"]:
                self.fail(
                    shape,
                    value,
                    where,
                    f"Member must have value less than or equal to {meta['max']}",
                )

    def _count(self, shape: Shape, value: Any, where: str) -> None:
        """Lengths of strings and blobs, counts of lists and maps (AWS words both 'length')."""
        meta = shape.metadata
        if "min" in meta and len(value) < meta["min"]:
            self.fail(
                shape,
                value,
                where,
                f"Member must have length greater than or equal to {meta['min']}",
            )
        if "max" in meta and len(value) > meta["max"]:
            self.fail(
                shape, value, where, f"Member must have length less than or equal to {meta['max']}"
            )

    def _map_key(self, shape: Shape, value: dict[str, Any], key: str, where: str) -> None:
        key_checker = _Checker(self.camel_case)
        key_checker.check(shape.key, key, where)
        if key_checker.problems:
            constraint = key_checker.problems[0].split("failed to satisfy constraint: ", 1)[1]
            self.fail(shape, value, where, f"Map keys must satisfy constraint: [{constraint}]")

    def _string(self, shape: Shape, value: str | bytes, where: str) -> None:
        self._count(shape, value, where)  # lengths read the same as list and map counts
        if isinstance(value, bytes):
            return
        meta = shape.metadata
        if "pattern" in meta and compiled(meta["pattern"]).fullmatch(value) is None:
            self.fail(
                shape,
                value,
                where,
                f"Member must satisfy regular expression pattern: {meta['pattern']}",
            )
        if "enum" in meta and value not in meta["enum"]:
            self.fail(
                shape,
                value,
                where,
                f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]",
            )


def validate(service: str, operation: str, params: dict[str, Any]) -> None:
    """Raise InvalidRequest listing every constraint `params` breaks, MalformedRequest on bad types.

    Member paths are lower camel case, as SageMaker's messages spell them; services whose
    members already are (CodePipeline) read the same.
    """
    checker = _Checker(camel_case=True)
    checker.check(operation_model(service, operation).input_shape, params, "")
    if checker.problems:
        count = len(checker.problems)
        raise InvalidRequest(
            f"{count} validation error{'s' if count > 1 else ''} detected: "
            + "; ".join(checker.problems)
        )
