"""Where the pipeline's training data lives in the data bucket, and how it is uploaded.

`<split>/<split>.csv` for each split, and `pipeline/data.zip`: a manifest of their MD5s that the
pipeline's S3 source watches (docs/design.md). The local cloud (localcloud.stacks) and the
notebook (notebooks/walkthrough, on AWS too) upload through here, so both write the same bytes.
Standard library only: the notebook instance's kernel has nothing else of this project.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

SPLITS = ("train", "validation", "test")
DATA_TRIGGER_KEY = "pipeline/data.zip"


def split_key(split: str) -> str:
    """The data bucket key of one split's CSV."""
    return f"{split}/{split}.csv"


def _manifest_zip(manifest: Mapping[str, str]) -> bytes:
    """`pipeline/data.zip` as the pipeline's S3 source takes it: one manifest.json."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    return buffer.getvalue()


def _current_manifest(s3: Any, bucket: str) -> dict[str, str] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=DATA_TRIGGER_KEY)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return dict(json.loads(archive.read("manifest.json")))


def upload_split_bodies(
    s3: Any, bucket: str, bodies: Mapping[str, bytes]
) -> tuple[dict[str, str], bool]:
    """Upload each split's CSV, then the manifest zip only if the data changed.

    A new `pipeline/data.zip` starts a pipeline run on AWS, so an unchanged upload must not
    replace it. Returns the manifest (key → MD5) and whether the trigger was replaced.
    """
    manifest: dict[str, str] = {}
    for split, body in bodies.items():
        key = split_key(split)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        manifest[key] = hashlib.md5(body, usedforsecurity=False).hexdigest()
    changed = _current_manifest(s3, bucket) != manifest
    if changed:
        s3.put_object(Bucket=bucket, Key=DATA_TRIGGER_KEY, Body=_manifest_zip(manifest))
    return manifest, changed
