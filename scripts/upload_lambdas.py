"""Upload the packaged Lambda zips to the Lambda-code bucket under lambdas/.

Prints each key with the VersionId S3 gave it (the pipeline stack's optional `...ZipVersion`
parameters take these). A zip S3 already holds byte for byte is not uploaded again, so it keeps
its VersionId and the stack sees nothing to update. Credentials, region and endpoint come from
the usual AWS environment (AWS_PROFILE, AWS_REGION or AWS_DEFAULT_REGION, AWS_ENDPOINT_URL).
Usage: upload_lambdas.py --bucket BUCKET [--dist dist/lambdas]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from localcloud.functions import ZIP_PREFIX

REPO_ROOT = Path(__file__).resolve().parent.parent


def aws_session() -> boto3.session.Session:
    """A session in the region AWS_REGION names, which boto3 does not read itself.

    AWS_REGION wins over AWS_DEFAULT_REGION and the profile's region, as in the AWS CLI.
    """
    return boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)


def _current(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject of the key's latest version, or None when there is none."""
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return None
        raise


def upload(s3: Any, bucket: str, dist: Path) -> list[tuple[str, str | None]]:
    """Put every changed dist zip at lambdas/<name>.zip; return (key, VersionId) pairs."""
    zips = sorted(dist.glob("*.zip"))
    if not zips:
        raise SystemExit(f"error: no zips in {dist}: run `make package` first")
    uploaded = []
    for path in zips:
        key = ZIP_PREFIX + path.name
        body = path.read_bytes()
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        current = _current(s3, bucket, key)
        # A single-part upload to an SSE-S3 bucket (as the prep stack's is) has the MD5 as ETag.
        if current and current["ETag"].strip('"') == md5:
            uploaded.append((key, current.get("VersionId")))
            continue
        response = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/zip")
        uploaded.append((key, response.get("VersionId")))
    return uploaded


def main(argv: list[str] | None = None) -> int:
    """Command line: upload and print `key VersionId` per zip."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True, help="the prep stack's LambdaCodeBucketName")
    parser.add_argument("--dist", type=Path, default=REPO_ROOT / "dist" / "lambdas")
    args = parser.parse_args(argv)
    if not args.bucket.strip():
        parser.error("--bucket is empty: pass the prep stack's LambdaCodeBucketName output")
    for key, version in upload(aws_session().client("s3"), args.bucket, args.dist):
        print(f"s3://{args.bucket}/{key}  VersionId={version or '(bucket not versioned)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
