"""The training data: split it with the project's own script, upload it as the pipeline reads it.

The layout (`<split>/<split>.csv` and the `pipeline/data.zip` manifest of their MD5s) and the
upload are `pipeline_data`'s, which the local cloud uploads through too.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import pandas as pd

from pipeline_data import DATA_TRIGGER_KEY, SPLITS, split_key, upload_split_bodies

from .connect import REPO_ROOT, Config

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


def upload_splits(config: Config, splits: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Upload the splits; replace pipeline/data.zip (which starts a run on AWS) only on change."""
    bodies = {n: splits[n].to_csv(index=False, lineterminator="\n").encode() for n in SPLITS}
    manifest, changed = upload_split_bodies(config.session.client("s3"), config.data_bucket, bodies)
    rows = [
        (split_key(n), f"{len(splits[n])} rows, MD5 {manifest[split_key(n)]}", "uploaded")
        for n in SPLITS
    ]
    status = "uploaded (the data changed)" if changed else "unchanged: not replaced"
    rows.append((DATA_TRIGGER_KEY, "manifest of the three files and their MD5", status))
    table = pd.DataFrame(rows, columns=["key", "content", "upload"]).set_index("key")
    table.columns.name = f"s3://{config.data_bucket}/"
    return table
