"""Every local service but moto accepts only requests signed with the cloud's own credentials.

The SageMaker control plane and runtime and the CodePipeline service each get
the same attacks: no signature, someone else's key, a wrong secret, a body changed after
signing, an old signature, a signature for another service. Each is refused with the error code
AWS answers with; boto3 signed with the right credentials passes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.codepipeline import CodePipelineService
from localcloud.core.signing import Credentials
from localcloud.sagemaker import start_server
from tests.signing_support import signed_headers

CREDENTIALS = Credentials.generate()
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@dataclass(frozen=True)
class Service:
    """How to send one harmless request to a local service, and how it spells its errors."""

    name: str
    signing_name: str
    url: str
    path: str
    headers: dict[str, str]
    body: bytes

    def post(self, headers: dict[str, str], body: bytes | None = None) -> requests.Response:
        data = self.body if body is None else body
        return requests.post(self.url + self.path, data=data, headers=headers, timeout=10)

    def signed(
        self, credentials: Credentials = CREDENTIALS, signing_name: str | None = None
    ) -> dict[str, str]:
        return signed_headers(
            credentials,
            signing_name or self.signing_name,
            self.url + self.path,
            self.body,
            self.headers,
        )

    def error_code(self, response: requests.Response) -> str:
        if "x-amzn-ErrorType" in response.headers:  # REST JSON
            return response.headers["x-amzn-ErrorType"].split(":")[0]
        document = response.json()
        return document.get("__type") or document.get("code")


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Service]]:
    """The SageMaker server and the CodePipeline service, both for CREDENTIALS."""
    sagemaker = start_server(tmp_path_factory.mktemp("sagemaker"), CREDENTIALS)
    jobs = CodePipelineService(CREDENTIALS)
    jobs.start()
    json_headers = {"Content-Type": "application/x-amz-json-1.1"}
    try:
        yield {
            "sagemaker": Service(
                "sagemaker",
                "sagemaker",
                sagemaker.url,
                "/",
                {**json_headers, "X-Amz-Target": "SageMaker.ListEndpoints"},
                b"{}",
            ),
            "sagemaker-runtime": Service(
                "sagemaker-runtime",
                "sagemaker",
                sagemaker.url,
                "/endpoints/no-such-endpoint/invocations",
                {"Content-Type": "text/csv"},
                b"1,2,3",
            ),
            "codepipeline": Service(
                "codepipeline",
                "codepipeline",
                jobs.url,
                "/",
                {**json_headers, "X-Amz-Target": "CodePipeline_20150709.GetJobDetails"},
                json.dumps({"jobId": "0f0e0d0c-0b0a-4909-8807-060504030201"}).encode(),
            ),
        }
    finally:
        jobs.stop()
        sagemaker.stop()


SERVICES = ["sagemaker", "sagemaker-runtime", "codepipeline"]


@pytest.mark.parametrize("name", SERVICES)
def test_an_unsigned_request_is_refused(services: dict[str, Service], name: str) -> None:
    service = services[name]
    response = service.post(service.headers)
    assert response.status_code == 403
    assert service.error_code(response) == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("name", SERVICES)
def test_another_access_key_is_an_unrecognized_client(
    services: dict[str, Service], name: str
) -> None:
    service = services[name]
    response = service.post(service.signed(Credentials.generate()))
    assert response.status_code == 403
    assert service.error_code(response) == "UnrecognizedClientException"


@pytest.mark.parametrize("name", SERVICES)
def test_a_wrong_secret_or_a_changed_body_is_an_invalid_signature(
    services: dict[str, Service], name: str
) -> None:
    service = services[name]
    wrong_secret = Credentials(CREDENTIALS.access_key_id, "not-the-secret")
    for response in (
        service.post(service.signed(wrong_secret)),
        service.post(service.signed(), body=service.body + b" "),
    ):
        assert response.status_code == 403
        assert service.error_code(response) == "InvalidSignatureException"
        assert "does not match the signature you provided" in response.text


@pytest.mark.parametrize("name", SERVICES)
def test_an_old_signature_or_one_for_another_service_is_refused(
    services: dict[str, Service], name: str
) -> None:
    service = services[name]
    old = service.signed()
    stamp = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    old["X-Amz-Date"] = stamp
    old["Authorization"] = old["Authorization"].replace(
        old["Authorization"].split("/")[1], stamp[:8]
    )
    expired = service.post(old)
    assert service.error_code(expired) == "InvalidSignatureException"
    assert "Signature expired" in expired.text
    elsewhere = service.post(service.signed(signing_name="s3"))
    assert service.error_code(elsewhere) == "InvalidSignatureException"
    assert "Credential should be scoped to correct service" in elsewhere.text


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("sagemaker", 200, None),
        ("sagemaker-runtime", 400, "ValidationError"),  # no such endpoint
        ("codepipeline", 400, "JobNotFoundException"),
    ],
)
def test_a_request_signed_with_the_clouds_credentials_is_answered_on_its_merits(
    services: dict[str, Service], name: str, status: int, code: str | None
) -> None:
    service = services[name]
    response = service.post(service.signed())
    assert response.status_code == status
    if code is not None:
        assert service.error_code(response) == code


def test_boto3_with_the_clouds_credentials_works_and_without_them_does_not(
    services: dict[str, Service],
) -> None:
    url = services["sagemaker"].url

    def client(**kwargs: object) -> object:
        return boto3.client(
            "sagemaker", endpoint_url=url, region_name="us-east-1", config=NO_RETRIES, **kwargs
        )

    signed = client(
        aws_access_key_id=CREDENTIALS.access_key_id,
        aws_secret_access_key=CREDENTIALS.secret_access_key,
    )
    assert signed.list_endpoints()["Endpoints"] == []
    unsigned = boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        config=NO_RETRIES.merge(Config(signature_version=UNSIGNED)),
    )
    with pytest.raises(ClientError) as excinfo:
        unsigned.list_endpoints()
    assert excinfo.value.response["Error"] == {
        "Code": "MissingAuthenticationTokenException",
        "Message": "Missing Authentication Token",
    }
