"""Events that come from requests to moto: S3 "Object Created".

moto 5.2.5 emits S3 EventBridge events only to its own rules and in a shape unlike AWS's (a
fixed id and request id, `time` as a number, `eTag`, reason "ObjectCreated"), so the local bus
watches the requests themselves: the edge calls `RequestObserver(service, request,
response)` after each one (service = the SigV4 signing name).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from localcloud.background import HttpRequest, HttpResponse
from localcloud.cfn import resolve
from localcloud.events.bus import LOG, EventBus
from localcloud.stacks import Stack

# Query members a plain PutObject / CopyObject may carry (botocore adds x-id); anything else on
# a PUT to a key is a subresource (tagging, acl, retention, a multipart part...).
_OBJECT_WRITE_QUERY = {"x-id"}


class S3Source:
    """Turns successful object writes into AWS's "Object Created" events for EventBridge buckets.

    Which buckets have EventBridge on is kept here, from the templates and from each
    PutBucketNotificationConfiguration seen: moto's GetBucketNotificationConfiguration leaves
    `EventBridgeConfiguration` out of its answer.
    """

    def __init__(self, bus: EventBus, s3: Any, eventbridge_buckets: Iterable[str]) -> None:
        self.bus = bus
        self.s3 = s3
        self.eventbridge_buckets = set(eventbridge_buckets)
        self._sequence = itertools.count()

    def observe(self, request: HttpRequest, response: HttpResponse) -> None:
        """Called after each S3 request; queues an event for each object it created."""
        if not 200 <= response.status < 300:
            return
        if request.method == "PUT" and "notification" in parse_qs(request.query, True):
            bucket = unquote(urlsplit(request.raw_path).path).strip("/").split("/")[0]
            if b"<EventBridgeConfiguration" in request.body:
                self.eventbridge_buckets.add(bucket)
            else:
                self.eventbridge_buckets.discard(bucket)
            return
        reason = _write_reason(request, response)
        location = _bucket_and_key(request)
        if reason is None or location is None:
            return
        bucket, key = location
        headers = {name.lower(): value for name, value in response.headers}
        version = headers.get("x-amz-version-id")
        if version == "null":  # an unversioned bucket's object: no version-id in the event
            version = None
        request_id = headers.get("x-amz-request-id") or headers.get("x-amzn-requestid", "")
        sequencer = f"{time.time_ns():016X}{next(self._sequence):04X}"
        self.bus.submit(
            lambda: self._emit(bucket, key, version, reason, request_id, sequencer, request)
        )

    def _emit(
        self,
        bucket: str,
        key: str,
        version: str | None,
        reason: str,
        request_id: str,
        sequencer: str,
        request: HttpRequest,
    ) -> None:
        if bucket not in self.eventbridge_buckets:
            return
        head = self.s3.head_object(
            Bucket=bucket, Key=key, **({"VersionId": version} if version else {})
        )
        obj: dict[str, Any] = {
            "key": key,
            "size": head["ContentLength"],
            "etag": head["ETag"].strip('"'),
        }
        if version:
            obj["version-id"] = version
        obj["sequencer"] = sequencer
        detail = {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": request_id,
            "requester": self.bus.account_id,
            "source-ip-address": request.client_ip,
            "reason": reason,
        }
        self.bus.put_event("aws.s3", "Object Created", detail, [f"arn:aws:s3:::{bucket}"])


def _write_reason(request: HttpRequest, response: HttpResponse) -> str | None:
    """PutObject, CopyObject or CompleteMultipartUpload, or None for any other request."""
    query = parse_qs(request.query, keep_blank_values=True)
    if b"<Error>" in response.body:  # S3 answers a failed copy or completion with 200 and this
        return None
    if request.method == "PUT" and set(query) <= _OBJECT_WRITE_QUERY:
        return "CopyObject" if request.header("x-amz-copy-source") else "PutObject"
    if request.method == "POST" and "uploadId" in query:
        return "CompleteMultipartUpload"
    return None


def _bucket_and_key(request: HttpRequest) -> tuple[str, str] | None:
    """The bucket and key a path-style or virtual-hosted-style request names."""
    path = unquote(urlsplit(request.raw_path).path)
    host = (request.header("host") or "").split(":")[0]
    if ".s3." in host:  # virtual-hosted style: <bucket>.s3.<region>.amazonaws.com
        bucket, key = host.split(".s3.", 1)[0], path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    return (bucket, key) if bucket and key else None


class RequestObserver:
    """The one hook the edge calls after each request to moto, by signing name."""

    def __init__(self, bus: EventBus, s3: Any, eventbridge_buckets: Iterable[str]) -> None:
        self.bus = bus
        self.s3_source = S3Source(bus, s3, eventbridge_buckets)

    def __call__(self, service: str, request: HttpRequest, response: HttpResponse) -> None:
        """Look at one finished request; never raises into the request path."""
        try:
            if service == "s3":
                self.s3_source.observe(request, response)
        except Exception:
            LOG.exception("could not observe a %s request", service)


def enable_eventbridge_notifications(stacks: Iterable[Stack], s3: Any) -> list[str]:
    """Give moto the buckets' `EventBridgeConfiguration` (its CloudFormation skips it).

    Returns the buckets it enabled (moto's own S3 then sends its events to moto's rules too).
    """
    enabled = []
    for stack in stacks:
        for logical_id, resource in stack.resources_of_type("AWS::S3::Bucket").items():
            properties = resolve(resource.get("Properties", {}), stack.context)
            bridge = properties.get("NotificationConfiguration", {}).get("EventBridgeConfiguration")
            if not bridge or bridge.get("EventBridgeEnabled") not in (True, "true"):
                continue
            bucket = stack.context.physical_ids[logical_id]
            current = s3.get_bucket_notification_configuration(Bucket=bucket)
            current.pop("ResponseMetadata", None)
            s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={**current, "EventBridgeConfiguration": {}},
            )
            enabled.append(bucket)
    return enabled
