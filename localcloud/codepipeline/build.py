"""The Source and Build stages without Docker: zip the model code, test it, snapshot it as an image.

The "image" is a frozen copy of the model-code tree under `<state>/images/<repo>/<tag>/`, which the
local SageMaker runs; it is also registered in moto's ECR under the same tag, so the image URI
the Lambdas see is the one a real build would push.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

from localcloud.codepipeline.runner import zip_json
from localcloud.paths import inside
from localcloud.processes import ProcessRegistry, Program, base_path
from localcloud.stacks import REPO_ROOT

IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
BUILDSPEC = REPO_ROOT / "buildspecs" / "buildspec.yml"
_TAG_CUT = re.compile(r'IMAGE_TAG="\$\{SOURCE_COMMIT:0:(\d+)\}"')
# An S3 source's revision is an object version: the buildspec reads the commit from this file.
REVISION_FILE = "SOURCE_REVISION"
_COMMIT = re.compile(r"[0-9a-f]{40}")


@cache
def _tag_length() -> int:
    match = _TAG_CUT.search(BUILDSPEC.read_text())
    if not match:
        raise RuntimeError(f"{BUILDSPEC} sets no IMAGE_TAG from SOURCE_COMMIT")
    return int(match.group(1))


def image_tag(revision: str) -> str:
    """The tag the buildspec gives `revision`: the commit cut as its IMAGE_TAG line says."""
    return revision[: _tag_length()]


def source_commit(source_zip: bytes, revision: str) -> str:
    """The commit the buildspec builds: the zip's SOURCE_REVISION, else the source's revision."""
    with zipfile.ZipFile(io.BytesIO(source_zip)) as archive:
        if REVISION_FILE in archive.namelist():
            revision = archive.read(REVISION_FILE).decode(errors="replace").strip()
    if not _COMMIT.fullmatch(revision):
        raise RuntimeError(
            f'no commit id: the source revision is "{revision}", not a commit (an S3 source zip '
            f"needs the {REVISION_FILE} file make push-code writes)"
        )
    return revision


def _tree_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not IGNORED_PARTS.intersection(path.relative_to(root).parts)
    )


def zip_source_tree(root: Path) -> tuple[bytes, str]:
    """Zip a source tree deterministically; the revision is a digest of its paths and bytes."""
    digest = hashlib.sha1(usedforsecurity=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _tree_files(root):
            relative = path.relative_to(root).as_posix()
            data = path.read_bytes()
            digest.update(relative.encode() + b"\0" + data + b"\0")
            info = zipfile.ZipInfo(relative, FIXED_TIME)
            info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue(), digest.hexdigest()


def _extract(source_zip: bytes, target: Path) -> None:
    """Unpack a source artifact, keeping the executable bits the zip recorded."""
    with zipfile.ZipFile(io.BytesIO(source_zip)) as archive:
        for info in archive.infolist():
            path = archive.extract(info, target)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                Path(path).chmod(mode)


class LocalBuilder:
    """What CodeBuild does with `buildspecs/buildspec.yml`, minus Docker."""

    def __init__(
        self,
        images_dir: Path,
        ecr: Any,
        environment_by_project: dict[str, dict[str, str]],
        registry: ProcessRegistry,
        python: str = sys.executable,
    ) -> None:
        self.images_dir = images_dir
        self.registry = registry
        self.ecr = ecr
        self.environment_by_project = environment_by_project
        self.python = python

    def __call__(self, source_zip: bytes, configuration: dict[str, Any], revision: str) -> bytes:
        """Build the source artifact into an image tagged with its commit; return imageDetail."""
        project = configuration.get("ProjectName", "")
        environment = self.environment_by_project.get(project, {})
        repository_uri = environment.get("REPOSITORY_URI")
        if not repository_uri:
            raise RuntimeError(f"build project {project!r} sets no REPOSITORY_URI")
        tag = image_tag(source_commit(source_zip, revision))
        repository = repository_uri.split("/", 1)[1]
        snapshot = inside(self.images_dir, *repository.split("/"), tag)
        if not snapshot.exists():
            self._test_and_snapshot(source_zip, snapshot)
        self._register(repository, tag)
        return zip_json("imageDetail.json", {"ImageURI": f"{repository_uri}:{tag}"})

    def _test_and_snapshot(self, source_zip: bytes, snapshot: Path) -> None:
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=snapshot.parent, prefix=".build-") as scratch:
            tree = Path(scratch) / "src"
            _extract(source_zip, tree)
            if (tree / "tests").is_dir():
                self._run_unit_tests(tree)
            tree.rename(snapshot)

    def _run_unit_tests(self, tree: Path) -> None:
        log = tree.parent / "unit-tests.log"
        program = Program(
            [self.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            env={
                "PATH": base_path(),
                "PYTHONPATH": str(tree / "src"),
                "HOME": str(tree),
                "HYPOTHESIS_PROFILE": "build",  # as the buildspec runs them
            },
            cwd=tree,
            log_path=log,
            what="build: unit tests",
            registry=self.registry,
        )
        if program.wait() != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError("unit tests failed: " + " | ".join(tail))

    def _register(self, repository: str, tag: str) -> None:
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 0,
                "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest(),
            },
            "layers": [],
        }
        try:
            self.ecr.put_image(
                repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
            )
        except self.ecr.exceptions.ImageAlreadyExistsException:
            pass
        except self.ecr.exceptions.ImageTagAlreadyExistsException:
            pass
