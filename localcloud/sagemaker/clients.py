"""The AWS clients the local SageMaker uses (S3, CloudWatch Logs, CloudWatch), made on first use.

They come from one boto3 session (the cloud's, or the ambient configuration: AWS_ENDPOINT_URL,
the moto server), created lazily so a session made before the environment was exported still
reaches the cloud. botocore clients are thread-safe, so one of each serves every thread.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3

from localcloud.constants import REGION


class AwsClients:
    """One client per service, all from the same session."""

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """The shared client of `service` ("s3", "logs", "cloudwatch")."""
        with self._lock:
            if service not in self._clients:
                session = self._session or boto3.session.Session(region_name=REGION)
                self._session = session
                self._clients[service] = session.client(service)
            return self._clients[service]
