"""Worker processes (one execution environment each) and the warm pool of one function version."""

from __future__ import annotations

import math
import secrets
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from localcloud.lambda_runtime.logs import ExecutionLog
from localcloud.lambda_runtime.worker import read_frame, write_frames
from localcloud.processes import ProcessRegistry

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# This interpreter's installed packages (its virtualenv's, when it runs in one).
PACKAGE_FOLDERS = tuple(dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib")))
OUTPUT_SETTLE_SECONDS = 1.0  # how long to wait for output written before a frame to be read
MAX_LINE_BYTES = 256 * 1024  # CloudWatch Logs' event limit: a longer line is read in parts


class Worker:
    """A worker process, the socket to it and the reader of its output; one invocation at a time.

    The worker's stdout and stderr are one pipe, read line by line into its `log`. Before each
    frame the worker writes its marker line, so `receive` returns only once the output written
    before that frame is logged: the runtime's own lines never overtake the function's.
    """

    def __init__(
        self,
        handler: str,
        code_dir: Path,
        environment: Mapping[str, str],
        log: ExecutionLog,
        registry: ProcessRegistry,
    ) -> None:
        self.log = log
        marker = secrets.token_hex(16)
        self._marker = f"\0{marker}\n".encode()
        self.channel, child = socket.socketpair()
        # -P keeps the worker script's own folder off sys.path, so only the code is importable;
        # -S skips site, whose .pth files would make this project (installed editable) importable
        # too: the worker puts back the packages folders alone (Lambda's Python has boto3).
        command = [
            sys.executable,
            "-P",
            "-S",
            "-u",
            str(WORKER_SCRIPT),
            str(child.fileno()),
            handler,
            marker,
            *PACKAGE_FOLDERS,
        ]
        try:
            self.process = subprocess.Popen(
                command,
                cwd=code_dir,
                env=dict(environment),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(child.fileno(),),
            )
        except BaseException:
            self.channel.close()
            raise
        finally:
            child.close()
        # No guardian needed: a worker ends when the runtime's end of its socket closes.
        self._registry = registry
        registry.add(self.process.pid, f"Lambda worker {handler}", command, group=False)
        self.started = time.monotonic()
        self.initialized = False
        self.memory_mb = 0  # peak resident memory the worker last reported
        self._frames = self._markers = 0
        self._output_ended = False
        self._output = threading.Condition()
        self._reader = threading.Thread(
            target=self._read_output, name=f"lambda-output-{self.process.pid}", daemon=True
        )
        self._reader.start()

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout as output:
            while line := output.readline(MAX_LINE_BYTES):
                if line.endswith(self._marker):
                    if partial := line[: -len(self._marker)]:
                        self._log_output(partial)
                    with self._output:
                        self._markers += 1
                        self._output.notify_all()
                else:
                    self._log_output(line)
        with self._output:
            self._output_ended = True
            self._output.notify_all()

    def _log_output(self, line: bytes) -> None:
        # A record of several lines comes as one line with carriage returns (see worker.py).
        text = line.decode(errors="replace").removesuffix("\n").removesuffix("\r")
        self.log.line(text.replace("\r", "\n"))

    def _settle(self, marker_count: int) -> None:
        """Wait until the output up to the given marker (or all of it) has been logged."""
        with self._output:
            self._output.wait_for(
                lambda: self._markers >= marker_count or self._output_ended,
                OUTPUT_SETTLE_SECONDS,
            )

    def send(self, frames: list[bytes], timeout: float) -> bool:
        """Send a request's frames; False if the process is gone. Raises TimeoutError."""
        self.channel.settimeout(_positive(timeout))
        try:
            write_frames(self.channel, frames)
        except ConnectionError:
            return False
        return True

    def receive(self, timeout: float) -> bytes | None:
        """The next frame from the worker; None if it exited. Raises TimeoutError."""
        self.channel.settimeout(_positive(timeout))
        try:
            frame = read_frame(self.channel)
        except ConnectionError:
            frame = None
        if frame is None:
            self._settle(math.inf)
            return None
        self._frames += 1
        self._settle(self._frames)
        return frame

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def kill(self) -> None:
        """Stop the process now; the socket stays open for the thread that may be reading it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._registry.remove(self.process.pid)
        self._settle(math.inf)  # what it printed before it died is logged before anything else

    def close(self) -> None:
        """Stop the process, release the socket and send the rest of its log."""
        self.kill()
        self.channel.close()
        self.log.close()

    def exit_reason(self) -> str:
        """How the process ended, in the words Lambda's runtime uses (Go's ExitError text)."""
        code = self.process.wait(timeout=5)
        if code >= 0:
            return f"exit status {code}"
        return f"signal: {(signal.strsignal(-code) or str(-code)).lower()}"


def _positive(timeout: float) -> float:
    if timeout <= 0:
        raise TimeoutError
    return timeout


class PoolClosed(RuntimeError):
    """The runtime was shut down while an invocation waited for a worker."""


class WorkerPool:
    """Warm workers of one function version: reuse an idle one, else start one, up to a limit."""

    def __init__(self, spawn: Callable[[], Worker], limit: int) -> None:
        self._spawn = spawn
        self._limit = limit
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._starting = 0
        self._retired = False
        self._closed = False
        self._condition = threading.Condition()

    def acquire(self) -> Worker:
        """An idle worker (most recently used first), a new one, or wait for one to come back."""
        with self._condition:
            while True:
                if self._closed:
                    raise PoolClosed("the Lambda runtime is shut down")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        self._busy.add(worker)
                        return worker
                    worker.close()
                if len(self._busy) + self._starting < self._limit:
                    self._starting += 1
                    break
                self._condition.wait()
        try:
            worker = self._spawn()
        finally:
            with self._condition:
                self._starting -= 1
                self._condition.notify()
        with self._condition:
            if not self._closed:
                self._busy.add(worker)
                return worker
        worker.close()
        raise PoolClosed("the Lambda runtime is shut down")

    def release(self, worker: Worker) -> None:
        """Give a healthy worker back for the next invocation to reuse."""
        with self._condition:
            self._busy.discard(worker)
            if not self._retired:
                self._idle.append(worker)
                self._condition.notify()
                return
        worker.close()

    def discard(self, worker: Worker) -> None:
        """Drop a worker that timed out, crashed or failed its init; a fresh one replaces it."""
        worker.close()
        with self._condition:
            self._busy.discard(worker)
            self._condition.notify()

    def retire(self) -> None:
        """A newer version replaced this one: stop idle workers now, busy ones when they finish."""
        with self._condition:
            self._retired = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def close(self) -> None:
        """Stop every worker, busy ones included; waiting invocations get PoolClosed."""
        with self._condition:
            self._retired = self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            self._condition.notify_all()
        for worker in idle:
            worker.close()
        for worker in busy:
            worker.kill()
