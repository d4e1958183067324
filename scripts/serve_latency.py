#!/usr/bin/env python3
"""Single-record latency of the container: in-process predict versus served p50, and rough rps.

Usage: serve_latency.py BASE_DIR [--workers N]   (BASE_DIR holds model/ written by `train`)

Starts `serve` on a free loopback port, times one record through a keep-alive socket (so the
client adds little), then SIGTERMs it. A quick measurement for reports, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn

from tabular_container.predictor import Predictor

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVE = REPO_ROOT / "model-code" / "bin" / "serve"
RECORD = {
    "sex": "M",
    "length": 0.455,
    "diameter": 0.365,
    "height": 0.095,
    "whole_weight": 0.514,
    "shucked_weight": 0.2245,
    "viscera_weight": 0.101,
    "shell_weight": 0.15,
}


def p50_microseconds(call: Callable[[], object], repeats: int = 3000) -> float:
    """Median wall time of call, after a warm-up."""
    for _ in range(200):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def client(port: int, body: bytes, content_type: str) -> Callable[[], bytes]:
    """A keep-alive HTTP/1.1 client sending one prepared request per call."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    def call() -> bytes:
        sock.sendall(request)
        reply = b""
        while True:
            reply += sock.recv(65536)
            head, found, rest = reply.partition(b"\r\n\r\n")
            if found:
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) >= length:
                    return reply

    return call


def throughput(port: int, body: bytes, concurrency: int = 8, seconds: float = 3.0) -> float:
    """Requests per second with `concurrency` keep-alive clients (threads of this process)."""
    counts = [0] * concurrency
    deadline = time.perf_counter() + seconds

    def run(index: int) -> None:
        call = client(port, body, "application/json")
        while time.perf_counter() < deadline:
            call()
            counts[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def start_serve(base: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    """`serve` on a free port, once /ping answers 200."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(base),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
        "MODEL_SERVER_HOST": "127.0.0.1",
    }
    process = subprocess.Popen([sys.executable, str(SERVE)], env=env, stderr=subprocess.DEVNULL)
    ping = b"GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n"
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(ping)
                if sock.recv(100).startswith(b"HTTP/1.1 200"):
                    return process, port
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("serve did not become ready")


def main(argv: list[str] | None = None) -> int:
    """Print in-process and served single-record figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_dir", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    predictor = Predictor.load(args.base_dir / "model")
    row = np.array([[RECORD[name] for name in predictor.schema.names]], dtype=object)
    frame = pd.DataFrame([RECORD])
    json_body = json.dumps({"instances": [RECORD]}).encode()
    csv_body = (",".join(str(RECORD[name]) for name in predictor.schema.names) + "\n").encode()
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        figures = {
            "in-process Pipeline.predict(object row)": p50_microseconds(
                lambda: predictor.model.predict(row)
            ),
            "in-process Pipeline.predict(DataFrame row)": p50_microseconds(
                lambda: predictor.model.predict(frame)
            ),
            "in-process Predictor.predict (the server's)": p50_microseconds(
                lambda: predictor.predict(row)
            ),
        }
    process, port = start_serve(args.base_dir, args.workers)
    try:
        figures["served p50, JSON, keep-alive"] = p50_microseconds(
            client(port, json_body, "application/json")
        )
        figures["served p50, CSV, keep-alive"] = p50_microseconds(
            client(port, csv_body, "text/csv")
        )
        rps = throughput(port, json_body)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    for name, value in figures.items():
        print(f"{name:<46} {value:8.0f} µs")
    print(f"{'throughput, 8 clients, 1 record (same 2 cores)':<46} {rps:8.0f} req/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
