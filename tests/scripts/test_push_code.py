"""scripts.push_code: the zip of a commit has the layout the README's CodeCommit push builds (plus
SOURCE_REVISION), the same bytes for the same commit, committed files only; the upload reaches the
pipeline stack's ModelCodeUploadUri on AWS (a moto server) or in the local cloud (its connection
file), and every refusal is one error line with exit status 1."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from localcloud.client import write_connection
from scripts.push_code import (
    AT_THEIR_PATHS,
    FIXED_TIME,
    PROG,
    REVISION_FILE,
    ROOT_TREE,
    SUMMARY_BYTES,
    SUMMARY_KEY,
    Source,
    build_zip,
    main,
)
from tests.conftest import REPO_ROOT
from tests.moto_server import moto_server_process
from tests.moto_support import REGION, use_only_moto

PROJECT = "demo"
BUCKET = "demo-data-bucket"
KEY = "pipeline/model-code.zip"
SUBJECT = "Model code: first"
# What the temporary repository commits, by path (bin/serve executable).
COMMITTED = {
    "model-code/Dockerfile": "FROM python:3.11-slim\n",
    "model-code/bin/serve": "#!/bin/sh\necho serve\n",
    "model-code/src/app.py": "print('committed')\n",
    "buildspecs/buildspec.yml": "version: 0.2\n",
    "notebooks/walkthrough.ipynb": "{}\n",
    "data/abalone/abalone.data": "M,0.455\n",
    "pipeline_data/__init__.py": "",
    "scripts/prepare_data.py": "print('split')\n",
    "README.md": "not pushed\n",
}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=Tester", "-c", "user.email=t@example.com",
         "-c", "commit.gpgsign=false", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip


def _entries(body: bytes) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {info.filename: info for info in archive.infolist()}


def _read(body: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return archive.read(name)


def _mode(info: zipfile.ZipInfo) -> int:
    return info.external_attr >> 16


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a minimal pushed tree committed, then changed without a commit."""
    root = tmp_path / "checkout"
    root.mkdir()
    _git(root, "init", "--quiet")
    for name, text in COMMITTED.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "model-code/bin/serve").chmod(0o755)
    _git(root, "add", "-A")
    _git(root, "commit", "--quiet", "-m", SUBJECT)
    (root / "model-code/src/app.py").write_text("print('edited, not committed')\n")
    (root / "model-code/extra.txt").write_text("untracked\n")
    return root


def test_the_zip_of_this_repository_has_the_layout_codebuild_and_the_notebook_expect() -> None:
    head = _git(REPO_ROOT, "rev-parse", "HEAD")
    source = build_zip(REPO_ROOT)
    entries = _entries(source.body)
    assert source.commit == head
    assert _read(source.body, REVISION_FILE) == f"{head}\n".encode()
    for name in ("Dockerfile", "bin/serve", "bin/train", "requirements.txt"):
        assert name in entries, name
    assert _mode(entries["bin/serve"]) & stat.S_IXUSR
    assert _mode(entries["bin/train"]) & stat.S_IXUSR
    assert not _mode(entries["Dockerfile"]) & 0o111
    for name in (
        "buildspecs/buildspec.yml",
        "notebooks/walkthrough.ipynb",
        "scripts/prepare_data.py",
    ):
        assert name in entries, name
    # Exactly the committed files of those paths: model-code/'s at the root, the others in place.
    committed = _git(REPO_ROOT, "ls-tree", "-r", "--name-only", head).splitlines()
    expected = {n.removeprefix(f"{ROOT_TREE}/") for n in committed if n.startswith(f"{ROOT_TREE}/")}
    expected |= {
        n for n in committed if any(n == p or n.startswith(f"{p}/") for p in AT_THEIR_PATHS)
    }
    assert set(entries) == expected | {REVISION_FILE}
    assert source.files == len(entries)
    assert _read(source.body, "bin/serve") == (REPO_ROOT / "model-code/bin/serve").read_bytes()


def test_the_same_commit_gives_the_same_bytes() -> None:
    first, second = build_zip(REPO_ROOT), build_zip(REPO_ROOT)
    assert first.commit == second.commit
    assert first.body == second.body
    entries = list(_entries(first.body).values())
    assert [i.filename for i in entries] == sorted(i.filename for i in entries)
    assert {i.date_time for i in entries} == {FIXED_TIME}
    assert {i.create_system for i in entries} == {3}


def test_another_clone_of_the_same_commit_gives_the_same_bytes(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
    assert build_zip(clone).body == build_zip(repo).body


def test_only_committed_files_are_zipped(repo: Path) -> None:
    source = build_zip(repo)
    entries = _entries(source.body)
    assert set(entries) == {
        "Dockerfile",
        "bin/serve",
        "src/app.py",
        "buildspecs/buildspec.yml",
        "notebooks/walkthrough.ipynb",
        "data/abalone/abalone.data",
        "pipeline_data/__init__.py",
        "scripts/prepare_data.py",
        REVISION_FILE,
    }
    assert _read(source.body, "src/app.py") == b"print('committed')\n"
    assert _mode(entries["bin/serve"]) == stat.S_IFREG | 0o755
    assert _mode(entries["src/app.py"]) == stat.S_IFREG | 0o644
    assert source.subject == SUBJECT
    assert _read(source.body, REVISION_FILE).decode() == _git(repo, "rev-parse", "HEAD") + "\n"


def test_the_summary_is_the_short_commit_and_subject_in_ascii_cut_to_what_s3_takes() -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert Source(b"", commit, "Café\tdone", 0).summary() == "0123456 Cafe done"
    long = Source(b"", commit, "x" * 5000, 0).summary()
    assert len(long) == SUMMARY_BYTES
    assert len(long) + len(SUMMARY_KEY) == 2048


def _one_error(capsys: pytest.CaptureFixture[str], status: int, expected: str) -> None:
    err = capsys.readouterr().err.splitlines()
    assert status == 1
    assert err[-1] == f"{PROG}: error: {expected}"
    assert all("error:" not in line for line in err[:-1])


def test_a_folder_that_is_not_a_git_checkout_is_refused(
    tmp_path: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    status = main(["--repo", str(plain), "--local", "--state-dir", str(tmp_path)])
    expected = (
        f"{plain} is not a git checkout: push-code zips its committed files (git archive HEAD)"
    )
    _one_error(capsys, status, expected)
    # A folder inside a checkout is not its top: refused too, not zipped from the outer HEAD.
    inner = repo / ROOT_TREE
    status = main(["--repo", str(inner), "--local", "--state-dir", str(tmp_path)])
    _one_error(capsys, status, expected.replace(str(plain), str(inner)))


def test_a_repository_without_a_commit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "--quiet")
    status = main(["--repo", str(empty), "--local", "--state-dir", str(tmp_path)])
    _one_error(capsys, status, f"{empty} has no HEAD commit yet: commit the model code first")


# --- the upload: a moto server as AWS, and a connection file naming it as the local cloud ---


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server_process() as url:
        yield url


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto server, reset, as the only AWS the test's environment reaches."""
    use_only_moto(moto_url, monkeypatch, AWS_EC2_METADATA_DISABLED="true")
    return moto_url


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def _template(with_output: bool) -> str:
    """A stand-in pipeline stack: the versioned data bucket, and the output of an S3 source."""
    template: dict[str, Any] = {
        "Resources": {
            "DataBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": BUCKET,
                    "VersioningConfiguration": {"Status": "Enabled"},
                },
            }
        }
    }
    if with_output:
        uri = {"Fn::Sub": "s3://${DataBucket}/" + KEY}
        template["Outputs"] = {"ModelCodeUploadUri": {"Value": uri}}
    return json.dumps(template)


def _create_stack(with_output: bool) -> None:
    cfn = _client("cloudformation")
    cfn.create_stack(StackName=f"{PROJECT}-pipeline", TemplateBody=_template(with_output))
    stack = cfn.describe_stacks(StackName=f"{PROJECT}-pipeline")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"  # moto creates it in the call
    # moto's CloudFormation does not apply VersioningConfiguration: the S3 API does.
    _client("s3").put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
    )


def _check_uploaded(s3: Any, repo: Path, out: str) -> None:
    """The object is the zip of the repository's HEAD, described as CodePipeline shows it."""
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    commit = _git(repo, "rev-parse", "HEAD")
    assert head["ContentType"] == "application/zip"
    assert head["Metadata"] == {SUMMARY_KEY: f"{commit[:7]} {SUBJECT}"}
    body = s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert body == build_zip(repo).body
    assert f"VersionId {head['VersionId']}" in out
    assert f"s3://{BUCKET}/{KEY}" in out
    assert commit in out
    assert "starts a run on this new version" in out


def test_on_aws_the_zip_goes_to_the_pipeline_stacks_upload_uri(
    aws: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_stack(with_output=True)
    assert main(["--project", PROJECT, "--repo", str(repo)]) == 0
    out, err = capsys.readouterr()
    _check_uploaded(_client("s3"), repo, out)
    assert err == (
        f"{PROG}: warning: uncommitted changes in model-code/ are not pushed: commit them first\n"
    )


def test_on_aws_a_stack_without_the_upload_uri_is_refused(
    aws: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_stack(with_output=False)
    status = main(["--project", PROJECT, "--repo", str(repo)])
    _one_error(
        capsys,
        status,
        f"stack {PROJECT}-pipeline has no ModelCodeUploadUri output: its SourceProvider is not "
        "S3 (push to its CodeCommit repository or Git branch instead)",
    )
    assert "Contents" not in _client("s3").list_objects_v2(Bucket=BUCKET)


def test_on_aws_a_missing_stack_is_refused(
    aws: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["--project", PROJECT, "--repo", str(repo)])
    _one_error(capsys, status, f"stack {PROJECT}-pipeline does not exist (make deploy creates it)")


def _connection(state_dir: Path, moto_url: str, pipeline_outputs: dict[str, str]) -> None:
    """connection.json as the local cloud writes it, naming this (live) process and moto."""
    write_connection(
        state_dir,
        {
            "pid": os.getpid(),
            "region": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "endpoints": {"default": moto_url},
            "stacks": {"prep": {"ProjectName": "abalone"}, "pipeline": pipeline_outputs},
        },
    )


def test_with_local_the_zip_goes_to_the_local_clouds_upload_uri(
    aws: str, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = _client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    _connection(tmp_path, aws, {"ModelCodeUploadUri": f"s3://{BUCKET}/{KEY}"})
    assert main(["--local", "--state-dir", str(tmp_path), "--repo", str(repo)]) == 0
    out, err = capsys.readouterr()
    _check_uploaded(s3, repo, out)
    assert "the local cloud" in out
    assert "uncommitted changes in model-code/ are not pushed" in err


def test_with_local_refusals_are_one_line(
    aws: str, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--local", "--state-dir", str(tmp_path), "--repo", str(repo)]
    _one_error(
        capsys,
        main(args),
        "no local cloud is running (make up, or python -m localcloud start --source S3)",
    )
    _connection(tmp_path, aws, {"PipelineName": "abalone-pipeline"})
    _one_error(
        capsys,
        main(args),
        "the local cloud's pipeline stack has no ModelCodeUploadUri output: its SourceProvider "
        "is not S3 (restart it with python -m localcloud start --source S3)",
    )
    _one_error(
        capsys,
        main([*args, "--project", "other"]),
        "the local cloud runs project abalone, not other: drop --project",
    )


def test_options_that_do_not_go_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["--local", "--region", "us-east-1"], "--region does not go with --local"),
        (["--state-dir", "x"], "--state-dir is the local cloud's: use it with --local"),
        (["--project", "Bad_Name"], "'Bad_Name' is not a project name"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variables", "arguments"),
    [
        ([], ""),
        (["LOCAL=yes"], "--local"),
        ([f"PROJECT={PROJECT}"], f'--project "{PROJECT}"'),
    ],
)
def test_make_push_code_passes_local_and_project(variables: list[str], arguments: str) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "push-code", *variables],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    assert done.stdout.splitlines()[-1].split() == [
        ".venv/bin/python",
        "-m",
        "scripts.push_code",
        *arguments.split(),
    ]
