"""The training data: split it with the project's own script, upload it as the pipeline reads it.

The layout (`<split>/<split>.csv` and the `pipeline/data.zip` manifest of their MD5s) is
docs/design.md's; the local cloud uploads the same at its start (localcloud.stacks), and
tests/notebook checks that the two agree byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .connect import REPO_ROOT, Config

SPLITS = ("train", "validation", "test")
DATA_TRIGGER_KEY = "pipeline/data.zip"
PREPARE_DATA = REPO_ROOT / "scripts" / "prepare_data.py"
SEXES = {"M": "male", "F": "female", "I": "infant"}


def prepare_splits(config: Config) -> dict[str, pd.DataFrame]:
    """Split the raw data with scripts/prepare_data.py and load the three splits."""
    out = config.work_dir / "data"
    result = subprocess.run(
        [sys.executable, str(PREPARE_DATA), str(out)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{PREPARE_DATA.name} failed:\n{result.stderr or result.stdout}")
    print(result.stdout.strip())
    return {name: pd.read_csv(out / name / f"{name}.csv") for name in SPLITS}


def _manifest_zip(manifest: Mapping[str, str]) -> bytes:
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


def upload_splits(config: Config, splits: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Upload the splits; replace pipeline/data.zip (which starts a run on AWS) only on change."""
    s3 = config.session.client("s3")
    manifest = {}
    for name in SPLITS:
        body = splits[name].to_csv(index=False, lineterminator="\n").encode()
        key = f"{name}/{name}.csv"
        s3.put_object(Bucket=config.data_bucket, Key=key, Body=body)
        manifest[key] = hashlib.md5(body, usedforsecurity=False).hexdigest()
    changed = _current_manifest(s3, config.data_bucket) != manifest
    if changed:
        s3.put_object(Bucket=config.data_bucket, Key=DATA_TRIGGER_KEY, Body=_manifest_zip(manifest))
    rows = [
        (f"{n}/{n}.csv", f"{len(splits[n])} rows, MD5 {manifest[f'{n}/{n}.csv']}", "uploaded")
        for n in SPLITS
    ]
    status = "uploaded (the data changed)" if changed else "unchanged: not replaced"
    rows.append((DATA_TRIGGER_KEY, "manifest of the three files and their MD5", status))
    table = pd.DataFrame(rows, columns=["key", "content", "upload"]).set_index("key")
    table.columns.name = f"s3://{config.data_bucket}/"
    return table
