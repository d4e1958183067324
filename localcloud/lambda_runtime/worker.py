"""One Lambda execution environment: import the handler once, then serve invocations.

The runtime starts this file as a script with the function's environment only, so it imports
nothing but the standard library (the function's code directory is all PYTHONPATH holds, and the
installed packages are added without site's .pth files, so the project itself is not). It
talks to the runtime over an inherited socket in length-prefixed JSON frames: one frame when
init is done (its peak memory, or the init error), then per request (two frames: id/ARN/deadline,
event) one response frame, until the socket closes.
Handler output and the runtime's own log lines go to stdout/stderr, one pipe that the runtime
reads into the function's log; before each frame the worker writes its marker line there, so the
runtime knows the output of that phase is all read. A record of several lines (a traceback, a
logging record) is written as one line with its newlines as carriage returns, as Lambda's
runtime does, and becomes one log event.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

_FRAME_HEADER = struct.Struct("!I")
# Lambda's limit on a synchronous response; above it the invocation is a function error.
MAX_RESPONSE_BYTES = 6_291_556
_current_request_id = ""


def write_frames(channel: socket.socket, bodies: list[bytes]) -> None:
    """Send frames in one write: each a 4-byte big-endian length, then the bytes."""
    channel.sendall(b"".join(_FRAME_HEADER.pack(len(body)) + body for body in bodies))


def read_frame(channel: socket.socket) -> bytes | None:
    """Receive one frame; None when the other side closed the socket."""
    header = _read_exactly(channel, _FRAME_HEADER.size)
    if header is None:
        return None
    return _read_exactly(channel, _FRAME_HEADER.unpack(header)[0])


def _read_exactly(channel: socket.socket, size: int) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        count = channel.recv_into(view[received:])
        if count == 0:
            return None
        received += count
    return bytes(buffer)


class FunctionError(Exception):
    """A failure the Lambda runtime reports with its own error type (Runtime.*)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class LambdaContext:
    """The context object Lambda passes to a Python handler, with the same attribute names."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id: str = request["id"]
        self.invoked_function_arn: str = request["arn"]
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        # Lambda's own runtime hands this over as the string from the environment.
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms: int = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the runtime stops this invocation."""
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        """Write to the function's log, as `context.log` does in Lambda."""
        sys.stdout.write(message)


class _OneEventFormatter(logging.Formatter):
    """Lambda's log format, the record kept on one line so that it is one log event."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\r")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        return True


def install_lambda_logging() -> None:
    """Give the root logger the handler Lambda's runtime installs, so basicConfig is a no-op."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = _OneEventFormatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def load_handler(spec: str) -> Callable[[Any, LambdaContext], Any]:
    """Import `module.function` the way Lambda does, with Lambda's error types and wording."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as error:
        message = f"Bad handler '{spec}': {error}"
        raise FunctionError("Runtime.MalformedHandlerName", message) from None
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise FunctionError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from error
    except SyntaxError as error:
        raise FunctionError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}"
        ) from error
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise FunctionError("Runtime.HandlerNotFound", message)
    return handler


def _user_frames(error: BaseException) -> TracebackType | None:
    """The traceback from the first frame of the function's own code on (the runtime's left out)."""
    frames = error.__traceback__
    root = str(Path.cwd())
    while frames is not None and not frames.tb_frame.f_code.co_filename.startswith(root):
        frames = frames.tb_next
    return frames


def _log_error(error_type: str, message: str, error: BaseException | None) -> None:
    """Write Lambda's `[ERROR]` record (one event) with the user's part of the traceback."""
    trace = ""
    if error is not None:
        trace = "".join(traceback.format_exception(type(error), error, _user_frames(error)))
    record = f"[ERROR] {error_type}: {message}\n{trace}".rstrip("\n")
    sys.stderr.write(record.replace("\n", "\r") + "\n")


def _error_frame(
    error_type: str, message: str, error: BaseException | None = None, request_id: str | None = None
) -> dict[str, Any]:
    """Lambda's error shape; the function's own failures (request id given, "" in init) add the
    request id and the stack of the function's exception (none for Runtime.* init errors)."""
    shape: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
    if request_id is not None:
        shape["requestId"] = request_id
        frames = traceback.extract_tb(_user_frames(error)) if error is not None else []
        shape["stackTrace"] = traceback.format_list(frames)
    return {"error": shape}


def invoke(
    handler: Callable[[Any, LambdaContext], Any], request: dict[str, Any], event: Any
) -> tuple[dict[str, Any], str | None]:
    """Run one invocation: Lambda's error shape, or no error and the payload's JSON."""
    global _current_request_id
    _current_request_id = request["id"]
    try:
        result = handler(event, LambdaContext(request))
    except Exception as error:
        error_type, message = type(error).__name__, str(error)
        _log_error(error_type, message, error)
        return _error_frame(error_type, message, error, request["id"]), None
    try:
        payload_json = json.dumps(result)
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        _log_error("Runtime.MarshalError", message, None)
        return _error_frame("Runtime.MarshalError", message), None
    if len(payload_json) > MAX_RESPONSE_BYTES:
        message = (
            "Response payload size exceeded maximum allowed payload size "
            f"({MAX_RESPONSE_BYTES} bytes)."
        )
        return _error_frame("Function.ResponseSizeTooLarge", message), None
    return {}, payload_json


def _open_proc(name: str) -> int | None:
    try:
        return os.open(f"/proc/self/{name}", os.O_RDONLY)
    except OSError:
        return None


class PeakMemory:
    """This process's peak resident memory in MB, as REPORT's Max Memory Used.

    VmHWM is the figure (getrusage's would count the parent's too: Linux keeps ru_maxrss across
    exec). Reading /proc/self/status takes tens of microseconds, a fifth of a warm invocation,
    so a quick invocation (under QUICK_SECONDS) reads only the current size (statm, a few
    microseconds) and reads VmHWM again only when that size passes the last peak. What it can
    miss is memory taken and given back within those 2 ms: a few MB (a page fault costs about a
    microsecond), tens with transparent huge pages.
    """

    QUICK_SECONDS = 0.002

    def __init__(self) -> None:
        self._status = _open_proc("status")
        self._statm = _open_proc("statm")
        self._page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
        self.peak_kb = 0

    def mb(self, elapsed: float) -> int:
        """The peak after a phase that took `elapsed` seconds."""
        if self._status is None or self._statm is None:
            scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes there, KB here
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale
        if elapsed >= self.QUICK_SECONDS or self._resident_kb() > self.peak_kb:
            status = os.pread(self._status, 8192, 0)
            start = status.index(b"VmHWM:")
            self.peak_kb = int(status[start + 6 : status.index(b"kB", start)])
        return self.peak_kb // 1024

    def _resident_kb(self) -> int:
        assert self._statm is not None
        return int(os.pread(self._statm, 256, 0).split()[1]) * self._page_kb


class Channel:
    """The socket to the runtime; each frame is preceded by the marker line on the output pipe."""

    def __init__(self, fileno: int, marker: str) -> None:
        self.socket = socket.socket(fileno=fileno)
        self.marker = f"\0{marker}\n".encode()
        self.memory = PeakMemory()
        self.phase_started = time.monotonic()  # when init, or the current request, began

    def send(self, frame: dict[str, Any], payload_json: str | None = None) -> None:
        """Mark the end of this phase's output, then send the frame with the peak memory so far."""
        for stream in (sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
        os.write(1, self.marker)
        frame["memory_mb"] = self.memory.mb(time.monotonic() - self.phase_started)
        body = json.dumps(frame)
        if payload_json is not None:  # spliced in: the payload is serialized once, when sized
            body = f'{body[:-1]}, "payload": {payload_json}}}'
        write_frames(self.socket, [body.encode()])


def main() -> None:
    """Init once, report it, then answer requests until the runtime closes the socket."""
    channel = Channel(int(sys.argv[1]), sys.argv[3])
    sys.path.extend(sys.argv[4:])  # the packages folders, without their .pth files
    install_lambda_logging()
    try:
        handler = load_handler(sys.argv[2])
    except FunctionError as failure:
        _log_error(failure.error_type, failure.message, failure.__cause__)
        channel.send(_error_frame(failure.error_type, failure.message, request_id=""))
        return
    except Exception as error:
        _log_error(type(error).__name__, str(error), error)
        channel.send(_error_frame(type(error).__name__, str(error), error, request_id=""))
        return
    channel.send({})
    while (meta := read_frame(channel.socket)) is not None and (
        event := read_frame(channel.socket)
    ) is not None:
        channel.phase_started = time.monotonic()
        channel.send(*invoke(handler, json.loads(meta), json.loads(event)))


if __name__ == "__main__":
    main()
