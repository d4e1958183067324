"""Lambda zips: their sizes, and the cold import of each handler in a fresh interpreter.

A cold start imports the handler module once; boto3 (and the clients the modules create at
import) dominate it, so each figure is given with and without boto3's own import.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from localcloud.constants import REGION
from localcloud.core.signing import Credentials

# Prints the seconds `import app` takes; with an argument, after importing boto3 untimed.
TIMER = """
import sys, time
if len(sys.argv) > 1:
    import boto3
started = time.perf_counter()
import app
print(time.perf_counter() - started)
"""
BOTO3_TIMER = "import time; s = time.perf_counter(); import boto3; print(time.perf_counter() - s)"


def _median_ms(argv: list[str], cwd: Path, env: dict[str, str], repeats: int) -> float:
    """Median over fresh interpreters of the seconds each prints, in milliseconds."""
    seconds = [
        float(
            subprocess.run(
                argv, cwd=cwd, env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return round(statistics.median(seconds) * 1000, 1)


def measure(dist: Path, repeats: int) -> dict[str, Any]:
    """Per zip in dist: bytes, and cold `import app` ms with boto3, without it, and boto3 alone."""
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-lambdas-") as scratch:
        env = {
            **Credentials.generate().environment(),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "HOME": scratch,  # no ~/.aws of the user's
            "PATH": "/usr/bin:/bin",
        }
        boto3_ms = _median_ms([sys.executable, "-c", BOTO3_TIMER], Path(scratch), env, repeats)
        for archive in sorted(dist.glob("*.zip")):
            code = Path(scratch) / archive.stem
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(code)
            run_env = {**env, "PYTHONPATH": str(code)}
            timer = [sys.executable, "-P", "-c", TIMER]
            figures[archive.stem] = {
                "zip_bytes": archive.stat().st_size,
                "cold_import_ms": _median_ms(timer, code, run_env, repeats),
                "cold_import_without_boto3_ms": _median_ms(
                    [*timer, "boto3-first"], code, run_env, repeats
                ),
            }
    return {"boto3_import_ms": boto3_ms, "functions": figures}
