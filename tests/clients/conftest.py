"""One background local cloud (`python -m localcloud start`) for the client-compatibility suite.

The clients get what a user's shell gets from `eval "$(python -m localcloud env)"`: the endpoint,
the cloud's credentials and the region, and nothing else of the cloud.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localcloud.background import free_port
from localcloud.constants import REPO_ROOT
from tests.localcloud.test_cli import localcloud
from tests.readme_commands import AWS_CLI


@dataclass
class UserShell:
    """A user's shell pointed at the background cloud."""

    state_dir: Path
    environment: dict[str, str]
    connection: dict[str, Any]

    def run(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`command` in bash, with the AWS CLI first on PATH, as the README writes it."""
        return subprocess.run(
            ["bash", "-c", command],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO_ROOT,
            check=False,
        )

    def aws(self, *args: str, timeout: float = 120) -> Any:
        """`aws <args> --output json`, which must succeed; its parsed output."""
        result = subprocess.run(
            [str(AWS_CLI), *args, "--output", "json"],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else None

    def aws_error(self, *args: str) -> str:
        """`aws <args>`, which must fail; what it printed on stderr."""
        result = subprocess.run(
            [str(AWS_CLI), *args], env=self.environment, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode != 0, result.stdout
        return result.stderr


@pytest.fixture(scope="session")
def shell(tmp_path_factory: pytest.TempPathFactory, lambda_zips: Path) -> Iterator[UserShell]:
    state_dir = tmp_path_factory.mktemp("clients") / "state"
    started = localcloud(state_dir, lambda_zips, "start", "--port", str(free_port()))
    assert started.returncode == 0, started.stderr
    try:
        printed = localcloud(state_dir, lambda_zips, "env")
        assert printed.returncode == 0, printed.stderr
        home = tmp_path_factory.mktemp("home")
        environment = {
            "PATH": f"{AWS_CLI.parent}:{os.environ['PATH']}",
            "HOME": str(home),  # no ~/.aws of the machine's
            "AWS_CONFIG_FILE": str(home / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
        }
        for line in printed.stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            environment[name] = value.strip("'")
        connection = json.loads((state_dir / "connection.json").read_text())
        yield UserShell(state_dir, environment, connection)
    finally:
        localcloud(state_dir, lambda_zips, "down")
