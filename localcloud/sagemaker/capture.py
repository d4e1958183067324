"""Data capture: the JSON Lines SageMaker writes to S3 for an endpoint whose config asks for it.

Each answered invocation is sampled (`random() < InitialSamplingPercentage / 100`); a sampled one
becomes one record in SageMaker's format (`captureData.endpointInput`/`endpointOutput`,
`eventMetadata` with `eventId`, the caller's `inferenceId` when it sent one, and `inferenceTime`
to the second, `eventVersion` "0"). A body whose media type is in the config's
`CaptureContentTypeHeader` is kept as text (`CSV` or `JSON`); any other body, or one that is not
UTF-8, is base64 (`BASE64`), as SageMaker encodes what it was not told how to read.

Records are buffered per deployment and written by a background thread every `flush_seconds`
(SageMaker takes a couple of minutes; locally it is quick, so labels can be joined soon after),
as one object per UTC hour of their `inferenceTime`:
`<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/MM-SS-mmm-<uuid>.jsonl`, named after the
first record's time as SageMaker names its files. Closing the writer (the deployment stops: an
update retired it, the endpoint was deleted, or the cloud shut down) writes what is left. A
failed upload keeps its records for the next round; past `max_pending_bytes` waiting, new
records are dropped and the drop is logged, as SageMaker stops capturing when its disk fills.
"""

from __future__ import annotations

import binascii
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.storage import S3Storage, StorageError, parse_s3_uri

LOG = logging.getLogger("localcloud.sagemaker.capture")
EVENT_VERSION = "0"
MODES = {"Input": {"INPUT"}, "Output": {"OUTPUT"}, "InputAndOutput": {"INPUT", "OUTPUT"}}
DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class CapturePolicy:
    """What a DataCaptureConfig asks for, checked once when the endpoint config is created."""

    percentage: int
    destination: str  # s3://bucket/prefix, no trailing slash
    kms_key_id: str
    modes: frozenset[str]  # INPUT, OUTPUT
    csv_types: frozenset[str]
    json_types: frozenset[str]

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> CapturePolicy | None:
        """The policy of a DataCaptureConfig, or None when capture is absent or disabled."""
        if not config or not config.get("EnableCapture", True):
            return None
        destination = config["DestinationS3Uri"].rstrip("/")
        try:
            parse_s3_uri(destination)
        except StorageError:
            raise ValidationException(
                f"DataCaptureConfig.DestinationS3Uri {config['DestinationS3Uri']!r}: the local "
                "SageMaker writes capture to an s3://bucket/prefix URI"
            ) from None
        modes = frozenset().union(*(MODES[o["CaptureMode"]] for o in config["CaptureOptions"]))
        header = config.get("CaptureContentTypeHeader", {})
        return cls(
            percentage=config["InitialSamplingPercentage"],
            destination=destination,
            kms_key_id=config.get("KmsKeyId", ""),
            modes=modes,
            csv_types=frozenset(t.lower() for t in header.get("CsvContentTypes", [])),
            json_types=frozenset(t.lower() for t in header.get("JsonContentTypes", [])),
        )

    def sampled(self, draw: Callable[[], float] = random.random) -> bool:
        """Whether one request is captured."""
        return self.percentage >= 100 or draw() * 100 < self.percentage

    def encoded(self, content_type: str, body: bytes, mode: str) -> dict[str, str]:
        """One side of captureData: the body as text when its type is declared, else base64."""
        media_type = content_type.split(";", 1)[0].strip().lower()
        encoding = (
            "CSV"
            if media_type in self.csv_types
            else "JSON"
            if media_type in self.json_types
            else "BASE64"
        )
        data = None
        if encoding != "BASE64":
            try:
                data = body.decode("utf-8")
            except UnicodeDecodeError:
                encoding = "BASE64"
        if data is None:
            data = binascii.b2a_base64(body, newline=False).decode("ascii")
        return {
            "observedContentType": content_type,
            "mode": mode,
            "data": data,
            "encoding": encoding,
        }


class CaptureWriter:
    """The capture buffer of one deployment (one endpoint variant), and its flushing thread."""

    def __init__(
        self,
        policy: CapturePolicy,
        storage: S3Storage,
        endpoint: str,
        variant: str,
        flush_seconds: float,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self._storage = storage
        self._prefix = f"{policy.destination}/{endpoint}/{variant}"
        self._flush_seconds = flush_seconds
        self._max_pending_bytes = max_pending_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[tuple[float, str]] = []  # (inference time, JSON line)
        self._pending_bytes = 0
        self._dropped = 0
        self._closed = False
        self._wake = threading.Event()
        self._upload_lock = threading.Lock()  # one upload round at a time, in time order
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{endpoint}-{variant}", daemon=True
        )
        self._thread.start()

    def record(
        self,
        request: tuple[str, bytes],
        response: tuple[str, bytes],
        inference_id: str | None,
    ) -> None:
        """Capture one answered invocation ((content type, body) each way), if it is sampled."""
        if not self.policy.sampled():
            return
        now = self._clock()
        capture: dict[str, Any] = {}
        if "INPUT" in self.policy.modes:
            capture["endpointInput"] = self.policy.encoded(*request, "INPUT")
        if "OUTPUT" in self.policy.modes:
            capture["endpointOutput"] = self.policy.encoded(*response, "OUTPUT")
        metadata = {"eventId": str(uuid.uuid4())}
        if inference_id is not None:
            metadata["inferenceId"] = inference_id
        metadata["inferenceTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        line = json.dumps(
            {"captureData": capture, "eventMetadata": metadata, "eventVersion": EVENT_VERSION},
            separators=(",", ":"),
        )
        with self._lock:
            if self._pending_bytes + len(line) > self._max_pending_bytes:
                self._dropped += 1
                if self._dropped == 1:
                    LOG.warning("capture to %s is backed up: dropping records", self._prefix)
                return
            self._pending.append((now, line))
            self._pending_bytes += len(line) + 1
            closed = self._closed
        if closed:  # a request that finished after the deployment stopped: write it now
            self.flush()

    def flush(self) -> None:
        """Write every buffered record, one object per hour; failed ones wait for the next round."""
        with self._upload_lock:
            with self._lock:
                records, self._pending, self._pending_bytes = self._pending, [], 0
            hours: dict[str, list[tuple[float, str]]] = {}
            for stamp, line in records:
                hours.setdefault(time.strftime("%Y/%m/%d/%H", time.gmtime(stamp)), []).append(
                    (stamp, line)
                )
            unsent: list[tuple[float, str]] = []
            for hour, batch in hours.items():
                try:
                    self._put(hour, batch)
                except StorageError as error:
                    LOG.warning("capture upload failed, will retry: %s", error)
                    unsent.extend(batch)
            if unsent:
                with self._lock:
                    self._pending[:0] = unsent
                    self._pending_bytes += sum(len(line) + 1 for _, line in unsent)

    def _put(self, hour: str, batch: list[tuple[float, str]]) -> None:
        first = batch[0][0]
        millis = int(first * 1000) % 1000
        name = f"{time.strftime('%M-%S', time.gmtime(first))}-{millis:03d}-{uuid.uuid4()}.jsonl"
        body = ("\n".join(line for _, line in batch) + "\n").encode("utf-8")
        self._storage.put_bytes(body, f"{self._prefix}/{hour}/{name}", self.policy.kms_key_id)

    def _run(self) -> None:
        while not self._wake.wait(self._flush_seconds):
            self.flush()

    def close(self) -> None:
        """Stop the thread and write what is left (idempotent)."""
        with self._lock:
            self._closed = True
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()
        self.flush()
