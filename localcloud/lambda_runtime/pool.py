"""Worker processes (one execution environment each) and the warm pool of one function version."""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

from localcloud.lambda_runtime.logs import ExecutionLog
from localcloud.lambda_runtime.worker import read_frame, write_frames
from localcloud.processes import ProcessRegistry

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# This interpreter's installed packages (its virtualenv's, when it runs in one).
PACKAGE_FOLDERS = tuple(dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib")))
OUTPUT_SETTLE_SECONDS = 1.0  # how long to wait for output written before a frame to be read
MAX_LINE_BYTES = 256 * 1024  # CloudWatch Logs' event limit: a longer line is logged in parts
READ_BYTES = 64 * 1024
OUTPUT_POLL_SECONDS = 0.02  # how often a running invocation's output is read
PIPE_BYTES = 1024 * 1024  # the output pipe's size (Linux's default limit for one pipe)


class _Output:
    """A worker's stdout and stderr (one pipe), read without blocking into its log.

    Before each frame the worker writes its marker line; `markers` counts those read, so the
    runtime knows when the output written before a frame is all logged. Nothing reads the pipe
    between invocations, when Lambda freezes an execution environment too.
    """

    def __init__(self, pipe: BinaryIO, marker: bytes, log: ExecutionLog) -> None:
        self.pipe = pipe
        self.fd = pipe.fileno()
        os.set_blocking(self.fd, False)
        with contextlib.suppress(AttributeError, OSError):  # Linux only; room between reads
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._marker = marker.removesuffix(b"\n")
        self._log = log
        self._partial = b""
        self._lock = threading.Lock()  # the pool may drain a worker it kills on shutdown
        self.markers = 0
        self.ended = False

    def drain(self) -> None:
        """Log every whole line in the pipe now (all of it once the pipe has ended)."""
        with self._lock:
            chunks = []
            while not self.ended:
                try:
                    chunk = os.read(self.fd, READ_BYTES)
                except BlockingIOError:
                    break
                except OSError:  # closed
                    chunk = b""
                if not chunk:
                    self.ended = True
                    break
                chunks.append(chunk)
                if len(chunk) < READ_BYTES:
                    break
            if not chunks and not (self.ended and self._partial):
                return
            *lines, self._partial = (self._partial + b"".join(chunks)).split(b"\n")
            if self._partial and (self.ended or len(self._partial) > MAX_LINE_BYTES):
                lines.append(self._partial)
                self._partial = b""
            messages = []
            for line in lines:
                if line.endswith(self._marker):
                    line = line[: -len(self._marker)]
                    self.markers += 1
                    if not line:
                        continue
                # A record of several lines comes as one line with carriage returns.
                text = line.decode(errors="replace").removesuffix("\r").replace("\r", "\n")
                messages.append(text)
            if messages:
                self._log.write(messages)


class Worker:
    """A worker process, the socket to it and its output pipe; used by one invocation at a time.

    `receive` reads the worker's output while it waits for a frame, and returns once the output
    written before that frame is logged: the runtime's own lines never overtake the function's,
    and no other thread is involved on the way.
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
        assert self.process.stdout is not None
        self._output = _Output(self.process.stdout, f"\0{marker}\n".encode(), log)
        self._frames = 0
        self._poll = select.poll()
        self._poll.register(self.channel, select.POLLIN)

    def _wait_for_frame(self, deadline: float) -> None:
        """Wait until the socket has something to read, logging the output every 20 ms meanwhile.

        Only the socket wakes this thread on the way to a quick answer; a long invocation's
        output is still logged as it comes, and the pipe never stays full.
        """
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if self._poll.poll(min(remaining, OUTPUT_POLL_SECONDS) * 1000):
                return
            self._output.drain()

    def _settle(self, markers: float) -> None:
        """Log output up to the given count of markers (or all of it), waiting up to a second."""
        deadline = time.monotonic() + OUTPUT_SETTLE_SECONDS
        output = self._output
        output.drain()
        while output.markers < markers and not output.ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            select.select([output.fd], [], [], remaining)
            output.drain()

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
        deadline = time.monotonic() + _positive(timeout)
        self._wait_for_frame(deadline)
        self.channel.settimeout(_positive(deadline - time.monotonic()))
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
        self._output.drain()  # what it printed before it died is logged before anything else

    def close(self) -> None:
        """Stop the process, release the socket and the pipe, and send the rest of its log."""
        self.kill()
        self.channel.close()
        self._output.pipe.close()
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
