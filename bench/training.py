"""Training memory and time: the real `train` on 1x, 10x and 100x the abalone rows and a 200 MB CSV.

The rows are the train split resampled with a 1% jitter (made here, in a temporary folder: nothing
downloaded or kept); each size is one `bin/train` process against a SageMaker-shaped folder, with
the validation split as its validation channel. Peak RSS is the kernel's count for that process
alone (rusage, through a small parent), time is its wall time.

`python -m bench.training` runs it on its own (no nginx or wrk needed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.container.conftest import REPO_ROOT, jittered_rows, make_job, train_measured

ABALONE_ROWS = 4_177
# The 200 MB training CSV had 4.57 million rows; the jittered rows come to 208 MB.
SIZES = {
    "1x": ABALONE_ROWS,
    "10x": 10 * ABALONE_ROWS,
    "100x": 100 * ABALONE_ROWS,
    "200MB": 4_570_000,
}
LABELS = {"1x": "1x abalone", "10x": "10x abalone", "100x": "100x abalone", "200MB": "200 MB CSV"}
TARGET_SIZE = "200MB"
TIMEOUT_SECONDS = 1800
# The targets for the 200 MB CSV, both upper bounds.
LIMITS = {"train_200mb_peak_rss_gb": 2.0, "train_200mb_seconds": 180.0}


def splits(work: Path) -> Path:
    """The abalone splits, by the real scripts/prepare_data.py."""
    out = work / "splits"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "prepare_data.py"), str(out)],
        check=True,
        capture_output=True,
    )
    return out


def run_one(work: Path, data: Path, name: str, rows: int) -> dict[str, Any]:
    """One `train` process on `rows` jittered rows: its peak RSS, wall time and outcome."""
    base = make_job(work / name, data)
    csv = base / "input" / "data" / "train" / "train.csv"
    jittered_rows(data, rows).to_csv(csv, index=False)
    started = time.monotonic()
    run, peak = train_measured(base, timeout=TIMEOUT_SECONDS)
    seconds = time.monotonic() - started
    if run.returncode != 0:
        raise RuntimeError(f"train on {LABELS[name]} exited {run.returncode}: {run.stderr[-2000:]}")
    return {
        "rows": rows,
        "csv_mb": round(csv.stat().st_size / 1e6, 1),
        "peak_rss_mb": round(peak / 1e6),
        "seconds": round(seconds, 1),
    }


def measure(work: Path, sizes: dict[str, int] = SIZES) -> dict[str, Any]:
    """Every size, smallest first."""
    data = splits(work)
    runs = {}
    for name, rows in sizes.items():
        print(f"bench: train on {LABELS[name]} ({rows:,} rows)", flush=True)
        runs[name] = run_one(work, data, name, rows)
    return {"runs": runs}


def target_values(results: dict[str, Any]) -> dict[str, float]:
    """The 200 MB CSV's figures that have targets (LIMITS)."""
    run = results["runs"][TARGET_SIZE]
    return {
        "train_200mb_peak_rss_gb": round(run["peak_rss_mb"] / 1e3, 2),
        "train_200mb_seconds": run["seconds"],
    }


def table(results: dict[str, Any]) -> list[str]:
    """The runs as a markdown table."""
    rows = ["| training CSV | rows | CSV | peak RSS | time |", "|---|---|---|---|---|"]
    for name, run in results["runs"].items():
        rows.append(
            f"| {LABELS[name]} | {run['rows']:,} | {run['csv_mb']:,.1f} MB "
            f"| {run['peak_rss_mb']:,} MB | {run['seconds']:g} s |"
        )
    return rows


def missed(results: dict[str, Any]) -> list[str]:
    """The targets the 200 MB CSV missed, if it ran."""
    if TARGET_SIZE not in results["runs"]:
        return []
    return [key for key, value in target_values(results).items() if value > LIMITS[key]]


def summary(results: dict[str, Any]) -> list[str]:
    """The table and, when it ran, the 200 MB CSV against its targets, for the terminal."""
    lines = table(results)
    if TARGET_SIZE in results["runs"]:
        lines += [
            f"{key}: {value:g} (<= {LIMITS[key]:g}) {'MISSED' if key in missed(results) else 'met'}"
            for key, value in target_values(results).items()
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table and targets; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.training", description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(SIZES),
        help=f"comma-separated, from: {', '.join(SIZES)} (all)",
    )
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    chosen = {name: SIZES[name] for name in args.sizes.split(",")}
    with tempfile.TemporaryDirectory(prefix="bench-training-") as scratch:
        results = measure(Path(scratch), chosen)
    print("\n".join(summary(results)))
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if missed(results) else 0


if __name__ == "__main__":
    sys.exit(main())
