"""The `monitor` program against Model Monitor's BYOC contract: baselines and data quality.

Every test runs the real bin/monitor as a process with the analyzer's environment variables and
temporary folders, on capture records built from the abalone train split (the model's own
training data), against the baselines a real `train` run wrote.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tabular_container.monitoring import METRIC_FILES, NAMESPACES, namespace_of
from tabular_container.monitoring.distance import numerical_distance
from tests.container.conftest import MODEL_CODE, TrainRun, program_env

MONITOR = MODEL_CODE / "bin" / "monitor"
TARGET = "rings"
CAPTURE_FORMAT = '{"sagemakerCaptureJson":{"captureIndexNames":["endpointInput","endpointOutput"]}}'
START = datetime(2024, 5, 6, 22, 0, tzinfo=UTC)
COMPLETED = "Completed: Job completed successfully with no violations."


@dataclass(frozen=True)
class MonitorRun:
    """A finished `monitor` process and what it left."""

    base: Path
    output: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def message(self) -> str:
        return (self.base / "output" / "message").read_text()

    def document(self, name: str) -> Any:
        return json.loads((self.output / name).read_text())

    @property
    def violations(self) -> list[dict[str, str]]:
        return self.document("constraint_violations.json")["violations"]

    @property
    def counts(self) -> dict[str, int]:
        return self.document("monitoring_report.json")["counts"]

    def metrics(self, kind: str) -> list[dict[str, Any]]:
        path = self.base / "output" / "metrics" / "cloudwatch" / METRIC_FILES[kind]
        return [json.loads(line) for line in path.read_text().splitlines()]


def run_monitor(tmp_path: Path, **env: str) -> MonitorRun:
    """bin/monitor with the analyzer's variables; output_path defaults to a fresh folder."""
    base = tmp_path / f"job-{uuid.uuid4().hex[:8]}"
    output = Path(env.setdefault("output_path", str(base / "processing" / "output")))
    environ = program_env(base, **env)
    for name in [n for n in environ if n.startswith("AWS_")]:
        environ.pop(name)
    process = subprocess.run(
        [sys.executable, str(MONITOR)], env=environ, capture_output=True, text=True, timeout=120
    )
    return MonitorRun(base, output, process.returncode, process.stdout, process.stderr)


def capture_record(
    body: str,
    content_type: str = "text/csv",
    encoding: str = "CSV",
    prediction: float = 10.0,
    inference_id: str | None = None,
    moment: datetime = START,
) -> dict[str, Any]:
    """One data-capture record, as SageMaker writes it (reference section 2)."""
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": f"{moment:%Y-%m-%dT%H:%M:%SZ}"}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": body,
                "encoding": encoding,
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": json.dumps({"predictions": [prediction]}),
                "encoding": "JSON",
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


def csv_line(row: pd.Series) -> str:
    return ",".join(str(value) for value in row.tolist())


def json_body(rows: pd.DataFrame) -> str:
    return json.dumps({"instances": rows.to_dict(orient="records")})


def write_capture(folder: Path, records: list[dict[str, Any]], hour: datetime = START) -> Path:
    """Records in one file of the capture layout endpoint/variant/yyyy/mm/dd/hh/."""
    path = folder / "ep" / "AllTraffic" / f"{hour:%Y/%m/%d/%H}" / f"{uuid.uuid4()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return folder


@pytest.fixture(scope="module")
def features(abalone_splits: Path) -> pd.DataFrame:
    """The train split's feature columns: traffic like the data the model learnt from."""
    return pd.read_csv(abalone_splits / "train" / "train.csv").drop(columns=TARGET)


@pytest.fixture(scope="module")
def baseline_env(trained: TrainRun) -> dict[str, str]:
    """The baselines `train` wrote, as a schedule passes them."""
    assert trained.returncode == 0, trained.stderr
    folder = trained.base / "model" / "baselines"
    return {
        "baseline_statistics": str(folder / "statistics.json"),
        "baseline_constraints": str(folder / "constraints.json"),
    }


def analyse(tmp_path: Path, source: Path, baseline_env: dict[str, str], **env: str) -> MonitorRun:
    settings = {
        "dataset_format": CAPTURE_FORMAT,
        "dataset_source": str(source),
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": "abalone-prod",
        "sagemaker_monitoring_schedule_name": "abalone-data-quality",
        **baseline_env,
    }
    return run_monitor(tmp_path, **{**settings, **env})


def csv_traffic(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [capture_record(csv_line(row)) for _, row in frame.iterrows()]


def test_clean_traffic_completes_without_violations(tmp_path, features, baseline_env):
    # GIVEN 1,500 single-record CSV requests drawn from the training data
    sample = features.sample(1500, replace=True, random_state=1)
    source = write_capture(tmp_path / "capture", csv_traffic(sample))
    # WHEN the data-quality job runs against train's baselines
    run = analyse(tmp_path, source, baseline_env)
    # THEN it completes with no violation, and describes exactly those rows
    assert run.returncode == 0, run.stderr
    assert run.message == COMPLETED
    assert run.violations == []
    statistics = run.document("statistics.json")
    assert statistics["dataset"]["item_count"] == len(sample)
    by_name = {f["name"]: f for f in statistics["features"]}
    assert list(by_name) == list(features.columns)
    for name in features.columns[1:]:
        numbers = by_name[name]["numerical_statistics"]
        assert numbers["mean"] == pytest.approx(sample[name].mean(), rel=1e-9)
        assert (numbers["min"], numbers["max"]) == (sample[name].min(), sample[name].max())
    counts = sample["sex"].value_counts()
    buckets = by_name["sex"]["string_statistics"]["distribution"]["categorical"]["buckets"]
    assert {b["value"]: b["count"] for b in buckets} == counts.to_dict()
    # AND the constraints it reports are the baseline's, as the analyzer copies them
    baseline = json.loads(Path(baseline_env["baseline_constraints"]).read_text())
    assert run.document("constraints.json") == baseline


def test_heavier_shells_are_baseline_drift_of_that_feature(tmp_path, features, baseline_env):
    # GIVEN traffic where 40% of the records' shell weights doubled
    sample = features.sample(1500, replace=True, random_state=2).reset_index(drop=True)
    sample.loc[: len(sample) * 4 // 10, "shell_weight"] *= 2
    source = write_capture(tmp_path / "capture", csv_traffic(sample))
    # WHEN the job runs
    run = analyse(tmp_path, source, baseline_env)
    # THEN the execution has violations, and a drift of shell_weight is one
    assert run.returncode == 0, run.stderr
    assert run.message.startswith("CompletedWithViolations: Job completed successfully with ")
    drifted = {
        v["feature_name"]
        for v in run.violations
        if v["constraint_check_type"] == "baseline_drift_check"
    }
    assert drifted == {"shell_weight"}
    (violation,) = [v for v in run.violations if v["feature_name"] == "shell_weight"]
    assert violation["description"].startswith("Baseline drift distance: ")
    assert violation["description"].endswith("exceeds threshold: 0.1")
    assert run.message == (
        "CompletedWithViolations: Job completed successfully with "
        f"{len(run.violations)} violations."
    )
    # AND its drift metric is the distance the description gives
    drift = {
        m["MetricName"]: m["Value"]
        for m in run.metrics("DataQuality")
        if "drift" in m["MetricName"]
    }
    distance = float(violation["description"].split()[3])
    assert drift["feature_baseline_drift_shell_weight"] == pytest.approx(distance, rel=1e-5)
    assert drift["feature_baseline_drift_length"] <= 0.1
    # AND the one metric an alarm watches counts the drifted features
    assert drift["baseline_drift_check_violations"] == len(drifted) == 1


def test_a_new_sex_is_a_categorical_values_violation(tmp_path, features, baseline_env):
    sample = features.sample(1000, replace=True, random_state=3).reset_index(drop=True)
    sample.loc[:299, "sex"] = "X"  # 30% of the records, above the 10% domain_content_threshold
    run = analyse(tmp_path, write_capture(tmp_path / "capture", csv_traffic(sample)), baseline_env)
    assert run.returncode == 0, run.stderr
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in run.violations}
    assert ("sex", "categorical_values_check") in checks
    (violation,) = [
        v for v in run.violations if v["constraint_check_type"] == "categorical_values_check"
    ]
    assert "X" in violation["description"]


def test_missing_values_are_a_completeness_violation(tmp_path, features, baseline_env):
    sample = features.sample(1000, replace=True, random_state=4).reset_index(drop=True)
    sample["whole_weight"] = sample["whole_weight"].astype(object)
    sample.loc[:49, "whole_weight"] = ""  # 5% empty: the baseline was 100% complete
    run = analyse(tmp_path, write_capture(tmp_path / "capture", csv_traffic(sample)), baseline_env)
    assert run.returncode == 0, run.stderr
    (violation,) = [v for v in run.violations if v["constraint_check_type"] == "completeness_check"]
    assert violation["feature_name"] == "whole_weight"
    assert "95.0% of data is non-null" in violation["description"]
    non_null = {m["MetricName"]: m.get("Value") for m in run.metrics("DataQuality")}
    assert non_null["feature_non_null_whole_weight"] == pytest.approx(0.95)
    assert non_null["feature_non_null_length"] == 1.0


def test_json_csv_and_batched_bodies_of_the_same_rows_give_the_same_statistics(
    tmp_path, features, baseline_env
):
    # GIVEN the same 600 rows sent four ways: CSV and JSON single records, CSV with a header
    # row and JSON instances, ten rows a request
    sample = features.sample(600, replace=True, random_state=5).reset_index(drop=True)
    batches = [sample.iloc[i : i + 10] for i in range(0, len(sample), 10)]
    ways = {
        "csv": csv_traffic(sample),
        "json": [
            capture_record(json_body(sample.iloc[[i]]), "application/json", "JSON")
            for i in range(len(sample))
        ],
        "csv_header": [capture_record(batch.to_csv(index=False)) for batch in batches],
        "json_batch": [
            capture_record(json_body(batch), "application/json", "JSON") for batch in batches
        ],
    }
    # WHEN each is analysed THEN each completes with the same statistics
    statistics = {}
    for way, records in ways.items():
        run = analyse(tmp_path, write_capture(tmp_path / way, records), baseline_env)
        assert run.returncode == 0, (way, run.stderr)
        assert run.counts["rows"] == len(sample), way
        statistics[way] = run.document("statistics.json")
    assert statistics["json"] == statistics["csv"]
    assert statistics["csv_header"] == statistics["csv"]
    assert statistics["json_batch"] == statistics["csv"]


def test_a_base64_body_is_skipped_and_counted(tmp_path, features, baseline_env):
    sample = features.sample(300, replace=True, random_state=6)
    html = base64.b64encode(b"<html>not a record</html>").decode()
    records = [*csv_traffic(sample), capture_record(html, "text/html; charset=utf-8", "BASE64")]
    run = analyse(tmp_path, write_capture(tmp_path / "capture", records), baseline_env)
    assert run.returncode == 0, run.stderr
    assert run.counts["base64_skipped"] == 1
    assert run.counts["records"] == len(records)
    assert run.document("statistics.json")["dataset"]["item_count"] == len(sample)


def test_only_records_inside_the_window_are_analysed(tmp_path, features, baseline_env):
    # GIVEN records an hour before, inside, and at the end of the window [22:00, 23:00)
    rows = features.sample(30, random_state=7)
    moments = [
        START - timedelta(minutes=30),
        START + timedelta(minutes=5),
        START + timedelta(hours=1),
    ]
    records = [
        capture_record(csv_line(row), moment=moments[i % 3])
        for i, (_, row) in enumerate(rows.iterrows())
    ]
    source = write_capture(tmp_path / "capture", records)
    window = {"start_time": "2024-05-06T22:00:00Z", "end_time": "2024-05-06T23:00:00Z"}
    run = analyse(tmp_path, source, baseline_env, **window)
    assert run.returncode == 0, run.stderr
    assert run.counts["records"] == 10
    assert run.counts["outside_window"] == 20


def test_no_record_in_the_window_fails_with_awss_wording(tmp_path, features, baseline_env):
    source = write_capture(tmp_path / "capture", csv_traffic(features.head(20)))
    window = {"start_time": "2024-05-07T00:00:00Z", "end_time": "2024-05-07T01:00:00Z"}
    run = analyse(tmp_path, source, baseline_env, **window)
    assert run.returncode != 0
    assert run.message == "Job inputs had no data"


def test_a_malformed_baseline_fails_naming_the_file(tmp_path, features, baseline_env):
    source = write_capture(tmp_path / "capture", csv_traffic(features.head(20)))
    broken = tmp_path / "broken-statistics.json"
    broken.write_text('{"version": 0.0, "features": ')
    run = analyse(tmp_path, source, {**baseline_env, "baseline_statistics": str(broken)})
    assert run.returncode != 0
    assert str(broken) in run.message
    assert "baseline_statistics" in run.message and "not valid JSON" in run.message
    # AND a statistics file without features says so
    broken.write_text('{"version": 0.0}')
    run = analyse(tmp_path, source, {**baseline_env, "baseline_statistics": str(broken)})
    assert run.returncode != 0
    assert str(broken) in run.message and "'features'" in run.message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("analysis_type", "BIAS"),
        ("publish_cloudwatch_metrics", "Yes"),
        ("start_time", "yesterday"),
        ("dataset_format", '{"parquet": {}}'),
    ],
)
def test_a_bad_setting_fails_naming_the_variable(tmp_path, features, baseline_env, variable, value):
    source = write_capture(tmp_path / "capture", csv_traffic(features.head(5)))
    run = analyse(tmp_path, source, baseline_env, **{variable: value})
    assert run.returncode != 0
    assert run.message.startswith(variable) or f" {variable}" in run.message
    assert "\n" not in run.message


def test_metric_files_are_put_metric_data_lines(tmp_path, features, baseline_env):
    sample = features.sample(200, replace=True, random_state=8)
    run = analyse(tmp_path, write_capture(tmp_path / "capture", csv_traffic(sample)), baseline_env)
    assert run.returncode == 0, run.stderr
    metrics = run.metrics("DataQuality")
    names = {m["MetricName"] for m in metrics}
    for feature in features.columns:
        assert {f"feature_non_null_{feature}", f"feature_baseline_drift_{feature}"} <= names
    for feature in features.columns[1:]:
        assert f"feature_data_{feature}" in names
    # AND the count of drifted features, for an alarm, is there under the schedule and, so
    # that a one-time run's count reaches the same alarm, under the endpoint alone
    counts = [m for m in metrics if m["MetricName"] == "baseline_drift_check_violations"]
    drifted = sum(v["constraint_check_type"] == "baseline_drift_check" for v in run.violations)
    assert [(m["Value"], len(m["Dimensions"])) for m in counts] == [(drifted, 2), (drifted, 1)]
    assert counts[1]["Dimensions"] == [{"Name": "Endpoint", "Value": "abalone-prod"}]
    for metric in metrics:
        assert set(metric) in (
            {"MetricName", "Timestamp", "Dimensions", "Value", "Unit"},
            {"MetricName", "Timestamp", "Dimensions", "StatisticValues", "Unit"},
        )
        datetime.strptime(metric["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        if metric is not counts[1]:
            assert metric["Dimensions"] == [
                {"Name": "Endpoint", "Value": "abalone-prod"},
                {"Name": "MonitoringSchedule", "Value": "abalone-data-quality"},
            ]
    (length,) = [m for m in metrics if m["MetricName"] == "feature_data_length"]
    assert length["StatisticValues"] == {
        "SampleCount": len(sample),
        "Sum": pytest.approx(sample["length"].sum()),
        "Minimum": sample["length"].min(),
        "Maximum": sample["length"].max(),
    }
    # AND a publisher finds the namespace from the file's name
    assert namespace_of(METRIC_FILES["DataQuality"]) == "aws/sagemaker/Endpoints/data-metrics"
    assert NAMESPACES["ModelQuality"] == "aws/sagemaker/Endpoints/model-metrics"


def test_no_metric_files_unless_enabled(tmp_path, features, baseline_env):
    source = write_capture(tmp_path / "capture", csv_traffic(features.head(50)))
    run = analyse(tmp_path, source, baseline_env, publish_cloudwatch_metrics="Disabled")
    assert run.returncode == 0, run.stderr
    assert not (run.base / "output" / "metrics" / "cloudwatch").exists()


def read_with_the_sdk(monkeypatch: pytest.MonkeyPatch, run: MonitorRun) -> tuple[Any, Any, Any]:
    """The three outputs through the SageMaker SDK's own readers (they upload to S3: moto's)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from moto import mock_aws
    from sagemaker.model_monitor import Constraints, ConstraintViolations, Statistics

    with mock_aws():
        return (
            Statistics.from_file_path(str(run.output / "statistics.json")),
            Constraints.from_file_path(str(run.output / "constraints.json")),
            ConstraintViolations.from_file_path(str(run.output / "constraint_violations.json")),
        )


def test_the_sagemaker_sdk_reads_the_three_outputs(tmp_path, features, baseline_env, monkeypatch):
    sample = features.sample(500, replace=True, random_state=9).reset_index(drop=True)
    sample.loc[:199, "shell_weight"] *= 2
    run = analyse(tmp_path, write_capture(tmp_path / "capture", csv_traffic(sample)), baseline_env)
    assert run.returncode == 0, run.stderr
    statistics, constraints, violations = read_with_the_sdk(monkeypatch, run)
    assert statistics.body_dict == run.document("statistics.json")
    assert constraints.body_dict == run.document("constraints.json")
    assert violations.body_dict["violations"] == run.violations
    assert run.violations


def test_without_a_baseline_it_suggests_constraints_of_the_traffic(tmp_path, features):
    sample = features.sample(300, replace=True, random_state=10)
    run = run_monitor(
        tmp_path,
        dataset_format=CAPTURE_FORMAT,
        dataset_source=str(write_capture(tmp_path / "capture", csv_traffic(sample))),
    )
    assert run.returncode == 0, run.stderr
    assert run.message == COMPLETED
    constraints = run.document("constraints.json")
    # headerless CSV without a baseline: the analyzer's positional names
    assert [f["name"] for f in constraints["features"]] == [f"_c{i}" for i in range(8)]
    assert constraints["features"][0]["string_constraints"]["domains"] == sorted(
        sample["sex"].unique()
    )


def test_baselining_the_train_channel_gives_trains_baselines(tmp_path, trained, abalone_splits):
    # GIVEN the train channel `train` learnt from, and the baselines it wrote
    assert trained.returncode == 0, trained.stderr
    # WHEN a data-quality baselining job runs on the channel, the label left out
    run = run_monitor(
        tmp_path,
        dataset_format='{"csv":{"header":true,"output_columns_position":"START"}}',
        dataset_source=str(abalone_splits / "train"),
        ground_truth_attribute=TARGET,
        publish_cloudwatch_metrics="Disabled",
    )
    # THEN it writes the same two documents
    assert run.returncode == 0, run.stderr
    assert run.message == COMPLETED
    folder = trained.base / "model" / "baselines"
    for name in ("statistics.json", "constraints.json"):
        assert run.document(name) == json.loads((folder / name).read_text()), name


def test_baselining_json_lines_reads_the_same_rows_alike(tmp_path, abalone_splits):
    train = pd.read_csv(abalone_splits / "train" / "train.csv")
    lines = tmp_path / "jsonl" / "train.jsonl"
    lines.parent.mkdir()
    train.to_json(lines, orient="records", lines=True)
    runs = [
        run_monitor(
            tmp_path, dataset_format=form, dataset_source=str(source), ground_truth_attribute=TARGET
        )
        for form, source in (
            ('{"csv":{"header":true}}', abalone_splits / "train"),
            ('{"json":{"lines":true}}', lines.parent),
        )
    ]
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    csv_features = runs[0].document("statistics.json")["features"]
    json_features = runs[1].document("statistics.json")["features"]
    assert [f["name"] for f in json_features] == [f["name"] for f in csv_features]
    for one, other in zip(csv_features, json_features, strict=True):
        if "numerical_statistics" in one:
            assert other["numerical_statistics"]["mean"] == pytest.approx(
                one["numerical_statistics"]["mean"], rel=1e-12
            )
        else:
            assert other["string_statistics"] == one["string_statistics"]


def test_the_numeric_distance_is_the_kolmogorov_smirnov_statistic_of_small_sketches():
    # Below the sketch's capacity every value is kept at level 0 (weight 1): the Simple distance
    # is then the two-sample Kolmogorov-Smirnov statistic, and Robust subtracts its critical term.
    random = np.random.default_rng(0)
    first, second = random.normal(0, 1, 800), random.normal(0.3, 1.2, 500)
    expected = stats.ks_2samp(first, second).statistic
    assert numerical_distance([first.tolist()], [second.tolist()], "Simple") == pytest.approx(
        expected
    )
    robust = expected - 1.8 * np.sqrt((800 + 500) / (800 * 500))
    assert numerical_distance([first.tolist()], [second.tolist()], "Robust") == pytest.approx(
        robust
    )
    # an item at level 1 stands for two values
    assert numerical_distance([[], [1.0]], [[1.0, 1.0]], "Simple") == 0.0


def test_processingjobconfig_fills_in_what_the_environment_lacks(tmp_path, features, baseline_env):
    # GIVEN the job's settings only in processingjobconfig.json, but for one the environment sets
    source = write_capture(tmp_path / "capture", csv_traffic(features.head(40)))
    base = tmp_path / "configured"
    config = base / "config" / "processingjobconfig.json"
    config.parent.mkdir(parents=True)
    environment = {
        "dataset_format": CAPTURE_FORMAT,
        "dataset_source": str(source),
        "output_path": str(tmp_path / "from-config"),
        "publish_cloudwatch_metrics": "Enabled",
        **baseline_env,
    }
    config.write_text(json.dumps({"ProcessingJobName": "job", "Environment": environment}))
    environ = {**program_env(base), "output_path": str(tmp_path / "from-env")}
    process = subprocess.run(
        [sys.executable, str(MONITOR)], env=environ, capture_output=True, text=True, timeout=120
    )
    # THEN the job runs on the file's settings, and the environment's output_path wins
    assert process.returncode == 0, process.stderr
    assert (base / "output" / "message").read_text() == COMPLETED
    assert (tmp_path / "from-env" / "statistics.json").is_file()
    assert not (tmp_path / "from-config").exists()
    assert (base / "output" / "metrics" / "cloudwatch" / "data-metrics.json").is_file()


def test_a_job_without_dataset_source_says_so(tmp_path):
    run = run_monitor(tmp_path, dataset_format=CAPTURE_FORMAT)
    assert run.returncode != 0
    assert run.message.startswith("dataset_source is not set")


def test_text_in_a_numeric_feature_is_a_data_type_violation(tmp_path, features, baseline_env):
    sample = features.sample(500, replace=True, random_state=11).reset_index(drop=True)
    sample["length"] = sample["length"].astype(object)
    sample.loc[:99, "length"] = "long"  # 20% text: below 1 - datatype_check_threshold (90%)
    run = analyse(tmp_path, write_capture(tmp_path / "capture", csv_traffic(sample)), baseline_env)
    assert run.returncode == 0, run.stderr
    by_check = {(v["feature_name"], v["constraint_check_type"]): v for v in run.violations}
    violation = by_check[("length", "data_type_check")]
    assert violation["description"].startswith(
        "Data type match requirement is not met. Expected data type: Fractional, "
        "Expected match: 90.0%. Observed: Only 80.0% of data is Fractional"
    )
    # text is a value, not a missing one
    assert ("length", "completeness_check") not in by_check


def test_absent_and_unknown_columns_are_missing_and_extra_column_violations(
    tmp_path, features, baseline_env
):
    # GIVEN JSON requests without height, with a column the model does not know
    sample = features.sample(200, replace=True, random_state=12).drop(columns="height")
    sample["colour"] = "grey"
    records = [
        capture_record(json_body(sample.iloc[[i]]), "application/json", "JSON")
        for i in range(len(sample))
    ]
    run = analyse(tmp_path, write_capture(tmp_path / "capture", records), baseline_env)
    assert run.returncode == 0, run.stderr
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in run.violations}
    assert ("height", "missing_column_check") in checks
    assert ("colour", "extra_column_check") in checks
    assert not any(name == "length" for name, _ in checks)


def with_distribution(
    tmp_path: Path, baseline_env: dict[str, str], **settings: str
) -> dict[str, str]:
    """The baseline constraints with other distribution_constraints."""
    constraints = json.loads(Path(baseline_env["baseline_constraints"]).read_text())
    constraints["monitoring_config"]["distribution_constraints"].update(settings)
    path = tmp_path / f"constraints-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(constraints))
    return {**baseline_env, "baseline_constraints": str(path)}


def test_robust_comparison_forgives_a_small_windows_noise_that_simple_does_not(
    tmp_path, features, baseline_env
):
    # GIVEN 40 requests drawn from the training data: no drift, only sampling noise
    source = write_capture(tmp_path / "capture", csv_traffic(features.sample(40, random_state=13)))
    robust = analyse(
        tmp_path, source, with_distribution(tmp_path, baseline_env, comparison_method="Robust")
    )
    simple = analyse(
        tmp_path, source, with_distribution(tmp_path, baseline_env, comparison_method="Simple")
    )
    assert robust.returncode == simple.returncode == 0
    drift = {
        v["feature_name"]
        for v in robust.violations
        if v["constraint_check_type"] == "baseline_drift_check"
    }
    assert drift == set()
    distances = {
        kind: {
            m["MetricName"]: m["Value"]
            for m in run.metrics("DataQuality")
            if m["MetricName"].startswith("feature_baseline_drift_")
        }
        for kind, run in (("robust", robust), ("simple", simple))
    }
    # Robust is Simple less the Kolmogorov-Smirnov term 1.8 sqrt((n + m) / nm), floored at 0
    term = 1.8 * np.sqrt((len(features) + 40) / (len(features) * 40))
    for name, value in distances["simple"].items():
        assert distances["robust"][name] == pytest.approx(max(0.0, value - term), abs=1e-9)
    assert any(v["constraint_check_type"] == "baseline_drift_check" for v in simple.violations)


def test_chi_squared_flags_a_shifted_sex_mix(tmp_path, features, baseline_env):
    # GIVEN traffic that is nearly all infants, each value one the baseline knows
    sample = features.sample(600, replace=True, random_state=14).reset_index(drop=True)
    sample.loc[:499, "sex"] = "I"
    env = with_distribution(tmp_path, baseline_env, categorical_drift_method="ChiSquared")
    run = analyse(tmp_path, write_capture(tmp_path / "capture", csv_traffic(sample)), env)
    assert run.returncode == 0, run.stderr
    (violation,) = [
        v
        for v in run.violations
        if v["feature_name"] == "sex" and v["constraint_check_type"] == "baseline_drift_check"
    ]
    assert "p-value" in violation["description"] and "ChiSquared" in violation["description"]
    # AND traffic with the baseline's own mix passes the test
    same = features.sample(600, replace=True, random_state=15)
    run = analyse(tmp_path, write_capture(tmp_path / "same", csv_traffic(same)), env)
    assert not [v for v in run.violations if v["feature_name"] == "sex"]
