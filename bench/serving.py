"""Serving: our `serve` against the classic nginx + gunicorn + Flask predictor, same model and box.

One model is trained with the real `train`; both servers serve that model directory with two
workers each and get byte-identical CSV bodies (1 and 100 records, and a 10,000-row batch) from
wrk at each concurrency, ours and classic back to back, rounds alternating who goes first. The
in-process predict of the same records is the floor; GET /ping the round trip with no work; a
py-spy profile of our workers under load shows where the rest goes. Last, one ~100 MB CSV request
to our server in batch mode measures how much its worker's memory grows for it.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import psutil
import requests
import sklearn

from bench.hardening import uvicorn_workers
from bench.load import wrk
from bench.servers import BENCH_VENV, classic_server, our_server
from localcloud.samples import sample_records
from tabular_container.codecs import _csv_cells, decode_csv, encode_json
from tabular_container.predictor import Predictor
from tests.container.conftest import REPO_ROOT, finish, make_job, start_train

CONCURRENCY = (1, 8, 32)
RECORDS = (1, 100)
BATCH_ROWS = 10_000
CSV = "text/csv"
RAW_DATA = REPO_ROOT / "data" / "abalone" / "abalone.data"
PROFILE_SECONDS = 6
# The memory figure's request: about 100 MB of CSV, to a server allowed 100 MiB bodies.
LARGE_CSV_BYTES = 100 * 10**6
BATCH_MODE = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100"}
# Where a sampled stack spends its time, by the first marker found in its frames.
LAYERS = (
    ("model predict (Predictor.predict)", "predict (tabular_container/predictor.py"),
    ("decode request (codecs)", "decode_"),
    ("encode answer (codecs)", "encode_"),
    ("socket writes (uvicorn send: transport.write)", "RequestResponseCycle.send"),
    ("our ASGI app, other", "tabular_container/server.py"),
)
OTHER_LAYER = "uvicorn + httptools, Python side (read, parse, schedule)"
# A sample whose innermost Python frame is the event loop's run: uvloop's C code, or waiting in
# epoll, which py-spy's --nonblocking sampling does not tell apart from running.
EVENT_LOOP = ("Runner.run (", "event loop: uvloop C code or waiting in epoll")


def train(work: Path) -> tuple[Path, Path]:
    """The data split and the real `train` run on it: base dir (holding model/) and splits."""
    splits = work / "splits"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "prepare_data.py"), str(splits)],
        check=True,
        capture_output=True,
    )
    base = make_job(work / "job", splits)
    run = finish(base, start_train(base))
    if run.returncode != 0:
        raise RuntimeError(f"train failed: {run.stderr[-2000:]}")
    return base, splits


def csv_bodies(splits: Path, features: list[str]) -> dict[str, bytes]:
    """Headerless CSV in feature order: the first 1 and 100 test records, a 10,000-row batch."""
    with (splits / "test" / "test.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    raw = [line.split(",") for line in RAW_DATA.read_text().split()]  # features, then rings
    batch = [raw[i % len(raw)][: len(features)] for i in range(BATCH_ROWS)]

    def text(table: list[list[str]]) -> bytes:
        return "".join(",".join(cells) + "\n" for cells in table).encode()

    bodies = {str(n): text([[row[name] for name in features] for row in rows[:n]]) for n in RECORDS}
    return {**bodies, "batch": text(batch)}


def p50_us(call: Callable[[], object], repeats: int = 3000) -> float:
    """Median wall time of call in microseconds, after a warm-up of a tenth as many calls."""
    for _ in range(max(1, repeats // 10)):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1e6, 1)


def in_process(predictor: Predictor, body: bytes, repeats: int = 3000) -> dict[str, float]:
    """The floor: the body's records predicted in this process, several ways (p50, µs).

    Also each server's parsing alone: our codec (column-wise from FAST_CSV_BYTES on; its
    per-cell path too), and the classic app's `pandas.read_csv`.
    """
    schema = predictor.schema
    rows = decode_csv(body, schema)[:]  # the model's object rows, whichever path read them
    frame = pd.DataFrame(rows, columns=list(schema.names))
    model = predictor.model
    figures = {
        "pipeline_predict_default_config_us": p50_us(lambda: model.predict(rows), repeats),
        "pipeline_predict_dataframe_us": p50_us(lambda: model.predict(frame), repeats),
        "decode_csv_us": p50_us(lambda: decode_csv(body, schema), repeats),
        "decode_csv_cells_us": p50_us(lambda: _csv_cells(body, schema), repeats),
        "pandas_read_csv_us": p50_us(
            lambda: pd.read_csv(io.BytesIO(body), header=None, names=list(schema.names)), repeats
        ),
    }
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        figures |= {
            # The floor of the targets: the model's own predict of the decoded rows, with
            # scikit-learn's per-call checks off as in the server's thread.
            "pipeline_predict_us": p50_us(lambda: model.predict(rows), repeats),
            "predictor_predict_us": p50_us(lambda: predictor.predict(rows), repeats),
            "server_path_us": p50_us(
                lambda: encode_json(predictor.predict(decode_csv(body, schema))), repeats
            ),
        }
    return figures


def _largest_difference(ours_url: str, classic_url: str, body: bytes) -> float:
    """Largest difference between the two servers' predictions of the same rows."""
    headers = {"Content-Type": CSV}
    ours = requests.post(f"{ours_url}/invocations", data=body, headers=headers, timeout=60)
    classic = requests.post(f"{classic_url}/invocations", data=body, headers=headers, timeout=60)
    ours.raise_for_status()
    classic.raise_for_status()
    a = np.array(ours.json()["predictions"], dtype=float)
    b = np.array([float(line) for line in classic.text.split()], dtype=float)
    if a.shape != b.shape:
        raise RuntimeError(f"ours answered {a.shape} predictions, classic {b.shape}")
    return float(np.max(np.abs(a - b)))


def _median_round(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over rounds; requests and errors summed, every round kept."""
    keys = ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms")
    merged: dict[str, Any] = {
        key: round(statistics.median(r[key] for r in runs), 3) for key in keys
    }
    merged["requests"] = sum(r["requests"] for r in runs)
    merged["errors"] = sum(r["errors"] for r in runs)
    merged["rounds"] = [{key: r[key] for key in ("rps", "p50_ms", "p99_ms")} for r in runs]
    return merged


def _batch(url: str, body: bytes, repeats: int) -> dict[str, Any]:
    """The 10,000-row CSV in one request: median seconds over `repeats`."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = requests.post(
            f"{url}/invocations", data=body, headers={"Content-Type": CSV}, timeout=120
        )
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    seconds = statistics.median(times)
    return {"seconds": round(seconds, 3), "rows_per_second": round(BATCH_ROWS / seconds)}


def _peak_rss_growth(worker: psutil.Process, call: Callable[[], object]) -> tuple[int, int]:
    """The worker's RSS before call() and how far its peak rose above that during it (bytes).

    The kernel's peak (VmHWM) is reset first (clear_refs 5), so the peak is this call's.
    """
    before = worker.memory_info().rss
    Path(f"/proc/{worker.pid}/clear_refs").write_text("5")
    call()
    status = Path(f"/proc/{worker.pid}/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return before, peak_kb * 1024 - before


def large_request_memory(base: Path, batch: bytes) -> dict[str, Any]:
    """One ~100 MB CSV request (the batch body repeated) to our server in batch mode.

    One worker, warmed up by the 10,000-row body first; the figure is its peak RSS growth
    during the request, also as a multiple of the payload. Answered as CSV, a line a row.
    """
    body = batch * max(1, LARGE_CSV_BYTES // len(batch))
    rows = BATCH_ROWS * (len(body) // len(batch))

    def post(payload: bytes) -> requests.Response:
        headers = {"Content-Type": CSV, "Accept": CSV}
        response = requests.post(f"{url}/invocations", data=payload, headers=headers, timeout=600)
        response.raise_for_status()
        return response

    with mock.patch.dict(os.environ, BATCH_MODE), our_server(base, workers=1) as (url, pid):
        worker = psutil.Process(pid)  # one worker: uvicorn serves in its main process
        post(batch)
        answers: list[requests.Response] = []
        started = time.perf_counter()
        before, growth = _peak_rss_growth(worker, lambda: answers.append(post(body)))
        seconds = time.perf_counter() - started
    lines = answers[0].content.count(b"\n")
    if lines != rows:
        raise RuntimeError(f"{rows} rows answered in {lines} lines")
    return {
        "csv_bytes": len(body),
        "rows": rows,
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before / 1e6, 1),
        "peak_rss_growth_mb": round(growth / 1e6, 1),
        "peak_growth_over_payload": round(growth / len(body), 2),
    }


def _layer(stack: str) -> str:
    """The layer one sampled stack (frames root first, separated by ';') is spending time in."""
    frames = stack.split(";")
    if frames[-1].startswith(EVENT_LOOP[0]):
        return EVENT_LOOP[1]
    for name, marker in LAYERS:
        if any(marker in frame for frame in frames):
            return name
    return OTHER_LAYER


def profile(pids: list[int], run_load: Callable[[], object]) -> dict[str, Any]:
    """py-spy on our workers while run_load() runs: the share of their CPU time per layer."""
    counts: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="bench-py-spy-") as scratch:
        outputs = [Path(scratch) / f"{pid}.txt" for pid in pids]
        spies = [
            subprocess.Popen(
                [
                    *(str(BENCH_VENV / "bin" / "py-spy"), "record", "--format", "raw"),
                    *("--rate", "500", "--duration", str(PROFILE_SECONDS), "--nonblocking"),
                    *("--output", str(out), "--pid", str(pid)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for pid, out in zip(pids, outputs, strict=True)
        ]
        time.sleep(0.5)
        run_load()
        for spy, out in zip(spies, outputs, strict=True):
            _, stderr = spy.communicate(timeout=60)
            if not out.is_file():
                return {"error": f"py-spy failed: {stderr.strip()[-300:]}"}
            for line in out.read_text().splitlines():
                stack, _, samples = line.rpartition(" ")
                counts[_layer(stack)] += int(samples)
                leaves[stack.rpartition(";")[2]] += int(samples)
    total = sum(counts.values()) or 1
    busy = total - counts[EVENT_LOOP[1]] or 1
    return {
        "samples": total,
        "share": {layer: round(n / total, 3) for layer, n in counts.most_common()},
        "share_outside_the_event_loop": {
            layer: round(n / busy, 3) for layer, n in counts.most_common() if layer != EVENT_LOOP[1]
        },
        "top_frames_self": {frame: round(n / total, 3) for frame, n in leaves.most_common(10)},
    }


def cpu_per_request(
    workers: list[psutil.Process], run_load: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The workers' user and system CPU time per request while run_load() runs (µs)."""
    before = [worker.cpu_times() for worker in workers]
    measured = run_load()
    after = [worker.cpu_times() for worker in workers]
    pairs = list(zip(after, before, strict=True))
    count = measured["requests"] or 1
    return {
        "requests": measured["requests"],
        "p50_ms": measured["p50_ms"],
        "user_us": round(sum(a.user - b.user for a, b in pairs) / count * 1e6, 1),
        "system_us": round(sum(a.system - b.system for a, b in pairs) / count * 1e6, 1),
    }


def placement(
    workers: list[psutil.Process], run: Callable[[int], dict[str, Any]]
) -> dict[str, Any]:
    """p50 at 1 connection with wrk on CPU 0 and our workers on that CPU, then on CPU 1.

    Unpinned, the scheduler puts client and worker on one vCPU or two from run to run; on two,
    every exchange wakes the other vCPU. This measures both, so the rounds can be read.
    """
    everything = sorted(os.sched_getaffinity(0))
    if len(everything) < 2:
        return {}
    figures = {}
    try:
        for name, cpu in (("same_cpu_p50_ms", everything[0]), ("other_cpu_p50_ms", everything[1])):
            for worker in workers:
                worker.cpu_affinity([cpu])
            figures[name] = run(everything[0])["p50_ms"]
    finally:
        for worker in workers:
            worker.cpu_affinity(everything)
    return figures


def _rounds(
    urls: dict[str, str], body: bytes, connections: int, seconds: float, rounds: int
) -> dict[str, dict[str, Any]]:
    """wrk on each server in turn, `rounds` times, alternating who goes first; medians."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in urls}
    for index in range(rounds):
        for name in list(urls) if index % 2 == 0 else list(reversed(urls)):
            measured = wrk(
                f"{urls[name]}/invocations", body, CSV, connections=connections, seconds=seconds
            )
            runs[name].append(measured)
    return {name: _median_round(measured) for name, measured in runs.items()}


def run(base: Path, splits: Path, seconds: float, rounds: int) -> dict[str, Any]:
    """Every serving figure for the model in base/model, from the floor to the profile."""
    predictor = Predictor.load(base / "model")
    bodies = csv_bodies(splits, list(predictor.schema.names))
    results: dict[str, Any] = {
        "in_process": {
            **{str(n): in_process(predictor, bodies[str(n)]) for n in RECORDS},
            "batch": in_process(predictor, bodies["batch"], repeats=5),
        },
        "ours": {},
        "classic": {},
    }
    json_one = json.dumps({"instances": sample_records(splits, 1)[0]}).encode()
    with ExitStack() as stack:
        ours_url, ours_pid = stack.enter_context(our_server(base))
        classic_url, _ = stack.enter_context(classic_server(base))
        urls = {"ours": ours_url, "classic": classic_url}
        results["max_prediction_difference"] = _largest_difference(
            ours_url, classic_url, bodies["100"]
        )
        for url in urls.values():  # every worker loaded and warm before any figure
            wrk(f"{url}/invocations", bodies["1"], CSV, connections=8, seconds=2)
        for count in RECORDS:
            for connections in CONCURRENCY:
                measured = _rounds(urls, bodies[str(count)], connections, seconds, rounds)
                for name, figures in measured.items():
                    results[name][f"{count}_record_c{connections}"] = figures
        ours = f"{ours_url}/invocations"
        results["ours"]["1_record_json_c1"] = _median_round(
            [
                wrk(ours, json_one, "application/json", connections=1, seconds=seconds)
                for _ in range(rounds)
            ]
        )
        results["ours"]["ping_c1"] = _median_round(
            [wrk(f"{ours_url}/ping", None, connections=1, seconds=seconds) for _ in range(rounds)]
        )
        results["batch"] = {
            "rows": BATCH_ROWS,
            "csv_bytes": len(bodies["batch"]),
            **{name: _batch(url, bodies["batch"], repeats=3) for name, url in urls.items()},
        }
        workers = uvicorn_workers(psutil.Process(ours_pid))
        results["ours"]["cpu_per_request_c1"] = {
            path: cpu_per_request(
                workers,
                partial(wrk, f"{ours_url}{path}", body, CSV, connections=1, seconds=seconds),
            )
            for path, body in (("/invocations", bodies["1"]), ("/ping", None))
        }
        results["ours"]["placement_1_record_c1"] = placement(
            workers,
            lambda cpu: wrk(ours, bodies["1"], CSV, connections=1, seconds=seconds, cpu=cpu),
        )
        results["profile_1_record_c1"] = profile(
            [worker.pid for worker in workers],
            lambda: wrk(ours, bodies["1"], CSV, connections=1, seconds=PROFILE_SECONDS - 1),
        )
    results["large_request_memory"] = large_request_memory(base, bodies["batch"])
    return results
