"""Data-quality checks: the current statistics against the baseline constraints and statistics.

The check types and their settings are Model Monitor's (model-monitor-interpreting-violations,
model-monitor-byoc-constraints); each violation's description imitates the analyzer's wording
(docs/monitor.md lists the real examples it follows). Thresholds are read as shares allowed to
fail: data_type_check flags a feature when less than 1 - datatype_check_threshold of its
non-empty values have the baseline's type, categorical_values_check when less than
1 - domain_content_threshold of them lie in the baseline's domain; completeness_check when the
share of non-empty values is below the constraint's completeness; baseline_drift_check when the
distance (distance.py) exceeds comparison_threshold (numbers) or categorical_comparison_threshold
(categories; for ChiSquared, when the p-value falls below it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tabular_container.baseline import MONITORING_CONFIG
from tabular_container.monitoring.constants import DISABLED, ENABLED
from tabular_container.monitoring.dataset import TypeCounts
from tabular_container.monitoring.distance import (
    CHI_SQUARED,
    LINFINITY,
    categorical_distance,
    numerical_distance,
)

COMPLETENESS_TOLERANCE = 1e-12

DRIFT_CHECK = "baseline_drift_check"  # the constraint_check_type of a drifted feature


def percent(share: float) -> str:
    """A share as the analyzer prints it: 100.0, 99.7175."""
    return repr(round(share * 100, 4))


@dataclass
class Findings:
    """The violations found and the drift distance of each feature compared."""

    violations: list[dict[str, str]] = field(default_factory=list)
    drift: dict[str, float] = field(default_factory=dict)

    def flag(self, feature: str, check: str, description: str) -> None:
        self.violations.append(
            {"feature_name": feature, "constraint_check_type": check, "description": description}
        )


def monitoring_config(constraints: dict[str, Any] | None) -> dict[str, Any]:
    """The constraints' monitoring_config over the defaults baseline.py suggests."""
    given = (constraints or {}).get("monitoring_config", {})
    distribution = {
        **MONITORING_CONFIG["distribution_constraints"],
        **given.get("distribution_constraints", {}),
    }
    return {**MONITORING_CONFIG, **given, "distribution_constraints": distribution}


def _overrides(feature: dict[str, Any]) -> dict[str, Any]:
    # The SDK's set_monitoring writes monitoring_config_overrides; the DG page spells it camelCase.
    return (
        feature.get("monitoring_config_overrides") or feature.get("monitoringConfigOverrides") or {}
    )


def _numbers(feature: dict[str, Any] | None) -> dict[str, Any] | None:
    return (feature or {}).get("numerical_statistics")


def _categories(feature: dict[str, Any] | None) -> dict[str, int] | None:
    strings = (feature or {}).get("string_statistics")
    if strings is None:
        return None
    buckets = strings.get("distribution", {}).get("categorical", {}).get("buckets", [])
    return {str(bucket["value"]): int(bucket["count"]) for bucket in buckets}


def _sketch(numbers: dict[str, Any] | None) -> list[list[float]] | None:
    if numbers is None:
        return None
    return numbers.get("distribution", {}).get("kll", {}).get("sketch", {}).get("data")


def check(
    constraints: dict[str, Any] | None,
    baseline: dict[str, Any] | None,
    current: dict[str, Any],
    counts: dict[str, TypeCounts],
    supplied: set[str],
    extras: Iterable[str],
) -> Findings:
    """Every check the constraints ask for; nothing to check without a baseline."""
    findings = Findings()
    if constraints is None and baseline is None:
        return findings
    config = monitoring_config(constraints)
    if config.get("evaluate_constraints", ENABLED) == DISABLED:
        return findings
    features = (constraints or baseline or {})["features"]
    baseline_by_name = {f["name"]: f for f in (baseline or {}).get("features", [])}
    current_by_name = {f["name"]: f for f in current["features"]}
    present = sum(1 for feature in features if feature["name"] in supplied)
    extra = sorted(set(extras))
    for feature in features:
        name = feature["name"]
        settings = {**config, **_overrides(feature)}
        if settings.get("evaluate_constraints", ENABLED) == DISABLED:
            continue
        if name not in supplied:
            findings.flag(
                name,
                "missing_column_check",
                "There are missing columns in current dataset. Number of columns in current "
                f"dataset: {present + len(extra)}, Number of columns in baseline constraints: "
                f"{len(features)}",
            )
            continue
        tally = counts[name]
        _completeness(findings, feature, tally)
        if constraints is not None:
            _data_type(findings, feature, tally, float(settings["datatype_check_threshold"]))
            _domain(findings, feature, current_by_name.get(name), settings)
        _drift(findings, name, baseline_by_name.get(name), current_by_name.get(name), settings)
    for name in extra:
        findings.flag(
            name,
            "extra_column_check",
            "There are extra columns in current dataset. Number of columns in current dataset: "
            f"{present + len(extra)}, Number of columns in baseline constraints: {len(features)}",
        )
    return findings


def _completeness(findings: Findings, feature: dict[str, Any], tally: TypeCounts) -> None:
    expected = feature.get("completeness")
    if expected is None or tally.completeness >= float(expected) - COMPLETENESS_TOLERANCE:
        return
    findings.flag(
        feature["name"],
        "completeness_check",
        f"Data completeness requirement is not met. Expected completeness: "
        f"{percent(float(expected))}%. Observed: Only {percent(tally.completeness)}% of data "
        "is non-null.",
    )


def _data_type(
    findings: Findings, feature: dict[str, Any], tally: TypeCounts, threshold: float
) -> None:
    expected = feature.get("inferred_type")
    if expected not in ("Integral", "Fractional"):
        return  # a String feature takes any value; Unknown checks nothing
    share = tally.share_of(expected)
    if share >= 1.0 - threshold:
        return
    seen = f" (e.g. {', '.join(repr(s) for s in tally.strings)})" if tally.strings else ""
    findings.flag(
        feature["name"],
        "data_type_check",
        f"Data type match requirement is not met. Expected data type: {expected}, Expected "
        f"match: {percent(1.0 - threshold)}%. Observed: Only {percent(share)}% of data is "
        f"{expected}{seen}.",
    )


def _domain(
    findings: Findings,
    feature: dict[str, Any],
    current: dict[str, Any] | None,
    settings: dict[str, Any],
) -> None:
    domains = feature.get("string_constraints", {}).get("domains")
    categories = _categories(current)
    if not domains or categories is None:
        return
    total = sum(categories.values())
    outside = {value: count for value, count in categories.items() if value not in set(domains)}
    share = 1.0 - sum(outside.values()) / total if total else 1.0
    if share >= 1.0 - float(settings["domain_content_threshold"]):
        return
    unknown = ", ".join(sorted(outside)[:5])
    findings.flag(
        feature["name"],
        "categorical_values_check",
        f"Categorical value requirement is not met. Expected: at least "
        f"{percent(1.0 - float(settings['domain_content_threshold']))}% of data in the baseline "
        f"domain [{', '.join(domains)}]. Observed: Only {percent(share)}% of data is in it "
        f"(values outside it: {unknown}).",
    )


def _drift(
    findings: Findings,
    name: str,
    baseline: dict[str, Any] | None,
    current: dict[str, Any] | None,
    settings: dict[str, Any],
) -> None:
    distribution = settings["distribution_constraints"]
    if distribution.get("perform_comparison", ENABLED) == DISABLED or baseline is None:
        return
    method = distribution.get("comparison_method", "Robust")
    sketches = _sketch(_numbers(baseline)), _sketch(_numbers(current))
    if sketches[0] is not None and sketches[1] is not None:
        distance = numerical_distance(sketches[0], sketches[1], method)
        threshold = float(distribution["comparison_threshold"])
        findings.drift[name] = distance
        if distance > threshold:
            findings.flag(
                name,
                DRIFT_CHECK,
                f"Baseline drift distance: {distance:.6g} exceeds threshold: {threshold:g}",
            )
        return
    categories = _categories(baseline), _categories(current)
    if categories[0] is None or categories[1] is None:
        return
    drift_method = distribution.get("categorical_drift_method", LINFINITY)
    threshold = float(distribution["categorical_comparison_threshold"])
    distance = categorical_distance(categories[0], categories[1], method, drift_method)
    findings.drift[name] = distance
    if drift_method == CHI_SQUARED:
        if distance < threshold:
            findings.flag(
                name,
                DRIFT_CHECK,
                f"Baseline drift p-value: {distance:.6g} is below threshold: {threshold:g} "
                "(ChiSquared)",
            )
    elif distance > threshold:
        findings.flag(
            name,
            DRIFT_CHECK,
            f"Baseline drift distance: {distance:.6g} exceeds threshold: {threshold:g}",
        )
