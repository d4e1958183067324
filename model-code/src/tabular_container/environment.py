"""The programs' settings, read once from the environment into typed read-only properties."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from tabular_container.constants import (
    DEFAULT_HOST,
    DEFAULT_LOG_LEVEL,
    DEFAULT_MAX_CHANNEL_BYTES,
    DEFAULT_PORT,
    HOST_ENV,
    LOG_LEVEL_ENV,
    MAX_CHANNEL_BYTES_ENV,
    MODEL_NAME_ENV,
    PORT_ENV,
    WORKERS_ENV,
)
from tabular_container.errors import UserError
from tabular_container.paths import SageMakerPaths

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
# SageMaker's ModelName: what DeployModel puts in MODEL_NAME_ENV, and always a valid header value.
MODEL_NAME = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?")


def available_cpus() -> int:
    """CPUs this process may run on (the container's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _positive_int(environ: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    """Read an integer setting, naming the variable when it is not one."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a whole number") from None
    if not 1 <= value <= maximum:
        raise UserError(f"{name}={raw!r} must be between 1 and {maximum}")
    return value


def _model_name(environ: Mapping[str, str]) -> str | None:
    """The served model's name, None when unset; a name SageMaker would refuse is an error."""
    raw = environ.get(MODEL_NAME_ENV, "")
    if not raw:
        return None
    if not MODEL_NAME.fullmatch(raw) or len(raw) > 63:
        raise UserError(
            f"{MODEL_NAME_ENV}={raw!r} is not a SageMaker model name "
            "(1 to 63 letters, digits and hyphens, starting and ending with a letter or digit)"
        )
    return raw


@dataclass(frozen=True)
class ServingEnvironment:
    """Where the model is, how the model server listens, and which model it says it is."""

    paths: SageMakerPaths
    host: str
    port: int
    workers: int
    log_level: str
    model_name: str | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> ServingEnvironment:
        """Read and check every serving variable at once, so a bad one fails before start-up."""
        log_level = (environ.get(LOG_LEVEL_ENV) or DEFAULT_LOG_LEVEL).strip().lower()
        if log_level not in LOG_LEVELS:
            raise UserError(f"{LOG_LEVEL_ENV}={log_level!r} is not one of {', '.join(LOG_LEVELS)}")
        return cls(
            paths=SageMakerPaths.from_environ(environ),
            host=environ.get(HOST_ENV, "").strip() or DEFAULT_HOST,
            port=_positive_int(environ, PORT_ENV, DEFAULT_PORT, 65535),
            workers=_positive_int(environ, WORKERS_ENV, available_cpus(), 256),
            log_level=log_level,
            model_name=_model_name(environ),
        )


@dataclass(frozen=True)
class TrainingEnvironment:
    """What `train` reads from the environment besides its paths (SageMakerPaths')."""

    max_channel_bytes: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> TrainingEnvironment:
        """Read and check the training variables."""
        return cls(
            max_channel_bytes=_positive_int(
                environ, MAX_CHANNEL_BYTES_ENV, DEFAULT_MAX_CHANNEL_BYTES, 10**18
            )
        )
