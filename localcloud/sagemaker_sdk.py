"""The SageMaker Python SDK's configuration for a local cloud: its default bucket, named as on AWS.

The SDK asks STS for the account behind `Session().default_bucket()` at STS's public regional
URL, passed explicitly, so `AWS_ENDPOINT_URL` does not reach that one call. The SDK's own
configuration file (`SAGEMAKER_USER_CONFIG_OVERRIDE`) names the bucket instead: the same
`sagemaker-<region>-<account>` AWS's default is, so no code changes between targets.
"""

from __future__ import annotations

from pathlib import Path

import yaml

CONFIG_FILE = "sagemaker-sdk-config.yaml"
CONFIG_VARIABLE = "SAGEMAKER_USER_CONFIG_OVERRIDE"


def default_bucket(region: str, account_id: str) -> str:
    """The SDK's default bucket name on AWS."""
    return f"sagemaker-{region}-{account_id}"


def write_sdk_config(state_dir: Path, region: str, account_id: str) -> dict[str, str]:
    """Write the SDK's configuration file; the variable that points the SDK at it."""
    path = state_dir / CONFIG_FILE
    document = {
        "SchemaVersion": "1.0",
        "SageMaker": {
            "PythonSDK": {
                "Modules": {"Session": {"DefaultS3Bucket": default_bucket(region, account_id)}}
            }
        },
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return {CONFIG_VARIABLE: str(path)}
