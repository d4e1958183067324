"""A function's configuration, its code unpacked once per version, and its environment."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localcloud.lambda_runtime.exceptions import InvalidParameterValueException

NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
DEFAULT_MEMORY_MB = 128
# Keys Lambda sets itself and refuses in a function's configuration (Lambda developer guide,
# "Defined runtime environment variables").
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


@dataclass(frozen=True)
class LambdaFunction:
    """What CreateFunction would be given: name, deployment zip, handler, environment, limits."""

    name: str
    code: bytes | Path
    handler: str
    environment: Mapping[str, object] = field(default_factory=dict)
    timeout: float = 3.0
    memory: int = DEFAULT_MEMORY_MB  # reported to the function and in REPORT; not enforced
    log_group: str = ""  # LoggingConfig.LogGroup; Lambda's default is /aws/lambda/<name>

    @property
    def log_group_name(self) -> str:
        """The CloudWatch Logs group the function's execution environments write to."""
        return self.log_group or f"/aws/lambda/{self.name}"

    def validate(self) -> None:
        """Refuse what Lambda refuses, with its wording, before anything runs."""
        if not NAME_PATTERN.fullmatch(self.name):
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{self.name}' at 'functionName' failed to "
                f"satisfy constraint: Member must satisfy regular expression pattern: "
                f"{NAME_PATTERN.pattern}"
            )
        if self.timeout <= 0:
            raise InvalidParameterValueException(f"Timeout must be positive, got {self.timeout}")
        reserved = sorted(RESERVED_VARIABLES.intersection(self.environment))
        if reserved:
            raise InvalidParameterValueException(
                "Lambda was unable to configure your environment variables because the "
                "environment variables you have provided contains reserved keys that are "
                f"currently not supported for modification. Reserved keys used in this request: "
                f"{', '.join(reserved)}"
            )

    def zip_bytes(self) -> bytes:
        """The deployment package."""
        return self.code if isinstance(self.code, bytes) else Path(self.code).read_bytes()


def environment_value(value: object) -> str:
    """A variable's value as CloudFormation would hand it to Lambda (always a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def unpack(zip_data: bytes, root: Path) -> Path:
    """Extract a zip into `root/<sha256>/` once; concurrent callers share one finished copy."""
    digest = hashlib.sha256(zip_data).hexdigest()
    target = root / digest
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=root))
    try:
        with zipfile.ZipFile(io.BytesIO(zip_data)) as archive:
            archive.extractall(staging)  # extractall drops absolute and ".." member paths
    except zipfile.BadZipFile:
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    try:
        staging.rename(target)
    except OSError:  # another thread or process finished the same version first
        shutil.rmtree(staging, ignore_errors=True)
    return target
