"""The model directory's contents: the fitted pipeline and metadata.json, written and read here."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

import tabular_container
from tabular_container.constants import METADATA_FILE, METADATA_FORMAT, MODEL_FILE

LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "joblib")


def library_versions() -> dict[str, str]:
    """Versions a model depends on, so a mismatch at serving time can be traced."""
    versions = {
        "python": platform.python_version(),
        "tabular_container": tabular_container.__version__,
    }
    for library in LIBRARIES:
        try:
            versions[library] = version(library)
        except PackageNotFoundError:
            versions[library] = "not installed"
    return versions


def save_model(model_dir: Path, model: Pipeline, metadata: dict[str, Any]) -> None:
    """Write the pipeline and its metadata where SageMaker packs model.tar.gz from."""
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    document = {"format": METADATA_FORMAT, "model_file": MODEL_FILE, **metadata}
    (model_dir / METADATA_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """metadata.json as a dict, refusing a format this code does not know."""
    document = json.loads((model_dir / METADATA_FILE).read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != METADATA_FORMAT:
        raise ValueError(f"{METADATA_FILE} is not format {METADATA_FORMAT} metadata")
    return document


def load_model(model_dir: Path) -> Pipeline:
    """The fitted pipeline (a pickle: load only model directories this container wrote)."""
    return joblib.load(model_dir / MODEL_FILE)
