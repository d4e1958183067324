"""The edge: `AWS_ENDPOINT_URL` alone reaches every service, and nothing reaches it unsigned.

Driven with boto3, the AWS CLI and the SageMaker SDK as a user would, with only the endpoint,
the cloud's credentials and the region set.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.background import HttpRequest, HttpResponse
from localcloud.constants import ACCOUNT_ID
from localcloud.core.signing import Credentials
from localcloud.edge import Edge
from localcloud.sagemaker import start_server
from localcloud.sagemaker_sdk import write_sdk_config
from tests.readme_commands import AWS_CLI

NO_RETRIES = Config(retries={"max_attempts": 1})
CREDENTIALS = Credentials.generate()
TEMPORARY = Credentials.generate(temporary=True)


class Heard:
    """What the edge's listener was told: (service, method, path, status) of moto's answers."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, int]] = []

    def __call__(self, service: str, request: HttpRequest, response: HttpResponse) -> None:
        self.calls.append((service, request.method, request.raw_path, response.status))


@pytest.fixture(scope="module")
def heard() -> Heard:
    return Heard()


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory, heard: Heard) -> Iterator[Edge]:
    """moto and the local SageMaker behind one edge, the process pointed only at the edge."""
    edge = Edge(CREDENTIALS, temporary=(TEMPORARY,))
    edge.moto.reset()
    edge.start()
    sagemaker = start_server(tmp_path_factory.mktemp("sagemaker"), CREDENTIALS)
    edge.mount("sagemaker", sagemaker.handle)
    edge.observe(heard)
    with pytest.MonkeyPatch.context() as env:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            env.delenv(name)
        for name, value in {
            **CREDENTIALS.environment(),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": edge.url,
            **write_sdk_config(tmp_path_factory.mktemp("sdk"), "us-east-1", ACCOUNT_ID),
        }.items():
            env.setenv(name, value)
        yield edge
    sagemaker.stop()
    edge.stop()


def client(service: str, **kwargs: object) -> object:
    return boto3.session.Session().client(service, config=NO_RETRIES, **kwargs)


def test_one_endpoint_reaches_moto_and_the_local_services(edge: Edge) -> None:
    assert client("sts").get_caller_identity()["Account"] == "123456789012"
    s3 = client("s3")
    s3.create_bucket(Bucket="edge-test")
    key = "a b/c%2Fd+é.txt"  # S3 signs the path as sent: spaces, encoded slashes, non-ASCII
    s3.put_object(Bucket="edge-test", Key=key, Body=b"0123456789")
    assert s3.head_object(Bucket="edge-test", Key=key)["ContentLength"] == 10
    assert s3.get_object(Bucket="edge-test", Key=key)["Body"].read() == b"0123456789"
    # SageMaker is the local one: a missing endpoint is SageMaker's error, not moto's placeholder
    assert client("sagemaker").list_endpoints()["Endpoints"] == []
    with pytest.raises(ClientError) as missing:
        client("sagemaker-runtime").invoke_endpoint(
            EndpointName="nope", Body=b"1", ContentType="text/csv"
        )
    assert missing.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint nope of account 123456789012 not found.",
    }


def test_a_multipart_upload_passes_through_whole(edge: Edge, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))  # over boto3's 8 MB multipart threshold
    s3 = client("s3")
    s3.create_bucket(Bucket="edge-big")
    s3.upload_file(str(big), "edge-big", "big.bin")
    assert s3.get_object(Bucket="edge-big", Key="big.bin")["Body"].read() == big.read_bytes()


def test_the_sagemaker_sdk_finds_its_default_bucket_with_no_arguments(edge: Edge) -> None:
    # (the cloud's SDK configuration names it: the SDK asks STS at STS's public URL for it)
    import sagemaker

    session = sagemaker.Session(boto_session=boto3.session.Session())
    bucket = session.default_bucket()
    assert bucket == "sagemaker-us-east-1-123456789012"
    assert bucket in [b["Name"] for b in client("s3").list_buckets()["Buckets"]]


def test_the_aws_cli_with_only_the_endpoint_url_reaches_the_local_sagemaker(
    edge: Edge, tmp_path: Path
) -> None:
    outfile = tmp_path / "out.json"
    result = subprocess.run(
        [str(AWS_CLI), "sagemaker-runtime", "invoke-endpoint", "--endpoint-name", "nope",
         "--body", "1", "--content-type", "text/csv", str(outfile)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ), check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Endpoint nope of account 123456789012 not found." in result.stderr
    listed = subprocess.run(
        [str(AWS_CLI), "s3api", "list-buckets", "--output", "json"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ), check=True,
    )  # fmt: skip
    assert "Buckets" in json.loads(listed.stdout)


def test_unsigned_requests_are_refused_in_the_services_own_words(edge: Edge) -> None:
    unsigned = requests.post(
        edge.url + "/", data="{}", headers={"X-Amz-Target": "SageMaker.ListEndpoints"}, timeout=10
    )
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    s3 = requests.get(edge.url + "/edge-test", timeout=10)
    assert s3.status_code == 403
    assert "<Code>AccessDenied</Code>" in s3.text
    # moto's own API (reset, state) is not reachable from outside without a signature either
    assert requests.post(edge.url + "/moto-api/reset", timeout=10).status_code == 403


def test_other_credentials_are_refused_for_moto_services(edge: Edge) -> None:
    stranger = client("s3", aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x")
    with pytest.raises(ClientError) as unknown_key:
        stranger.list_buckets()
    assert unknown_key.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    wrong_secret = client(
        "sts", aws_access_key_id=CREDENTIALS.access_key_id, aws_secret_access_key="wrong"
    )
    with pytest.raises(ClientError) as mismatch:
        wrong_secret.get_caller_identity()
    assert mismatch.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    presigned = client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": "edge-test", "Key": "k"}
    )
    refused = requests.get(presigned, timeout=10)
    assert refused.status_code == 403
    assert "does not accept presigned URLs" in refused.text


def test_temporary_credentials_need_their_session_token(edge: Edge) -> None:
    with_token = client(
        "s3",
        aws_access_key_id=TEMPORARY.access_key_id,
        aws_secret_access_key=TEMPORARY.secret_access_key,
        aws_session_token=TEMPORARY.session_token,
    )
    assert "Buckets" in with_token.list_buckets()
    without = client(
        "s3",
        aws_access_key_id=TEMPORARY.access_key_id,
        aws_secret_access_key=TEMPORARY.secret_access_key,
    )
    with pytest.raises(ClientError) as refused:
        without.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_a_service_nobody_implements_is_an_error_not_a_placeholder(edge: Edge) -> None:
    with pytest.raises(ClientError) as refused:
        client("braket").search_devices(filters=[])
    assert refused.value.response["Error"] == {
        "Code": "NotImplemented",
        "Message": "The local cloud does not implement the service 'braket' "
        "(the service this request is signed for)",
    }


def test_routes_pick_the_local_handler_by_path_and_send_the_rest_to_moto(edge: Edge) -> None:
    def invoke(request: HttpRequest) -> HttpResponse:
        edge_invocations.append(request.raw_path)
        return HttpResponse(200, [("Content-Type", "application/json")], b'{"local": true}')

    edge_invocations: list[str] = []
    edge.mount("lambda", invoke, path=r"/2015-03-31/functions/[^/]+/invocations")
    lambda_client = client("lambda")
    answer = lambda_client.invoke(FunctionName="f", Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"local": True}
    assert edge_invocations == ["/2015-03-31/functions/f/invocations"]
    assert lambda_client.list_functions()["Functions"] == []  # moto's, not the route's


def test_listeners_hear_moto_answers(edge: Edge, heard: Heard) -> None:
    client("s3").put_object(Bucket="edge-test", Key="heard.txt", Body=b"x")
    assert ("s3", "PUT", "/edge-test/heard.txt", 200) in heard.calls
