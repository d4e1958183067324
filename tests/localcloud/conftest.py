"""Fixtures for the local-cloud tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="session")
def lambda_zips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five Lambda zips, built by the real packager, as `make package` does."""
    out = tmp_path_factory.mktemp("dist") / "lambdas"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "package_lambdas.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out
