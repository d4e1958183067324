"""A loaded model with the schema its requests are checked against."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from tabular_container.artifacts import load_model, read_metadata
from tabular_container.rows import Rows
from tabular_container.schema import Schema
from tabular_container.transformers import RBFFeatures

CHUNK_ROWS = 8192


class UnpredictableRowError(ValueError):
    """The model gave no finite prediction for a row: its values overflow the arithmetic."""

    def __init__(self, index: int) -> None:
        super().__init__(f"no finite prediction for row index {index}")
        self.index = index


def _folded_predict(
    features: BaseEstimator, estimator: BaseEstimator
) -> Callable[[np.ndarray], np.ndarray] | None:
    """RBFFeatures then Ridge as one step: the kernel against the basis, times one vector.

    RBFFeatures ends in a matrix product (the kernel times its normalization) and Ridge is a
    linear map of that, so their two matrices multiply into one vector at load: per row a dot
    product replaces a 300 x 300 matrix product, which was most of a large batch's predict.
    The predictions equal the pipeline's to rounding (about 1e-15 relative).
    """
    if type(features) is not RBFFeatures or type(estimator) is not Ridge:
        return None
    weights = features.normalization_.T @ estimator.coef_.T
    intercept = estimator.intercept_
    return lambda X: features.basis_kernel(X) @ weights + intercept  # noqa: N803 - sklearn's


def _final_predict(estimator: BaseEstimator) -> Callable[[np.ndarray], np.ndarray]:
    """The last step's predict; for Ridge its arithmetic alone (`LinearModel._decision_function`).

    Ridge.predict's per-call input validation is half a one-row predict; the codecs and the
    steps before it have already made a finite float matrix.
    """
    if type(estimator) is Ridge:
        coef, intercept = estimator.coef_.T, estimator.intercept_
        return lambda X: X @ coef + intercept  # noqa: N803 - sklearn's name
    return estimator.predict


class Predictor:
    """Predicts raw rows in schema order with the fitted pipeline."""

    def __init__(self, model: Pipeline, schema: Schema) -> None:
        self.model = model
        self.schema = schema
        *steps, final = [step for _, step in model.steps]
        folded = _folded_predict(steps[-1], final) if steps else None
        if folded is not None:
            steps.pop()
        self._transforms = [step.transform for step in steps]
        self._predict = folded or _final_predict(final)

    @classmethod
    def load(cls, model_dir: Path) -> Predictor:
        """Read metadata.json and the pipeline that `train` wrote."""
        metadata = read_metadata(model_dir)
        schema = Schema.from_json(metadata.get("features"), metadata.get("target"))
        return cls(load_model(model_dir), schema)

    def predict(self, rows: Rows) -> list[object]:
        """Predictions as plain Python values (floats or class labels), ready to encode.

        Same result as `model.predict(rows)`, minus the per-call checks (Pipeline's fitted
        check, Ridge's input validation: over half of a one-row predict; `train` fitted the
        steps), in chunks so that a 6 MB request's kernel features take tens of megabytes, not
        hundreds, and column-wise rows become object rows one chunk at a time.
        UnpredictableRowError names the first row whose prediction is not finite (numbers near
        the float limit overflow), which JSON could not carry.
        """
        predictions: list[object] = []
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            for transform in self._transforms:
                chunk = transform(chunk)
            answer = self._predict(chunk)
            if answer.dtype.kind == "f" and not np.isfinite(answer).all():
                finite = np.isfinite(answer).reshape(len(answer), -1).all(axis=1)
                raise UnpredictableRowError(start + int(np.argmin(finite)))
            predictions.extend(answer.tolist())
        return predictions

    @staticmethod
    def skip_checks_in_this_thread() -> None:
        """Skip scikit-learn's per-call checks (its config is per thread): the codecs did them."""
        sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
