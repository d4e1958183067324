"""The templates' `AWS::Events::Rule`s, read from the created stacks and checked once.

Whatever a rule asks for that the local bus cannot do as EventBridge does (another event bus, a
target service it cannot reach, retry policies, dead-letter queues) is refused here, so the cloud
does not start with a rule that would silently never fire.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from localcloud.cfn import resolve
from localcloud.events import patterns
from localcloud.events.exceptions import EventRuleError
from localcloud.events.schedule import Schedule, parse_schedule
from localcloud.stacks import Stack

RULE_TYPE = "AWS::Events::Rule"
TARGET_SERVICES = ("codepipeline", "lambda", "sns")
_STATES = {"ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"}
_TARGET_KEYS = {"Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer"}
_RULE_KEYS = {
    "Name",
    "Description",
    "State",
    "EventPattern",
    "ScheduleExpression",
    "Targets",
    "EventBusName",
    "RoleArn",
}
_JSON_PATH = re.compile(r"\$(\.[A-Za-z0-9_\-]+|\[\d+\])*")
_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class InputTransformer:
    """A target's InputPathsMap (variable -> JSON path) and InputTemplate."""

    paths: dict[str, str]
    template: str


@dataclass(frozen=True)
class Target:
    """Where a matched event goes, and what of it (the whole event, a literal, a part)."""

    id: str
    arn: str
    role_arn: str | None = None
    input: str | None = None
    input_path: str | None = None
    input_transformer: InputTransformer | None = None

    @property
    def service(self) -> str:
        """The ARN's service: codepipeline, lambda or sns."""
        return self.arn.split(":")[2]

    @property
    def resource_name(self) -> str:
        """The pipeline, function or topic the ARN names."""
        resource = self.arn.split(":", 5)[5]
        return (
            resource.removeprefix("function:").split(":")[0]
            if self.service == "lambda"
            else resource
        )


@dataclass(frozen=True)
class Rule:
    """One rule on the default bus: a pattern, a schedule, or both, and its targets."""

    name: str
    arn: str
    enabled: bool
    targets: tuple[Target, ...]
    pattern: dict[str, Any] | None = None
    schedule: Schedule | None = field(default=None, compare=False)

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether the rule is enabled and its pattern matches the event."""
        return self.enabled and self.pattern is not None and patterns.matches(self.pattern, event)


def rules_of(stacks: Iterable[Stack], created: datetime) -> list[Rule]:
    """Every rule the stacks' templates declare; EventRuleError names the first bad one."""
    rules = []
    for stack in stacks:
        for logical_id, resource in stack.resources_of_type(RULE_TYPE).items():
            properties = resolve(resource.get("Properties", {}), stack.context)
            physical = stack.context.physical_ids.get(logical_id, "")
            name = properties.get("Name") or physical.rsplit("/", 1)[-1] or logical_id
            try:
                rules.append(_rule(name, properties, stack, created))
            except EventRuleError as error:
                raise type(error)(f"stack {stack.name}, rule {logical_id}: {error}") from None
    return rules


def _rule(name: str, properties: dict[str, Any], stack: Stack, created: datetime) -> Rule:
    unknown = sorted(set(properties) - _RULE_KEYS)
    if unknown:
        raise EventRuleError(f"the local event bus does not support {', '.join(unknown)}")
    bus = properties.get("EventBusName", "default")
    if bus != "default" and not str(bus).endswith(":event-bus/default"):
        raise EventRuleError(f"only the default event bus runs locally, not {bus!r}")
    state = properties.get("State", "ENABLED")
    if state not in _STATES:
        raise EventRuleError(
            f"Value '{state}' at 'state' failed to satisfy constraint: Member must satisfy enum "
            f"value set: [{', '.join(sorted(_STATES))}]"
        )
    pattern = properties.get("EventPattern")
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except json.JSONDecodeError:
            raise EventRuleError("Event pattern is not valid. Reason: not JSON") from None
    expression = properties.get("ScheduleExpression")
    if pattern is None and expression is None:
        raise EventRuleError("Parameter(s) EventPattern or ScheduleExpression must be specified.")
    if pattern is not None:
        patterns.validate(pattern)
    context = stack.context
    return Rule(
        name=name,
        arn=f"arn:aws:events:{context.region}:{context.account_id}:rule/{name}",
        enabled=state != "DISABLED",
        targets=tuple(_target(i, t) for i, t in enumerate(properties.get("Targets", []))),
        pattern=pattern,
        schedule=parse_schedule(expression, created) if expression is not None else None,
    )


def _target(index: int, properties: dict[str, Any]) -> Target:
    where = f"Targets[{index}]"
    unknown = sorted(set(properties) - _TARGET_KEYS)
    if unknown:
        raise EventRuleError(f"{where}: the local event bus does not support {', '.join(unknown)}")
    arn = str(properties.get("Arn", ""))
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] not in TARGET_SERVICES:
        raise EventRuleError(
            f"{where}: the local event bus delivers to {', '.join(TARGET_SERVICES)} ARNs, "
            f"not {arn!r}"
        )
    given = [key for key in ("Input", "InputPath", "InputTransformer") if key in properties]
    if len(given) > 1:
        raise EventRuleError(f"{where}: only one of {', '.join(given)} may be given")
    input_path = properties.get("InputPath")
    if input_path is not None:
        _check_path(where, input_path)
    transformer = properties.get("InputTransformer")
    return Target(
        id=str(properties.get("Id", "")),
        arn=arn,
        role_arn=properties.get("RoleArn"),
        input=properties.get("Input"),
        input_path=input_path,
        input_transformer=_transformer(where, transformer) if transformer is not None else None,
    )


def _check_path(where: str, path: Any) -> None:
    if not isinstance(path, str) or not _JSON_PATH.fullmatch(path):
        raise EventRuleError(f"{where}: {path!r} is not a JSON path the local bus reads ($.a.b[0])")


def _transformer(where: str, properties: dict[str, Any]) -> InputTransformer:
    if "InputTemplate" not in properties:
        raise EventRuleError(f"{where}: InputTransformer needs an InputTemplate")
    paths = properties.get("InputPathsMap", {})
    for name, path in paths.items():
        if not _VARIABLE_NAME.fullmatch(name) or name.startswith("aws."):
            raise EventRuleError(f"{where}: InputPathsMap name {name!r} is not allowed")
        _check_path(where, path)
    return InputTransformer(dict(paths), str(properties["InputTemplate"]))
