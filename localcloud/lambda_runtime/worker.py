"""One Lambda execution environment: import the handler once, then serve invocations.

The runtime starts this file as a script with the function's environment only, so it imports
nothing but the standard library (the function's code directory is all PYTHONPATH holds, and the
installed packages are added without site's .pth files, so the project itself is not). It
talks to the runtime over an inherited socket in length-prefixed JSON frames: one frame when
init is done (`{}`, or the init error), then per request (two frames: id/ARN/deadline, event)
one response frame, until the socket closes.
Handler output and the runtime's own log lines go to stdout/stderr, which is the function's log.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

_FRAME_HEADER = struct.Struct("!I")
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


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        return True


def install_lambda_logging() -> None:
    """Give the root logger the handler Lambda's runtime installs, so basicConfig is a no-op."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
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


def _log_error(error_type: str, message: str, error: BaseException | None) -> None:
    """Write Lambda's `[ERROR]` record: the runtime's own frames left out, the user's kept."""
    trace = ""
    if error is not None:
        frames = error.__traceback__
        root = str(Path.cwd())
        while frames is not None and not frames.tb_frame.f_code.co_filename.startswith(root):
            frames = frames.tb_next
        trace = "".join(traceback.format_exception(type(error), error, frames))
    sys.stderr.write(f"[ERROR] {error_type}: {message}\n{trace}")


def _error_frame(error_type: str, message: str) -> bytes:
    return json.dumps({"error": {"errorType": error_type, "errorMessage": message}}).encode()


def invoke(
    handler: Callable[[Any, LambdaContext], Any], request: dict[str, Any], event: Any
) -> bytes:
    """Run one invocation; the response frame holds the payload or Lambda's error shape."""
    global _current_request_id
    _current_request_id = request["id"]
    try:
        result = handler(event, LambdaContext(request))
    except Exception as error:
        error_type, message = type(error).__name__, str(error)
        _log_error(error_type, message, error)
        return _error_frame(error_type, message)
    try:
        return json.dumps({"payload": result}).encode()
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        _log_error("Runtime.MarshalError", message, None)
        return _error_frame("Runtime.MarshalError", message)


def main() -> None:
    """Init once, report it, then answer requests until the runtime closes the socket."""
    channel = socket.socket(fileno=int(sys.argv[1]))
    sys.path.extend(sys.argv[3:])  # the packages folders, without their .pth files
    install_lambda_logging()
    try:
        handler = load_handler(sys.argv[2])
    except FunctionError as failure:
        _log_error(failure.error_type, failure.message, failure.__cause__)
        write_frames(channel, [_error_frame(failure.error_type, failure.message)])
        return
    except Exception as error:
        _log_error(type(error).__name__, str(error), error)
        write_frames(channel, [_error_frame(type(error).__name__, str(error))])
        return
    write_frames(channel, [b"{}"])
    while (meta := read_frame(channel)) is not None and (event := read_frame(channel)) is not None:
        write_frames(channel, [invoke(handler, json.loads(meta), json.loads(event))])


if __name__ == "__main__":
    main()
