"""`train` in-process: what it writes on success, and its failure file and exit code otherwise."""

from __future__ import annotations

import json
import os

import joblib
import pytest

from tabular_container import capacity, fitting
from tabular_container.errors import UserError
from tabular_container.hyperparameters import Hyperparameters
from tabular_container.training import channel_dirs, main, train, write_failure


def set_hyperparameters(paths, **values):
    paths.hyperparameters_file.write_text(json.dumps(values))


def test_training_writes_model_metadata_and_metric_lines(job, capsys):
    assert main() == 0

    metadata = json.loads(job.metadata_file.read_text())
    assert metadata["target"] == "rings"
    assert metadata["problem_type"] == "regression"
    assert metadata["features"] == [
        {"name": "sex", "type": "categorical", "categories": ["F", "I", "M"]},
        {"name": "length", "type": "numeric"},
        {"name": "weight", "type": "numeric"},
    ]
    assert set(metadata["metrics"]) == {"train", "validation"}
    assert set(metadata["metrics"]["validation"]) == {"mse", "rmse", "mae", "r2"}
    assert metadata["rows"] == {"train": 80, "validation": 80}
    assert {"python", "numpy", "scikit-learn"} <= set(metadata["versions"])
    lines = capsys.readouterr().out.splitlines()
    assert f"validation:mse={metadata['metrics']['validation']['mse']:.6g};" in lines
    assert any(line.startswith("train:r2=") for line in lines)
    assert not job.failure_file.exists()


def test_the_saved_model_predicts_raw_rows_in_schema_order(job, make_frame):
    train(job)

    model = joblib.load(job.model_file)
    rows = make_frame(rows=5, seed=3)[["sex", "length", "weight"]].to_numpy(dtype=object)

    assert model.predict(rows).shape == (5,)


def test_classification_with_boosting_records_classes_and_accuracy(job, make_frame, capsys):
    set_hyperparameters(
        job, problem_type="classification", estimator="hist_gradient_boosting", max_iter="20"
    )
    frame = make_frame(rows=80)
    frame["rings"] = (frame["rings"] > 10).map({True: "old", False: "young"})
    frame.to_csv(job.channel_dir("train") / "train.csv", index=False)
    (job.channel_dir("validation") / "validation.csv").unlink()
    job.input_data_config_file.unlink()
    job.channel_dir("validation").rmdir()

    train(job)

    metadata = json.loads(job.metadata_file.read_text())
    assert metadata["classes"] == ["old", "young"]
    assert set(metadata["metrics"]) == {"train"}
    assert set(metadata["metrics"]["train"]) == {"accuracy", "f1"}
    assert metadata["hyperparameters"]["estimator"] == "hist_gradient_boosting"
    assert "train:accuracy=" in capsys.readouterr().out


def test_a_user_error_writes_its_reason_and_exits_1(job, capsys):
    set_hyperparameters(job, alpha="-1")

    assert main() == 1

    reason = job.failure_file.read_text()
    assert reason.startswith("hyperparameter alpha='-1' is invalid")
    assert reason in capsys.readouterr().err
    assert not job.model_dir.exists()


def test_a_framework_error_is_labelled_ours_and_exits_2(job, monkeypatch):
    def broken(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fitting, "fit_and_save", broken)

    assert main() == 2

    reason = job.failure_file.read_text()
    assert reason.splitlines()[0] == (
        "Internal error in the training container (not caused by your input): "
        "RuntimeError: disk on fire"
    )
    assert "Traceback" in reason


def test_the_first_failure_reason_is_kept(tmp_path):
    failure = tmp_path / "output" / "failure"

    write_failure(failure, "first")
    write_failure(failure, "second")

    assert failure.read_text() == "first"


def test_a_missing_train_channel_is_named(job):
    job.input_data_config_file.write_text(json.dumps({"validation": {}}))

    with pytest.raises(UserError, match="missing train channel: the job has validation"):
        channel_dirs(job)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"TrainingInputMode": "Pipe"}, "channel train uses Pipe input mode"),
        ({"ContentType": "application/x-parquet"}, "channel train has ContentType"),
    ],
)
def test_channel_settings_this_container_cannot_read_are_refused(job, settings, message):
    job.input_data_config_file.write_text(json.dumps({"train": settings}))

    with pytest.raises(UserError, match=message):
        channel_dirs(job)


def test_without_a_channel_config_the_channel_folders_are_used(job, capsys):
    job.input_data_config_file.unlink()
    job.channel_dir("test").mkdir()

    assert channel_dirs(job) == {
        "train": job.channel_dir("train"),
        "validation": job.channel_dir("validation"),
    }
    assert "Ignoring channel test" in capsys.readouterr().out


def test_malformed_config_json_is_a_user_error(job):
    job.hyperparameters_file.write_text("{alpha: 1}")

    with pytest.raises(UserError, match=r"hyperparameters\.json is not valid JSON"):
        train(job)


def test_classification_needs_two_classes(job, make_frame):
    set_hyperparameters(job, problem_type="classification")
    frame = make_frame().assign(rings=1)
    frame.to_csv(job.channel_dir("train") / "train.csv", index=False)

    with pytest.raises(UserError, match="target rings has a single class in channel train"):
        train(job)


def write_rows(path, make_frame, rows):
    """A train channel CSV of that many synthetic rows."""
    make_frame(rows=rows).to_csv(path, index=False)


@pytest.mark.parametrize(
    ("hyperparameters", "what"),
    [
        (
            {"estimator": "hist_gradient_boosting"},
            "hist_gradient_boosting, which keeps every row in memory,",
        ),
        ({"n_components": "20000"}, "nystroem_ridge with n_components=20000"),
    ],
)
def test_a_fit_too_big_for_memory_fails_before_a_row_is_read(
    job, monkeypatch, make_frame, hyperparameters, what
):
    set_hyperparameters(job, **hyperparameters)
    train_csv = job.channel_dir("train") / "train.csv"
    write_rows(train_csv, make_frame, 40_000)  # over a MiB of real rows, for the estimate
    os.truncate(train_csv, 5 * 10**9)  # then a sparse hole: 5 GB on paper, no disk taken
    monkeypatch.setattr(capacity, "available_memory", lambda: 2 * 10**9)

    assert main() == 1

    reason = job.failure_file.read_text()
    assert reason.startswith("channel train holds 5.00 GB of CSV (about ")
    assert f"rows); {what} needs about " in reason
    assert "of memory, but 2.00 GB is available" in reason
    assert not job.model_dir.exists()


def test_a_fit_too_wide_for_memory_fails_once_the_survey_has_counted_the_categories(
    job, monkeypatch, make_frame
):
    set_hyperparameters(job, estimator="ridge")
    frame = make_frame(rows=3000).assign(batch=[f"b{i}" for i in range(3000)])
    frame.to_csv(job.channel_dir("train") / "train.csv", index=False)
    # Enough for what the channel's size foretells (a column each), not for 3,000 categories.
    foretold = capacity.memory_needed(Hyperparameters(estimator="ridge"), 3000, 5, 4, 1)
    monkeypatch.setattr(capacity, "available_memory", lambda: foretold)

    assert main() == 1

    reason = job.failure_file.read_text()
    assert reason.startswith("ridge on 3,000 rows of 3,005 encoded features needs about ")
    assert "Use fewer categories, or an instance with more memory." in reason


def test_a_channel_over_the_size_limit_fails_before_a_row_is_read(job, monkeypatch):
    monkeypatch.setenv("TRAIN_MAX_CHANNEL_BYTES", "1000")

    assert main() == 1

    size = (job.channel_dir("train") / "train.csv").stat().st_size
    assert job.failure_file.read_text().startswith(
        f"channel train holds {size:,} bytes of CSV, over the 1,000 bytes this container "
        "trains on (TRAIN_MAX_CHANNEL_BYTES)"
    )


def test_a_malformed_size_limit_is_named(job, monkeypatch):
    monkeypatch.setenv("TRAIN_MAX_CHANNEL_BYTES", "10GB")

    assert main() == 1

    assert job.failure_file.read_text() == "TRAIN_MAX_CHANNEL_BYTES='10GB' is not a whole number"
