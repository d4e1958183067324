"""Where a function's log lines go: its file, its CloudWatch Logs stream, an invocation's tail.

Lambda writes each execution environment's output, and its own START/END/REPORT lines, to the
stream `YYYY/MM/DD/[$LATEST]<32 hex>` of the function's group (`/aws/lambda/<name>` unless its
LoggingConfig names another); `Invoke` with
`LogType: Tail` answers with the last 4 KB of the invocation's part of it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.cloudwatch_logs import LogStreamWriter

LOG = logging.getLogger("localcloud.lambda")
TAIL_BYTES = 4096  # what Invoke's LogResult holds: the last 4 KB of the invocation's log


class FunctionLogFile:
    """A function's log file, appended to by all its execution environments, line by line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab", buffering=0)
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        """Append text (whole lines) unless the file is closed."""
        with self._lock:
            if not self._file.closed:
                self._file.write(text.encode(errors="replace"))

    def close(self) -> None:
        """Stop appending; later writes are dropped."""
        with self._lock:
            self._file.close()


class _Tail:
    """The last TAIL_BYTES of the lines given to it."""

    def __init__(self) -> None:
        self.lines: deque[bytes] = deque()
        self.size = 0

    def add(self, line: bytes) -> None:
        self.lines.append(line)
        self.size += len(line)
        while self.size - len(self.lines[0]) >= TAIL_BYTES:
            self.size -= len(self.lines.popleft())

    def text(self) -> bytes:
        return b"".join(self.lines)[-TAIL_BYTES:]


class ExecutionLog:
    """One execution environment's log: each line (one event) to the file, the stream, the tail.

    `logs` is a CloudWatch Logs client, or None to keep to the file (a runtime without a cloud).
    """

    def __init__(self, file: FunctionLogFile, logs: Any, group: str, stream: str) -> None:
        self.file = file
        self._writer: LogStreamWriter | None = None
        if logs is not None:
            try:
                self._writer = LogStreamWriter(logs, group, stream)
            except (BotoCoreError, ClientError) as error:  # as in Lambda: it runs, unlogged
                LOG.warning("no CloudWatch Logs for %s: %s", stream, error)
        self._tail: _Tail | None = None
        self._lock = threading.Lock()

    def write(self, messages: list[str]) -> None:
        """Log events in order; a message of several lines stays one event (lines in the file)."""
        with self._lock:
            self.file.write("".join(f"{message}\n" for message in messages))
            for message in messages:
                if self._writer is not None and message:  # an event holds at least a character
                    self._writer.write(message)
                if self._tail is not None:
                    self._tail.add(message.encode(errors="replace") + b"\n")

    def start_tail(self) -> None:
        """Keep the last 4 KB of what is logged from now on (one invocation at a time)."""
        with self._lock:
            self._tail = _Tail()

    def take_tail(self) -> bytes:
        """The last 4 KB logged since `start_tail`; stops keeping them."""
        with self._lock:
            tail, self._tail = self._tail, None
        return tail.text() if tail is not None else b""

    def close(self) -> None:
        """Send what is buffered to CloudWatch Logs; safe to call twice."""
        if self._writer is not None:
            self._writer.close()
