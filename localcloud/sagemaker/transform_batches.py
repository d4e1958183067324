"""How a transform job cuts one input object into the requests it sends the container.

`SplitType: None` sends the whole object as one request. `SplitType: Line` makes records of
its non-blank lines: with `MultiRecord` as many whole records as fit in `MaxPayloadInMB` go in
one request, with `SingleRecord` one each. Mini-batches never cross objects, a record is never
cut, and a record larger than the payload limit fails the object. When records pass as they
are (no filter, no join), a mini-batch is a slice of the object's bytes cut at a line end, so
a large object is not split line by line in Python; otherwise each record is kept (with its
line number) for the filters and the join.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

READ_BYTES = 1 << 20
MEGABYTE = 1 << 20  # MaxPayloadInMB counts in MiB, as InvokeEndpoint's 6 MB limit does


class ObjectFailed(Exception):
    """One input object could not be transformed; the message says where and why."""


@dataclass
class MiniBatch:
    """One request's body and where its records are in the object."""

    body: bytes
    first_line: int  # 1-based line of the object the body starts at
    records: list[bytes] = field(default_factory=list)  # kept when records are looked at
    lines: list[int] = field(default_factory=list)  # each kept record's line

    def line_of_record(self, index: int) -> int:
        """The object's line holding the body's index-th (0-based) non-blank record."""
        if self.lines:
            return self.lines[min(index, len(self.lines) - 1)]
        seen = -1
        for offset, line in enumerate(self.body.split(b"\n")):
            if line.strip():
                seen += 1
                if seen == index:
                    return self.first_line + offset
        return self.first_line

    @property
    def last_line(self) -> int:
        """The object's last line in this body."""
        if self.lines:
            return self.lines[-1]
        return self.first_line + self.body.rstrip(b"\n").count(b"\n")


def _too_large(line: int, size: int, limit: int) -> ObjectFailed:
    return ObjectFailed(
        f"line {line}: a record of {size} bytes is over MaxPayloadInMB ({limit // MEGABYTE} MB); "
        "raise MaxPayloadInMB (at most 100) or split the record"
    )


def whole_object(stream: BinaryIO, limit: int) -> Iterator[MiniBatch]:
    """SplitType None: the object is one request, which must fit in the payload limit."""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise ObjectFailed(
            f"the object is over MaxPayloadInMB ({limit // MEGABYTE} MB) and SplitType is None; "
            "set SplitType to Line to send it record by record"
        )
    if body.strip():
        yield MiniBatch(body, 1)


def byte_batches(stream: BinaryIO, limit: int) -> Iterator[MiniBatch]:
    """MultiRecord, records as they are: up to `limit` bytes of whole lines per request."""
    pending = bytearray()
    line = 1
    while True:
        while len(pending) < limit and (chunk := stream.read(limit - len(pending))):
            pending += chunk
        if not pending:
            return
        if len(pending) < limit:  # the end of the object: the last lines, maybe unterminated
            body = bytes(pending)
            pending.clear()
        else:
            cut = pending.rfind(b"\n")
            if cut < 0:
                raise _too_large(line, len(pending) + _rest_of_line(stream), limit)
            body = bytes(pending[: cut + 1])
            del pending[: cut + 1]
        if body.strip():
            yield MiniBatch(body, line)
        line += body.count(b"\n")


def _rest_of_line(stream: BinaryIO) -> int:
    """How many more bytes the line under way has (to word the error)."""
    size = 0
    while chunk := stream.read(READ_BYTES):
        end = chunk.find(b"\n")
        if end >= 0:
            return size + end
        size += len(chunk)
    return size


def records(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, record) for every non-blank line, without its line end."""
    pending = b""
    line = 0
    while chunk := stream.read(READ_BYTES):
        *complete, pending = (pending + chunk).split(b"\n")
        for text in complete:
            line += 1
            if text.strip():
                yield line, text.rstrip(b"\r")
    if pending.strip():
        yield line + 1, pending.rstrip(b"\r")


def record_batches(
    stream: BinaryIO, limit: int, single: bool, prepare: Callable[[bytes], bytes]
) -> Iterator[MiniBatch]:
    """Records one by one (SingleRecord) or packed up to `limit` bytes (MultiRecord), each
    passed through `prepare` (the input filter) and kept for the join."""
    batch = MiniBatch(b"", 0)
    parts: list[bytes] = []
    size = 0
    for line, record in records(stream):
        body = prepare(record)
        if len(body) + 1 > limit:
            raise _too_large(line, len(body), limit)
        if parts and (single or size + len(body) + 1 > limit):
            batch.body = b"\n".join(parts) + b"\n"
            yield batch
            batch, parts, size = MiniBatch(b"", 0), [], 0
        if not parts:
            batch.first_line = line
        parts.append(body)
        batch.records.append(record)
        batch.lines.append(line)
        size += len(body) + 1
    if parts:
        batch.body = b"\n".join(parts) + b"\n"
        yield batch
