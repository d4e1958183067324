"""Build one deterministic zip per Lambda: its *.py and the lambdas/shared/*.py modules it imports
(directly or through another shared module), all at the zip root, and the container modules it
checks its input with (CONTAINER_MODULES), as the container has them.

Same sources give the same bytes (fixed timestamps, sorted entries, fixed permissions), so an
unchanged function keeps its S3 object's checksum and CloudFormation sees nothing to update.
Usage: package_lambdas.py [--out dist/lambdas]
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = REPO_ROOT / "lambdas"
SHARED = "shared"
CONTAINER_SOURCE = REPO_ROOT / "model-code" / "src"
# Copied from the container, never written twice (standard library only): TrainModel refuses the
# hyperparameters the container would refuse, in its words, before a training job is paid for;
# EvaluateModel reads the target column as `train` does; DeployModel and PredictProxy name the
# model through the container's own variable and CustomAttributes key.
HYPERPARAMETER_TABLE = (
    "tabular_container/__init__.py",
    "tabular_container/errors.py",
    "tabular_container/hyperparameters.py",
)
CONTAINER_NAMES = ("tabular_container/__init__.py", "tabular_container/constants.py")
CONTAINER_MODULES = {
    "train_model": HYPERPARAMETER_TABLE,
    "evaluate_model": HYPERPARAMETER_TABLE,
    # RegisterModel also lists the media types `serve` takes and answers.
    "register_model": (*HYPERPARAMETER_TABLE, "tabular_container/constants.py"),
    "deploy_model": CONTAINER_NAMES,
    "predict_proxy": CONTAINER_NAMES,
}
MAX_ZIP_BYTES = 32 * 1024  # source only: the runtime has boto3, and nothing else is carried
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FILE_MODE = 0o100644  # regular file, rw-r--r--


def function_folders(lambdas: Path) -> list[Path]:
    """Every lambdas/<name>/ holding an app.py, sorted."""
    return sorted(p.parent for p in lambdas.glob("*/app.py") if p.parent.name != SHARED)


def imported_names(path: Path) -> set[str]:
    """The top-level module names a Python file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def shared_modules(own: list[Path], shared: Path) -> dict[str, Path]:
    """The shared modules the function's files import, and the ones those import."""
    available = {p.stem: p for p in shared.glob("*.py")}
    taken: dict[str, Path] = {}
    pending = list(own)
    while pending:
        for name in sorted(imported_names(pending.pop()) & available.keys() - taken.keys()):
            taken[name] = available[name]
            pending.append(available[name])
    return {path.name: path for path in taken.values()}


def zip_sources(folder: Path, shared: Path, container: Path = CONTAINER_SOURCE) -> bytes:
    """The zip of a function folder's *.py plus the shared and container modules it takes,
    byte-for-byte reproducible."""
    own = sorted(folder.glob("*.py"))
    for path in own:
        if (shared / path.name).is_file():
            raise SystemExit(f"error: {path} has the name of a shared module")
    files = {**shared_modules(own, shared), **{path.name: path for path in own}}
    for name in CONTAINER_MODULES.get(folder.name, ()):
        files[name] = container / name
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, whatever machine builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name].read_bytes(), compresslevel=9)
    return buffer.getvalue()


def package(out: Path, lambdas: Path) -> dict[Path, int]:
    """Write every function's zip (never one over the limit) and return each zip's size."""
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for folder in function_folders(lambdas):
        data = zip_sources(folder, lambdas / SHARED)
        target = out / f"{folder.name}.zip"
        sizes[target] = len(data)
        if len(data) > MAX_ZIP_BYTES:
            target.unlink(missing_ok=True)  # so no stale, smaller zip gets uploaded instead
        else:
            target.write_bytes(data)
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Command line: package every function, print each size, fail if one is too big."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "lambdas")
    args = parser.parse_args(argv)
    sizes = package(args.out, LAMBDAS)
    for path, size in sizes.items():
        flag = "  OVER THE LIMIT, not written" if size > MAX_ZIP_BYTES else ""
        print(f"{path}  {size:>6} bytes{flag}")
    too_big = sorted(path.name for path, size in sizes.items() if size > MAX_ZIP_BYTES)
    if too_big:
        print(
            f"error: {', '.join(too_big)} exceed {MAX_ZIP_BYTES} bytes "
            f"({MAX_ZIP_BYTES // 1024} KB): Lambda zips carry "
            "no third-party packages; move code out or trim it",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
