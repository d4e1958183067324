"""The predictor loads what `train` saves and predicts what the pipeline predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tabular_container.artifacts import save_model
from tabular_container.predictor import Predictor

ROWS = np.array([["M", 0.3 + i / 100, 0.1 + i / 50] for i in range(20)], dtype=object)


def test_a_saved_model_loads_with_its_schema(predictor, tmp_path):
    save_model(
        tmp_path, predictor.model, {"features": predictor.schema.to_json(), "target": "rings"}
    )

    loaded = Predictor.load(tmp_path)

    assert loaded.schema == predictor.schema
    assert loaded.predict(ROWS) == predictor.predict(ROWS)


def test_metadata_of_an_unknown_format_is_refused(predictor, tmp_path):
    save_model(tmp_path, predictor.model, {"features": [], "target": "rings"})
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    (tmp_path / "metadata.json").write_text(json.dumps({**metadata, "format": 99}))

    with pytest.raises(ValueError, match="not format 1 metadata"):
        Predictor.load(tmp_path)


def test_predictions_match_pipeline_predict_across_chunks(predictor, monkeypatch):
    monkeypatch.setattr("tabular_container.predictor.CHUNK_ROWS", 7)

    predictions = predictor.predict(ROWS)

    assert predictions == pytest.approx(predictor.model.predict(ROWS).tolist(), rel=1e-9)
    assert all(isinstance(value, float) for value in predictions)
