"""buildspecs/buildspec.yml: its shape, and its commands run against fake `aws` and `docker`."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from localcloud.cfn import load_template
from localcloud.codepipeline.build import BUILDSPEC, REVISION_FILE, image_tag, source_commit
from tests.conftest import REPO_ROOT

MODEL_CODE = REPO_ROOT / "model-code"
# The Python runtimes each CodeBuild image offers to `runtime-versions` (AWS's runtimes.yml in
# github.com/aws/aws-codebuild-docker-images: ubuntu/standard/7.0, al/x86_64/standard/5.0).
CODEBUILD_PYTHONS = {
    "aws/codebuild/standard:7.0": {"3.11", "3.12"},
    "aws/codebuild/amazonlinux-x86_64-standard:5.0": {"3.9", "3.10", "3.11", "3.12", "3.13"},
}
COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPOSITORY_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-model"


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(BUILDSPEC.read_text())


def commands(spec: dict, phase: str) -> list[str]:
    return spec["phases"][phase]["commands"]


def test_it_is_a_version_0_2_buildspec_with_the_four_phases(spec):
    assert str(spec["version"]) == "0.2"
    assert list(spec["phases"]) == ["install", "pre_build", "build", "post_build"]


def test_the_build_output_artifact_is_image_detail(spec):
    assert spec["artifacts"]["files"] == ["imageDetail.json"]


def test_it_logs_in_with_get_login_password_never_the_removed_get_login():
    text = BUILDSPEC.read_text()

    assert "aws ecr get-login " not in text
    assert "aws ecr get-login-password" in text
    assert "docker login --username AWS --password-stdin" in text


def test_the_variables_it_expects_are_documented_at_the_top():
    header = BUILDSPEC.read_text().split("version:")[0]

    for name in ("REPOSITORY_URI", "AWS_DEFAULT_REGION", "CODEBUILD_RESOLVED_SOURCE_VERSION"):
        assert name in header


def test_every_command_is_a_plain_string(spec):
    for phase in spec["phases"]:
        assert all(isinstance(command, str) for command in commands(spec, phase)), phase


def test_it_installs_the_requirements_and_runs_the_unit_tests(spec):
    install = " ".join(commands(spec, "install"))
    for requirements in ("requirements.txt", "requirements-test.txt"):
        assert f"-r {requirements}" in install
        assert (MODEL_CODE / requirements).is_file()
    assert any(
        "pytest" in command and "tests" in command for command in commands(spec, "pre_build")
    )


FAKE_AWS = """#!/usr/bin/env bash
echo "aws $*" >> "$CALLS"
case "$2" in
  get-login-password) echo secret-token ;;
  describe-images) [ -n "$IMAGE_EXISTS_IN_ECR" ] ;;
esac
"""
FAKE_DOCKER = """#!/usr/bin/env bash
echo "docker $*" >> "$CALLS"
if [ "$1" = login ]; then read -r password; echo "password $password" >> "$CALLS"; fi
"""


def run_build(
    spec: dict, tmp_path: Path, revision_file: str | None = None, **extra: str
) -> tuple[str, Path]:
    """pre_build, build and post_build in one bash, as CodeBuild runs them, in a model-code copy
    (with a SOURCE_REVISION file of `revision_file`, as make push-code's zip has)."""
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT / "model-code", source, ignore=shutil.ignore_patterns("__pycache__"))
    if revision_file is not None:
        (source / REVISION_FILE).write_text(revision_file + "\n")
    shims = tmp_path / "shims"
    shims.mkdir()
    python = f'#!/usr/bin/env bash\nexec "{sys.executable}" "$@"\n'
    for name, script in (("aws", FAKE_AWS), ("docker", FAKE_DOCKER), ("python", python)):
        (shims / name).write_text(script)
        (shims / name).chmod(0o755)
    script = "\n".join(
        ["set -e"] + [c for p in ("pre_build", "build", "post_build") for c in commands(spec, p)]
    )
    calls = tmp_path / "calls.log"
    env = {
        **os.environ,
        "PATH": f"{shims}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "REPOSITORY_URI": REPOSITORY_URI,
        "AWS_DEFAULT_REGION": "us-east-1",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": COMMIT,
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        **extra,
    }
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        ["bash", "-c", script], cwd=source, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise BuildFailed(done.stdout + done.stderr)
    return calls.read_text(), source


class BuildFailed(Exception):
    """The commands exited non-zero; the message is their output."""


def test_a_build_pushes_the_commit_tag_the_local_build_uses_and_names_it_in_image_detail(
    spec, tmp_path
):
    calls, source = run_build(spec, tmp_path)

    image = f"{REPOSITORY_URI}:{image_tag(COMMIT)}"
    assert "aws ecr get-login-password --region us-east-1" in calls
    assert "docker login --username AWS --password-stdin 123456789012.dkr.ecr" in calls
    assert "password secret-token" in calls
    assert f"docker build --tag {image} ." in calls
    assert f"docker push {image}" in calls
    assert "latest" not in calls
    assert json.loads((source / "imageDetail.json").read_text()) == {"ImageURI": image}


def test_a_commit_built_before_reuses_its_image(spec, tmp_path):
    calls, source = run_build(spec, tmp_path, IMAGE_EXISTS_IN_ECR="1")

    assert "docker build" not in calls
    assert "docker push" not in calls
    image = f"{REPOSITORY_URI}:{image_tag(COMMIT)}"
    assert json.loads((source / "imageDetail.json").read_text()) == {"ImageURI": image}


# An S3 source's revision (CODEBUILD_RESOLVED_SOURCE_VERSION) is the zip's object version.
S3_VERSION_ID = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"


def test_an_s3_source_is_tagged_with_the_commit_its_zip_names_as_the_local_build_tags_it(
    spec, tmp_path
):
    pushed = "fedcba9876543210fedcba9876543210fedcba98"
    calls, source = run_build(
        spec, tmp_path, revision_file=pushed, CODEBUILD_RESOLVED_SOURCE_VERSION=S3_VERSION_ID
    )

    image = f"{REPOSITORY_URI}:{image_tag(pushed)}"
    assert image.endswith(":fedcba9")
    assert f"docker push {image}" in calls
    assert json.loads((source / "imageDetail.json").read_text()) == {"ImageURI": image}
    assert source_commit(_zip({REVISION_FILE: pushed + "\n"}), S3_VERSION_ID) == pushed


def test_an_s3_source_without_its_commit_file_fails_before_building_as_the_local_build_does(
    spec, tmp_path
):
    with pytest.raises(BuildFailed) as failed:
        run_build(spec, tmp_path, CODEBUILD_RESOLVED_SOURCE_VERSION=S3_VERSION_ID)

    message = (
        f'no commit id: the source revision is "{S3_VERSION_ID}", not a commit (an S3 source '
        "zip needs the SOURCE_REVISION file make push-code writes)"
    )
    assert message in str(failed.value)
    calls = tmp_path / "calls.log"
    assert not calls.exists() or "docker" not in calls.read_text()
    with pytest.raises(RuntimeError, match=re.escape(message)):
        source_commit(_zip({"Dockerfile": "FROM scratch\n"}), S3_VERSION_ID)


def _zip(files: dict[str, str]) -> bytes:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return zipped.getvalue()


def test_the_unit_tests_run_on_the_python_the_image_runs(spec):
    (base,) = re.findall(r"^FROM python:(3\.\d+)\.", (MODEL_CODE / "Dockerfile").read_text(), re.M)
    runtime = str(spec["phases"]["install"]["runtime-versions"]["python"])
    pipeline = load_template(REPO_ROOT / "templates" / "02-pipeline.yml")
    image = pipeline["Resources"]["BuildProject"]["Properties"]["Environment"]["Image"]

    assert runtime == base
    assert runtime in CODEBUILD_PYTHONS[image], f"{image} offers no Python {runtime}"


def test_the_test_pins_codebuild_installs_are_the_ones_the_virtualenv_has():
    locked = (REPO_ROOT / "requirements" / "dev.txt").read_text().splitlines()
    pins = [
        line
        for line in (MODEL_CODE / "requirements-test.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert pins
    assert [pin for pin in pins if pin not in locked] == [], "run `make lock`"
