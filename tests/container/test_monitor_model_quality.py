"""The `monitor` program's ground-truth merge and model-quality analysis, run as a process.

The baseline constraints are the ones the model registry step writes (lambdas/register_model's
model_quality_constraints), so the analysis is held to the very format the pipeline produces.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from tests.container.test_monitor import (
    TARGET,
    capture_record,
    csv_line,
    read_with_the_sdk,
    run_monitor,
    write_capture,
)

MERGED_FORMAT = '{"sagemakerMergeJson":{"captureIndexNames":["endpointOutput"]}}'
CAPTURE_FORMAT = '{"sagemakerCaptureJson":{"captureIndexNames":["endpointInput","endpointOutput"]}}'
MSE_GATE = 4.6  # the brief's quality gate, as the pipeline registers it


@pytest.fixture(scope="module")
def registry_constraints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """constraints.json exactly as RegisterModel builds it for the registry."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        app = importlib.import_module("lambdas.register_model.app")
    # Its boto3 clients were made at import, for this test's environment: later tests (the
    # Lambda tests' moto) import it again, for theirs.
    sys.modules.pop("lambdas.register_model.app")
    path = tmp_path_factory.mktemp("registry") / "constraints.json"
    path.write_text(json.dumps(app.model_quality_constraints(MSE_GATE)))
    return path


@pytest.fixture(scope="module")
def labelled(abalone_splits: Path) -> pd.DataFrame:
    """Test-split rows with their true rings."""
    return pd.read_csv(abalone_splits / "test" / "test.csv").head(600)


def label(event_id: str, rings: float) -> dict[str, Any]:
    """A ground-truth record (model-monitor-model-quality-merge)."""
    return {
        "groundTruthData": {"data": f"{rings:g}", "encoding": "CSV"},
        "eventMetadata": {"eventId": event_id},
        "eventVersion": "0",
    }


def write_labels(folder: Path, labels: list[dict[str, Any]]) -> Path:
    path = folder / "2024" / "05" / "06" / "23" / f"{uuid.uuid4()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in labels))
    return folder


def traffic(
    frame: pd.DataFrame, error: float, seed: int = 0, with_inference_id: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], np.ndarray]:
    """Captures answered with rings + noise + error, their labels, and the predictions."""
    noise = np.random.default_rng(seed).normal(0, 1.0, len(frame))
    predictions = frame[TARGET].to_numpy(dtype=float) + noise + error
    captures, labels = [], []
    for (_, row), prediction in zip(frame.iterrows(), predictions, strict=True):
        inference_id = str(uuid.uuid4()) if with_inference_id else None
        record = capture_record(
            csv_line(row.drop(TARGET)), prediction=float(prediction), inference_id=inference_id
        )
        captures.append(record)
        labels.append(label(inference_id or record["eventMetadata"]["eventId"], row[TARGET]))
    return captures, labels, predictions


def merge(tmp_path: Path, captures: Path, labels: Path) -> Any:
    """The groundtruth-merger job, configured as AWS configures it (no dataset_format)."""
    return run_monitor(
        tmp_path,
        dataset_source=str(captures),
        ground_truth_source=str(labels),
        output_path=str(tmp_path / "merge"),
    )


def merged_records(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.rglob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_merge_joins_by_inference_id_then_event_id_and_counts_the_rest(tmp_path, labelled):
    # GIVEN captures with an inferenceId (labelled by it) and without one (labelled by eventId)
    with_id, id_labels, _ = traffic(labelled.iloc[:100], 0.0, with_inference_id=True)
    plain, plain_labels, _ = traffic(labelled.iloc[100:200], 0.0)
    # AND a label of a capture's eventId when it has an inferenceId (which must not match),
    # 10 captures without labels, 5 labels of no capture and 3 duplicates
    stray = [label(with_id[0]["eventMetadata"]["eventId"], 1.0)]
    orphans = [label(str(uuid.uuid4()), 7.0) for _ in range(5)]
    labels = id_labels + plain_labels[:-10] + plain_labels[:3] + orphans + stray
    captures = write_capture(tmp_path / "capture", with_id + plain)
    # WHEN the merge job runs
    run = merge(tmp_path, captures, write_labels(tmp_path / "labels", labels))
    # THEN every capture with a matching label is merged, with its label beside captureData
    assert run.returncode == 0, run.stderr
    assert run.message == "Completed: Job completed successfully with no violations."
    records = merged_records(run.output)
    assert len(records) == 190
    by_key = {
        r["eventMetadata"].get("inferenceId") or r["eventMetadata"]["eventId"]: r for r in records
    }
    expected = {
        (record["eventMetadata"].get("inferenceId") or record["eventMetadata"]["eventId"]): truth
        for record, truth in zip(with_id + plain[:-10], id_labels + plain_labels[:-10], strict=True)
    }
    assert {key: r["groundTruthData"] for key, r in by_key.items()} == {
        key: truth["groundTruthData"] for key, truth in expected.items()
    }
    assert all(
        set(r) == {"captureData", "eventMetadata", "eventVersion", "groundTruthData"}
        for r in records
    )
    # AND it lays them out as the capture files were
    (merged_file,) = run.output.rglob("*.jsonl")
    (capture_file,) = captures.rglob("*.jsonl")
    assert merged_file.relative_to(run.output) == capture_file.relative_to(captures)
    counts = run.counts
    assert counts["merged"] == 190
    assert counts["captured_without_label"] == 10
    assert counts["unmatched_labels"] == 5 + 1
    assert counts["duplicate_labels"] == 3


def analyse_merged(tmp_path: Path, merged: Path, constraints: Path | None, **env: str) -> Any:
    settings = {
        "analysis_type": "MODEL_QUALITY",
        "problem_type": "Regression",
        "dataset_format": MERGED_FORMAT,
        "dataset_source": str(merged),
        "inference_attribute": "predictions",
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": "abalone-prod",
        "sagemaker_monitoring_schedule_name": "abalone-model-quality",
        "output_path": str(tmp_path / "quality"),
    }
    if constraints is not None:
        settings["baseline_constraints"] = str(constraints)
    return run_monitor(tmp_path, **{**settings, **env})


def test_good_predictions_meet_the_registry_constraints(tmp_path, labelled, registry_constraints):
    captures, labels, predictions = traffic(labelled, 0.0, seed=1)
    merged = merge(
        tmp_path,
        write_capture(tmp_path / "capture", captures),
        write_labels(tmp_path / "gt", labels),
    )
    assert merged.returncode == 0, merged.stderr
    run = analyse_merged(tmp_path, merged.output, registry_constraints)
    assert run.returncode == 0, run.stderr
    assert run.message == "Completed: Job completed successfully with no violations."
    assert run.violations == []
    metrics = run.document("statistics.json")["regression_metrics"]
    truth = labelled[TARGET].to_numpy(dtype=float)
    assert metrics["mse"]["value"] == pytest.approx(mean_squared_error(truth, predictions))
    assert metrics["mae"]["value"] == pytest.approx(mean_absolute_error(truth, predictions))
    assert metrics["rmse"]["value"] == pytest.approx(
        np.sqrt(mean_squared_error(truth, predictions))
    )
    assert metrics["r2"]["value"] == pytest.approx(r2_score(truth, predictions))
    # 600 pairs: deviations from the subsamples, small and positive
    assert all(0 < metric["standard_deviation"] < 1 for metric in metrics.values())
    # AND the constraints it reports are the registry's
    assert run.document("constraints.json") == json.loads(registry_constraints.read_text())


def test_predictions_off_by_three_rings_violate_mse_and_rmse(
    tmp_path, labelled, registry_constraints, monkeypatch
):
    captures, labels, predictions = traffic(labelled, 3.0, seed=2)
    merged = merge(
        tmp_path,
        write_capture(tmp_path / "capture", captures),
        write_labels(tmp_path / "gt", labels),
    )
    run = analyse_merged(tmp_path, merged.output, registry_constraints)
    assert run.returncode == 0, run.stderr
    assert run.message == "CompletedWithViolations: Job completed successfully with 2 violations."
    mse = mean_squared_error(labelled[TARGET].to_numpy(dtype=float), predictions)
    assert mse > MSE_GATE
    by_metric = {v["metric_name"]: v for v in run.violations}
    assert set(by_metric) == {"mse", "rmse"}
    assert by_metric["mse"] == {
        "constraint_check_type": "GreaterThanThreshold",
        "description": f"Metric mse with {mse:.6g} was GreaterThanThreshold {MSE_GATE:g}",
        "metric_name": "mse",
    }
    # AND the metric files carry the four metrics, and the SDK reads the outputs
    metrics = run.metrics("ModelQuality")
    values = {m["MetricName"]: m["Value"] for m in metrics}
    assert set(values) == {"mae", "mse", "rmse", "r2"}
    assert values["mse"] == pytest.approx(mse)
    # each under the endpoint and schedule, and (for alarms) under the endpoint alone
    assert sorted(len(m["Dimensions"]) for m in metrics) == [1] * 4 + [2] * 4
    statistics, _, violations = read_with_the_sdk(monkeypatch, run)
    assert statistics.body_dict["regression_metrics"]["mse"]["value"] == pytest.approx(mse)
    assert violations.body_dict["violations"] == run.violations


def test_one_job_merges_captures_with_labels_first(tmp_path, labelled, registry_constraints):
    # GIVEN captures, labels for 150 of 200 of them, and 20 labels of no capture
    captures, labels, predictions = traffic(labelled.iloc[:200], 0.5, seed=3)
    orphans = [label(str(uuid.uuid4()), 9.0) for _ in range(20)]
    run = analyse_merged(
        tmp_path,
        write_capture(tmp_path / "capture", captures),
        registry_constraints,
        dataset_format=CAPTURE_FORMAT,
        ground_truth_source=str(write_labels(tmp_path / "gt", labels[:150] + orphans)),
    )
    assert run.returncode == 0, run.stderr
    statistics = run.document("statistics.json")
    assert statistics["dataset"]["item_count"] == 150
    truth = labelled[TARGET].to_numpy(dtype=float)[:150]
    assert statistics["regression_metrics"]["mae"]["value"] == pytest.approx(
        mean_absolute_error(truth, predictions[:150])
    )
    # under 200 pairs Model Monitor reports no deviation
    assert statistics["regression_metrics"]["mae"]["standard_deviation"] == "NaN"
    assert run.counts["unmatched_labels"] == 20
    assert run.counts["captured_without_label"] == 50


def test_csv_answers_are_read_as_predictions(tmp_path, labelled):
    captures, labels, predictions = traffic(labelled.iloc[:50], 0.0, seed=4)
    for record, prediction in zip(captures, predictions, strict=True):
        record["captureData"]["endpointOutput"].update(
            observedContentType="text/csv", data=f"{float(prediction)!r}\n", encoding="CSV"
        )
    run = analyse_merged(
        tmp_path,
        write_capture(tmp_path / "capture", captures),
        None,
        dataset_format=CAPTURE_FORMAT,
        ground_truth_source=str(write_labels(tmp_path / "gt", labels)),
        inference_attribute="0",
    )
    assert run.returncode == 0, run.stderr
    truth = labelled[TARGET].to_numpy(dtype=float)[:50]
    mse = run.document("statistics.json")["regression_metrics"]["mse"]["value"]
    assert mse == pytest.approx(mean_squared_error(truth, predictions))


def test_the_model_quality_baseline_writes_metrics_and_their_constraints(tmp_path, labelled):
    # GIVEN a CSV of predictions and labels, as the SDK's model-quality baselining job reads one
    frame = pd.DataFrame(
        {"prediction": labelled[TARGET] + np.random.default_rng(5).normal(0, 1, len(labelled))}
    )
    frame["label"] = labelled[TARGET]
    folder = tmp_path / "mq-baseline"
    folder.mkdir()
    frame.to_csv(folder / "baseline.csv", index=False)
    run = run_monitor(
        tmp_path,
        analysis_type="MODEL_QUALITY",
        problem_type="Regression",
        dataset_format='{"csv":{"header":true,"output_columns_position":"START"}}',
        dataset_source=str(folder),
        inference_attribute="prediction",
        ground_truth_attribute="label",
        publish_cloudwatch_metrics="Disabled",
    )
    assert run.returncode == 0, run.stderr
    metrics = run.document("statistics.json")["regression_metrics"]
    assert metrics["r2"]["value"] == pytest.approx(r2_score(frame["label"], frame["prediction"]))
    constraints = run.document("constraints.json")["regression_constraints"]
    assert constraints["mse"] == {
        "threshold": pytest.approx(mean_squared_error(frame["label"], frame["prediction"])),
        "comparison_operator": "GreaterThanThreshold",
    }
    assert constraints["r2"]["comparison_operator"] == "LessThanThreshold"


@pytest.mark.parametrize("problem_type", ["BinaryClassification", "Ranking", ""])
def test_only_regression_is_analysed(tmp_path, labelled, problem_type):
    captures, _, _ = traffic(labelled.iloc[:5], 0.0)
    run = analyse_merged(
        tmp_path,
        write_capture(tmp_path / "capture", captures),
        None,
        problem_type=problem_type,
    )
    assert run.returncode != 0
    assert "problem_type" in run.message
    assert "Regression" in run.message


def test_a_malformed_model_quality_constraints_file_is_named(tmp_path, labelled):
    captures, _, _ = traffic(labelled.iloc[:5], 0.0)
    broken = tmp_path / "mq-constraints.json"
    broken.write_text(json.dumps({"regression_constraints": {"mse": {"threshold": "high"}}}))
    run = analyse_merged(tmp_path, write_capture(tmp_path / "capture", captures), broken)
    assert run.returncode != 0
    assert str(broken) in run.message and "regression_constraints.mse" in run.message
