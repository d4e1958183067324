"""`train` writes the training data's Model Monitor baselines: exact, in Model Monitor's format."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabular_container.baseline import BUCKETS, SKETCH_K, DataProfile
from tabular_container.data import feature_array
from tabular_container.schema import CATEGORICAL, NUMERIC, Column, Schema
from tabular_container.training import main

SCHEMA = Schema(
    (Column("sex", CATEGORICAL), Column("rings_seen", NUMERIC), Column("length", NUMERIC)),
    target="rings",
)


def profile_of(frame: pd.DataFrame, chunk: int = 2) -> DataProfile:
    """A profile fed `frame` in chunks of `chunk` rows, as scoring feeds it."""
    numbers = frame[["rings_seen", "length"]].apply(pd.to_numeric, errors="coerce")
    ranges = tuple((float(numbers[c].min()), float(numbers[c].max())) for c in numbers)
    profile = DataProfile(SCHEMA, ranges)
    for start in range(0, len(frame), chunk):
        profile.add(feature_array(frame.iloc[start : start + chunk], SCHEMA, "train"))
    return profile


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sex": ["M", "F", "", "M", "I"],
            "rings_seen": ["1", "3", "5", "7", "9"],
            "length": ["0.5", "", "0.25", "1.0", "0.75"],
            "rings": ["1", "2", "3", "4", "5"],
        }
    )


def test_statistics_are_exact_whatever_the_chunks(frame: pd.DataFrame) -> None:
    # WHEN the same rows are profiled in chunks of 2, and all at once
    documents = [profile_of(frame, chunk).statistics() for chunk in (2, 5)]
    # THEN the answers agree, and hold the known values
    assert documents[0] == documents[1]
    statistics = documents[0]
    assert statistics["version"] == 0.0
    assert statistics["dataset"] == {"item_count": 5}
    sex, rings_seen, length = statistics["features"]
    assert [f["name"] for f in statistics["features"]] == ["sex", "rings_seen", "length"]
    assert sex["inferred_type"] == "String"
    strings = sex["string_statistics"]
    assert strings["common"] == {"num_present": 4, "num_missing": 1}
    assert strings["distinct_count"] == 3.0
    assert strings["distribution"]["categorical"]["buckets"] == [
        {"value": "F", "count": 1},
        {"value": "I", "count": 1},
        {"value": "M", "count": 2},
    ]
    assert rings_seen["inferred_type"] == "Integral"
    whole = rings_seen["numerical_statistics"]
    assert whole["common"] == {"num_present": 5, "num_missing": 0}
    assert (whole["min"], whole["max"], whole["sum"], whole["mean"]) == (1.0, 9.0, 25.0, 5.0)
    assert whole["std_dev"] == pytest.approx(np.std([1, 3, 5, 7, 9]))
    assert length["inferred_type"] == "Fractional"
    fractional = length["numerical_statistics"]
    assert fractional["common"] == {"num_present": 4, "num_missing": 1}
    assert fractional["mean"] == pytest.approx(0.625)
    buckets = fractional["distribution"]["kll"]["buckets"]
    assert len(buckets) == BUCKETS
    assert buckets[0]["lower_bound"] == 0.25 and buckets[-1]["upper_bound"] == 1.0
    assert [b["count"] for b in buckets] == [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]
    sketch = fractional["distribution"]["kll"]["sketch"]
    assert sketch["data"] == [[0.25, 0.5, 0.75, 1.0]]
    assert sketch["parameters"]["k"] == float(SKETCH_K)


def test_constraints_suggest_types_completeness_signs_and_domains(frame: pd.DataFrame) -> None:
    constraints = profile_of(frame).constraints()
    sex, rings_seen, length = constraints["features"]
    assert sex == {
        "name": "sex",
        "inferred_type": "String",
        "completeness": 0.8,
        "string_constraints": {"domains": ["F", "I", "M"]},
    }
    assert rings_seen == {
        "name": "rings_seen",
        "inferred_type": "Integral",
        "completeness": 1.0,
        "num_constraints": {"is_non_negative": True},
    }
    assert length["completeness"] == 0.8
    config = constraints["monitoring_config"]
    assert config["evaluate_constraints"] == "Enabled"
    assert config["distribution_constraints"]["comparison_method"] in ("Simple", "Robust")


def test_a_negative_value_is_not_non_negative(frame: pd.DataFrame) -> None:
    frame.loc[0, "length"] = "-0.1"
    (_, _, length) = profile_of(frame).constraints()["features"]
    assert length["num_constraints"] == {"is_non_negative": False}


def test_the_sketch_keeps_a_bounded_sample_of_many_values() -> None:
    count = 3 * SKETCH_K
    frame = pd.DataFrame(
        {
            "sex": ["M"] * count,
            "rings_seen": [str(i) for i in range(count)],
            "length": [str(i / count) for i in range(count)],
            "rings": ["1"] * count,
        }
    )
    statistics = profile_of(frame, chunk=1000).statistics()
    numbers = statistics["features"][1]["numerical_statistics"]
    (level,) = numbers["distribution"]["kll"]["sketch"]["data"]
    assert len(level) == SKETCH_K
    assert level == sorted(level) and len(set(level)) == SKETCH_K
    assert sum(b["count"] for b in numbers["distribution"]["kll"]["buckets"]) == count


def test_train_writes_both_documents_in_the_model_directory(job) -> None:
    # GIVEN a training job's channels (test_training's fixture) WHEN train runs
    assert main() == 0
    # THEN the baselines describe the train channel's features in model order
    folder = job.model_dir / "baselines"
    statistics = json.loads((folder / "statistics.json").read_text())
    constraints = json.loads((folder / "constraints.json").read_text())
    metadata = json.loads(job.metadata_file.read_text())
    names = [feature["name"] for feature in metadata["features"]]
    assert [f["name"] for f in statistics["features"]] == names
    assert [f["name"] for f in constraints["features"]] == names
    assert statistics["dataset"]["item_count"] == metadata["rows"]["train"]
    (sex,) = [f for f in constraints["features"] if f["name"] == "sex"]
    assert sex["string_constraints"]["domains"] == ["F", "I", "M"]
    for feature in statistics["features"]:
        if "numerical_statistics" in feature:
            numbers = feature["numerical_statistics"]
            buckets = numbers["distribution"]["kll"]["buckets"]
            assert sum(b["count"] for b in buckets) == numbers["common"]["num_present"]
