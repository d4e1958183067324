"""Fixtures shared by every test folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from localcloud.background import free_port
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.codepipeline.runner import RunReport
from localcloud.constants import REPO_ROOT
from tests.cloud_support import approve_all

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


@contextmanager
def running_cloud(
    tmp_path_factory: pytest.TempPathFactory, lambda_zips: Path, **pipeline_parameters: str
) -> Iterator[LocalCloud]:
    """A started local cloud with both stacks (the pipeline stack's parameters as given)."""
    settings = CloudSettings(
        state_dir=tmp_path_factory.mktemp("cloud") / ".localcloud",
        gateway_port=free_port(),
        dist=lambda_zips,
        pipeline_parameters=pipeline_parameters,
    )
    local_cloud = LocalCloud(settings)
    local_cloud.start(progress=lambda message: None)
    try:
        yield local_cloud
    finally:
        local_cloud.stop()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, lambda_zips: Path) -> Iterator[LocalCloud]:
    """A local cloud with both stacks, for one test module; stopped after it."""
    with running_cloud(tmp_path_factory, lambda_zips) as local_cloud:
        yield local_cloud


@pytest.fixture(scope="module")
def first_run(cloud: LocalCloud) -> RunReport:
    """The module cloud's first pipeline run, approved: it puts a model in dev and prod."""
    return cloud.run_pipeline(approve_all)
