"""The `train` program against SageMaker's training contract, run as a process."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from localcloud.cfn import load_template
from localcloud.stacks import PIPELINE_TEMPLATE
from tests.container.conftest import (
    TrainRun,
    finish,
    jittered_rows,
    make_job,
    start_train,
    train_measured,
)

METRIC_DEFINITION = r"validation:mse=([0-9.eE+-]+);"
# Peak resident memory of `train` on 150,000 rows: about 0.3 GB streamed, 1.3 GB held in memory.
MEMORY_BOUND = 700 * 10**6


def test_a_good_run_writes_the_model_and_its_metadata(trained: TrainRun, abalone_splits: Path):
    assert trained.returncode == 0, trained.stderr
    model_dir = trained.base / "model"
    assert (model_dir / "model.joblib").is_file()
    metadata = json.loads((model_dir / "metadata.json").read_text())
    header = pd.read_csv(abalone_splits / "train" / "train.csv", nrows=0).columns.tolist()
    assert [feature["name"] for feature in metadata["features"]] == header[:-1]
    assert metadata["features"][0] == {
        "name": "sex",
        "type": "categorical",
        "categories": ["F", "I", "M"],
    }
    assert {feature["type"] for feature in metadata["features"][1:]} == {"numeric"}
    assert (metadata["target"], metadata["problem_type"]) == ("rings", "regression")
    assert {"scikit-learn", "numpy", "python"} <= set(metadata["versions"])
    assert not (trained.base / "output" / "failure").exists()


def test_the_templates_example_hyperparameters_train(abalone_splits: Path, tmp_path: Path):
    # GIVEN the example the pipeline template's Hyperparameters parameter documents
    description = load_template(PIPELINE_TEMPLATE)["Parameters"]["Hyperparameters"]["Description"]
    (example,) = re.findall(r"e\.g\. (\{[^{}]*\})", description)
    hyperparameters = json.loads(example)
    # WHEN a training job runs with it THEN it trains the model the example describes
    base = make_job(tmp_path, abalone_splits, hyperparameters)
    run = finish(base, start_train(base))
    assert run.returncode == 0, run.stderr
    metadata = json.loads((base / "model" / "metadata.json").read_text())
    assert metadata["target"] == hyperparameters["target"]


def test_metric_lines_feed_sagemaker_metric_definitions(trained: TrainRun):
    metadata = json.loads((trained.base / "model" / "metadata.json").read_text())

    found = re.findall(METRIC_DEFINITION, trained.stdout)

    assert len(found) == 1
    assert float(found[0]) == pytest.approx(metadata["metrics"]["validation"]["mse"], rel=1e-5)
    for channel in ("train", "validation"):
        for name in ("mse", "rmse", "mae", "r2"):
            assert re.search(rf"^{channel}:{name}=[0-9.eE+-]+;$", trained.stdout, re.MULTILINE)


def test_the_default_model_meets_the_validation_quality_target(trained: TrainRun):
    metadata = json.loads((trained.base / "model" / "metadata.json").read_text())

    assert metadata["metrics"]["validation"]["mse"] < 4.9  # plain linear regression's level


def unwritable_model_dir(base: Path) -> None:
    (base / "model").write_text("a file where the model folder should be")


def empty_train_channel(base: Path) -> None:
    for path in (base / "input" / "data" / "train").iterdir():
        path.unlink()


def typo_in_a_numeric_column(base: Path) -> None:
    path = base / "input" / "data" / "train" / "train.csv"
    lines = path.read_text().splitlines(keepends=True)
    sex, _, rest = lines[100].split(",", 2)
    lines[100] = f"{sex},1_000,{rest}"
    path.write_text("".join(lines))


FAILURES = {
    "unknown key": (
        {"hyperparameters": {"alpah": "1"}},
        None,
        1,
        "unknown hyperparameter 'alpah'; known: alpha,",
    ),
    "bad value": (
        {"hyperparameters": {"n_components": "many"}},
        None,
        1,
        "hyperparameter n_components='many' is invalid: expected a whole number",
    ),
    "missing train channel": (
        {"channels": ("validation",)},
        None,
        1,
        "missing train channel: the job has validation",
    ),
    "empty channel": ({}, empty_train_channel, 1, "channel train is empty: no files in"),
    "missing target column": (
        {"hyperparameters": {"target": "age"}},
        None,
        1,
        "target column 'age' not found in channel train; columns: sex, length,",
    ),
    "typo in a numeric column": (
        {},
        typo_in_a_numeric_column,
        1,
        "channel train: train.csv line 101, column length: '1_000' is not a number, yet ",
    ),
    "framework error": (
        {},
        unwritable_model_dir,
        2,
        "Internal error in the training container (not caused by your input): ",
    ),
}


@pytest.fixture(scope="module")
def failed_runs(abalone_splits: Path, tmp_path_factory) -> dict[str, TrainRun]:
    """Every failure case, its train processes run side by side."""
    processes = {}
    for case, (job, spoil, _, _) in FAILURES.items():
        base = make_job(tmp_path_factory.mktemp("train-fail"), abalone_splits, **job)
        if spoil is not None:
            spoil(base)
        processes[case] = (base, start_train(base))
    return {case: finish(base, process) for case, (base, process) in processes.items()}


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_failure_writes_its_reason_first_and_exits_non_zero(failed_runs, case):
    _, _, exit_code, reason = FAILURES[case]
    run = failed_runs[case]

    assert run.returncode == exit_code
    assert run.failure.startswith(reason)
    assert reason in run.stderr
    assert not (run.base / "model" / "model.joblib").exists()


def test_the_first_failure_reason_is_kept(abalone_splits: Path, tmp_path: Path):
    base = make_job(tmp_path, abalone_splits, {"alpha": "-1"})
    (base / "output").mkdir()
    (base / "output" / "failure").write_text("an earlier reason")

    run = finish(base, start_train(base))

    assert run.returncode == 1
    assert run.failure == "an earlier reason"


def test_training_memory_does_not_grow_with_the_rows(abalone_splits: Path, tmp_path: Path):
    # 150,000 rows (6.8 MB of CSV): before chunked training this run peaked at 1.3 GB.
    base = make_job(tmp_path, abalone_splits)
    jittered_rows(abalone_splits, 150_000).to_csv(base / "input/data/train/train.csv", index=False)

    run, peak = train_measured(base)

    assert run.returncode == 0, run.stderr
    assert "on 150000 rows" in run.stdout
    assert peak < MEMORY_BOUND, f"peak RSS {peak / 1e6:.0f} MB"


def test_a_channel_too_big_to_train_on_fails_at_once_naming_size_and_limit(
    abalone_splits: Path, tmp_path: Path
):
    base = make_job(tmp_path, abalone_splits)
    os.truncate(base / "input/data/train/train.csv", 50 * 10**9)  # sparse: takes no disk

    run = finish(base, start_train(base))

    assert run.returncode == 1
    assert run.failure.startswith(
        "channel train holds 50.00 GB of CSV, over the 10.00 GB this container trains on "
        "(TRAIN_MAX_CHANNEL_BYTES)"
    )
