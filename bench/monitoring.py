"""Monitoring time and memory: the real `bin/monitor` on 100,000 captured requests.

The traffic is made here, in a temporary folder, from the abalone rows (scripts/prepare_data.py's
train split): 100,000 single-record CSV requests, one capture record each as SageMaker writes
them (the answer a JSON prediction), spread over the hour's files of the capture layout, with
100,000 ground-truth labels. The baseline is `monitor`'s own baselining job on the train split
(what `train` writes). Each job is one `bin/monitor` process: data quality on the captures, and
model quality merging the labels in the same job. Time is the process's wall time, import
included; peak RSS is the kernel's count for that process alone (rusage, through a small parent,
as bench/training.py measures `train`). The brief's target: the data-quality job on 100,000
records in at most 10 s on this machine.

`python -m bench.monitoring` runs it on its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.training import splits
from tests.container.conftest import MODEL_CODE, PEAK_RSS, program_env

MONITOR = MODEL_CODE / "bin" / "monitor"
RECORDS = 100_000
FILES = 60  # one capture file a minute of the hour, as a busy endpoint's capture would be
TARGET_SECONDS = 10.0
HOUR = datetime(2024, 5, 6, 22, tzinfo=UTC)
CAPTURE_FORMAT = '{"sagemakerCaptureJson":{"captureIndexNames":["endpointInput","endpointOutput"]}}'


def traffic(data: Path, work: Path, records: int = RECORDS) -> tuple[Path, Path]:
    """Capture files and ground-truth files of `records` requests drawn from the train split."""
    frame = pd.read_csv(data / "train" / "train.csv")
    random = np.random.default_rng(0)
    rows = frame.iloc[random.integers(0, len(frame), records)].reset_index(drop=True)
    features = rows.drop(columns="rings")
    bodies = features.astype(str).agg(",".join, axis=1).tolist()
    predictions = (rows["rings"] + random.normal(0, 1.5, records)).round(4).tolist()
    capture = work / "capture" / "abalone-prod" / "AllTraffic" / f"{HOUR:%Y/%m/%d/%H}"
    labels = work / "ground-truth" / f"{HOUR:%Y/%m/%d/%H}"
    capture.mkdir(parents=True)
    labels.mkdir(parents=True)
    per_file = -(-records // FILES)
    for start in range(0, records, per_file):
        minute = start // per_file
        captured, truths = [], []
        for i in range(start, min(start + per_file, records)):
            event = str(uuid.UUID(int=random.integers(0, 2**63) << 64 | i))
            moment = HOUR + timedelta(minutes=minute, seconds=i % 60)
            captured.append(
                json.dumps(
                    {
                        "captureData": {
                            "endpointInput": {
                                "observedContentType": "text/csv",
                                "mode": "INPUT",
                                "data": bodies[i],
                                "encoding": "CSV",
                            },
                            "endpointOutput": {
                                "observedContentType": "application/json",
                                "mode": "OUTPUT",
                                "data": json.dumps({"predictions": [predictions[i]]}),
                                "encoding": "JSON",
                            },
                        },
                        "eventMetadata": {
                            "eventId": event,
                            "inferenceTime": f"{moment:%Y-%m-%dT%H:%M:%SZ}",
                        },
                        "eventVersion": "0",
                    }
                )
            )
            truths.append(
                json.dumps(
                    {
                        "groundTruthData": {"data": str(rows["rings"][i]), "encoding": "CSV"},
                        "eventMetadata": {"eventId": event},
                        "eventVersion": "0",
                    }
                )
            )
        name = f"{minute:02d}-00-000-{uuid.uuid4()}.jsonl"
        (capture / name).write_text("\n".join(captured) + "\n")
        (labels / name).write_text("\n".join(truths) + "\n")
    return work / "capture", work / "ground-truth"


def run_monitor(work: Path, name: str, **env: str) -> dict[str, Any]:
    """One `bin/monitor` process: its wall time, peak RSS and outcome."""
    base = work / name
    output = base / "output-path"
    peak = base / "peak-kib"
    base.mkdir(parents=True)
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(peak), sys.executable, str(MONITOR)],
        env=program_env(base, output_path=str(output), **env),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    message = (base / "output" / "message").read_text()
    if process.returncode != 0:
        raise RuntimeError(f"monitor {name} exited {process.returncode}: {message}")
    report = json.loads((output / "monitoring_report.json").read_text())
    records = report["counts"].get("records", 0)
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_second": round(records / seconds),
        "job_seconds": report["seconds"],
        "peak_rss_mb": round(int(peak.read_text()) * 1024 / 1e6),
        "message": message,
        "output": output,
    }


def measure(work: Path, records: int = RECORDS) -> dict[str, Any]:
    """The baseline, then data quality and model quality on `records` captured requests."""
    data = splits(work / "monitoring")
    print(f"bench: monitor on {records:,} captured requests", flush=True)
    capture, labels = traffic(data, work / "monitoring", records)
    baseline = run_monitor(
        work,
        "baseline",
        dataset_format='{"csv":{"header":true}}',
        dataset_source=str(data / "train"),
        ground_truth_attribute="rings",
    )["output"]
    runs = {
        "data_quality": run_monitor(
            work,
            "data-quality",
            dataset_format=CAPTURE_FORMAT,
            dataset_source=str(capture),
            baseline_statistics=str(baseline / "statistics.json"),
            baseline_constraints=str(baseline / "constraints.json"),
            publish_cloudwatch_metrics="Enabled",
            sagemaker_endpoint_name="abalone-prod",
            sagemaker_monitoring_schedule_name="bench",
        ),
        "model_quality": run_monitor(
            work,
            "model-quality",
            analysis_type="MODEL_QUALITY",
            problem_type="Regression",
            dataset_format=CAPTURE_FORMAT,
            dataset_source=str(capture),
            ground_truth_source=str(labels),
            inference_attribute="predictions",
            publish_cloudwatch_metrics="Enabled",
        ),
    }
    for run in runs.values():
        run.pop("output")
    seconds = runs["data_quality"]["seconds"]
    target = {
        "value": seconds,
        "target": f"<= {TARGET_SECONDS:g}",
        "met": seconds <= TARGET_SECONDS,
    }
    results = {"records": records, "runs": runs, "target_data_quality_seconds": target}
    print("\n".join(summary(results)), flush=True)  # the target's pass/fail, wherever it runs
    return results


def summary(results: dict[str, Any]) -> list[str]:
    """The runs as a table and the target, for the terminal."""
    lines = ["| monitor job | records | time | records/s | peak RSS |", "|---|---|---|---|---|"]
    for name, run in results["runs"].items():
        lines.append(
            f"| {name.replace('_', ' ')} | {run['records']:,} | {run['seconds']:g} s "
            f"| {run['records_per_second']:,} | {run['peak_rss_mb']:,} MB |"
        )
    target = results["target_data_quality_seconds"]
    verdict = "met" if target["met"] else "MISSED"
    lines.append(
        f"monitor_data_quality_seconds ({results['records']:,} records): {target['value']:g} "
        f"({target['target']} for {RECORDS:,}) {verdict}"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table and the target; exit 1 if it is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.monitoring", description=__doc__)
    parser.add_argument("--records", type=int, default=RECORDS, help=f"captured ({RECORDS:,})")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as scratch:
        results = measure(Path(scratch), args.records)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if results["target_data_quality_seconds"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
