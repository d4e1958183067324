"""The `train` program: SageMaker's training contract around fitting, with its failure file."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

from tabular_container.constants import (
    DEFAULT_MAX_CHANNEL_BYTES,
    EXIT_FRAMEWORK_ERROR,
    EXIT_USER_ERROR,
)
from tabular_container.environment import TrainingEnvironment
from tabular_container.errors import UserError
from tabular_container.hyperparameters import parse_hyperparameters
from tabular_container.paths import SageMakerPaths

CHANNELS = ("train", "validation")
FILE_MODES = ("File", "FastFile")


def _read_json(path: Path, default: Any) -> Any:
    """A JSON config file, or default when SageMaker did not write it (a run by hand)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{path.name} is not valid JSON: {error}") from None


def _check_channel_settings(name: str, settings: object) -> None:
    """Refuse channel settings this container cannot read."""
    settings = settings if isinstance(settings, dict) else {}
    content_type = str(settings.get("ContentType", "text/csv"))
    if "csv" not in content_type.lower():
        raise UserError(f"channel {name} has ContentType {content_type}; use text/csv")
    mode = settings.get("TrainingInputMode", "File")
    if mode not in FILE_MODES:
        raise UserError(f"channel {name} uses {mode} input mode; use File or FastFile")


def channel_dirs(paths: SageMakerPaths) -> dict[str, Path]:
    """Folders of the train and (optional) validation channels, checked against the config."""
    config = _read_json(paths.input_data_config_file, None)
    if config is None:
        config = {path.name: {} for path in paths.data_dir.glob("*") if path.is_dir()}
    if not isinstance(config, dict):
        raise UserError("inputdataconfig.json must hold a JSON object of channels")
    if "train" not in config:
        raise UserError(
            f"missing train channel: the job has {', '.join(sorted(config)) or 'no channels'}; "
            "give it a 'train' channel of CSV files"
        )
    for name in sorted(config):
        if name in CHANNELS:
            _check_channel_settings(name, config[name])
        else:
            print(f"Ignoring channel {name}: train reads only {' and '.join(CHANNELS)}")
    return {name: paths.channel_dir(name) for name in CHANNELS if name in config}


def train(paths: SageMakerPaths, max_channel_bytes: int = DEFAULT_MAX_CHANNEL_BYTES) -> None:
    """Check the configuration, then fit and write the model."""
    hp = parse_hyperparameters(_read_json(paths.hyperparameters_file, {}))
    channels = channel_dirs(paths)
    # Imported here so a bad configuration fails in milliseconds, before scikit-learn loads.
    from tabular_container.fitting import fit_and_save

    fit_and_save(hp, channels, paths.model_dir, max_channel_bytes)


def write_failure(path: Path, reason: str) -> None:
    """Record why training failed; the first writer wins, as SageMaker keeps the first reason."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as failure:
            failure.write(reason)
    except FileExistsError:
        pass


def _fail(paths: SageMakerPaths, reason: str, code: int) -> int:
    """Log the reason, record it for SageMaker and hand back the exit code."""
    print(f"Training failed: {reason}", file=sys.stderr)
    write_failure(paths.failure_file, reason)
    return code


def main() -> int:
    """Run `train`; exit 0, 1 for bad input (the message says what to fix) or 2 for our bugs."""
    paths = SageMakerPaths.from_environ()
    try:
        train(paths, TrainingEnvironment.from_environ().max_channel_bytes)
        return 0
    except UserError as error:
        return _fail(paths, str(error), EXIT_USER_ERROR)
    except Exception as error:
        reason = (
            "Internal error in the training container (not caused by your input): "
            f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}"
        )
        return _fail(paths, reason, EXIT_FRAMEWORK_ERROR)
    finally:
        sys.stdout.flush()
