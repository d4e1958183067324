"""S3 for the local SageMaker: channels in, model.tar.gz and Debugger output out, models to serve.

S3 is the cloud's (`clients.AwsClients`: the moto server behind AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.paths import PathEscapes, inside
from localcloud.sagemaker.clients import AwsClients


class StorageError(Exception):
    """An S3 transfer that failed; the message is fit for a FailureReason."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """('bucket', 'key/prefix') from 's3://bucket/key/prefix'."""
    if not uri.startswith("s3://"):
        raise StorageError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise StorageError(f"{uri!r} has no bucket")
    return bucket, key


def _encryption(kms_key_id: str) -> dict[str, str]:
    """The request members that encrypt an object with a KMS key (SSE-KMS), if one is given."""
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}


class S3Storage:
    """Transfers through the shared S3 client."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        """The shared S3 client."""
        return self._clients.client("s3")

    def object_keys(self, uri: str) -> list[str]:
        """The key of every object under an S3Prefix, in key order, folder markers left out.

        StorageError, worded as SageMaker words it, when there is none; a listing that fails
        raises botocore's error, for the caller to word.
        """
        bucket, prefix = parse_s3_uri(uri)
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [
            item["Key"]
            for page in pages
            for item in page.get("Contents", [])
            if not item["Key"].endswith("/")
        ]
        if not keys:
            raise StorageError(
                f'No S3 objects found under S3 URL "{uri}" given in input data source. '
                "Please ensure that the bucket exists and that objects exist under that S3 prefix."
            )
        return keys

    def download_prefix(self, uri: str, target: Path) -> int:
        """Every object under an S3Prefix into `target`, keeping paths below the prefix."""
        bucket, prefix = parse_s3_uri(uri)
        try:
            keys = self.object_keys(uri)
            for key in keys:
                relative = key[len(prefix) :].lstrip("/") or PurePosixPath(key).name
                try:
                    destination = inside(target, *PurePosixPath(relative).parts)
                except PathEscapes:
                    raise StorageError(f"S3 key {key!r} escapes the channel directory") from None
                destination.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(bucket, key, str(destination))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"Could not download {uri}: {error}") from error
        return len(keys)

    def folders(self, uri: str) -> list[str]:
        """The URIs of the "folders" right below an s3:// prefix (ending in "/")."""
        bucket, prefix = parse_s3_uri(uri.rstrip("/") + "/")
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix, Delimiter="/"
            )
            found = [c["Prefix"] for page in pages for c in page.get("CommonPrefixes", [])]
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"Could not list {uri}: {error}") from error
        return [f"s3://{bucket}/{folder}" for folder in found]

    def has_objects(self, uri: str) -> bool:
        """Whether any object lies under an s3:// prefix."""
        bucket, prefix = parse_s3_uri(uri)
        try:
            listed = self.client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"Could not list {uri}: {error}") from error
        return listed.get("KeyCount", 0) > 0

    def upload_file(self, path: Path, uri: str, kms_key_id: str = "") -> None:
        """Put one file at an s3:// URI, encrypted with the KMS key when one is given (SSE-KMS)."""
        bucket, key = parse_s3_uri(uri)
        try:
            self.client.upload_file(str(path), bucket, key, ExtraArgs=_encryption(kms_key_id))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"Could not upload {uri}: {error}") from error

    def put_bytes(self, body: bytes, uri: str, kms_key_id: str = "") -> None:
        """Put one object at an s3:// URI, encrypted with the KMS key when one is given."""
        bucket, key = parse_s3_uri(uri)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=body, **_encryption(kms_key_id))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"Could not upload {uri}: {error}") from error

    def upload_tree(self, root: Path, uri: str, kms_key_id: str = "") -> int:
        """Every file under `root` to `<uri>/<path below root>`; how many there were."""
        files = sorted(path for path in root.rglob("*") if path.is_file()) if root.is_dir() else []
        for path in files:
            relative = path.relative_to(root).as_posix()
            self.upload_file(path, f"{uri.rstrip('/')}/{relative}", kms_key_id)
        return len(files)

    def extract_model(self, uri: str, target: Path) -> None:
        """Download a model.tar.gz and unpack it into `target` (the serve's model/)."""
        bucket, key = parse_s3_uri(uri)
        target.mkdir(parents=True, exist_ok=True)
        archive = target.parent / "model.tar.gz"
        try:
            self.client.download_file(bucket, key, str(archive))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(
                f"Failed to download model data (bucket: {bucket}, key: {key}). Please ensure "
                f"that there is an object located at the URL: {error}"
            ) from error
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise StorageError(
                f"Model data {uri} is not a valid tar.gz archive: {error}"
            ) from error
        finally:
            archive.unlink(missing_ok=True)


def pack_model(model_dir: Path, archive: Path) -> None:
    """model/ as SageMaker packs it: a gzipped tar with the directory's contents at its root."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
