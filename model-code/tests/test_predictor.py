"""The predictor loads what `train` saves and predicts what the pipeline predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tabular_container.artifacts import save_model
from tabular_container.predictor import CHUNK_ROWS, Predictor, UnpredictableRowError
from tabular_container.rows import ColumnRows

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


def test_column_wise_rows_predict_as_object_rows_a_chunk_at_a_time(predictor, monkeypatch):
    count = 2 * CHUNK_ROWS + 3
    rng = np.random.default_rng(0)
    sexes = rng.choice(np.array(["M", "F", "I", ""], dtype=object), count)
    lengths, weights = rng.uniform(0.1, 0.8, count), rng.uniform(0.0, 1.0, count)
    weights[::7] = np.nan
    objects = np.empty((count, 3), dtype=object)
    objects[:, 0], objects[:, 1], objects[:, 2] = sexes, lengths, weights
    columns = ColumnRows([sexes, lengths, weights])
    slices = []
    take = ColumnRows.__getitem__
    monkeypatch.setattr(
        ColumnRows, "__getitem__", lambda self, window: slices.append(window) or take(self, window)
    )

    assert predictor.predict(columns) == predictor.predict(objects)
    assert [(s.start, s.stop) for s in slices] == [
        (0, CHUNK_ROWS),
        (CHUNK_ROWS, 2 * CHUNK_ROWS),
        (2 * CHUNK_ROWS, 3 * CHUNK_ROWS),
    ]
    chunk = take(columns, slice(CHUNK_ROWS, CHUNK_ROWS + 2))
    assert chunk.tolist() == objects[CHUNK_ROWS : CHUNK_ROWS + 2].tolist()
    assert {type(cell) for cell in chunk[:, 1]} == {float}
