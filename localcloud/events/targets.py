"""What a target receives (Input, InputPath, InputTransformer) and how it is delivered."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.events.rules import Rule, Target

_INDEX = re.compile(r"\[(\d+)\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


@dataclass
class TargetServices:
    """How the bus reaches each kind of target; the cloud passes in its own."""

    # (pipeline name, ExecutionTrigger, event): the trigger names the rule, as on AWS
    start_pipeline_execution: Callable[[str, dict[str, str], dict[str, Any]], Any]
    invoke_lambda: Callable[[str, Any], Any]  # (function name, payload): InvocationType Event
    publish_sns: Callable[[str, str], Any]  # (topic ARN, message)


def read_path(document: Any, path: str) -> Any:
    """The value at a `$.a.b[0]` JSON path (rules.py checked its form), or None if absent."""
    value = document
    for step in re.split(r"\.|(?=\[)", path.removeprefix("$")):
        if not step:
            continue
        index = _INDEX.fullmatch(step)
        if index:
            position = int(index.group(1))
            value = value[position] if isinstance(value, list) and position < len(value) else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def target_input(rule: Rule, target: Target, event: dict[str, Any]) -> str:
    """The text the target receives, as EventBridge builds it."""
    if target.input is not None:
        return target.input
    if target.input_path is not None:
        return json.dumps(read_path(event, target.input_path))
    if target.input_transformer is None:
        return json.dumps(event)
    values = {name: read_path(event, path) for name, path in target.input_transformer.paths.items()}
    predefined = {
        "aws.events.rule-arn": rule.arn,
        "aws.events.rule-name": rule.name,
        "aws.events.event.ingestion-time": event["time"],
        "aws.events.event": event,
        "aws.events.event.json": event,
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            value = values[name]
        elif name in predefined:
            value = predefined[name]
        else:
            return match.group(0)  # not a variable: EventBridge leaves the text as written
        # A string goes in as its (escaped) characters, inside the template's own quotes;
        # anything else as JSON.
        return json.dumps(value)[1:-1] if isinstance(value, str) else json.dumps(value)

    return _PLACEHOLDER.sub(substitute, target.input_transformer.template)


def deliver(services: TargetServices, rule: Rule, target: Target, event: dict[str, Any]) -> None:
    """Hand one matched event to one target; errors propagate to the bus, which logs them."""
    text = target_input(rule, target, event)
    if target.service == "codepipeline":
        trigger = {"triggerType": "CloudWatchEvent", "triggerDetail": rule.arn}
        services.start_pipeline_execution(target.resource_name, trigger, event)
    elif target.service == "lambda":
        services.invoke_lambda(target.resource_name, json.loads(text))
    else:
        services.publish_sns(target.arn, text)
