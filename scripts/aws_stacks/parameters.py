"""The parameters file: read it and check every value against the templates, before any AWS call."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.stacks import REPO_ROOT, lambda_functions
from scripts.aws_stacks.common import SECTIONS, TEMPLATES, Failure, stack_name, template
from scripts.aws_stacks.constraints import violation
from tabular_container.hyperparameters import HyperparameterError, parse_hyperparameters

HYPERPARAMETERS = "Hyperparameters"  # the one pipeline parameter a JSON object may be given for
SOURCE = "SourceProvider"  # chosen in pipeline; deploy gives prep the same value

# The parameters only some sources read: (section, name) -> (what it is, the sources taking it,
# whether they need it). A value the chosen source ignores is refused rather than silently
# dropped, and a needed one is asked for here rather than by a failed first pipeline run.
SOURCE_PARAMETERS: dict[tuple[str, str], tuple[str, tuple[str, ...], bool]] = {
    ("pipeline", "ConnectionArn"): ("a connection", ("CodeConnection",), True),
    ("pipeline", "FullRepositoryId"): ("a repository id", ("CodeConnection",), True),
    ("pipeline", "BranchName"): ("a branch", ("CodeCommit", "CodeConnection"), False),
    ("prep", "GitCloneUrl"): ("a clone URL", ("CodeConnection",), False),
}


@dataclass(frozen=True)
class DeployParameters:
    """A checked parameters file: the project and each stack's CloudFormation parameters."""

    project: str
    prep: dict[str, str]
    pipeline: dict[str, str]


def _as_parameter_value(where: str, key: str, value: Any) -> str:
    # CloudFormation takes strings; JSON numbers and booleans, and an object for Hyperparameters,
    # are accepted for convenience and written the way the templates expect them.
    if key == HYPERPARAMETERS:
        return _hyperparameters(where, value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise Failure(
        f"{where}: expected a string, number or boolean, got {value!r}"
        + (f" (only {HYPERPARAMETERS} takes an object)" if isinstance(value, dict) else "")
    )


def _hyperparameters(where: str, value: Any) -> str:
    """The Hyperparameters text, given as an object or as its JSON text, checked as TrainModel
    checks it (strings only, then the container's own table), so a mistake fails here, before
    the stacks, not in the first run."""
    document = value
    if isinstance(value, str):
        try:
            document = json.loads(value)
        except json.JSONDecodeError:
            document = None
    if not isinstance(document, dict):
        raise Failure(
            f'{where}: expected a JSON object of strings such as {{"alpha": "0.3"}}, got {value!r}'
        )
    not_strings = [f"{k}={json.dumps(v)}" for k, v in document.items() if not isinstance(v, str)]
    if not_strings:
        raise Failure(
            f'{where}: hyperparameter values must be strings (write 6 as "6"): '
            + ", ".join(not_strings)
        )
    try:
        parse_hyperparameters(document)
    except HyperparameterError as error:
        raise Failure(f"{where}: {error}") from None
    return value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))


def check_section(
    path: Path, section: str, given: dict[str, Any], stack: str, managed: dict[str, str]
) -> dict[str, str]:
    """Refuse unknown, managed or malformed keys; return the values as strings."""
    declared = template(stack)["Parameters"]
    values = {}
    for key, raw in given.items():
        where = f"{path}: {section}{key}"
        if key in managed:
            raise Failure(f"{where}: {managed[key]}; remove it")
        if key not in declared:
            close = difflib.get_close_matches(key, declared, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise Failure(
                f"{where}: unknown parameter, {TEMPLATES[stack].relative_to(REPO_ROOT)} "
                f"has no parameter {key!r}{hint}"
            )
        value = _as_parameter_value(where, key, raw)
        problem = violation(key, declared[key], value)
        if problem:
            raise Failure(f"{where}={value!r}: {problem}")
        values[key] = value
    missing = [k for k, v in declared.items() if "Default" not in v and k not in managed]
    missing = [k for k in missing if k not in values]
    if missing:
        raise Failure(f"{path}: {section}{missing[0]} is required")
    return values


def deploy_sets(project: str) -> dict[str, str]:
    """Pipeline parameters deploy fills in itself, each with why."""
    managed = {"PrepStackName": f"deploy sets it to {stack_name(project, 'prep')}"}
    for function in lambda_functions().values():
        for name in (function.zip_key_parameter, function.zip_version_parameter):
            if name is not None:
                managed[name] = "deploy sets it to the zip it uploads"
    return managed


def check_source(path: Path, sections: dict[str, dict[str, str]]) -> None:
    """Refuse a source parameter the chosen source ignores, or one it needs left out."""
    source = sections["pipeline"][SOURCE]
    for (section, key), (what, sources, needed) in SOURCE_PARAMETERS.items():
        given = bool(sections[section].get(key))  # "" is the template's default: none
        where = f"{path}: {section}.{key}"
        if given and source not in sources:
            takes = "source takes" if len(sources) == 1 else "sources take"
            raise Failure(
                f"{where}: only the {' and '.join(sources)} {takes} {what} "
                f"(SourceProvider is {source}); remove it or set pipeline.{SOURCE} to "
                + " or ".join(sources)
            )
        if needed and not given and source in sources:
            raise Failure(f"{where} is required when pipeline.{SOURCE} is {source}")


def _document(path: Path) -> dict[str, Any]:
    """The file's JSON object, or one error line naming what is wrong with it."""
    if not path.is_file():
        raise Failure(f"{path} does not exist: copy deploy/parameters.example.json and edit it")
    data = path.read_bytes()
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise Failure(
            f"{path} is not UTF-8 text (byte {err.start} is {data[err.start]:#04x}): "
            "save it as UTF-8 JSON"
        ) from None
    except json.JSONDecodeError as err:
        raise Failure(f"{path} is not valid JSON: {err}") from None
    if not isinstance(document, dict) or "ProjectName" not in document:
        raise Failure(f"{path}: expected a JSON object with ProjectName, prep and pipeline")
    unknown = sorted(set(document) - {"ProjectName", *SECTIONS})
    if unknown:
        raise Failure(
            f"{path}: unknown top-level key {unknown[0]!r}; expected ProjectName, prep, pipeline"
        )
    return document


def read_parameters(path: Path) -> DeployParameters:
    """Load and check a parameters file against both templates, before any AWS call."""
    document = _document(path)
    sections = {section: document.get(section, {}) for section in SECTIONS}
    for section, given in sections.items():
        if not isinstance(given, dict):
            raise Failure(f"{path}: {section} must be a JSON object of parameter names to values")
    prep = check_section(path, "", {"ProjectName": document["ProjectName"]}, "prep", {})
    prep |= check_section(
        path,
        "prep.",
        sections["prep"],
        "prep",
        {
            "ProjectName": "goes at the top level of the file, not under prep",
            SOURCE: f"deploy sets it from pipeline.{SOURCE}",
        },
    )
    project = prep["ProjectName"]
    pipeline = check_section(
        path, "pipeline.", sections["pipeline"], "pipeline", deploy_sets(project)
    )
    # Both stacks get the source explicitly: the template's default when the file names none.
    pipeline.setdefault(SOURCE, str(template("pipeline")["Parameters"][SOURCE]["Default"]))
    prep[SOURCE] = pipeline[SOURCE]
    check_source(path, {"prep": prep, "pipeline": pipeline})
    return DeployParameters(project, prep, pipeline)
