"""Load generators: wrk for throughput and latency, a threaded client for per-request outcomes.

wrk (C, epoll) is what the figures come from: a Python client cannot keep up with the servers on
two cores. The threaded `Load` records when each request started and how it ended, which the
fault runs and the smoke tests need; its own latencies are reported, never asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

WRK_SCRIPT = Path(__file__).with_name("request.lua")
WRK_MARKER = "WRK_JSON "
WRK_TIMEOUT = "10s"  # a request slower than this counts as an error (wrk's default is 2 s)


def wrk(
    url: str,
    body: bytes | None,
    content_type: str = "",
    *,
    connections: int,
    seconds: float,
    header: tuple[str, str] | None = None,
    cpu: int | None = None,
) -> dict[str, Any]:
    """POST `body` (GET if None) for `seconds` over `connections` kept-alive connections.

    `cpu` pins wrk to that CPU (taskset), for runs that control where client and server run.
    """
    with tempfile.NamedTemporaryFile(suffix=".body") as body_file:
        body_file.write(body or b"")
        body_file.flush()
        name, value = header or ("", "")
        env = {
            **os.environ,
            "WRK_BODY_FILE": body_file.name if body is not None else "",
            "WRK_CONTENT_TYPE": content_type,
            "WRK_HEADER_NAME": name,
            "WRK_HEADER_VALUE": value,
        }
        command = [
            *(["taskset", "--cpu-list", str(cpu)] if cpu is not None else []),
            "wrk",
            f"--threads={min(2, connections)}",  # one per core at most; this machine has two
            f"--connections={connections}",
            f"--duration={max(1, round(seconds))}s",
            f"--timeout={WRK_TIMEOUT}",
            f"--script={WRK_SCRIPT}",
            url,
        ]
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next(ln for ln in output.stdout.splitlines() if ln.startswith(WRK_MARKER))
    raw = json.loads(line.removeprefix(WRK_MARKER))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "connections": connections,
        "seconds": round(seconds_run, 2),
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds_run, 1),
        **{f"{p}_ms": round(raw[f"{p}_us"] / 1000, 3) for p in ("p50", "p90", "p99", "max")},
        "errors": sum(raw["errors"].values()),
        "error_kinds": {kind: n for kind, n in raw["errors"].items() if n},
    }


@dataclass(frozen=True)
class Outcome:
    """One request: when it started (monotonic seconds), how long it took, its status (0: none)."""

    started: float
    seconds: float
    status: int


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Load:
    """`concurrency` threads calling without pause, each on its own kept-alive session.

    Usage: `with Load(call, 8) as load: time.sleep(3)`, then `load.outcomes`/`load.summary()`.
    `call(session)` makes one request and returns its status; an exception counts as status 0.
    """

    def __init__(self, call: Callable[[requests.Session], int], concurrency: int) -> None:
        self._call = call
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self._threads = [
            threading.Thread(target=self._run, name=f"load-{i}", daemon=True)
            for i in range(concurrency)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = self._call(session)
                except requests.RequestException:
                    status = 0
                outcome = Outcome(started, time.monotonic() - started, status)
                with self._lock:
                    self.outcomes.append(outcome)

    def summary(self) -> dict[str, Any]:
        """Counts per status, errors (anything but 200), and the latencies seen (reported only)."""
        outcomes = list(self.outcomes)
        seconds = [o.seconds for o in outcomes]
        span = max(o.started + o.seconds for o in outcomes) - min(o.started for o in outcomes)
        return {
            "requests": len(outcomes),
            "rps": round(len(outcomes) / span, 1),
            "errors": sum(1 for o in outcomes if o.status != 200),
            "statuses": {
                str(code): n for code, n in sorted(Counter(o.status for o in outcomes).items())
            },
            "p50_ms": round(statistics.median(seconds) * 1000, 2),
            "p99_ms": round(percentile(seconds, 0.99) * 1000, 2),
        }
