"""The one place that knows SageMaker's /opt/ml layout (or SAGEMAKER_BASE_DIR's)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tabular_container.constants import BASE_DIR_ENV, DEFAULT_BASE_DIR, METADATA_FILE, MODEL_FILE


@dataclass(frozen=True)
class SageMakerPaths:
    """Files and folders of the SageMaker container contract under one base directory."""

    base: Path

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> SageMakerPaths:
        """Use SAGEMAKER_BASE_DIR when set, so the programs run without Docker."""
        return cls(Path(environ.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR))

    @property
    def hyperparameters_file(self) -> Path:
        """JSON object of hyperparameters, every value a string."""
        return self.base / "input" / "config" / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> Path:
        """JSON object describing each input channel."""
        return self.base / "input" / "config" / "inputdataconfig.json"

    @property
    def data_dir(self) -> Path:
        """Parent of one folder per input channel."""
        return self.base / "input" / "data"

    def channel_dir(self, channel: str) -> Path:
        """Folder holding the files of one input channel."""
        return self.data_dir / channel

    @property
    def model_dir(self) -> Path:
        """What SageMaker packs into model.tar.gz after training and unpacks before serving."""
        return self.base / "model"

    @property
    def model_file(self) -> Path:
        """The fitted scikit-learn pipeline."""
        return self.model_dir / MODEL_FILE

    @property
    def metadata_file(self) -> Path:
        """Input schema, target and metrics of the model."""
        return self.model_dir / METADATA_FILE

    @property
    def failure_file(self) -> Path:
        """Reason of a failed training job, shown by SageMaker as FailureReason."""
        return self.base / "output" / "failure"
