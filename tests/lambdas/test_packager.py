"""The packager's zips are reproducible, small, complete and importable; the uploader reports
versions; `make upload` without BUCKET stops at once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from localcloud.constants import REGION
from localcloud.stacks import lambda_functions
from scripts import package_lambdas, upload_lambdas
from tests.lambdas.conftest import LAMBDAS, REPO_ROOT, Cloud

# The functions the pipeline template declares: the packager must zip exactly these.
FUNCTIONS = sorted(lambda_functions())
# What each function's code imports from lambdas/shared, directly or through another shared module.
SHARED_USED = {
    "deploy_model": [
        "codepipeline_job.py",
        "json_logging.py",
        "model_registry.py",
        "prod_monitoring.py",
        "prod_rollout.py",
    ],
    "evaluate_model": ["codepipeline_job.py", "held_out.py", "json_logging.py"],
    "get_status": ["codepipeline_job.py", "json_logging.py", "prod_autoscaling.py"],
    "ground_truth": ["api_proxy.py", "json_logging.py"],
    "predict_proxy": ["api_proxy.py", "json_logging.py"],
    "record_approval": ["codepipeline_job.py", "json_logging.py", "model_registry.py"],
    "report_batch_transform": ["batch_scoring.py", "json_logging.py"],
    "register_model": [
        "codepipeline_job.py",
        "held_out.py",
        "json_logging.py",
        "model_registry.py",
    ],
    "start_batch_transform": ["batch_scoring.py", "json_logging.py"],
    "train_model": ["codepipeline_job.py", "json_logging.py"],
}


@pytest.fixture(scope="module")
def packager() -> ModuleType:
    """scripts/package_lambdas.py."""
    return package_lambdas


@pytest.fixture(scope="module")
def dist(packager: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zips, built once by the command line as `make package` runs it."""
    out = tmp_path_factory.mktemp("dist") / "lambdas"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "package_lambdas.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    for function in FUNCTIONS:
        assert f"{function}.zip" in result.stdout  # each size is printed
    return out


def test_there_is_one_zip_per_function(dist: Path):
    # GIVEN the function folders WHEN packaged THEN one zip for each function the template
    # declares, nothing else
    assert sorted(p.stem for p in dist.iterdir()) == FUNCTIONS


def test_the_same_sources_give_the_same_bytes(packager, dist: Path, tmp_path: Path):
    # GIVEN a copy of the sources with other timestamps and permissions
    copy = tmp_path / "lambdas"
    shutil.copytree(LAMBDAS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for source in copy.glob("*/*.py"):
        os.utime(source, (1_000_000_000, 1_000_000_000))
        source.chmod(0o600)
    # WHEN packaged again
    packager.package(tmp_path / "dist", copy)
    # THEN every zip is byte-identical
    for function in FUNCTIONS:
        rebuilt = (tmp_path / "dist" / f"{function}.zip").read_bytes()
        assert rebuilt == (dist / f"{function}.zip").read_bytes()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_zip_is_small_and_flat(packager, dist: Path, function: str):
    # GIVEN a function's zip
    path = dist / f"{function}.zip"
    # THEN it is at most 32 KB and holds its own modules and the shared ones it imports (no
    # other) at the root, and the container modules it checks input with
    # (tests/lambdas/test_train_model_zip.py)
    assert path.stat().st_size <= packager.MAX_ZIP_BYTES
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    own = sorted(p.name for p in (LAMBDAS / function).glob("*.py"))
    shared = SHARED_USED[function]
    assert names == sorted([*own, *shared, *packager.CONTAINER_MODULES.get(function, ())])
    assert "app.py" in names
    assert {(i.date_time, i.external_attr >> 16) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), 0o100644)
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_zip_imports_in_a_fresh_interpreter(dist: Path, function: str):
    # GIVEN only the zip on sys.path, and the region Lambda sets
    env = {"PATH": os.environ["PATH"], "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import app, json_logging; "
        "assert callable(app.handler); "
        "assert app.__file__.startswith(sys.argv[1]), app.__file__; "
        "assert json_logging.__file__.startswith(sys.argv[1]); print('ok')"
    )
    # WHEN `import app` runs (isolated: no PYTHONPATH, no user site)
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(dist / f"{function}.zip")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    # THEN it imports from the zip alone
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_an_oversized_zip_fails_clearly_and_is_not_written(packager, tmp_path, monkeypatch, capsys):
    # GIVEN a function carrying 40 KB of incompressible data
    lambdas = tmp_path / "lambdas"
    (lambdas / "shared").mkdir(parents=True)
    (lambdas / "shared" / "json_logging.py").write_text("")
    (lambdas / "big").mkdir()
    (lambdas / "big" / "app.py").write_text(f"DATA = {os.urandom(40 * 1024).hex()!r}\n")
    monkeypatch.setattr(packager, "LAMBDAS", lambdas)
    # WHEN packaged
    code = packager.main(["--out", str(tmp_path / "dist")])
    # THEN it fails naming the zip and the limit, and writes nothing to upload by mistake
    assert code == 1
    output = capsys.readouterr()
    assert "big.zip" in output.out
    assert "OVER THE LIMIT" in output.out
    assert "big.zip exceed 32768 bytes (32 KB)" in output.err
    assert not (tmp_path / "dist" / "big.zip").exists()


def test_a_function_module_shadowing_a_shared_one_is_refused(packager, tmp_path):
    # GIVEN a function file named like a shared module
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "json_logging.py").write_text("")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "app.py").write_text("")
    (tmp_path / "f" / "json_logging.py").write_text("")
    # WHEN packaged THEN it refuses, naming the file
    with pytest.raises(SystemExit, match="has the name of a shared module"):
        packager.package(tmp_path / "dist", tmp_path)


def test_upload_puts_each_zip_under_lambdas_and_prints_its_version(dist, cloud: Cloud, capsys):
    # GIVEN a versioned Lambda-code bucket (as the prep stack makes it)
    cloud.s3.create_bucket(Bucket="demo-lambda-code")
    cloud.s3.put_bucket_versioning(
        Bucket="demo-lambda-code", VersioningConfiguration={"Status": "Enabled"}
    )
    # WHEN uploaded
    assert upload_lambdas.main(["--bucket", "demo-lambda-code", "--dist", str(dist)]) == 0
    # THEN each zip is at lambdas/<folder>.zip, and its key and VersionId were printed
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(FUNCTIONS)
    for function, line in zip(FUNCTIONS, printed, strict=True):
        key = f"lambdas/{function}.zip"
        head = cloud.s3.head_object(Bucket="demo-lambda-code", Key=key)
        assert line == f"s3://demo-lambda-code/{key}  VersionId={head['VersionId']}"


def test_upload_without_zips_says_to_package_first(cloud: Cloud, tmp_path):
    # GIVEN an empty dist folder WHEN uploading THEN it says what to run
    with pytest.raises(SystemExit, match="run `make package` first"):
        upload_lambdas.main(["--bucket", "b", "--dist", str(tmp_path)])


def test_make_upload_without_bucket_stops_before_building():
    # GIVEN no BUCKET WHEN `make upload` THEN it stops at once with a clear error
    result = subprocess.run(
        ["make", "-C", str(REPO_ROOT), "upload", "BUCKET="],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "BUCKET is not set: make upload BUCKET=<" in result.stderr
    assert "package_lambdas" not in result.stdout
