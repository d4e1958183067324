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
# Batch transform's variables (SageMaker sets them in a transform job's container; `serve` answers
# GET /execution-parameters with the three settings, keys as below, from them and its defaults):
# - SAGEMAKER_BATCH: `true` or `false` (any case; default false). Only in batch mode does
#   SAGEMAKER_MAX_PAYLOAD_IN_MB set the request body limit; outside it the limit stays
#   InvokeEndpoint's 6 MiB, which no setting lifts, and /execution-parameters says 6.
# - SAGEMAKER_MAX_PAYLOAD_IN_MB: 1 to 100 (SageMaker's bound; default 6), the body limit in MiB. 0,
#   SageMaker's chunked streaming, is refused: the server reads whole bodies.
# - SAGEMAKER_BATCH_STRATEGY: MULTI_RECORD (default) or SINGLE_RECORD, which refuses a body of more
#   than one record with 400.
# - SAGEMAKER_MAX_CONCURRENT_TRANSFORMS: 1 to 100 (MaxConcurrentTransforms x MaxPayloadInMB <= 100
#   in SageMaker); the worker count when SAGEMAKER_MODEL_SERVER_WORKERS is unset, at most one a CPU.
#   Unset, /execution-parameters answers the worker count: the requests served at once.
# A bad value of any of them stops `serve` before start-up, naming the variable.
BATCH_ENV = "SAGEMAKER_BATCH"
MAX_PAYLOAD_ENV = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
BATCH_STRATEGY_ENV = "SAGEMAKER_BATCH_STRATEGY"
MAX_CONCURRENT_TRANSFORMS_ENV = "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"

DEFAULT_BASE_DIR = "/opt/ml"
DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - the container must answer SageMaker on every interface
DEFAULT_LOG_LEVEL = "info"
MULTI_RECORD = "MULTI_RECORD"
SINGLE_RECORD = "SINGLE_RECORD"
BATCH_STRATEGIES = (MULTI_RECORD, SINGLE_RECORD)
DEFAULT_MAX_PAYLOAD_IN_MB = 6
MAX_PAYLOAD_IN_MB = 100
MAX_CONCURRENT_TRANSFORMS = 100
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
# One JSON object per line: a record in, a prediction out (what batch transform splits by line).
JSONLINES = "application/jsonlines"
REQUEST_TYPES = (CSV, JSON, JSONLINES)
RESPONSE_TYPES = (JSON, CSV, JSONLINES)

# SageMaker's InvokeEndpoint payload limit, and batch transform's default MaxPayloadInMB.
MEBIBYTE = 1024 * 1024
MAX_REQUEST_BYTES = DEFAULT_MAX_PAYLOAD_IN_MB * MEBIBYTE
# The response header SageMaker Runtime hands from the container to the caller, verbatim, as
# InvokeEndpoint's CustomAttributes (at most 1024 visible ASCII characters). Ours: `model=<name>`.
CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
MODEL_ATTRIBUTE = "model"

# Exit codes of `train`: bad input is the caller's to fix, anything else is ours.
EXIT_USER_ERROR = 1
EXIT_FRAMEWORK_ERROR = 2

# Seconds `serve` lets in-flight requests finish after SIGTERM.
GRACEFUL_SHUTDOWN_SECONDS = 10
