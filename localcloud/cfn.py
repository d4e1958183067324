"""Read our CloudFormation templates and resolve their intrinsic functions against a live stack.

The local runner and gateway take the pipeline and API definitions from the templates (the
single source of truth), so the values in them (`!Ref`, `!Sub`, `!ImportValue`, ...) must resolve
to what the stack in moto server actually holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from localcloud.constants import ACCOUNT_ID, REGION

NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


class TemplateError(ValueError):
    """A template value the local cloud cannot resolve."""


def load_template(path: Path) -> dict[str, Any]:
    """Load a YAML template with its short-form tags turned into `Fn::` dictionaries."""
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


@dataclass(frozen=True)
class StackContext:
    """Everything intrinsic functions can refer to in one created stack."""

    stack_name: str
    region: str
    account_id: str
    parameters: Mapping[str, str]
    physical_ids: Mapping[str, str]
    exports: Mapping[str, str] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    get_att: Callable[[str, str], str] | None = None

    def pseudo(self, name: str) -> str:
        """The value of an `AWS::` pseudo parameter."""
        values = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:"
            f"stack/{self.stack_name}/local",
        }
        if name not in values:
            raise TemplateError(f"unsupported pseudo parameter {name}")
        return values[name]

    def ref(self, name: str) -> Any:
        """Resolve `Ref`: a pseudo parameter, a parameter, or a resource's physical id."""
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise TemplateError(f"Ref to unknown name {name!r} in stack {self.stack_name}")

    def attribute(self, logical_id: str, attribute: str) -> str:
        """Resolve `Fn::GetAtt` through the callback the stack owner supplies."""
        if self.get_att is None:
            raise TemplateError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute} here")
        return self.get_att(logical_id, attribute)

    def condition(self, name: str) -> bool:
        """Evaluate a named condition of the template."""
        if name not in self.conditions:
            raise TemplateError(f"unknown condition {name!r}")
        return bool(resolve(self.conditions[name], self))


def _sub(template: str, variables: Mapping[str, Any], context: StackContext) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            logical_id, attribute = name.split(".", 1)
            return context.attribute(logical_id, attribute)
        return str(context.ref(name))

    return _SUB_VARIABLE.sub(replace, template).replace("${!", "${")


def _fn_sub(argument: Any, context: StackContext) -> str:
    if isinstance(argument, str):
        return _sub(argument, {}, context)
    text, variables = argument
    return _sub(text, {k: resolve(v, context) for k, v in variables.items()}, context)


def _fn_get_att(argument: Any, context: StackContext) -> str:
    logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
    return context.attribute(logical_id, resolve(attribute, context))


def _fn_if(argument: Any, context: StackContext) -> Any:
    name, when_true, when_false = argument
    return resolve(when_true if context.condition(name) else when_false, context)


_FUNCTIONS: dict[str, Callable[[Any, StackContext], Any]] = {
    "Ref": lambda arg, ctx: ctx.ref(arg),
    "Fn::Sub": _fn_sub,
    "Fn::GetAtt": _fn_get_att,
    "Fn::If": _fn_if,
    "Fn::Join": lambda arg, ctx: resolve(arg[0], ctx).join(
        str(v) for v in resolve(arg[1], ctx) if v is not NO_VALUE
    ),
    "Fn::Select": lambda arg, ctx: resolve(arg[1], ctx)[int(resolve(arg[0], ctx))],
    "Fn::Split": lambda arg, ctx: resolve(arg[1], ctx).split(resolve(arg[0], ctx)),
    "Fn::ImportValue": lambda arg, ctx: _import_value(resolve(arg, ctx), ctx),
    "Fn::Equals": lambda arg, ctx: resolve(arg[0], ctx) == resolve(arg[1], ctx),
    "Fn::Not": lambda arg, ctx: not resolve(arg[0], ctx),
    "Fn::And": lambda arg, ctx: all(resolve(v, ctx) for v in arg),
    "Fn::Or": lambda arg, ctx: any(resolve(v, ctx) for v in arg),
    "Condition": lambda arg, ctx: ctx.condition(arg),
}


def _import_value(name: str, context: StackContext) -> str:
    if name not in context.exports:
        raise TemplateError(f"no stack exports {name!r}")
    return context.exports[name]


def resolve(value: Any, context: StackContext) -> Any:
    """Resolve every intrinsic function in a template value; `AWS::NoValue` entries vanish."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key in _FUNCTIONS:
                return _FUNCTIONS[key](argument, context)
        resolved = {key: resolve(item, context) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}
    if isinstance(value, list):
        return [item for item in (resolve(v, context) for v in value) if item is not NO_VALUE]
    return value


def with_defaults(template: dict[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """The values a stack of the template has: `given`, the rest at their defaults."""
    values = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    values.update(given)
    return values


def _defaults_context(template: dict[str, Any], parameters: Mapping[str, str]) -> StackContext:
    return StackContext(
        stack_name="rendered",
        region=REGION,
        account_id=ACCOUNT_ID,
        parameters=with_defaults(template, parameters),
        physical_ids={},
        conditions=template.get("Conditions", {}),
    )


def _choose(value: Any, context: StackContext) -> Any:
    """`value` with each Fn::If replaced by its branch (other intrinsics kept)."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return _choose(when_true if context.condition(name) else when_false, context)
        if value == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        chosen = {key: _choose(item, context) for key, item in value.items()}
        return {key: item for key, item in chosen.items() if item is not NO_VALUE}
    if isinstance(value, list):
        return [item for item in (_choose(v, context) for v in value) if item is not NO_VALUE]
    return value


def render(template: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The template a stack with `parameters` (the rest at their defaults) would be made of:
    resources and outputs of false conditions removed and every `Fn::If` replaced by its
    branch, the other intrinsic functions kept (for the linters and readers with no stack)."""
    context = _defaults_context(template, parameters)
    rendered = dict(template)
    for section in ("Resources", "Outputs"):
        rendered[section] = {
            logical_id: _choose(entry, context)
            for logical_id, entry in template.get(section, {}).items()
            if "Condition" not in entry or context.condition(entry["Condition"])
        }
    return rendered
