"""Point a test's AWS environment at a moto server, and nowhere else."""

from __future__ import annotations

import os

import pytest
import requests

REGION = "us-east-1"


def use_only_moto(moto_url: str, monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """Reset moto's state and set an AWS environment that reaches only it (no profile, no retry)."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_MAX_ATTEMPTS": "1",
        **extra,
    }.items():
        monkeypatch.setenv(name, value)
