"""SageMaker Debugger's hook for a bring-your-own container: its configuration in, its output out.

With `DebugHookConfig` SageMaker writes `/opt/ml/input/config/debughookconfig.json` (the file
smdebug's `Hook.create_from_json_file()` reads; `SMDEBUG_CONFIG_FILE_PATH` names it) with the
members as given, `LocalPath` defaulted to `/opt/ml/output/tensors`, and uploads what the
container writes there to `<S3OutputPath>/<job>/debug-output/`. Here /opt/ml is the job's
SAGEMAKER_BASE_DIR, so `LocalPath` must be under /opt/ml and the file names the host path it
maps to; the upload happens once the program has ended, whatever the outcome.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from localcloud.paths import PathEscapes, inside
from localcloud.sagemaker.exceptions import ValidationException
from localcloud.sagemaker.storage import StorageError, parse_s3_uri

CONTAINER_ROOT = PurePosixPath("/opt/ml")
DEFAULT_LOCAL_PATH = "/opt/ml/output/tensors"
HOOK_CONFIG_FILE = "debughookconfig.json"  # in input/config/
CONFIG_FILE_ENV = "SMDEBUG_CONFIG_FILE_PATH"


def local_dir(base_dir: Path, hook: dict[str, Any]) -> Path:
    """The host directory LocalPath names; a path the local SageMaker cannot map is refused."""
    local_path = hook.get("LocalPath") or DEFAULT_LOCAL_PATH
    path = PurePosixPath(local_path)
    try:
        if not path.is_relative_to(CONTAINER_ROOT):
            raise PathEscapes(local_path)
        return inside(base_dir, *path.relative_to(CONTAINER_ROOT).parts)
    except PathEscapes:
        raise ValidationException(
            f"DebugHookConfig.LocalPath {local_path!r} cannot be used on the local SageMaker: it "
            "runs the container as a host process with /opt/ml in the job's folder, so the path "
            "must be a folder under /opt/ml (without '..')"
        ) from None


def debug_output_uri(hook: dict[str, Any], job_name: str) -> str:
    """`<S3OutputPath>/<job>/debug-output`, where the hook's output is uploaded."""
    return f"{hook['S3OutputPath'].rstrip('/')}/{job_name}/debug-output"


def check_hook(hook: dict[str, Any], base_dir: Path) -> None:
    """Refuse, before any work, a hook configuration whose output could not be placed."""
    local_dir(base_dir, hook)
    try:
        parse_s3_uri(hook["S3OutputPath"])
    except StorageError as error:
        raise ValidationException(f"DebugHookConfig.S3OutputPath: {error}") from None


def hook_file(hook: dict[str, Any], base_dir: Path, job_name: str) -> dict[str, Any]:
    """The debughookconfig.json content: the members, LocalPath mapped, the output URI resolved."""
    return {
        "S3OutputPath": debug_output_uri(hook, job_name),
        "LocalPath": str(local_dir(base_dir, hook)),
        "HookParameters": hook.get("HookParameters"),
        "CollectionConfigurations": [
            {"CollectionParameters": None, **collection}
            for collection in hook.get("CollectionConfigurations", [])
        ],
    }
