"""The job's settings: Model Monitor's environment, read once and checked, and the job's mode.

The analyzer is configured by environment variables only; processingjobconfig.json (under the
base directory's config/) holds the same map under "Environment" and is read as a fallback, the
environment winning. A bad value fails the job with a reason that names the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tabular_container.errors import UserError
from tabular_container.monitoring.constants import (
    ANALYSIS_TYPE_ENV,
    BASELINE_CONSTRAINTS_ENV,
    BASELINE_STATISTICS_ENV,
    CAPTURE_FORMAT,
    CSV_FORMAT,
    DATA_QUALITY,
    DATASET_FORMAT_ENV,
    DATASET_SOURCE_ENV,
    DISABLED,
    ENABLED,
    END_TIME_ENV,
    ENDPOINT_NAME_ENV,
    EXCLUDE_FEATURES_ENV,
    GROUND_TRUTH_ATTRIBUTE_ENV,
    GROUND_TRUTH_SOURCE_ENV,
    INFERENCE_ATTRIBUTE_ENV,
    JSON_FORMAT,
    MERGE_FORMAT,
    METRIC_TIME_ENV,
    MODEL_QUALITY,
    MODEL_QUALITY_ANALYSIS,
    OUTPUT_PATH_ENV,
    PROBLEM_TYPE_ENV,
    PROBLEM_TYPES,
    PUBLISH_METRICS_ENV,
    REGRESSION,
    SCHEDULE_NAME_ENV,
    START_TIME_ENV,
)
from tabular_container.paths import SageMakerPaths

BASELINE, MERGE, ANALYSIS = "baseline", "merge", "analysis"
FORMATS = (CSV_FORMAT, JSON_FORMAT, CAPTURE_FORMAT, MERGE_FORMAT)


@dataclass(frozen=True)
class MonitorPaths:
    """The fixed outputs of a monitoring container, under SageMakerPaths' base directory."""

    base: Path

    @property
    def message_file(self) -> Path:
        """The one-line outcome SageMaker shows as the execution's ExitMessage."""
        return self.base / "output" / "message"

    @property
    def metrics_dir(self) -> Path:
        """Where CloudWatch metric files go (model-monitor-byoc-cloudwatch)."""
        return self.base / "output" / "metrics" / "cloudwatch"

    @property
    def job_config_file(self) -> Path:
        """The processing job's configuration, as the sample BYOC containers read it."""
        return self.base / "config" / "processingjobconfig.json"


@dataclass(frozen=True)
class DatasetFormat:
    """dataset_format: which reader, and for CSV whether the first line is a header."""

    kind: str
    header: bool = False


@dataclass(frozen=True)
class MonitorSettings:
    """Everything the job reads from its environment."""

    mode: str
    analysis: str  # DATA_QUALITY or MODEL_QUALITY
    dataset_format: DatasetFormat | None
    dataset_source: Path
    output_path: Path
    ground_truth_source: Path | None
    start_time: datetime | None
    end_time: datetime | None
    metric_time: datetime | None
    publish_metrics: bool
    endpoint_name: str | None
    schedule_name: str | None
    baseline_statistics: Path | None
    baseline_constraints: Path | None
    problem_type: str | None
    inference_attribute: str | None
    ground_truth_attribute: str | None
    excluded_features: tuple[str, ...]

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] = os.environ, paths: MonitorPaths | None = None
    ) -> MonitorSettings:
        """Read and check every variable at once, so a bad one fails before any data is read."""
        paths = paths or MonitorPaths(SageMakerPaths.from_environ(environ).base)
        env = {**_job_environment(paths.job_config_file), **environ}
        dataset_format = _dataset_format(env)
        ground_truth = _path(env, GROUND_TRUTH_SOURCE_ENV)
        analysis = _analysis(env)
        mode = _mode(dataset_format, ground_truth)
        merged = dataset_format is not None and dataset_format.kind == MERGE_FORMAT
        if mode == ANALYSIS and merged and analysis != MODEL_QUALITY:
            raise UserError(
                f"{DATASET_FORMAT_ENV} {MERGE_FORMAT} holds merged labels, for "
                f"{ANALYSIS_TYPE_ENV}={MODEL_QUALITY_ANALYSIS} only"
            )
        problem_type = _text(env, PROBLEM_TYPE_ENV)
        if analysis == MODEL_QUALITY and mode != MERGE:
            _check_problem_type(problem_type)
        inference, truth = (
            _text(env, INFERENCE_ATTRIBUTE_ENV),
            _text(env, GROUND_TRUTH_ATTRIBUTE_ENV),
        )
        if analysis == MODEL_QUALITY and mode == BASELINE and not (inference and truth):
            raise UserError(
                f"a model-quality baseline needs {INFERENCE_ATTRIBUTE_ENV} and "
                f"{GROUND_TRUTH_ATTRIBUTE_ENV}: the columns of the predictions and the labels"
            )
        start, end = _time(env, START_TIME_ENV), _time(env, END_TIME_ENV)
        if start and end and start >= end:
            raise UserError(
                f"{START_TIME_ENV} {start:%Y-%m-%dT%H:%M:%SZ} is not before {END_TIME_ENV}"
            )
        excluded = tuple(
            name.strip()
            for name in (_text(env, EXCLUDE_FEATURES_ENV) or "").split(",")
            if name.strip()
        )
        return cls(
            mode=mode,
            analysis=analysis,
            dataset_format=dataset_format,
            dataset_source=_required_path(env, DATASET_SOURCE_ENV),
            output_path=_required_path(env, OUTPUT_PATH_ENV, must_exist=False),
            ground_truth_source=ground_truth,
            start_time=start,
            end_time=end,
            metric_time=_time(env, METRIC_TIME_ENV),
            publish_metrics=_switch(env, PUBLISH_METRICS_ENV, DISABLED),
            endpoint_name=_text(env, ENDPOINT_NAME_ENV),
            schedule_name=_text(env, SCHEDULE_NAME_ENV),
            baseline_statistics=_path(env, BASELINE_STATISTICS_ENV, file=True),
            baseline_constraints=_path(env, BASELINE_CONSTRAINTS_ENV, file=True),
            problem_type=problem_type,
            inference_attribute=inference,
            ground_truth_attribute=truth,
            excluded_features=excluded,
        )

    def in_window(self, moment: datetime) -> bool:
        """Whether an inference time falls in [start_time, end_time)."""
        return (self.start_time is None or moment >= self.start_time) and (
            self.end_time is None or moment < self.end_time
        )


def _job_environment(path: Path) -> dict[str, str]:
    """processingjobconfig.json's Environment, or nothing when SageMaker did not write one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise UserError(f"{path} is not a readable JSON document: {error}") from None
    environment = document.get("Environment") if isinstance(document, dict) else None
    if environment is None:
        return {}
    if not isinstance(environment, dict):
        raise UserError(f"{path}: Environment is not an object of variables")
    return {str(name): str(value) for name, value in environment.items()}


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _path(env: Mapping[str, str], name: str, file: bool = False) -> Path | None:
    """An optional path, used exactly as given; a baseline file must exist."""
    value = _text(env, name)
    if value is None:
        return None
    path = Path(value)
    if file and not path.is_file():
        raise UserError(f"{name}={value!r} is not a file")
    if not file and not path.exists():
        raise UserError(f"{name}={value!r} does not exist")
    return path


def _required_path(env: Mapping[str, str], name: str, must_exist: bool = True) -> Path:
    value = _text(env, name)
    if value is None:
        raise UserError(f"{name} is not set: the job needs it")
    if must_exist and not Path(value).exists():
        raise UserError(f"{name}={value!r} does not exist")
    return Path(value)


def _switch(env: Mapping[str, str], name: str, default: str) -> bool:
    value = _text(env, name) or default
    if value not in (ENABLED, DISABLED):
        raise UserError(f"{name}={value!r} is neither {ENABLED} nor {DISABLED}")
    return value == ENABLED


def _time(env: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 instant such as 2020-02-19T06:00:00Z (a zone-less one is taken as UTC)."""
    value = _text(env, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"{name}={value!r} is not an ISO 8601 time such as 2024-01-31T05:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _analysis(env: Mapping[str, str]) -> str:
    value = _text(env, ANALYSIS_TYPE_ENV)
    if value is None:
        return DATA_QUALITY  # the SDK's DefaultModelMonitor never sets it
    if value != MODEL_QUALITY_ANALYSIS:
        raise UserError(
            f"{ANALYSIS_TYPE_ENV}={value!r} is not supported: leave it unset for data quality, "
            f"or set {MODEL_QUALITY_ANALYSIS}"
        )
    return MODEL_QUALITY


def _check_problem_type(value: str | None) -> None:
    if value == REGRESSION:
        return
    if value is None:
        raise UserError(f"{PROBLEM_TYPE_ENV} is not set: model quality needs it ({REGRESSION})")
    known = value in PROBLEM_TYPES
    raise UserError(
        f"{PROBLEM_TYPE_ENV}={value!r} is not supported: this container's model is a regression, "
        f"so only {REGRESSION} is"
        + ("" if known else f" (Model Monitor knows {', '.join(PROBLEM_TYPES)})")
    )


def _dataset_format(env: Mapping[str, str]) -> DatasetFormat | None:
    value = _text(env, DATASET_FORMAT_ENV)
    if value is None:
        return None
    try:
        document: Any = json.loads(value)
    except ValueError:
        raise UserError(f"{DATASET_FORMAT_ENV}={value!r} is not JSON") from None
    keys = [key for key in document if key != "compression"] if isinstance(document, dict) else []
    if len(keys) != 1 or keys[0] not in FORMATS:
        raise UserError(
            f"{DATASET_FORMAT_ENV}={value!r} must name one format of {', '.join(FORMATS)}, "
            'e.g. {"sagemakerCaptureJson":{"captureIndexNames":["endpointInput","endpointOutput"]}}'
        )
    options = document[keys[0]] if isinstance(document[keys[0]], dict) else {}
    if keys[0] == JSON_FORMAT and options.get("lines", options.get("line", True)) is False:
        raise UserError(
            f'{DATASET_FORMAT_ENV}: only JSON lines are read ({{"json":{{"lines":true}}}})'
        )
    return DatasetFormat(keys[0], header=bool(options.get("header", False)))


def _mode(dataset_format: DatasetFormat | None, ground_truth: Path | None) -> str:
    if dataset_format is None:
        if ground_truth is None:
            raise UserError(
                f"{DATASET_FORMAT_ENV} is not set "
                f"(and there is no {GROUND_TRUTH_SOURCE_ENV} for a merge job)"
            )
        return MERGE
    return BASELINE if dataset_format.kind in (CSV_FORMAT, JSON_FORMAT) else ANALYSIS
