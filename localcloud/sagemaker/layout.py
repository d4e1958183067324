"""Where the local SageMaker keeps things in the state directory, and how image URIs resolve.

`<state>/images/<repo>/<tag>/` holds the model-code snapshot an image URI names (made by the local
build); `<state>/sagemaker/training-jobs/<name>/` is a job's /opt/ml (with `training.log`), and
`<state>/sagemaker/processing-jobs/<name>/` a processing job's, and
`<state>/sagemaker/transform-jobs/<name>/` a transform job's;
`<state>/sagemaker/endpoints/<name>/<deployment>/` is one serve process's /opt/ml (with
`serve.log`). The log readers work on the directory alone, so the CLI can show logs from
another process.
"""

from __future__ import annotations

from pathlib import Path

from localcloud.paths import PathEscapes, inside

TRAINING_LOG = "training.log"
SERVE_LOG = "serve.log"


class ImageNotFound(LookupError):
    """An image URI with no snapshot behind it; the message says what was looked for."""


class StateLayout:
    """Paths under one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.images = self.state_dir / "images"
        self.sagemaker = self.state_dir / "sagemaker"  # the model registry's file is here
        self.training_jobs = self.sagemaker / "training-jobs"
        self.endpoints = self.sagemaker / "endpoints"
        self.processing_jobs = self.sagemaker / "processing-jobs"
        self.transform_jobs = self.sagemaker / "transform-jobs"

    def training_job_dir(self, name: str) -> Path:
        """The job's SAGEMAKER_BASE_DIR."""
        return inside(self.training_jobs, name)

    def processing_job_dir(self, name: str) -> Path:
        """The job's /opt/ml (its SAGEMAKER_BASE_DIR, with `processing.log`)."""
        return inside(self.processing_jobs, name)

    def transform_job_dir(self, name: str) -> Path:
        """The job's /opt/ml: the model, the containers' `transform.log`, outputs under way."""
        return inside(self.transform_jobs, name)

    def endpoint_dir(self, name: str) -> Path:
        """The parent of the endpoint's deployment dirs, one per serve process."""
        return inside(self.endpoints, name)

    def resolve_image(self, image_uri: str, program: str) -> Path:
        """The snapshot `<registry>/<repo>:<tag>` names, checked to contain `bin/<program>`."""
        registry, slash, rest = image_uri.partition("/")
        if not registry or not slash or not rest or "@" in rest:
            raise ImageNotFound(
                f"Image URI {image_uri!r} is not of the form <registry>/<repository>:<tag> "
                "(digests are not supported by the local SageMaker)"
            )
        repository, colon, tag = rest.rpartition(":")
        if not colon or "/" in tag:
            repository, tag = rest, "latest"
        parts = [*repository.split("/"), tag]
        if any(part in {"", "."} for part in parts):
            raise ImageNotFound(f"Image URI {image_uri!r} has an invalid repository or tag")
        try:
            snapshot = inside(self.images, *parts)
        except PathEscapes:
            raise ImageNotFound(
                f"Image URI {image_uri!r} has an invalid repository or tag"
            ) from None
        if not (snapshot / "bin" / program).is_file():
            raise ImageNotFound(
                f"Requested image {image_uri} not found: no snapshot with bin/{program} at "
                f"{snapshot} (the local build stage makes it)"
            )
        return snapshot


def read_training_job_log(state_dir: Path, name: str) -> str:
    """The training job's stdout and stderr so far ('' if it has none yet)."""
    path = StateLayout(state_dir).training_job_dir(name) / TRAINING_LOG
    return path.read_text(errors="replace") if path.is_file() else ""


def read_endpoint_log(state_dir: Path, name: str) -> str:
    """Every serve process's log for the endpoint, oldest deployment first, each under a header."""
    root = StateLayout(state_dir).endpoint_dir(name)
    logs = sorted(root.glob(f"*/{SERVE_LOG}")) if root.is_dir() else []
    return "".join(
        f"==> deployment {path.parent.name} <==\n{path.read_text(errors='replace')}"
        for path in logs
    )


def tail(path: Path, max_chars: int = 1500) -> str:
    """The last characters of a log, starting at a line boundary when possible."""
    try:
        with path.open("rb") as stream:
            size = stream.seek(0, 2)
            stream.seek(max(0, size - max_chars))
            text = stream.read().decode(errors="replace")
    except OSError:
        return ""
    if len(text) >= max_chars and "\n" in text:
        text = text.split("\n", 1)[1]
    return text.strip()
