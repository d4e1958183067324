"""The classic SageMaker bring-your-own-container predictor, as the scikit-learn BYOC sample has it.

A Flask app behind gunicorn (gevent workers) behind nginx: each request's CSV body is read with
`pandas.read_csv` and handed to the pickled model. It is the baseline `make bench` compares our
`serve` against, serving the same model.joblib, so it stays as plain as the sample.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import ClassVar

import flask
import joblib
import pandas as pd

MODEL_DIR = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / "model"


class ScoringService:
    """Holds the model, loaded on first use, as the sample's singleton does."""

    model = None
    features: ClassVar[list[str]] = []

    @classmethod
    def get_model(cls) -> object:
        """The pickled pipeline and its feature names (metadata.json), loaded once per worker."""
        if cls.model is None:
            metadata = json.loads((MODEL_DIR / "metadata.json").read_text())
            cls.features = [feature["name"] for feature in metadata["features"]]
            cls.model = joblib.load(MODEL_DIR / metadata["model_file"])
        return cls.model

    @classmethod
    def predict(cls, frame: pd.DataFrame) -> object:
        """The model's predictions for a DataFrame of raw feature columns."""
        return cls.get_model().predict(frame)


app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping() -> flask.Response:
    """Healthy when the model loads."""
    status = 200 if ScoringService.get_model() is not None else 404
    return flask.Response(response="\n", status=status, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation() -> flask.Response:
    """CSV rows in, one prediction per line out."""
    if flask.request.content_type != "text/csv":
        return flask.Response(
            response="This predictor only supports CSV data", status=415, mimetype="text/plain"
        )
    ScoringService.get_model()
    body = flask.request.data.decode("utf-8")
    data = pd.read_csv(io.StringIO(body), header=None, names=ScoringService.features)
    predictions = ScoringService.predict(data)
    out = io.StringIO()
    pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
    return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")
