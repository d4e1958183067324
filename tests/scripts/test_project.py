"""pyproject.toml declares every package the code imports, so an install (editable or not) holds
what a fresh clone has; and the Lambda handlers import here as they do in their zips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from localcloud.constants import REGION
from localcloud.stacks import REPO_ROOT, lambda_functions

SETUPTOOLS = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _dotted(root: Path, folder: Path) -> str:
    return ".".join(folder.relative_to(root).parts)


def test_every_package_folder_is_declared():
    # GIVEN the package folders on disk (folders with an __init__.py) and lambdas/<folder> of
    # every function the template declares
    on_disk = {
        _dotted(root, init.parent)
        for root, top in (
            (REPO_ROOT, "localcloud"),
            (REPO_ROOT, "scripts"),
            (REPO_ROOT, "bench"),
            (REPO_ROOT, "notebooks"),
            (REPO_ROOT, "pipeline_data"),
            (REPO_ROOT / "model-code" / "src", "tabular_container"),
        )
        for init in (root / top).rglob("__init__.py")
    }
    on_disk |= {"lambdas", *(f"lambdas.{folder}" for folder in lambda_functions())}
    # WHEN pyproject.toml is read THEN it lists exactly those
    assert set(SETUPTOOLS["packages"]) == on_disk


def test_the_shared_lambda_modules_are_top_level_modules():
    # GIVEN the modules every zip carries at its root THEN the project installs each top level
    shared = sorted(p.stem for p in (REPO_ROOT / "lambdas" / "shared").glob("*.py"))
    assert sorted(SETUPTOOLS["py-modules"]) == shared


def test_each_handler_imports_from_its_folder_with_the_shared_modules_top_level(tmp_path):
    # GIVEN a fresh interpreter outside the repository (-I: no PYTHONPATH, no cwd on sys.path)
    # WHEN each handler is imported as the installed project names it THEN it is the file in
    # lambdas/, and the modules it imports top level are lambdas/shared's, as in its zip
    code = (
        "import importlib, json, sys; "
        "print(json.dumps({name: importlib.import_module(name).__file__ for name in sys.argv[1:]}))"
    )
    names = [f"lambdas.{folder}.app" for folder in lambda_functions()] + SETUPTOOLS["py-modules"]
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, *names],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": REGION},
        check=True,
    )
    files = {name: Path(path) for name, path in json.loads(result.stdout).items()}
    for folder in lambda_functions():
        assert files[f"lambdas.{folder}.app"] == REPO_ROOT / "lambdas" / folder / "app.py"
    for name in SETUPTOOLS["py-modules"]:
        assert files[name] == REPO_ROOT / "lambdas" / "shared" / f"{name}.py"
