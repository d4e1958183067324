"""Batch transform at scale: a 1,000,000-row CSV through a local transform job, S3 to S3.

One local SageMaker (in this process, as the tests start it) on a moto server of its own
process, so this process's memory is the transform's (the runner and its S3 transfers) and not
S3's stored objects. The real `train` makes the model; then a 250,000-row and a 1,000,000-row
headerless CSV of abalone features (the raw file's rows repeated) each go through a transform
job with the defaults SageMaker would use for our container (`MultiRecord`, `SplitType: Line`,
settings from its `/execution-parameters`). Wall time runs from CreateTransformJob to
Completed; memory is sampled every 50 ms: this process's RSS above its level before the job,
and the `serve` processes' RSS summed. Flat memory means the 1,000,000-row job peaks where the
250,000-row one does.

`python -m bench.transform` runs it on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.capture import quiet_local_sagemaker, trained_model
from bench.training import splits
from tests.localcloud.sagemaker.conftest import BUCKET, Cloud, unique
from tests.moto_server import moto_server_process

ROWS = (250_000, 1_000_000)
TARGET_ROWS_PER_SECOND = 150_000
RAW_DATA = Path(__file__).resolve().parent.parent / "data" / "abalone" / "abalone.data"
FEATURES = 8  # the raw file's columns before rings
SAMPLE_SECONDS = 0.05
MB = 1e6


def write_csv(path: Path, rows: int) -> int:
    """`rows` headerless feature rows (the raw file's, repeated); the file's size."""
    lines = [",".join(line.split(",")[:FEATURES]) for line in RAW_DATA.read_text().split()]
    block = ("\n".join(lines) + "\n").encode()
    with path.open("wb") as out:
        whole, rest = divmod(rows, len(lines))
        for _ in range(whole):
            out.write(block)
        out.write(("\n".join(lines[:rest]) + "\n").encode() if rest else b"")
    return path.stat().st_size


class MemorySampler:
    """Peak RSS of this process (above a start level) and of the `serve` processes, summed."""

    def __init__(self, moto_pid: int) -> None:
        self._me = psutil.Process()
        self._moto_pid = moto_pid
        self._stop = threading.Event()
        self.start_rss = self._me.memory_info().rss
        self.runner_peak = 0
        self.serve_peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.runner_peak = max(self.runner_peak, self._me.memory_info().rss - self.start_rss)
            serve = 0
            for child in self._me.children(recursive=True):
                if child.pid == self._moto_pid:
                    continue
                try:
                    serve += child.memory_info().rss
                except psutil.Error:
                    continue
            self.serve_peak = max(self.serve_peak, serve)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _transform(cloud: Cloud, model: str, key: str, moto_pid: int) -> dict[str, Any]:
    """One job over one object: its wall time, settings and peak memory."""
    name = unique("bench-transform")
    with MemorySampler(moto_pid) as memory:
        started = time.perf_counter()
        cloud.sagemaker.create_transform_job(
            TransformJobName=name,
            ModelName=model,
            BatchStrategy="MultiRecord",
            TransformInput={
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{key}"}
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            TransformOutput={
                "S3OutputPath": f"s3://{BUCKET}/bench-batch/out/{name}",
                "Accept": "text/csv",
                "AssembleWith": "Line",
            },
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
        while True:
            job = cloud.sagemaker.describe_transform_job(TransformJobName=name)
            if job["TransformJobStatus"] not in {"InProgress", "Stopping"}:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    if job["TransformJobStatus"] != "Completed":
        raise RuntimeError(f"{name} is {job['TransformJobStatus']}: {job.get('FailureReason')}")
    output = cloud.s3.head_object(
        Bucket=BUCKET, Key=f"bench-batch/out/{name}/{Path(key).name}.out"
    )["ContentLength"]
    return {
        "seconds": round(seconds, 2),
        "max_concurrent_transforms": job["MaxConcurrentTransforms"],
        "max_payload_mb": job["MaxPayloadInMB"],
        "output_bytes": output,
        "runner_peak_rss_growth_mb": round(memory.runner_peak / MB, 1),
        "serve_peak_rss_mb": round(memory.serve_peak / MB, 1),
    }


def measure(work: Path) -> dict[str, Any]:
    """Both sizes through one local SageMaker; rows/s and peak memory of each."""
    runs = []
    with (
        moto_server_process() as moto_url,
        quiet_local_sagemaker(work / "transform", splits(work), moto_url=moto_url) as cloud,
    ):
        moto_pid = next(
            p.pid for p in psutil.Process().children() if "moto.server" in " ".join(p.cmdline())
        )
        model = trained_model(cloud)
        for rows in ROWS:
            path = work / f"batch-{rows}.csv"
            size = write_csv(path, rows)
            key = f"bench-batch/in/{rows}/records.csv"
            cloud.s3.upload_file(str(path), BUCKET, key)
            path.unlink()
            run = _transform(cloud, model, key, moto_pid)
            runs.append(
                {
                    "rows": rows,
                    "input_mb": round(size / MB, 1),
                    **run,
                    "rows_per_second": round(rows / run["seconds"]),
                }
            )
    small, large = runs[0], runs[-1]
    return {
        "runs": runs,
        "rows_per_second": large["rows_per_second"],
        "runner_peak_growth_ratio": round(
            large["runner_peak_rss_growth_mb"] / max(small["runner_peak_rss_growth_mb"], 1.0), 2
        ),
        "serve_peak_ratio": round(large["serve_peak_rss_mb"] / small["serve_peak_rss_mb"], 2),
    }


def target_values(results: dict[str, Any]) -> dict[str, Any]:
    """The figure the targets table checks."""
    return {"transform_rows_per_second": results["rows_per_second"]}


def section(results: dict[str, Any]) -> list[str]:
    """The README's lines on batch transform."""
    rows = [
        "**Batch transform** (a local transform job, S3 to S3: a headerless CSV of abalone "
        "features, `MultiRecord`, split by line, the container's `/execution-parameters`; wall "
        "time from CreateTransformJob to Completed; memory sampled every 50 ms: the runner's "
        "process above its level before the job, moto's S3 in a process of its own, and the "
        "`serve` processes summed):",
        "",
        "| rows | input | wall | rows/s | concurrent x payload | runner peak growth | serve peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        rows.append(
            f"| {run['rows']:,} | {run['input_mb']:g} MB | {run['seconds']:g} s | "
            f"{run['rows_per_second']:,} | {run['max_concurrent_transforms']} x "
            f"{run['max_payload_mb']} MB | {run['runner_peak_rss_growth_mb']:g} MB | "
            f"{run['serve_peak_rss_mb']:g} MB |"
        )
    rows += [
        "",
        f"Four times the rows: the runner's peak {results['runner_peak_growth_ratio']:g}x, the "
        f"containers' {results['serve_peak_ratio']:g}x (flat: each holds a window of "
        "mini-batches, never an object).",
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the measurement alone and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.transform", description=__doc__)
    parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-transform-") as scratch:
        results = measure(Path(scratch))
    print(json.dumps(results, indent=2))
    met = results["rows_per_second"] >= TARGET_ROWS_PER_SECOND
    print(
        f"rows/s {results['rows_per_second']:,} (target >= {TARGET_ROWS_PER_SECOND:,}): "
        f"{'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    sys.exit(main())
