"""Shared fixtures for the package's unit tests (nothing outside model-code/ is used)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

from tabular_container.estimators import build_model
from tabular_container.hyperparameters import Hyperparameters
from tabular_container.paths import SageMakerPaths
from tabular_container.predictor import Predictor
from tabular_container.schema import CATEGORICAL, NUMERIC, Column, Schema

# Each property test draws 400 examples under `make test`; the image build, which runs these
# tests for every new commit, draws 25 (HYPOTHESIS_PROFILE=build: the buildspec, the local build).
settings.register_profile("thorough", max_examples=400, deadline=None)
settings.register_profile("build", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "thorough"))


@pytest.fixture(scope="session")
def schema() -> Schema:
    """A small abalone-like schema: one categorical and two numeric features."""
    return Schema(
        (
            Column("sex", CATEGORICAL, ("F", "I", "M")),
            Column("length", NUMERIC),
            Column("weight", NUMERIC),
        ),
        target="rings",
    )


def synthetic_frame(rows: int = 60, seed: int = 0) -> pd.DataFrame:
    """Synthetic abalone-like rows: rings grow with length and weight, infants are younger."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["M", "F", "I"], size=rows)
    length = rng.uniform(0.2, 0.8, size=rows)
    weight = length**3 * 2 + rng.normal(0, 0.01, size=rows)
    rings = np.round(3 + 15 * length + 5 * weight - 2 * (sex == "I") + rng.normal(0, 1, rows))
    return pd.DataFrame(
        {
            "sex": sex,
            "length": length.round(3),
            "weight": weight.round(4),
            "rings": rings.astype(int),
        }
    )


@pytest.fixture(scope="session")
def make_frame():
    """Builder of synthetic training frames (rows, seed)."""
    return synthetic_frame


@pytest.fixture(scope="session")
def predictor(schema, make_frame) -> Predictor:
    """A real default model fitted on synthetic rows, behind a Predictor."""
    frame = make_frame(rows=80)
    rows = frame[list(schema.names)].to_numpy(dtype=object)
    model = build_model(Hyperparameters(), schema, len(rows)).fit(rows, frame["rings"])
    return Predictor(model, schema)


@pytest.fixture
def job(tmp_path, monkeypatch, make_frame):
    """A SageMaker-shaped base directory with train and validation channels."""
    paths = SageMakerPaths(tmp_path)
    for channel, seed in (("train", 0), ("validation", 1)):
        folder = paths.channel_dir(channel)
        folder.mkdir(parents=True)
        make_frame(rows=80, seed=seed).to_csv(folder / f"{channel}.csv", index=False)
    config = {
        name: {"ContentType": "text/csv", "TrainingInputMode": "File"}
        for name in ("train", "validation")
    }
    paths.input_data_config_file.parent.mkdir(parents=True)
    paths.input_data_config_file.write_text(json.dumps(config))
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    return paths
