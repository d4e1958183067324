"""An API's resource policy, evaluated for anonymous callers as API Gateway does.

For a method with no authorization (AuthorizationType NONE), API Gateway lets a request through
a resource policy only if a statement allows `execute-api:Invoke` on the method's ARN and none
denies it. The local gateway evaluates the part of the policy language such policies use:
Effect, Principal `*`, Action/NotAction, Resource/NotResource (wildcards; `execute-api:/...`
short for the API's own ARN) and the `IpAddress`/`NotIpAddress` conditions on `aws:SourceIp`.
Anything else is refused when the policy is read (UnsupportedPolicy), never ignored.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

INVOKE = "execute-api:Invoke"
_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "NotResource"}
_IP_OPERATORS = {"IpAddress": True, "NotIpAddress": False}


class UnsupportedPolicy(ValueError):
    """A resource policy the local gateway cannot evaluate faithfully."""


class Decision(Enum):
    """The outcome of evaluating a policy for one request."""

    ALLOWED = "allowed"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"


def _strings(value: Any, what: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise UnsupportedPolicy(f"{what} must be a string or a list of strings")
    return values


def _matches(patterns: list[str], value: str, *, case_sensitive: bool) -> bool:
    if not case_sensitive:
        patterns, value = [p.lower() for p in patterns], value.lower()
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


@dataclass(frozen=True)
class _Statement:
    allow: bool
    actions: tuple[str, ...]
    actions_negated: bool
    resources: tuple[str, ...]
    resources_negated: bool
    source_ip: tuple[tuple[bool, tuple[Any, ...]], ...]  # (inside wanted, networks)

    def applies(self, resource_arn: str, source_ip: str) -> bool:
        action_hit = _matches(list(self.actions), INVOKE, case_sensitive=False)
        resource_hit = _matches(list(self.resources), resource_arn, case_sensitive=True)
        if action_hit == self.actions_negated or resource_hit == self.resources_negated:
            return False
        address = ipaddress.ip_address(source_ip)
        return all(
            any(address in network for network in networks) == inside
            for inside, networks in self.source_ip
        )


def _principal_is_anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict) and set(principal) == {"AWS"}:
        return "*" in _strings(principal["AWS"], "Principal.AWS")
    return False


def _conditions(condition: Any) -> tuple[tuple[bool, tuple[Any, ...]], ...]:
    if not isinstance(condition, dict):
        raise UnsupportedPolicy("Condition must be an object")
    tests = []
    for operator, keys in condition.items():
        if operator not in _IP_OPERATORS or not isinstance(keys, dict):
            raise UnsupportedPolicy(f"the local gateway does not evaluate condition {operator}")
        for key, values in keys.items():
            if key.lower() != "aws:sourceip":
                raise UnsupportedPolicy(f"the local gateway does not evaluate condition key {key}")
            try:
                networks = tuple(
                    ipaddress.ip_network(v, strict=False) for v in _strings(values, key)
                )
            except ValueError as error:
                raise UnsupportedPolicy(f"{operator} {key}: {error}") from None
            tests.append((_IP_OPERATORS[operator], networks))
    return tuple(tests)


class ResourcePolicy:
    """A REST API's resource policy, read once, evaluated per request."""

    def __init__(self, document: str | dict[str, Any], api_arn: str) -> None:
        """`api_arn` (`arn:aws:execute-api:<region>:<account>:<api id>`) expands `execute-api:/`."""
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except json.JSONDecodeError as error:
                raise UnsupportedPolicy(f"the policy is not JSON: {error}") from None
        if not isinstance(document, dict) or "Statement" not in document:
            raise UnsupportedPolicy("the policy has no Statement")
        statements = document["Statement"]
        statements = [statements] if isinstance(statements, dict) else statements
        self._statements = [self._statement(s, api_arn) for s in statements]

    @staticmethod
    def _statement(statement: Any, api_arn: str) -> _Statement | None:
        if not isinstance(statement, dict):
            raise UnsupportedPolicy("a Statement must be an object")
        unknown = set(statement) - _STATEMENT_KEYS - {"Condition"}
        if unknown:
            raise UnsupportedPolicy(f"the local gateway does not evaluate {sorted(unknown)}")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"Effect {statement.get('Effect')!r} is not Allow or Deny")
        for present, negated in (("Action", "NotAction"), ("Resource", "NotResource")):
            if (present in statement) == (negated in statement):
                raise UnsupportedPolicy(f"a Statement needs exactly one of {present}, {negated}")
        action_key = "Action" if "Action" in statement else "NotAction"
        resource_key = "Resource" if "Resource" in statement else "NotResource"
        resources = tuple(
            api_arn + r.removeprefix("execute-api:") if r.startswith("execute-api:/") else r
            for r in _strings(statement[resource_key], resource_key)
        )
        parsed = _Statement(
            allow=statement["Effect"] == "Allow",
            actions=tuple(_strings(statement[action_key], action_key)),
            actions_negated=action_key == "NotAction",
            resources=resources,
            resources_negated=resource_key == "NotResource",
            source_ip=_conditions(statement.get("Condition", {})),
        )
        # A statement naming IAM principals never matches an anonymous caller.
        return parsed if _principal_is_anyone(statement.get("Principal")) else None

    def decide(self, resource_arn: str, source_ip: str) -> Decision:
        """Explicit deny beats allow; no allowing statement is an implicit deny."""
        applying = [
            statement
            for statement in self._statements
            if statement is not None and statement.applies(resource_arn, source_ip)
        ]
        if any(not statement.allow for statement in applying):
            return Decision.EXPLICIT_DENY
        return Decision.ALLOWED if applying else Decision.IMPLICIT_DENY
