"""Local SageMaker: training jobs and endpoints over the real wire protocols, run as processes.

Start it in-process with `start_server(state_dir)` (`.url`, `.stop()`), or as its own process with
`python -m localcloud.sagemaker --state-dir DIR --port P`; point botocore at it with
`AWS_ENDPOINT_URL_SAGEMAKER` and `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` (both the same URL).
Container output goes to CloudWatch Logs and endpoint metrics to CloudWatch, through the
`session` given to `start_server` (default: the ambient configuration, AWS_ENDPOINT_URL).
"""

from __future__ import annotations

from localcloud.sagemaker.backend import LocalSageMaker
from localcloud.sagemaker.common import Settings
from localcloud.sagemaker.layout import read_endpoint_log, read_training_job_log
from localcloud.sagemaker.server import RunningServer, start_server

__all__ = [
    "LocalSageMaker",
    "RunningServer",
    "Settings",
    "read_endpoint_log",
    "read_training_job_log",
    "start_server",
]
