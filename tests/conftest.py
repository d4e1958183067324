"""Fixtures shared by every test folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RAW_ABALONE = REPO_ROOT / "data" / "abalone" / "abalone.data"


@pytest.fixture(scope="session")
def abalone_splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The train/validation/test channels, made once per session by the real prepare_data script."""
    outdir = tmp_path_factory.mktemp("abalone") / "splits"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "prepare_data.py"), str(outdir)],
        check=True,
        capture_output=True,
    )
    return outdir
