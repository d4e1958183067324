"""Batch scoring's names and places, shared by StartBatchTransform (an upload to `batch/input/`
starts a transform job with prod's model) and ReportBatchTransform (the job's end, counted, on
the topic), so both agree on what is an input, where its output lands and which jobs are ours.

Layout in the data bucket: `batch/input/<sub-path>/<file>` is scored into
`batch/output/<sub-path>/<file>.out`, one prediction per line, as SageMaker names a transform
job's output (`<input file>.out` under `S3OutputPath`, the input's own folders kept by giving
each job the output folder of its file).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

INPUT_PREFIX = "batch/input/"
OUTPUT_PREFIX = "batch/output/"
OUTPUT_SUFFIX = ".out"  # what SageMaker appends to each input file's name
INPUT_KEY_TAG = "batch-input-key"  # the transform job's tag naming the object it scores
TAG_VALUE_MAX = 256
# SageMaker's tag value pattern; other characters of an S3 key are replaced in the tag only.
TAG_VALUE_UNSAFE = re.compile(r"[^\w .:/=+\-@]")
NAME_STAMP = "%Y%m%d-%H%M%S"
SUBJECT_MAX = 100  # SNS: at most 100 printable ASCII characters
HASH_LENGTH = 8


@dataclass(frozen=True)
class BatchInput:
    """One object uploaded under `batch/input/`, to be scored by one transform job."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        """The object's own s3:// URI: the job's S3Prefix names exactly this object."""
        return f"s3://{self.bucket}/{self.key}"

    @property
    def output_path(self) -> str:
        """The job's S3OutputPath: `batch/output/` plus the key's folders under `batch/input/`
        (no trailing slash), so `<file>.out` lands beside where the file sat."""
        folders = self.key.removeprefix(INPUT_PREFIX).rpartition("/")[0]
        return f"s3://{self.bucket}/{OUTPUT_PREFIX}{folders}".rstrip("/")

    @property
    def output_key(self) -> str:
        """Where SageMaker writes the predictions: `batch/output/<sub-path>/<file>.out`."""
        return OUTPUT_PREFIX + self.key.removeprefix(INPUT_PREFIX) + OUTPUT_SUFFIX

    @property
    def output_uri(self) -> str:
        """The predictions' s3:// URI."""
        return f"s3://{self.bucket}/{self.output_key}"

    def tag(self) -> dict[str, str]:
        """The job's tag naming its input key, in the characters and length a tag allows."""
        return {"Key": INPUT_KEY_TAG, "Value": TAG_VALUE_UNSAFE.sub("_", self.key)[:TAG_VALUE_MAX]}


def ignored_because(key: str) -> str | None:
    """Why an object under `batch/input/` is not scored (None: it is): folder markers, and
    `.out` files, which are predictions, not records."""
    if not key.startswith(INPUT_PREFIX):
        return f"{key!r} is not under {INPUT_PREFIX}"
    if key.endswith("/"):
        return f"{key!r} is a folder marker, not a file of records"
    if key.endswith(OUTPUT_SUFFIX):
        return f"{key!r} ends in {OUTPUT_SUFFIX}: predictions are written to {OUTPUT_PREFIX}"
    return None


def transform_job_name(project: str, event_time: datetime, event_id: str) -> str:
    """`<project>-batch-<YYYYmmdd-HHMMSS>-<8 hex>`: the upload's event time and a hash of its
    event id, so a redelivered event names the same job (SageMaker refuses it twice).

    A fixed length after `<project>-batch-`, which IAM allows and no other project's fit.
    """
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:HASH_LENGTH]
    return f"{project}-batch-{event_time.strftime(NAME_STAMP)}-{digest}"


def is_batch_job_of(project: str, name: str) -> bool:
    """Whether a transform job name is one transform_job_name() gives this project."""
    shape = rf"{re.escape(project)}-batch-\d{{8}}-\d{{6}}-[0-9a-f]{{{HASH_LENGTH}}}"
    return re.fullmatch(shape, name) is not None


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`; ValueError for anything else."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ValueError(f"{uri!r} is not an s3://<bucket>/<key> URI")
    return bucket, key


def sns_subject(text: str) -> str:
    """A subject SNS accepts: printable ASCII (a key's other characters become "?"), one line,
    at most 100 characters."""
    ascii_text = text.encode("ascii", "replace").decode()
    return "".join(c if c.isprintable() else " " for c in ascii_text)[:SUBJECT_MAX]
