"""Every environment variable the container reads, with its default, and its fixed names."""

from __future__ import annotations

# Environment variables.
BASE_DIR_ENV = "SAGEMAKER_BASE_DIR"
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
# Not a SageMaker variable: the local cloud sets it to 127.0.0.1; in SageMaker the default applies.
HOST_ENV = "MODEL_SERVER_HOST"
LOG_LEVEL_ENV = "LOG_LEVEL"
# Not a SageMaker variable either: the largest channel `train` reads, in bytes (docs/design.md).
MAX_CHANNEL_BYTES_ENV = "TRAIN_MAX_CHANNEL_BYTES"
# Not a SageMaker variable: DeployModel sets it in the model's Environment; `serve` names the model
# in every answer's CustomAttributes header (below), so callers know which model answered.
MODEL_NAME_ENV = "SERVED_MODEL_NAME"

DEFAULT_BASE_DIR = "/opt/ml"
DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - the container must answer SageMaker on every interface
DEFAULT_LOG_LEVEL = "info"
# What the pipeline's default training volume (10 GB) holds, and over an hour of `train` on two
# vCPUs (bench/training.py measures the rate); past it a job fails at once, saying so.
DEFAULT_MAX_CHANNEL_BYTES = 10 * 10**9

# Files inside the model directory.
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
METADATA_FORMAT = 1
# The training data's Model Monitor baselines (baseline.py), in a folder of the model directory:
# model.tar.gz carries them as baselines/statistics.json and baselines/constraints.json.
BASELINE_DIR = "baselines"
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"

# The media types `serve` reads and answers (codecs.py); the registry lists them for each version.
JSON = "application/json"
CSV = "text/csv"
REQUEST_TYPES = (CSV, JSON)
RESPONSE_TYPES = (JSON, CSV)

# SageMaker's InvokeEndpoint payload limit.
MAX_REQUEST_BYTES = 6 * 1024 * 1024
# The response header SageMaker Runtime hands from the container to the caller, verbatim, as
# InvokeEndpoint's CustomAttributes (at most 1024 visible ASCII characters). Ours: `model=<name>`.
CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
MODEL_ATTRIBUTE = "model"

# Exit codes of `train`: bad input is the caller's to fix, anything else is ours.
EXIT_USER_ERROR = 1
EXIT_FRAMEWORK_ERROR = 2

# Seconds `serve` lets in-flight requests finish after SIGTERM.
GRACEFUL_SHUTDOWN_SECONDS = 10
