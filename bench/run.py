"""`python -m bench`: every benchmark and the full hardening runs, in one run, on this machine.

Order matters on two shared cores: the Lambda imports, the serving comparison, the data capture
comparison and the batch transform (each its own local SageMaker, stopped after) run before the
local cloud starts (its idle services would be noise), then everything that needs the cloud, the
destructive endpoint kill last. Writes bench/results/latest.json, rewrites the README's
performance section and prints the target figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import requests

from bench import capture, lambdas, monitoring, rollout, serving, training, transform
from bench.cloud import ENDPOINT, gateway_overhead, local_cloud, pipeline_figures
from bench.fuzz import fuzz, poster
from bench.hardening import kill_a_worker_under_load, kill_the_instance_under_load
from bench.load import wrk
from bench.report import README, rewrite_readme, summary_lines, targets_of
from bench.servers import WORKERS, our_server
from localcloud.samples import sample_records

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "latest.json"
DIST = BENCH_DIR.parent / "dist" / "lambdas"
WARMUP_SECONDS = 3.0


def _versions() -> dict[str, str]:
    """The tools the figures depend on."""
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "python": platform.python_version(),
        "nginx": nginx.stderr.strip().rpartition("/")[2],
        "wrk": (wrk_version.stdout or wrk_version.stderr).split()[1].rpartition("/")[2],
    }


def _fuzz_outcome(run: Any) -> dict[str, Any]:
    """A fuzz run's counts, or what it found (the falsifying example included)."""
    try:
        return {"passed": True, **run()}
    except AssertionError as error:
        notes = "\n".join(getattr(error, "__notes__", []))
        return {"passed": False, "failure": f"{error}\n{notes}"[:4000]}


def hardening_on_serve(base: Path, splits: Path, examples: int) -> dict[str, Any]:
    """Fuzz /invocations of a `serve` started directly on the trained model."""
    record = sample_records(splits, 1)[0][0]
    with our_server(base) as (url, _), requests.Session() as session:
        send = poster(session, f"{url}/invocations")
        return _fuzz_outcome(lambda: fuzz(send, record, error_key="error", examples=examples))


def cloud_parts(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Pipeline, gateway overhead and the hardening runs through the gateway, on one cloud."""
    results: dict[str, Any] = {}
    with local_cloud(work, args.dist) as cloud:
        results["pipeline"] = pipeline_figures(cloud)
        if cloud.report["status"] != "Succeeded":
            raise RuntimeError(f"the pipeline failed: {cloud.report['message']}")
        results["gateway"] = gateway_overhead(cloud, args.gateway_requests)
        record = cloud.record()
        body = json.dumps({"instances": [record]}).encode()
        with requests.Session() as session:
            send = poster(session, cloud.predict_url, {"x-api-key": cloud.api_key})
            fuzzed = _fuzz_outcome(
                lambda: fuzz(send, record, error_key="message", examples=args.fuzz_examples)
            )
        # The first seconds at 32 connections start the PredictProxy's further Lambda workers
        # (cold starts): reported apart from the steady load.
        load_gateway = partial(
            wrk,
            cloud.predict_url,
            body,
            "application/json",
            connections=32,
            header=("x-api-key", cloud.api_key),
        )
        warmup = load_gateway(seconds=WARMUP_SECONDS)
        load = load_gateway(seconds=args.load_seconds)
        worker_kill = kill_a_worker_under_load(
            cloud.gateway_call(body),
            cloud.state_dir,
            ENDPOINT,
            concurrency=8,
            before=3.0,
            after=5.0,
        )
        instance_kill = kill_the_instance_under_load(
            cloud.gateway_call(body),
            cloud.state_dir,
            ENDPOINT,
            cloud.client("sagemaker"),
            cloud.client("sagemaker-runtime"),
            body,
            concurrency=8,
            before=3.0,
            after=5.0,
        )
    results["hardening"] = {
        "load_gateway_c32_warmup": warmup,
        "load_gateway_c32": load,
        "worker_kill": worker_kill,
        "instance_kill": instance_kill,
        "fuzz_gateway": fuzzed,
    }
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Durations and counts; the defaults are the full `make bench` run."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="each wrk run (2)")
    parser.add_argument("--rounds", type=int, default=5, help="wrk runs per figure (5)")
    parser.add_argument("--load-seconds", type=float, default=30.0, help="gateway load (30)")
    parser.add_argument("--gateway-requests", type=int, default=500, help="per path (500)")
    parser.add_argument("--fuzz-examples", type=int, default=1000, help="per target (1000)")
    parser.add_argument(
        "--capture-requests", type=int, default=capture.REQUESTS, help="per endpoint (2000)"
    )
    parser.add_argument("--import-repeats", type=int, default=5, help="cold imports (5)")
    parser.add_argument("--dist", type=Path, default=DIST, help="the Lambda zips (make package)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON results")
    parser.add_argument("--readme", type=Path, default=README, help="README to rewrite")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every part, write the results and the README table, print the targets."""
    args = parse_args(argv)
    started = time.monotonic()
    load_start = os.getloadavg()
    results: dict[str, Any] = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), **_versions()},
        "settings": {
            "seconds_per_wrk_run": args.seconds,
            "rounds": args.rounds,
            "workers_each": WORKERS,
            "load_seconds": args.load_seconds,
            "fuzz_examples_per_target": args.fuzz_examples,
            "capture_requests_each": args.capture_requests,
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        work = Path(scratch)
        print("bench: Lambda zips and cold imports", flush=True)
        results["lambdas"] = lambdas.measure(args.dist, args.import_repeats)
        print("bench: train on 1x, 10x, 100x abalone and a 200 MB CSV", flush=True)
        results["training"] = training.measure(work)
        results["monitoring"] = monitoring.measure(work)
        print("bench: training the model, then ours against classic", flush=True)
        base, splits = serving.train(work)
        results["serving"] = serving.run(base, splits, args.seconds, args.rounds)
        print("bench: fuzzing /invocations", flush=True)
        fuzz_serve = hardening_on_serve(base, splits, args.fuzz_examples)
        results["capture"] = capture.measure(work, args.capture_requests)
        print("bench: batch transform of 250,000 and 1,000,000 rows, S3 to S3", flush=True)
        results["transform"] = transform.measure(work)
        print("bench: local cloud: pipeline, gateway, load, faults, fuzzing", flush=True)
        results |= cloud_parts(work, args)
        results["hardening"]["fuzz_invocations"] = fuzz_serve
        print("bench: prod's rollout and fleet, on a local cloud of its own", flush=True)
        results["rollout"] = rollout.measure(work, args.dist, args.seconds * args.rounds)
    results["machine"]["load_average_start"] = [round(x, 2) for x in load_start]
    results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["total_seconds"] = round(time.monotonic() - started, 1)
    results = {**targets_of(results), **results}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    rewrite_readme(args.readme, results)
    print("\n".join(summary_lines(results)))
    hardened = (
        all(
            results["hardening"][part].get("passed", True)
            for part in ("fuzz_gateway", "fuzz_invocations")
        )
        and results["hardening"]["load_gateway_c32"]["errors"] == 0
        and results["capture"]["records"]["match"]  # every capture record written
        and results["rollout"]["good_canary"]["errors"] == 0
        and results["rollout"]["slow_model"]["errors"] == 0
        and results["rollout"]["slow_model"]["status"] == "Failed"  # rolled back
        and all(row["errors"] == 0 for row in results["rollout"]["throughput_by_instances"])
    )
    print(f"bench: results in {args.output}; README section rewritten")
    return 0 if hardened else 1


if __name__ == "__main__":
    sys.exit(main())
