"""The Model Monitor baselines a real `train` run writes for the abalone train split."""

from __future__ import annotations

import itertools
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from localcloud.sagemaker.storage import pack_model
from tests.container.conftest import Server, TrainRun

TARGET = "rings"


def baselines(trained: TrainRun) -> tuple[dict, dict]:
    folder = trained.base / "model" / "baselines"
    return (
        json.loads((folder / "statistics.json").read_text()),
        json.loads((folder / "constraints.json").read_text()),
    )


def test_model_tar_gz_carries_them_where_the_registry_reads_them(trained: TrainRun, tmp_path):
    assert trained.returncode == 0, trained.stderr
    # WHEN the model directory is packed as SageMaker packs it
    archive = tmp_path / "model.tar.gz"
    pack_model(trained.base / "model", archive)
    # THEN the members are those lambdas/register_model reads
    with tarfile.open(archive) as tar:
        files = {member.name for member in tar.getmembers() if member.isfile()}
    assert files == {
        "model.joblib",
        "metadata.json",
        "baselines/statistics.json",
        "baselines/constraints.json",
    }


def test_they_hold_the_train_splits_exact_figures(trained: TrainRun, abalone_splits: Path):
    train = pd.read_csv(abalone_splits / "train" / "train.csv")
    statistics, constraints = baselines(trained)
    features = [name for name in train.columns if name != TARGET]
    assert statistics["dataset"] == {"item_count": len(train)}
    assert [f["name"] for f in statistics["features"]] == features
    assert [f["name"] for f in constraints["features"]] == features
    by_name = {f["name"]: f for f in statistics["features"]}
    sex = by_name["sex"]["string_statistics"]
    assert sex["common"] == {"num_present": len(train), "num_missing": 0}
    counts = train["sex"].value_counts()
    assert sex["distribution"]["categorical"]["buckets"] == [
        {"value": value, "count": int(counts[value])} for value in ("F", "I", "M")
    ]
    for name in features[1:]:
        values = train[name].to_numpy()
        assert by_name[name]["inferred_type"] == "Fractional"
        numbers = by_name[name]["numerical_statistics"]
        assert numbers["common"] == {"num_present": len(train), "num_missing": 0}
        assert (numbers["min"], numbers["max"]) == (values.min(), values.max())
        assert numbers["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert numbers["sum"] == pytest.approx(values.sum(), rel=1e-12)
        assert numbers["std_dev"] == pytest.approx(values.std(), rel=1e-12)
        # Deequ's buckets: [low, high) but the last, [low, high]
        buckets = numbers["distribution"]["kll"]["buckets"]
        lows = np.array([b["lower_bound"] for b in buckets])
        expected = [
            int(((values >= low) & (values < high)).sum()) for low, high in itertools.pairwise(lows)
        ]
        expected.append(int((values >= lows[-1]).sum()))
        assert [b["count"] for b in buckets] == expected
        # more values than a sketch holds: several levels whose weights add up to the count
        levels = numbers["distribution"]["kll"]["sketch"]["data"]
        assert len(levels) > 1
        assert sum(len(level) << height for height, level in enumerate(levels)) == len(train)
    assert constraints["features"][0] == {
        "name": "sex",
        "inferred_type": "String",
        "completeness": 1.0,
        "string_constraints": {"domains": ["F", "I", "M"]},
    }
    assert all(
        f["num_constraints"] == {"is_non_negative": True} and f["completeness"] == 1.0
        for f in constraints["features"][1:]
    )


def test_the_sagemaker_sdk_reads_both(trained: TrainRun, monkeypatch: pytest.MonkeyPatch):
    # GIVEN an S3 of moto's for the SDK's readers, which upload a local file and read it back
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from moto import mock_aws
    from sagemaker.model_monitor import Constraints, Statistics  # slow import: only here

    folder = trained.base / "model" / "baselines"
    statistics, constraints = baselines(trained)
    with mock_aws():
        read_statistics = Statistics.from_file_path(str(folder / "statistics.json"))
        read_constraints = Constraints.from_file_path(str(folder / "constraints.json"))
    assert read_statistics.body_dict == statistics
    assert read_constraints.body_dict == constraints
    # AND the SDK's monitoring switches work on them (they edit these very keys)
    read_constraints.set_monitoring(False)
    read_constraints.set_monitoring(False, feature_name="sex")
    assert read_constraints.body_dict["monitoring_config"]["evaluate_constraints"] == "Disabled"
    (sex,) = [f for f in read_constraints.body_dict["features"] if f["name"] == "sex"]
    assert sex["monitoring_config_overrides"] == {"evaluate_constraints": "Disabled"}


def test_serve_serves_a_model_directory_with_baselines(trained: TrainRun, server: Server):
    assert (trained.base / "model" / "baselines").is_dir()
    row = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
    response = requests.post(
        f"{server.url}/invocations", data=row, headers={"Content-Type": "text/csv"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1
