"""The `monitor` program: one Model Monitor job, configured by its environment, then exit.

Modes (settings.py decides which): baseline (statistics and suggested constraints of a data
set), merge (captures joined with ground truth, as AWS's groundtruth-merger), and analysis of
captured (or merged) records for data quality or model quality. The job ends with the message
SageMaker shows for the execution in <base>/output/message: "Completed: ..." or
"CompletedWithViolations: ..." (exit 0), else the reason it failed (exit 1 for bad input, 2 for
our own errors).
"""

from __future__ import annotations

import sys
import time
import traceback
from array import array
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tabular_container.constants import EXIT_FRAMEWORK_ERROR, EXIT_USER_ERROR
from tabular_container.errors import UserError
from tabular_container.monitoring import baselines, baselining, data_quality, model_quality
from tabular_container.monitoring.bodies import InputDecoder, body_text, predictions
from tabular_container.monitoring.cloudwatch import MetricWriter
from tabular_container.monitoring.constants import (
    BASELINE_CONSTRAINTS_ENV,
    BASELINE_STATISTICS_ENV,
    CAPTURE_FORMAT,
    COMPLETED,
    COMPLETED_WITH_VIOLATIONS,
    CONSTRAINTS_FILE,
    DATA_QUALITY,
    DISABLED,
    DRIFT_VIOLATIONS_METRIC,
    MODEL_QUALITY,
    NO_DATA,
    REPORT_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
)
from tabular_container.monitoring.dataset import CurrentData
from tabular_container.monitoring.merge import merged, read_labels, write_merged
from tabular_container.monitoring.records import Record, capture_records
from tabular_container.monitoring.settings import (
    BASELINE,
    MERGE,
    MonitorPaths,
    MonitorSettings,
)
from tabular_container.paths import SageMakerPaths

CHUNK_RECORDS = 16_384  # capture records decoded per batch


class NoData(UserError):
    """Nothing to analyse in the job's inputs: AWS's own failure, with its wording."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(NO_DATA + (f": {detail}" if detail else ""))


def _write_outputs(settings: MonitorSettings, documents: dict[str, dict[str, Any]]) -> None:
    for name, document in documents.items():
        baselining.write_json(settings.output_path / name, document)


def _metric_writer(settings: MonitorSettings, kind: str) -> MetricWriter:
    moment = settings.metric_time or settings.end_time or datetime.now(UTC)
    return MetricWriter(kind, moment, settings.endpoint_name, settings.schedule_name)


def baseline_job(settings: MonitorSettings, counts: Counter[str]) -> int:
    """statistics.json and suggested constraints.json of the data set."""
    source = baselining.open_source(settings)
    if settings.analysis == MODEL_QUALITY:
        statistics = baselining.model_quality_statistics(source, settings)
        constraints = model_quality.suggested_constraints(statistics)
    else:
        excluded = {*settings.excluded_features}
        excluded |= {
            a for a in (settings.ground_truth_attribute, settings.inference_attribute) if a
        }
        profile = baselining.data_quality(source, excluded)
        statistics, constraints = profile.statistics(), profile.constraints()
    counts["records"] = statistics["dataset"]["item_count"]
    _write_outputs(settings, {STATISTICS_FILE: statistics, CONSTRAINTS_FILE: constraints})
    return 0


def merge_job(settings: MonitorSettings, counts: Counter[str]) -> int:
    """Merged records under output_path, and their counts in the report."""
    assert settings.ground_truth_source is not None
    labels = read_labels(settings.ground_truth_source, counts)
    captures = capture_records(settings, counts)
    written = write_merged(
        merged(captures, labels, counts), settings.dataset_source, settings.output_path
    )
    if counts["records"] == 0:
        raise NoData("no captured record in dataset_source")
    counts["written"] = written
    return 0


def _names_and_types(
    statistics: dict[str, Any] | None, constraints: dict[str, Any] | None
) -> tuple[list[str] | None, dict[str, str] | None]:
    baseline = statistics or constraints
    if baseline is None:
        return None, None
    features = baseline["features"]
    return [f["name"] for f in features], {f["name"]: f.get("inferred_type", "") for f in features}


def data_quality_job(settings: MonitorSettings, paths: MonitorPaths, counts: Counter[str]) -> int:
    """Current statistics of the captured requests, checked against the baseline."""
    statistics = constraints = None
    if settings.baseline_statistics:
        statistics = baselines.data_statistics(
            settings.baseline_statistics, BASELINE_STATISTICS_ENV
        )
    if settings.baseline_constraints:
        constraints = baselines.data_constraints(
            settings.baseline_constraints, BASELINE_CONSTRAINTS_ENV
        )
    names, types = _names_and_types(statistics, constraints)
    known = [*settings.excluded_features, *filter(None, [settings.ground_truth_attribute])]
    decoder = InputDecoder(names, known)
    data: CurrentData | None = None
    pending = 0

    def flush() -> None:
        nonlocal data, pending
        cells = decoder.take()
        pending = 0
        if decoder.names is None or not len(cells):
            return
        if data is None:
            data = CurrentData(decoder.names, types)
        data.add(cells)

    for _, record in capture_records(settings, counts):
        entry = record["captureData"].get("endpointInput")
        if entry is None:
            counts["without_input"] += 1
            continue
        body = body_text(entry, counts)
        if body is not None:
            counts["rows"] += decoder.add(*body, counts)
            pending += 1
            if pending >= CHUNK_RECORDS:
                flush()
    flush()
    if counts["records"] == 0:
        raise NoData()
    if data is None or data.rows == 0:
        raise NoData(
            f"{counts['records']} captured records, none with a request body to read "
            f"({counts['base64_skipped']} BASE64 bodies skipped, "
            f"{counts['unreadable_bodies']} unreadable)"
        )
    profile = data.profile()
    current = profile.statistics()
    extras = [name for name in decoder.extras if name not in known]
    findings = data_quality.check(
        constraints, statistics, current, data.counts, decoder.supplied, extras
    )
    _write_outputs(
        settings,
        {
            STATISTICS_FILE: current,
            CONSTRAINTS_FILE: constraints or profile.constraints(),
            VIOLATIONS_FILE: {"violations": findings.violations},
        },
    )
    config = data_quality.monitoring_config(constraints)
    if settings.publish_metrics and config.get("emit_metrics") != DISABLED:
        writer = _metric_writer(settings, DATA_QUALITY)
        for feature in current["features"]:
            name = feature["name"]
            numbers = feature.get("numerical_statistics")
            if numbers and numbers["common"]["num_present"]:
                writer.statistics(
                    f"feature_data_{name}",
                    numbers["common"]["num_present"],
                    numbers["sum"],
                    numbers["min"],
                    numbers["max"],
                )
            writer.value(f"feature_non_null_{name}", data.counts[name].completeness)
            if name in findings.drift:
                writer.value(f"feature_baseline_drift_{name}", findings.drift[name])
        checks = [v["constraint_check_type"] for v in findings.violations]
        writer.value(
            DRIFT_VIOLATIONS_METRIC,
            checks.count(data_quality.DRIFT_CHECK),
            also_per_endpoint=True,
        )
        writer.write(paths.metrics_dir)
    return len(findings.violations)


def _labels(truth: dict[str, Any]) -> list[float] | None:
    try:
        return [float(v) for v in str(truth["data"]).replace("\n", ",").split(",") if v.strip()]
    except (ValueError, KeyError):
        return None


def model_quality_job(settings: MonitorSettings, paths: MonitorPaths, counts: Counter[str]) -> int:
    """Regression metrics of the predictions against their labels, checked against the baseline."""
    constraints = None
    if settings.baseline_constraints:
        constraints = baselines.model_constraints(
            settings.baseline_constraints, BASELINE_CONSTRAINTS_ENV, model_quality.SECTION
        )
    records: Iterator[tuple[Path, Record]] = capture_records(settings, counts)
    assert settings.dataset_format is not None
    if settings.dataset_format.kind == CAPTURE_FORMAT:
        if settings.ground_truth_source is None:
            raise UserError(
                "model quality on capture data needs ground_truth_source (the labels), or "
                'dataset_format {"sagemakerMergeJson":...} on merged data'
            )
        records = merged(records, read_labels(settings.ground_truth_source, counts), counts)
    predicted, actual = array("d"), array("d")
    for _, record in records:
        truth = record.get("groundTruthData")
        if not isinstance(truth, dict):
            counts["captured_without_label"] += 1
            continue
        body = body_text(record["captureData"].get("endpointOutput"), counts)
        values = predictions(body[1], body[0], settings.inference_attribute) if body else None
        labels = _labels(truth)
        if values is None or labels is None or len(values) != len(labels):
            counts["unusable_pairs"] += 1
            continue
        predicted.extend(values)
        actual.extend(labels)
    if counts["records"] == 0:
        raise NoData()
    if not actual:
        raise NoData(f"{counts['records']} captured records, none with a usable label")
    counts["pairs"] = len(actual)
    current = model_quality.statistics(np.frombuffer(actual), np.frombuffer(predicted))
    violations = model_quality.violations(constraints, current) if constraints else []
    _write_outputs(
        settings,
        {
            STATISTICS_FILE: current,
            CONSTRAINTS_FILE: constraints or model_quality.suggested_constraints(current),
            VIOLATIONS_FILE: {"violations": violations},
        },
    )
    if settings.publish_metrics:
        writer = _metric_writer(settings, MODEL_QUALITY)
        for name, metric in current[model_quality.METRICS_SECTION].items():
            writer.value(name, metric["value"], also_per_endpoint=True)
        writer.write(paths.metrics_dir)
    return len(violations)


def run(settings: MonitorSettings, paths: MonitorPaths) -> int:
    """Run the job the settings describe; the number of violations found."""
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    if settings.mode == BASELINE:
        found = baseline_job(settings, counts)
    elif settings.mode == MERGE:
        found = merge_job(settings, counts)
    elif settings.analysis == MODEL_QUALITY:
        found = model_quality_job(settings, paths, counts)
    else:
        found = data_quality_job(settings, paths, counts)
    seconds = time.perf_counter() - started
    report = {
        "mode": settings.mode,
        "analysis": settings.analysis,
        "counts": dict(sorted(counts.items())),
        "violations": found,
        "seconds": round(seconds, 3),
    }
    baselining.write_json(settings.output_path / REPORT_FILE, report)
    print(f"monitor: {settings.mode} {settings.analysis}: {report['counts']} in {seconds:.2f} s")
    return found


def _finish(paths: MonitorPaths, message: str, code: int) -> int:
    paths.message_file.parent.mkdir(parents=True, exist_ok=True)
    paths.message_file.write_text(message, encoding="utf-8")
    print(message, file=sys.stderr if code else sys.stdout)
    return code


def main() -> int:
    """Run `monitor`; exit 0 (with or without violations), 1 for bad input, 2 for our bugs."""
    paths = MonitorPaths(SageMakerPaths.from_environ().base)
    try:
        found = run(MonitorSettings.from_environ(paths=paths), paths)
    except UserError as error:
        return _finish(paths, str(error).splitlines()[0], EXIT_USER_ERROR)
    except Exception as error:
        traceback.print_exc()
        reason = (
            "Internal error in the monitoring container (not caused by your input): "
            f"{type(error).__name__}: {error}"
        ).splitlines()[0]
        return _finish(paths, reason, EXIT_FRAMEWORK_ERROR)
    finally:
        sys.stdout.flush()
    message = COMPLETED_WITH_VIOLATIONS.format(found) if found else COMPLETED
    return _finish(paths, message, 0)
