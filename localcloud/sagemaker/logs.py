"""A container program's output in CloudWatch Logs, under SageMaker's group and stream names.

Training jobs log to `/aws/sagemaker/TrainingJobs` (processing jobs to
`/aws/sagemaker/ProcessingJobs`), stream `<job>/algo-1-<epoch seconds>`; each
endpoint instance to `/aws/sagemaker/Endpoints/<endpoint>`, stream `<variant>/<instance id>`.
The program still writes its own log file (FailureReason's tail and `read_*_log` read it); a
follower thread sends each new line of that file to the shared `LogStreamWriter` as it appears,
and the rest once the program has exited.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from localcloud.cloudwatch_logs import LogStreamWriter
from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.processes import Program

LOG = logging.getLogger("localcloud.sagemaker")
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
FOLLOW_SECONDS = 0.2
READ_CHUNK_BYTES = 1 << 20


def endpoint_log_group(endpoint: str) -> str:
    """The group SageMaker writes an endpoint's container output to."""
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def log_group_arn(group: str) -> str:
    """A log group's ARN, as ModelError's LogStreamArn names it."""
    return f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}"


def job_stream(job: str) -> str:
    """`<job>/algo-1-<epoch seconds>`: the one host's stream of a training or processing job."""
    return f"{job}/algo-1-{int(time.time())}"


def instance_id() -> str:
    """An id shaped like an EC2 instance's, e.g. `i-0123456789abcdef0`."""
    return "i-0" + secrets.token_hex(8)


def follow(logs: Any, program: Program, group: str, stream: str, offset: int) -> None:
    """Send the program's log lines after `offset` to `group`/`stream` until it has exited.

    A CloudWatch Logs that cannot be reached costs the lines, never the program.
    """
    try:
        writer = LogStreamWriter(logs, group, stream)
    except Exception as error:
        LOG.warning("no CloudWatch Logs for %s/%s: %s", group, stream, error)
        return
    threading.Thread(
        target=_pump,
        args=(program, writer, offset),
        name=f"follow:{stream}",
        daemon=True,
    ).start()


def _pump(program: Program, writer: LogStreamWriter, offset: int) -> None:
    partial = b""
    try:
        while True:
            exited = program.exited.wait(FOLLOW_SECONDS)
            offset, partial = _send_new_lines(program.log_path, writer, offset, partial)
            if exited:
                break
        if partial:
            writer.write(partial.decode(errors="replace"))
    finally:
        writer.close()


def _send_new_lines(
    path: Path, writer: LogStreamWriter, offset: int, partial: bytes
) -> tuple[int, bytes]:
    try:
        with path.open("rb") as stream:
            stream.seek(offset)
            while chunk := stream.read(READ_CHUNK_BYTES):
                offset += len(chunk)
                *lines, partial = (partial + chunk).split(b"\n")
                for line in lines:
                    if text := line.rstrip(b"\r").decode(errors="replace"):  # events are non-empty
                        writer.write(text)
    except FileNotFoundError:
        pass
    return offset, partial
