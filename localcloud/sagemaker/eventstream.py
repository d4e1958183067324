"""AWS's event stream encoding (`application/vnd.amazon.eventstream`), for response streams.

Each message is a prelude (total and headers length, with its CRC32), string headers
(`:message-type`, `:event-type`, `:content-type`), the payload and a CRC32 of all of it: what
botocore's `EventStream` decodes. Only the encoder lives here; botocore has the decoder.
"""

from __future__ import annotations

import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING_HEADER = 7  # the header value type for UTF-8 strings
_PRELUDE_BYTES = 12
_CRC_BYTES = 4


def _header(name: str, value: str) -> bytes:
    key, text = name.encode(), value.encode()
    return struct.pack(">B", len(key)) + key + struct.pack(">BH", _STRING_HEADER, len(text)) + text


def event(event_type: str, payload: bytes) -> bytes:
    """One event message, e.g. `event("PayloadPart", body)`."""
    headers = b"".join(
        _header(name, value)
        for name, value in (
            (":message-type", "event"),
            (":event-type", event_type),
            (":content-type", "application/octet-stream"),
        )
    )
    total = _PRELUDE_BYTES + len(headers) + len(payload) + _CRC_BYTES
    prelude = struct.pack(">II", total, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))
