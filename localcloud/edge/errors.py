"""The edge's own refusals, encoded in the protocol of the service the request was meant for.

A client reads an error only in its service's encoding: JSON (`__type`), REST JSON
(`x-amzn-ErrorType`), the query protocol's XML, or S3's XML with S3's own codes.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from xml.sax.saxutils import escape

import botocore.session
from botocore.exceptions import UnknownServiceError

from localcloud.background import HttpResponse
from localcloud.core.exceptions import (
    AwsError,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

# botocore's name of the service, where it differs from the name requests are signed for.
_SERVICE_OF_SIGNING_NAME = {"monitoring": "cloudwatch", "eventbridge": "events"}
# S3 answers signature problems with codes of its own.
_S3_CODES = {
    MissingAuthenticationTokenException: ("AccessDenied", "Access Denied"),
    UnrecognizedClientException: (
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    InvalidSignatureException: (
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
}
# The query protocol's services (STS, IAM, SNS, CloudFormation, ...) word them so.
_QUERY_CODES = {
    MissingAuthenticationTokenException: (
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
    ),
    UnrecognizedClientException: (
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    ),
    InvalidSignatureException: ("SignatureDoesNotMatch", None),
}
_SESSION = botocore.session.get_session()


@cache
def protocol_of(signing_name: str | None) -> str:
    """The wire protocol of the service a request is signed for ("json" when unknown)."""
    if signing_name is None:
        return "json"
    service = _SERVICE_OF_SIGNING_NAME.get(signing_name, signing_name)
    try:
        metadata = _SESSION.get_service_model(service).metadata
    except UnknownServiceError:
        return "json"
    return metadata.get("protocol", "json")


def error_for(signing_name: str | None, error: AwsError) -> HttpResponse:
    """`error` as the service `signing_name` would encode it."""
    request_id = str(uuid.uuid4())
    protocol = protocol_of(signing_name)
    if protocol == "rest-xml":
        code, message = _S3_CODES.get(type(error), (error.code, error.message))
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return _response(error.status, "application/xml", body, request_id)
    if protocol in ("query", "ec2"):
        code, message = _QUERY_CODES.get(type(error), (error.code, error.message))
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{escape(message or error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return _response(error.status, "text/xml", body, request_id)
    document = {"__type": error.code, "message": error.message, **error.fields()}
    response = _response(
        error.status, "application/x-amz-json-1.1", json.dumps(document), request_id
    )
    response.headers.append(("x-amzn-ErrorType", error.code))
    return response


def _response(status: int, content_type: str, body: str, request_id: str) -> HttpResponse:
    return HttpResponse(
        status,
        [("Content-Type", content_type), ("x-amzn-RequestId", request_id)],
        body.encode(),
    )
