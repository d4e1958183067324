"""Lines a local program prints, written to CloudWatch Logs under AWS's group and stream names.

Training jobs, endpoints and Lambda functions print as they run; AWS puts those lines in
CloudWatch Logs, where `aws logs tail --follow`, `filter-log-events` and the SageMaker SDK's
`fit(logs=True)` read them. Here they go to moto's CloudWatch Logs the same way: a writer per
stream buffers lines and a background thread flushes them about twice a second, within
PutLogEvents' limits, so a program's output appears while it runs and printing never waits on
a request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

LOG = logging.getLogger("localcloud.logs")
FLUSH_SECONDS = 0.5
# PutLogEvents' limits: 10,000 events and 1,048,576 bytes a batch (each event counts 26 bytes
# more than its message); an event's message is at most 256 KB (AWS truncates longer lines).
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_MESSAGE_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES


def now_millis() -> int:
    """The time stamp CloudWatch Logs events carry."""
    return int(time.time() * 1000)


def ensure_stream(logs: Any, group: str, stream: str) -> None:
    """Create the group and the stream unless they exist (as the AWS services do on first write)."""
    for create, arguments in (
        (logs.create_log_group, {"logGroupName": group}),
        (logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
    ):
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            create(**arguments)


def _batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        event_bytes = len(event["message"].encode()) + EVENT_OVERHEAD_BYTES
        if len(batches[-1]) == MAX_BATCH_EVENTS or size + event_bytes > MAX_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += event_bytes
    return [batch for batch in batches if batch]


def _message(line: str) -> str:
    encoded = line.encode()
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return line
    return encoded[:MAX_MESSAGE_BYTES].decode(errors="ignore")


class LogStreamWriter:
    """One log stream's writer: `write(line)` from any thread; `close()` flushes what is left.

    Usage::

        writer = LogStreamWriter(session.client("logs"), "/aws/sagemaker/TrainingJobs",
                                 f"{job_name}/algo-1-{int(time.time())}")
        writer.write("epoch 1 loss 0.3")
        writer.close()
    """

    def __init__(self, logs: Any, group: str, stream: str) -> None:
        self.logs = logs
        self.group = group
        self.stream = stream
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        ensure_stream(logs, group, stream)
        self._thread = threading.Thread(
            target=self._flush_periodically, name=f"logs:{stream}", daemon=True
        )
        self._thread.start()

    def write(self, line: str, timestamp: int | None = None) -> None:
        """Queue one line (without its newline) as one log event."""
        event = {"timestamp": timestamp or now_millis(), "message": _message(line)}
        with self._lock:
            self._pending.append(event)

    def flush(self) -> None:
        """Send everything queued so far, oldest first."""
        with self._lock:
            events, self._pending = self._pending, []
        for batch in _batches(events):
            try:
                self.logs.put_log_events(
                    logGroupName=self.group, logStreamName=self.stream, logEvents=batch
                )
            except Exception as error:  # the program keeps running; its lines are lost
                LOG.warning("could not write %d lines to %s: %s", len(batch), self.stream, error)

    def close(self) -> None:
        """Flush and stop the background thread; safe to call twice."""
        self._closed.set()
        self._thread.join(timeout=10)
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            self.flush()
