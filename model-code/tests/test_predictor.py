"""The predictor loads what `train` saves and predicts what the pipeline predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tabular_container.artifacts import save_model
from tabular_container.predictor import Predictor, UnpredictableRowError

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


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow numpy warns about
@pytest.mark.parametrize("chunk_rows", [8192, 7])
def test_a_row_the_model_gives_no_finite_prediction_for_is_named(
    predictor, monkeypatch, chunk_rows
):
    monkeypatch.setattr("tabular_container.predictor.CHUNK_ROWS", chunk_rows)
    rows = ROWS.copy()
    rows[9, 1] = 1e308  # standardized, it overflows to inf, and the kernel to NaN

    with pytest.raises(UnpredictableRowError) as raised:
        predictor.predict(rows)

    assert raised.value.index == 9
