"""Sign raw HTTP requests to the local services the way botocore signs its own (SigV4)."""

from __future__ import annotations

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from localcloud.core.signing import Credentials


def signed_headers(
    credentials: Credentials,
    service: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    method: str = "POST",
) -> dict[str, str]:
    """`headers` plus X-Amz-Date and the Authorization for this exact request."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    signer_credentials = ReadOnlyCredentials(
        credentials.access_key_id, credentials.secret_access_key, None
    )
    SigV4Auth(signer_credentials, service, "us-east-1").add_auth(request)
    return dict(request.headers.items())
