"""CodePipeline's variables in action configurations: `#{codepipeline.PipelineExecutionId}`
and `#{<Namespace>.<Variable>}` from the output variables of an earlier action.

CodePipeline resolves them just before it runs an action; a reference it cannot resolve fails
the action instead of reaching the action as literal text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REFERENCE = re.compile(r"#\{(?P<namespace>[A-Za-z0-9@\-_]+)\.(?P<name>[A-Za-z0-9@\-_]+)\}")
PIPELINE_NAMESPACE = "codepipeline"


class UnresolvedVariable(Exception):
    """A `#{…}` reference names no variable of this execution."""


def resolve_configuration(
    configuration: Mapping[str, Any],
    execution_id: str,
    namespaces: Mapping[str, Mapping[str, str]],
) -> dict[str, Any]:
    """The configuration with every reference in its string values replaced."""
    known = {PIPELINE_NAMESPACE: {"PipelineExecutionId": execution_id}, **namespaces}
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        value = known.get(match["namespace"], {}).get(match["name"])
        if value is None:
            missing.append(match[0])
            return match[0]
        return value

    resolved = {
        key: REFERENCE.sub(replace, value) if isinstance(value, str) else value
        for key, value in configuration.items()
    }
    if missing:
        raise UnresolvedVariable(
            "the action configuration references variables this execution does not have: "
            + ", ".join(sorted(set(missing)))
        )
    return resolved
