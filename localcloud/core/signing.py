"""AWS Signature Version 4 for the local services: the cloud's own credentials, on every request.

Each local cloud issues one access key and secret (written to `connection.json`, mode 0600); the
local services accept only requests signed with them. The signature is recomputed with botocore's
own SigV4 signer over exactly what the client signed, so boto3, the AWS CLI and the SageMaker SDK
pass unchanged and nothing here reimplements the hashing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from localcloud.background import HttpRequest
from localcloud.core.exceptions import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
# What a client may sign instead of the body's hash: S3 over plain HTTP with an unsigned body, or
# S3's aws-chunked uploads (each chunk then carries its own signature or checksum).
UNHASHED_PAYLOADS = frozenset(
    {
        "UNSIGNED-PAYLOAD",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    }
)
MAX_CLOCK_SKEW = timedelta(minutes=15)  # what AWS allows between the signature and its clock
_KEY_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class Credentials:
    """An access key id and its secret (and, for temporary credentials, a session token)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    @classmethod
    def generate(cls, *, temporary: bool = False) -> Credentials:
        """New credentials shaped like AWS's (AKIA/ASIA + 16 characters; a 40-character secret).

        Temporary ones, as STS issues, carry a session token every request must present.
        """
        prefix = "ASIA" if temporary else "AKIA"
        key_id = prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
        token = secrets.token_urlsafe(96) if temporary else None
        return cls(key_id, secrets.token_urlsafe(30), token)

    def environment(self) -> dict[str, str]:
        """The variables boto3 reads these from."""
        variables = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if self.session_token is not None:
            variables["AWS_SESSION_TOKEN"] = self.session_token
        return variables


@dataclass(frozen=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def _parse_authorization(header: str) -> _Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported AWS 'algorithm': '{algorithm}' (the local cloud accepts {ALGORITHM})"
        )
    parts = {}
    for item in rest.split(","):
        name, equals, value = item.strip().partition("=")
        if equals:
            parts[name] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in parts]
    if missing:
        raise IncompleteSignatureException(
            f"Authorization header requires '{missing[0]}' parameter. Authorization={header[:200]}"
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise IncompleteSignatureException(
            f"Credential should be scoped to a valid region and service: {parts['Credential']!r}"
        )
    return _Authorization(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(parts["SignedHeaders"].split(";")),
        signature=parts["Signature"],
    )


def signed_service(request: HttpRequest) -> str | None:
    """The service a request's Authorization header is scoped to, or None when it has none."""
    header = request.header("authorization")
    if header is None:
        return None
    try:
        return _parse_authorization(header).service
    except IncompleteSignatureException:
        return None


class SignatureVerifier:
    """Check that requests are signed with this cloud's credentials, for the given services.

    `signing_names=None` accepts a signature for any service (the edge, in front of moto).
    """

    def __init__(
        self,
        credentials: Credentials,
        signing_names: Collection[str] | None,
        *,
        temporary: Collection[Credentials] = (),
    ) -> None:
        self.credentials = credentials
        self.signing_names = None if signing_names is None else frozenset(signing_names)
        self._known = {known.access_key_id: known for known in (credentials, *temporary)}

    def verify(self, request: HttpRequest) -> None:
        """Raise the error AWS answers with unless the request carries a valid signature."""
        header = request.header("authorization")
        if header is None:
            raise MissingAuthenticationTokenException
        authorization = _parse_authorization(header)
        known = self._known.get(authorization.access_key_id)
        if known is None or (
            known.session_token is not None
            and not hmac.compare_digest(
                request.header("x-amz-security-token") or "", known.session_token
            )
        ):
            raise UnrecognizedClientException
        if self.signing_names is not None and authorization.service not in self.signing_names:
            expected = sorted(self.signing_names)[0]
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{expected}'. "
            )
        timestamp = self._timestamp(request, authorization)
        if "host" not in authorization.signed_headers:
            raise InvalidSignatureException(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )
        self._check_payload_hash(request)
        expected_signature = self._signature(request, authorization, timestamp, known)
        if not hmac.compare_digest(expected_signature, authorization.signature):
            raise InvalidSignatureException(InvalidSignatureException.MISMATCH)

    @staticmethod
    def _timestamp(request: HttpRequest, authorization: _Authorization) -> str:
        stamp = request.header("x-amz-date")
        if stamp is None:
            raise IncompleteSignatureException(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header."
            )
        try:
            signed_at = datetime.strptime(stamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            raise IncompleteSignatureException(
                f"X-Amz-Date {stamp!r} is not of the form YYYYMMDDTHHMMSSZ"
            ) from None
        if stamp[:8] != authorization.date:
            raise InvalidSignatureException(
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{authorization.date}' != '{stamp[:8]}', from '{stamp}'."
            )
        now = datetime.now(UTC)
        if abs(now - signed_at) > MAX_CLOCK_SKEW:
            earliest = (now - MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)
            raise InvalidSignatureException(
                f"Signature expired: {stamp} is now earlier than {earliest} "
                f"({now.strftime(SIGV4_TIMESTAMP)} - 15 min.)"
                if signed_at < now
                else f"Signature not yet current: {stamp} is still later than "
                f"{(now + MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)} "
                f"({now.strftime(SIGV4_TIMESTAMP)} + 15 min.)"
            )
        return stamp

    @staticmethod
    def _check_payload_hash(request: HttpRequest) -> None:
        # The signer trusts X-Amz-Content-SHA256 as the body's hash: it must be the body's.
        declared = request.header("x-amz-content-sha256")
        if declared is None or declared in UNHASHED_PAYLOADS:
            return
        if declared != hashlib.sha256(request.body).hexdigest():
            raise InvalidSignatureException(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )

    @staticmethod
    def _signature(
        request: HttpRequest, authorization: _Authorization, stamp: str, known: Credentials
    ) -> str:
        host = request.header("host") or ""
        url = f"http://{host}{request.raw_path}" + (f"?{request.query}" if request.query else "")
        signed = {name: request.header(name) or "" for name in authorization.signed_headers}
        aws_request = AWSRequest(method=request.method, url=url, headers=signed, data=request.body)
        aws_request.context["timestamp"] = stamp
        # S3 signs its path as sent; every other service signs it percent-encoded once more.
        signer_class = S3SigV4Auth if authorization.service == "s3" else SigV4Auth
        signer = signer_class(
            ReadOnlyCredentials(known.access_key_id, known.secret_access_key, None),
            authorization.service,
            authorization.region,
        )
        canonical = signer.canonical_request(aws_request)
        return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
