"""SageMaker Debugger's system monitor for a training job: the instance's utilization, sampled.

With `ProfilerConfig` enabled SageMaker samples the instance every ProfilingIntervalInMilliseconds
(default 500) and writes JSON lines, one record per metric and sample,
`{"Type": "cpu", "Name": "cpu0", "Dimension": "CPUUtilization", "Value": 3.5, "NodeId": "algo-1",
"Timestamp": <epoch seconds>}`, to one file per minute at
`<S3OutputPath>/<job>/profiler-output/system/incremental/<YYYYMMDDHH>/<minute epoch>.algo-1.json`
(the layout smdebug's readers parse). Here the instance is the training program's process tree
(psutil): each core's CPUUtilization is the CPU time the tree's processes last running on that
core used, and MemoryUsedPercent the tree's resident memory as a share of the host's. There are
no GPU records (no GPU). A minute's file is uploaded once a later minute starts, the last at stop.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psutil

from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.storage import StorageError, parse_s3_uri

PROFILING_INTERVALS = (100, 200, 500, 1000, 5000, 60000)
DEFAULT_PROFILING_INTERVAL_MS = 500
NODE_ID = "algo-1"


def profiling_enabled(request: dict[str, Any]) -> bool:
    """Whether the request's ProfilerConfig turns the system monitor on (absent: off)."""
    config = request.get("ProfilerConfig")
    return config is not None and not config.get("DisableProfiler", False)


def check_profiler(config: dict[str, Any]) -> None:
    """Refuse, before any work, an enabled profiler with nowhere to write."""
    if "S3OutputPath" not in config:
        raise ValidationException(
            "ProfilerConfig.S3OutputPath is required unless ProfilerConfig.DisableProfiler is true"
        )
    try:
        parse_s3_uri(config["S3OutputPath"])
    except StorageError as error:
        raise ValidationException(f"ProfilerConfig.S3OutputPath: {error}") from None


def system_output_uri(s3_output_path: str, job_name: str) -> str:
    """Where the job's system metrics go: `<S3OutputPath>/<job>/profiler-output/system`."""
    return f"{s3_output_path.rstrip('/')}/{job_name}/profiler-output/system"


def metrics_file_uri(system_uri: str, minute: int) -> str:
    """`<system>/incremental/<YYYYMMDDHH>/<minute epoch>.algo-1.json` for the minute's records."""
    hour = datetime.fromtimestamp(minute, UTC).strftime("%Y%m%d%H")
    return f"{system_uri}/incremental/{hour}/{minute}.{NODE_ID}.json"


class _ProcessTree:
    """The program's processes, kept between samples so cpu_percent measures each interval."""

    def __init__(self, pid: int) -> None:
        try:
            self._root: psutil.Process | None = psutil.Process(pid)
        except psutil.NoSuchProcess:  # it already ended: every sample is idle
            self._root = None
        self._known: dict[int, psutil.Process] = {}
        self._cores = psutil.cpu_count() or 1

    def sample(self) -> tuple[list[float], float] | None:
        """(each core's CPU utilization in percent, resident memory as percent of the host's);
        None once the tree has ended."""
        cores = [0.0] * self._cores
        resident = 0
        try:
            current = [self._root, *self._root.children(recursive=True)] if self._root else []
        except psutil.NoSuchProcess:
            current = []
        alive: dict[int, psutil.Process] = {}
        for process in current:
            known = self._known.get(process.pid, process)
            try:
                with known.oneshot():
                    if known.status() == psutil.STATUS_ZOMBIE:  # ended, not yet reaped
                        continue
                    percent = known.cpu_percent(None)
                    core = known.cpu_num()
                    resident += known.memory_info().rss
            except psutil.Error:  # it ended between listing and reading
                continue
            cores[core % len(cores)] += percent
            alive[process.pid] = known
        self._known = alive
        if not alive:
            return None
        memory = 100.0 * resident / psutil.virtual_memory().total
        return [min(100.0, value) for value in cores], memory


def records(cores: list[float], memory: float, timestamp: float) -> list[dict[str, Any]]:
    """One sample as the system monitor's records."""
    out: list[dict[str, Any]] = [
        {
            "Type": "cpu",
            "Name": f"cpu{index}",
            "Dimension": "CPUUtilization",
            "Value": round(value, 2),
            "NodeId": NODE_ID,
            "Timestamp": timestamp,
        }
        for index, value in enumerate(cores)
    ]
    out.append(
        {
            "Type": "memory",
            "Name": "MemoryUsedPercent",
            "Dimension": "Memory",
            "Value": round(memory, 2),
            "NodeId": NODE_ID,
            "Timestamp": timestamp,
        }
    )
    return out


class SystemMonitor:
    """Samples one program's process tree on a thread of its own until `stop`."""

    def __init__(
        self,
        pid: int,
        interval_ms: int,
        system_uri: str,
        put: Callable[[bytes, str], None],
    ) -> None:
        self._tree = _ProcessTree(pid)
        self._interval = interval_ms / 1000
        self._system_uri = system_uri
        self._put = put
        self._minute: int | None = None
        self._lines: list[str] = []
        self._error: StorageError | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"profiler-{pid}", daemon=True)
        self._tree.sample()  # the first cpu_percent of a process is always 0: start the clock
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        now = time.time()
        minute = int(now) // 60 * 60
        if self._minute is not None and minute != self._minute:
            self._upload()
        self._minute = minute
        sample = self._tree.sample()
        if sample is not None:
            self._lines.extend(json.dumps(record) for record in records(*sample, now))

    def _upload(self) -> None:
        if not self._lines or self._minute is None or self._error is not None:
            return
        body = ("\n".join(self._lines) + "\n").encode()
        self._lines = []
        try:
            self._put(body, metrics_file_uri(self._system_uri, self._minute))
        except StorageError as error:  # raised from `stop`, on the runner's thread
            self._error = error

    def stop(self) -> None:
        """Upload what is left once the program has ended; a failed upload is raised here."""
        self._stopped.set()
        self._thread.join()
        self._upload()
        if self._error is not None:
            raise self._error
