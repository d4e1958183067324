"""Fixtures and helpers for the template tests: the parsed templates, the contracts read from
docs/design.md, and small walkers over CloudFormation values."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from localcloud import cfn
from localcloud.stacks import lambda_functions
from tests.conftest import REPO_ROOT

TEMPLATES = REPO_ROOT / "templates"
PREP_TEMPLATE = TEMPLATES / "01-prep.yml"
PIPELINE_TEMPLATE = TEMPLATES / "02-pipeline.yml"
TEMPLATE_PATHS = {"prep": PREP_TEMPLATE, "pipeline": PIPELINE_TEMPLATE}
DESIGN = REPO_ROOT / "docs" / "design.md"

# The tool virtualenvs `make iac-venvs` builds (see the Makefile's templates section).
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
CHECKOV_CONFIG = REPO_ROOT / ".checkov.yaml"
SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"

SECTION_ORDER = [
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Conditions",
    "Resources",
    "Outputs",
]


@cache
def _load(path: Path) -> str:
    # The local cloud's loader (plain JSON types, intrinsic functions in their long form), kept
    # as text so each caller gets a fresh copy to change.
    return json.dumps(cfn.load_template(path))


def load_template(name: str) -> dict[str, Any]:
    """A fresh copy of the 'prep' or 'pipeline' template as plain dicts and lists."""
    return json.loads(_load(TEMPLATE_PATHS[name]))


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type, by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def walk(value: Any) -> Iterator[Any]:
    """Every dict, list and scalar inside a template value, depth first."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one item or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def render_sub(value: Any, variables: dict[str, str]) -> str:
    """Resolve an Fn::Sub whose variables are all in `variables` (parameter values, say)."""
    if isinstance(value, dict):
        value = value["Fn::Sub"]
    if isinstance(value, list):
        text, extra = value
        variables = {**variables, **{k: v for k, v in extra.items() if isinstance(v, str)}}
    else:
        text = value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise KeyError(f"no value for ${{{name}}} in {text!r}")
        return variables[name]

    return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)


def iam_matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether an IAM policy pattern matches a value as IAM reads it: `*` any run of characters
    (`/` and `:` too), `?` exactly one; resources compare case-sensitively, actions do not."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.S | (re.I if ignore_case else 0)) is not None


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    """Each parameter's default, as the string CloudFormation would substitute."""
    return {
        name: str(spec["Default"])
        for name, spec in template["Parameters"].items()
        if "Default" in spec
    }


def identity_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, statement) for every identity-based IAM policy statement in the template."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [properties["PolicyDocument"]]
        for document in documents:
            for entry in as_list(document["Statement"]):
                for statement in _branches(entry):
                    yield logical_id, statement


def _branches(value: Any) -> Iterator[Any]:
    """Every value an `Fn::If` may take (each model-code source's statement, say), none for
    `AWS::NoValue`."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


# --- docs/design.md: the contracts the templates follow -------------------------------------


@dataclass(frozen=True)
class DesignAction:
    """One row of design.md's pipeline table."""

    stage: str
    action: str
    kind: str
    user_parameters: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _backticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def _section(heading: str) -> str:
    text = DESIGN.read_text()
    match = re.search(rf"^#+ {re.escape(heading)}.*?$(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"docs/design.md has no section {heading!r}"
    return match.group(1)


def _table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]  # without the header row


@cache
def design_actions() -> tuple[DesignAction, ...]:
    """The pipeline table: stages, actions, kinds, UserParameters and artifacts, in order."""
    actions = []
    for stage, action, kind, user_parameters, artifacts in _table_rows(
        _section("Pipeline stages, actions and artifacts")
    ):
        before, _, after = artifacts.partition("→")
        outputs = _backticked(after)[:1]
        actions.append(
            DesignAction(
                stage=stage,
                action=action,
                kind=kind,
                user_parameters=user_parameters.strip("`"),
                inputs=tuple(_backticked(before)),
                outputs=tuple(outputs),
            )
        )
    assert actions, "docs/design.md's pipeline table has no rows"
    return tuple(actions)


@cache
def design_lambdas() -> dict[str, tuple[str, str]]:
    """Logical id -> (folder, handler), from the one function table (design.md points at it)."""
    return {
        spec.logical_id: (f"lambdas/{folder}", spec.handler)
        for folder, spec in lambda_functions().items()
    }


@cache
def design_template_names() -> dict[str, dict[str, tuple[str, ...]]]:
    """{'prep'|'pipeline': {'Parameters': names, 'Outputs': names}} from design.md."""
    section = _section("Template parameters and outputs")
    prep_text, _, pipeline_text = section.partition("`templates/02-pipeline.yml`")
    result = {}
    for name, text in (("prep", prep_text), ("pipeline", pipeline_text)):
        lists: dict[str, tuple[str, ...]] = {}
        for kind in ("Parameters", "Outputs"):
            match = re.search(rf"^- {kind}\b(.*?)(?=^- |\Z)", text, re.M | re.S)
            assert match, f"docs/design.md lists no {kind} for the {name} template"
            names = [n for n in _backticked(match.group(1)) if re.fullmatch(r"[A-Z][A-Za-z]+", n)]
            lists[kind] = tuple(names)
        result[name] = lists
    return result
