"""The programs' settings, read once from the environment into typed read-only properties."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from tabular_container.constants import (
    BATCH_ENV,
    BATCH_STRATEGIES,
    BATCH_STRATEGY_ENV,
    DEFAULT_HOST,
    DEFAULT_LOG_LEVEL,
    DEFAULT_MAX_CHANNEL_BYTES,
    DEFAULT_MAX_PAYLOAD_IN_MB,
    DEFAULT_PORT,
    HOST_ENV,
    LOG_LEVEL_ENV,
    MAX_CHANNEL_BYTES_ENV,
    MAX_CONCURRENT_TRANSFORMS,
    MAX_CONCURRENT_TRANSFORMS_ENV,
    MAX_PAYLOAD_ENV,
    MAX_PAYLOAD_IN_MB,
    MEBIBYTE,
    MODEL_NAME_ENV,
    MULTI_RECORD,
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


def _whole_number(environ: Mapping[str, str], name: str, maximum: int) -> int | None:
    """Read an integer setting, None when unset, naming the variable when it is not one."""
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a whole number") from None
    if not 1 <= value <= maximum:
        raise UserError(f"{name}={raw!r} must be between 1 and {maximum}")
    return value


def _positive_int(environ: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    """Read an integer setting of at least 1, the default when unset."""
    value = _whole_number(environ, name, maximum)
    return default if value is None else value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    """A true/false setting (any case), false when unset."""
    raw = environ.get(name, "").strip()
    if raw.lower() not in ("", "true", "false"):
        raise UserError(f"{name}={raw!r} must be true or false")
    return raw.lower() == "true"


def _max_payload_in_mb(environ: Mapping[str, str]) -> int:
    """SAGEMAKER_MAX_PAYLOAD_IN_MB, 6 when unset; 0 (chunked streaming) is not served."""
    raw = environ.get(MAX_PAYLOAD_ENV, "").strip()
    if raw.isdigit() and int(raw) == 0:
        raise UserError(
            f"{MAX_PAYLOAD_ENV}={raw!r} asks for chunked streaming, which this server does not "
            f"take (it reads whole request bodies); set 1 to {MAX_PAYLOAD_IN_MB}"
        )
    value = _whole_number(environ, MAX_PAYLOAD_ENV, MAX_PAYLOAD_IN_MB)
    return DEFAULT_MAX_PAYLOAD_IN_MB if value is None else value


def _batch_strategy(environ: Mapping[str, str]) -> str:
    """SAGEMAKER_BATCH_STRATEGY (any case), MULTI_RECORD when unset."""
    raw = environ.get(BATCH_STRATEGY_ENV, "").strip()
    strategy = raw.upper() or MULTI_RECORD
    if strategy not in BATCH_STRATEGIES:
        raise UserError(f"{BATCH_STRATEGY_ENV}={raw!r} is not one of {', '.join(BATCH_STRATEGIES)}")
    return strategy


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
class ExecutionParameters:
    """What GET /execution-parameters tells batch transform: requests at once, strategy, MiB."""

    max_concurrent_transforms: int = 1
    batch_strategy: str = MULTI_RECORD
    max_payload_in_mb: int = DEFAULT_MAX_PAYLOAD_IN_MB

    def to_json(self) -> dict[str, int | str]:
        """SageMaker's keys and spelling."""
        return {
            "MaxConcurrentTransforms": self.max_concurrent_transforms,
            "BatchStrategy": self.batch_strategy,
            "MaxPayloadInMB": self.max_payload_in_mb,
        }


@dataclass(frozen=True)
class ServingEnvironment:
    """Where the model is, how the model server listens, which model it says it is, and the
    batch transform settings it honours (constants.py says which apply when)."""

    paths: SageMakerPaths
    host: str
    port: int
    workers: int
    log_level: str
    model_name: str | None
    batch: bool
    execution: ExecutionParameters

    @property
    def max_body_bytes(self) -> int:
        """The request body limit: MaxPayloadInMB in MiB (6 MiB outside batch mode)."""
        return self.execution.max_payload_in_mb * MEBIBYTE

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> ServingEnvironment:
        """Read and check every serving variable at once, so a bad one fails before start-up."""
        log_level = (environ.get(LOG_LEVEL_ENV) or DEFAULT_LOG_LEVEL).strip().lower()
        if log_level not in LOG_LEVELS:
            raise UserError(f"{LOG_LEVEL_ENV}={log_level!r} is not one of {', '.join(LOG_LEVELS)}")
        batch = _flag(environ, BATCH_ENV)
        max_payload_in_mb = _max_payload_in_mb(environ)
        concurrency = _whole_number(
            environ, MAX_CONCURRENT_TRANSFORMS_ENV, MAX_CONCURRENT_TRANSFORMS
        )
        # Predicting is CPU-bound: workers past the CPUs would only take turns on them, so
        # requests past one a CPU wait in the workers' event loops instead.
        cpus = available_cpus()
        workers = _positive_int(
            environ, WORKERS_ENV, cpus if concurrency is None else min(concurrency, cpus), 256
        )
        return cls(
            paths=SageMakerPaths.from_environ(environ),
            host=environ.get(HOST_ENV, "").strip() or DEFAULT_HOST,
            port=_positive_int(environ, PORT_ENV, DEFAULT_PORT, 65535),
            workers=workers,
            log_level=log_level,
            model_name=_model_name(environ),
            batch=batch,
            execution=ExecutionParameters(
                max_concurrent_transforms=workers if concurrency is None else concurrency,
                batch_strategy=_batch_strategy(environ),
                max_payload_in_mb=max_payload_in_mb if batch else DEFAULT_MAX_PAYLOAD_IN_MB,
            ),
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
