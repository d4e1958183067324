"""The baseline files a job is given, read and checked before any record is.

A malformed file fails the job with a reason that names the variable, the file and what is
wrong with it, so the message says which file to fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tabular_container.errors import UserError


def _document(path: Path, variable: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{variable} file {path} cannot be read: {error}") from None
    except ValueError as error:
        raise UserError(f"{variable} file {path} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise UserError(f"{variable} file {path} is not a JSON object")
    return document


def _features(document: dict[str, Any], path: Path, variable: str) -> list[dict[str, Any]]:
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise UserError(f"{variable} file {path} has no 'features' list")
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            raise UserError(f"{variable} file {path}: features[{i}] has no 'name'")
        if not isinstance(feature.get("inferred_type", ""), str):
            raise UserError(f"{variable} file {path}: features[{i}] 'inferred_type' is not text")
    return features


def data_statistics(path: Path, variable: str) -> dict[str, Any]:
    """A data-quality statistics.json: its features must have names, and numbers sketches."""
    document = _document(path, variable)
    for feature in _features(document, path, variable):
        numbers = feature.get("numerical_statistics")
        if numbers is not None:
            try:
                sketch = numbers.get("distribution", {}).get("kll", {}).get("sketch", {})
                data = sketch.get("data", [])
            except AttributeError:
                data = None
            if not isinstance(data, list) or not all(isinstance(level, list) for level in data):
                raise UserError(
                    f"{variable} file {path}: feature {feature['name']}'s KLL sketch 'data' "
                    "is not a list of levels"
                )
    return document


def data_constraints(path: Path, variable: str) -> dict[str, Any]:
    """A data-quality constraints.json: named features and an optional monitoring_config."""
    document = _document(path, variable)
    _features(document, path, variable)
    if not isinstance(document.get("monitoring_config", {}), dict):
        raise UserError(f"{variable} file {path}: 'monitoring_config' is not an object")
    return document


def model_constraints(path: Path, variable: str, key: str) -> dict[str, Any]:
    """A model-quality constraints.json: {key: {metric: {threshold, comparison_operator}}}."""
    document = _document(path, variable)
    section = document.get(key)
    if not isinstance(section, dict):
        raise UserError(f"{variable} file {path} has no '{key}' object")
    for metric, rule in section.items():
        if (
            not isinstance(rule, dict)
            or not isinstance(rule.get("threshold"), (int, float))
            or not isinstance(rule.get("comparison_operator"), str)
        ):
            raise UserError(
                f"{variable} file {path}: {key}.{metric} needs a numeric 'threshold' and a "
                "'comparison_operator'"
            )
    return document
