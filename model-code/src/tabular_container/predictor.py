"""A loaded model with the schema its requests are checked against."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sklearn
from sklearn.pipeline import Pipeline

from tabular_container.artifacts import load_model, read_metadata
from tabular_container.schema import Schema

CHUNK_ROWS = 8192


class Predictor:
    """Predicts raw rows in schema order with the fitted pipeline."""

    def __init__(self, model: Pipeline, schema: Schema) -> None:
        self.model = model
        self.schema = schema

    @classmethod
    def load(cls, model_dir: Path) -> Predictor:
        """Read metadata.json and the pipeline that `train` wrote."""
        metadata = read_metadata(model_dir)
        schema = Schema.from_json(metadata.get("features"), metadata.get("target"))
        return cls(load_model(model_dir), schema)

    def predict(self, rows: np.ndarray) -> list[object]:
        """Predictions as plain Python values (floats or class labels), ready to encode.

        Same result as `model.predict(rows)`, minus Pipeline's per-call fitted check (a fifth of
        a one-row predict; `train` fitted the steps), in chunks so that a 6 MB request's kernel
        features take tens of megabytes, not hundreds.
        """
        predictions: list[object] = []
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            for _, step in self.model.steps[:-1]:
                chunk = step.transform(chunk)
            predictions.extend(self.model.steps[-1][1].predict(chunk).tolist())
        return predictions

    @staticmethod
    def skip_checks_in_this_thread() -> None:
        """Skip scikit-learn's per-call checks (its config is per thread): the codecs did them."""
        sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
