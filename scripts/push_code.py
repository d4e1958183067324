"""Zip the committed model code and upload it to the pipeline's S3 source, which starts a run.

The pipeline stack with SourceProvider=S3 reads its source from `pipeline/model-code.zip` of its
data bucket (its `ModelCodeUploadUri` output) and an EventBridge rule on that key starts the
pipeline. The zip is the tree the README's CodeCommit push builds, from `git archive HEAD` (never
the working tree), plus `SOURCE_REVISION`: HEAD's commit id, which the buildspec tags the image
with (an S3 source's revision is an object version, not a commit). The same commit gives the
same bytes. Errors are one `error:` line on stderr; exit status 2 for bad arguments, 1 for the
rest.
"""

from __future__ import annotations

import argparse
import io
import stat
import subprocess
import sys
import tarfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from localcloud.client import STATE_DIR, aws_client, read_connection
from localcloud.constants import REPO_ROOT
from scripts.registry.target import (
    Problem,
    aws_target,
    check_project_name,
    project_parameter,
    report,
)

PROG = "python -m scripts.push_code"

# The layout README.md describes under "Deploy to AWS" -> "2. Push the model code" (keep the two
# alike): the contents of model-code/ at the root, and these at their own paths.
ROOT_TREE = "model-code"
AT_THEIR_PATHS = ("buildspecs", "notebooks", "data", "pipeline_data", "scripts/prepare_data.py")
PUSHED_PATHS = (ROOT_TREE, *AT_THEIR_PATHS)
# HEAD's full commit id and a newline, at the zip's root.
REVISION_FILE = "SOURCE_REVISION"
SHORT_COMMIT = 7  # what the buildspec cuts the commit to for the image tag
UPLOAD_OUTPUT = "ModelCodeUploadUri"
# CodePipeline shows this object metadata as the source revision's summary.
SUMMARY_KEY = "codepipeline-artifact-revision-summary"
# S3 allows 2 KB of user metadata, the key's bytes included.
SUMMARY_BYTES = 2048 - len(SUMMARY_KEY)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date, for every entry


@dataclass(frozen=True)
class Source:
    """The zip of one commit, and what the upload says about it."""

    body: bytes
    commit: str  # the full 40-hex id
    subject: str  # the commit message's first line
    files: int

    @property
    def short(self) -> str:
        """The commit as the image tag has it."""
        return self.commit[:SHORT_COMMIT]

    def summary(self) -> str:
        """`<short commit> <subject>` as S3 metadata takes it: ASCII, one line, cut to fit."""
        text = unicodedata.normalize("NFKD", f"{self.short} {self.subject}")
        text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
        return text.encode("ascii", "ignore")[:SUMMARY_BYTES].decode("ascii")


def _git(root: Path, *args: str) -> bytes:
    """Run git in `root`; its stdout, or a Problem with git's own last line."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise Problem("git is not installed: push-code zips the committed tree with it") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"]
        raise Problem(f"git {args[0]} failed in {root}: {lines[-1]}")
    return done.stdout


def head_commit(root: Path) -> str:
    """HEAD's commit id; refuses a folder that is not the top of a git checkout, or no HEAD."""
    try:
        top = _git(root, "rev-parse", "--show-toplevel").decode().strip()
    except Problem:
        top = ""
    if not top or Path(top).resolve() != root.resolve():
        raise Problem(
            f"{root} is not a git checkout: push-code zips its committed files (git archive HEAD)"
        )
    try:
        return _git(root, "rev-parse", "--verify", "HEAD^{commit}").decode().strip()
    except Problem:
        raise Problem(f"{root} has no HEAD commit yet: commit the model code first") from None


def uncommitted(root: Path) -> list[str]:
    """The pushed paths (`model-code/`, ...) with changes `git status` shows: not in the zip."""
    output = _git(root, "status", "--porcelain", "-z", "--no-renames", "--", *PUSHED_PATHS)
    changed = [entry[3:] for entry in output.decode().split("\0") if entry]
    return [
        f"{path}/" if (root / path).is_dir() else path
        for path in PUSHED_PATHS
        if any(name == path or name.startswith(f"{path}/") for name in changed)
    ]


def _archive(root: Path, treeish: str, *paths: str) -> dict[str, tuple[bytes, int]]:
    """`git archive`'s files: name -> (bytes, zip external_attr with the file type and mode)."""
    files: dict[str, tuple[bytes, int]] = {}
    with tarfile.open(
        fileobj=io.BytesIO(_git(root, "archive", "--format=tar", treeish, *paths))
    ) as tar:
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                mode = 0o755 if member.mode & 0o111 else 0o644
                files[member.name] = (handle.read(), (stat.S_IFREG | mode) << 16)
            elif member.issym():
                files[member.name] = (member.linkname.encode(), (stat.S_IFLNK | 0o777) << 16)
    return files


def build_zip(root: Path = REPO_ROOT) -> Source:
    """The pipeline's source zip of `root`'s HEAD: deterministic, committed files only."""
    commit = head_commit(root)
    for path in PUSHED_PATHS:
        try:
            _git(root, "cat-file", "-e", f"{commit}:{path}")
        except Problem:
            raise Problem(
                f"commit {commit[:SHORT_COMMIT]} has no {path}: nothing to push"
            ) from None
    files = _archive(root, f"{commit}:{ROOT_TREE}")
    for name, entry in sorted(_archive(root, commit, *AT_THEIR_PATHS).items()):
        if name in files:
            raise Problem(f"{ROOT_TREE}/{name} and {name} would both be {name} in the zip")
        files[name] = entry
    if REVISION_FILE in files:
        raise Problem(f"{ROOT_TREE}/{REVISION_FILE} is in the way of the zip's own {REVISION_FILE}")
    files[REVISION_FILE] = (f"{commit}\n".encode(), (stat.S_IFREG | 0o644) << 16)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            data, attributes = files[name]
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.create_system = 3  # Unix, so unzip applies the modes in external_attr
            info.external_attr = attributes
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    subject = _git(root, "log", "-1", "--format=%s", commit).decode(errors="replace").strip()
    return Source(buffer.getvalue(), commit, subject, len(files))


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise Problem(f"{UPLOAD_OUTPUT} {uri!r} is not an s3://bucket/key URI")
    return bucket, key


def stack_upload_uri(cloudformation: Any, project: str) -> str:
    """`<project>-pipeline`'s ModelCodeUploadUri output (only SourceProvider=S3 has it)."""
    name = f"{project}-pipeline"  # as scripts.aws_stacks names it (importing that loads moto)
    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as err:
        if err.response["Error"]["Code"] == "ValidationError":
            raise Problem(f"stack {name} does not exist (make deploy creates it)") from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if UPLOAD_OUTPUT not in outputs:
        raise Problem(
            f"stack {name} has no {UPLOAD_OUTPUT} output: its SourceProvider is not S3 "
            "(push to its CodeCommit repository or Git branch instead)"
        )
    return outputs[UPLOAD_OUTPUT]


def local_upload_uri(connection: dict[str, Any], project: str | None) -> str:
    """The local cloud's pipeline stack's ModelCodeUploadUri output (started with --source S3)."""
    running = connection["stacks"]["prep"].get("ProjectName")
    if project is not None and project != running:
        raise Problem(f"the local cloud runs project {running}, not {project}: drop --project")
    uri = connection["stacks"]["pipeline"].get(UPLOAD_OUTPUT)
    if not uri:
        raise Problem(
            f"the local cloud's pipeline stack has no {UPLOAD_OUTPUT} output: its SourceProvider "
            "is not S3 (restart it with python -m localcloud start --source S3)"
        )
    return uri


def upload(s3: Any, uri: str, source: Source) -> str | None:
    """Put the zip at the upload URI; the VersionId S3 gave it (None if not versioned)."""
    bucket, key = split_s3_uri(uri)
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=source.body,
        ContentType="application/zip",
        Metadata={SUMMARY_KEY: source.summary()},
    )
    return response.get("VersionId")


def project_name(value: str) -> str:
    """argparse's type for --project: the prep template's pattern."""
    try:
        return check_project_name(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The arguments; options that do not go together refused."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project",
        type=project_name,
        help=f"the project: its stack <project>-pipeline (default: "
        f"{project_parameter()['Default']} on AWS, the local cloud's with --local)",
    )
    parser.add_argument("--region", help="the AWS region (default: AWS_REGION, else the profile's)")
    parser.add_argument(
        "--local", action="store_true", help="upload to the running local cloud instead of AWS"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help=f"with --local: the local cloud's state folder (default: {STATE_DIR})",
    )
    parser.add_argument(
        "--repo",
        type=Path,
        default=REPO_ROOT,
        help="the git checkout whose HEAD is zipped (default: this repository)",
    )
    args = parser.parse_args(argv)
    if args.local and args.region is not None:
        parser.error("--region does not go with --local: the local cloud has its own region")
    if not args.local and args.state_dir is not None:
        parser.error("--state-dir is the local cloud's: use it with --local")
    return args


def destination(args: argparse.Namespace) -> tuple[str, Any, str]:
    """Where the zip goes: (s3:// URI, an S3 client there, where for messages)."""
    if args.local:
        connection = read_connection(args.state_dir or STATE_DIR)
        if connection is None:
            raise Problem(
                "no local cloud is running (make up, or python -m localcloud start --source S3)"
            )
        uri = local_upload_uri(connection, args.project)
        return uri, aws_client(connection, "s3"), "the local cloud"
    target = aws_target(args.project, args.region)
    return (
        stack_upload_uri(target.client("cloudformation"), target.project),
        target.client("s3"),
        target.where,
    )


def run(args: argparse.Namespace) -> str:
    """Zip, find where it goes, upload; what to print."""
    source = build_zip(args.repo)
    changed = uncommitted(args.repo)
    if changed:
        print(
            f"{PROG}: warning: uncommitted changes in {', '.join(changed)} are not pushed: "
            "commit them first",
            file=sys.stderr,
        )
    uri, s3, where = destination(args)
    version = upload(s3, uri, source)
    return "\n".join(
        (
            f"Zipped commit {source.commit} ({source.subject}): {source.files} files, "
            f"{len(source.body):,} bytes",
            f"Uploaded {uri} in {where}: VersionId {version or '(bucket not versioned)'}",
            "The pipeline's EventBridge rule on that key starts a run on this new version.",
        )
    )


def main(argv: list[str] | None = None) -> int:
    """The command line; its exit status."""
    args = parse_args(argv)
    return report(PROG, lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
