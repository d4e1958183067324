"""cfn-lint, checkov and `sam validate --lint` find nothing in either template, for every
model-code source (SourceProvider) with its parameters.

checkov and sam run from the virtualenvs `make iac-venvs` builds; each runs once per session,
all three processes at the same time, checkov on the templates as each source renders them."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint_file

from localcloud.cfn import render
from scripts.template_choices import LINT_REGIONS, SOURCE_CHOICES, cfn_lint, write_rendered
from tests.templates.conftest import CHECKOV, CHECKOV_CONFIG, SAM, TEMPLATE_PATHS, load_template

NAMES = ("prep", "pipeline")


def _require(tool: Path) -> None:
    stamp = tool.parent.parent / ".installed"
    if not (tool.is_file() and stamp.is_file()):
        pytest.fail(
            f"{tool.relative_to(tool.parents[2])} is missing: run `make iac-venvs` "
            "(`make test` builds it first)",
            pytrace=False,
        )


@dataclass(frozen=True)
class ToolRun:
    """One finished command: its exit code and output."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return f"$ {' '.join(self.args)}\n{self.stdout[-4000:]}\n{self.stderr[-4000:]}"


def _sam_environment(app_dir: Path) -> dict[str, str]:
    # sam needs a region and credentials to start; it never calls AWS for `validate --lint`.
    # A private app dir that says "version checked just now, no telemetry" keeps it offline.
    (app_dir / "metadata.json").write_text(
        json.dumps({"telemetryEnabled": False, "lastVersionCheck": time.time()})
    )
    return {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SAM_CLI_TELEMETRY": "0",
        "__SAM_CLI_APP_DIR": str(app_dir),
    }


@pytest.fixture(scope="session")
def tool_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ToolRun]]:
    """checkov on both templates of every source and sam on each, started together and awaited."""
    _require(CHECKOV)
    _require(SAM)
    rendered = write_rendered(tmp_path_factory.mktemp("rendered"))
    files = [arg for path in rendered for arg in ("-f", str(path))]
    checkov_env = {**os.environ, "LOG_LEVEL": "WARNING"}
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "checkov": (
            [str(CHECKOV), "--config-file", str(CHECKOV_CONFIG), "-o", "json", *files],
            checkov_env,
        ),
        # Only the checks the config skips everywhere, without the config: each must still find
        # something to skip. (checkov also reads a .checkov.yaml in its working directory.)
        "checkov:global-skips": (
            [
                str(CHECKOV),
                "--framework",
                "cloudformation",
                "--skip-download",
                "-o",
                "json",
                "--check",
                ",".join(_global_skips()),
                *files,
            ],
            checkov_env,
        ),
    }
    sam_env = _sam_environment(tmp_path_factory.mktemp("sam-app"))
    for name, path in TEMPLATE_PATHS.items():
        commands[f"sam:{name}"] = ([str(SAM), "validate", "--lint", "-t", str(path)], sam_env)
    processes = {
        key: subprocess.Popen(
            args,
            env=env,
            cwd=tmp_path_factory.getbasetemp(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key, (args, env) in commands.items()
    }
    runs = {}
    try:
        for key, process in processes.items():
            stdout, stderr = process.communicate(timeout=240)
            runs[key] = ToolRun(commands[key][0], process.returncode, stdout, stderr)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    yield runs


def _global_skips() -> list[str]:
    return yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"]


def _report(run: ToolRun) -> dict[str, Any]:
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON report:\n{run.explain()}", pytrace=False)
    if isinstance(report, list):  # one report per framework when several ran
        (report,) = [r for r in report if r["check_type"] == "cloudformation"]
    return report


@pytest.fixture(scope="session")
def checkov_report(tool_runs: dict[str, ToolRun]) -> dict[str, Any]:
    """checkov's JSON report for the cloudformation framework, with the repository's config."""
    return _report(tool_runs["checkov"])


@pytest.mark.parametrize("name", NAMES)
def test_cfn_lint_finds_nothing_not_even_informational(name: str) -> None:
    matches = lint_file(
        TEMPLATE_PATHS[name], config=ManualArgs(include_checks=["I"], regions=LINT_REGIONS)
    )
    assert [str(m) for m in matches] == []


@pytest.mark.parametrize("choice", SOURCE_CHOICES)
def test_cfn_lint_finds_nothing_with_each_sources_parameters(choice: str) -> None:
    assert cfn_lint(choice) == []


def test_each_source_renders_its_own_action_rule_and_outputs() -> None:
    """What checkov reads per source: only that source's branch of every Fn::If, and only the
    resources and outputs of its conditions."""
    rendered = {
        choice: {name: render(load_template(name), parameters[name]) for name in NAMES}
        for choice, parameters in SOURCE_CHOICES.items()
    }
    providers = {
        choice: templates["pipeline"]["Resources"]["Pipeline"]["Properties"]["Stages"][0][
            "Actions"
        ][0]["ActionTypeId"]["Provider"]
        for choice, templates in rendered.items()
    }
    assert providers == {
        "S3": "S3",
        "CodeCommit": "CodeCommit",
        "CodeConnection": "CodeStarSourceConnection",
    }
    rules = {
        choice: {"ModelCodeRule", "ModelCodeUploadRule"} & set(t["pipeline"]["Resources"])
        for choice, t in rendered.items()
    }
    assert rules == {
        "S3": {"ModelCodeUploadRule"},
        "CodeCommit": {"ModelCodeRule"},
        "CodeConnection": set(),
    }
    assert (
        "Triggers" in rendered["CodeConnection"]["pipeline"]["Resources"]["Pipeline"]["Properties"]
    )
    assert "Triggers" not in rendered["S3"]["pipeline"]["Resources"]["Pipeline"]["Properties"]
    repositories = {
        choice: "Repository" in t["prep"]["Resources"] for choice, t in rendered.items()
    }
    assert repositories == {"S3": False, "CodeCommit": True, "CodeConnection": False}
    assert "ModelCodeUploadUri" in rendered["S3"]["pipeline"]["Outputs"]
    assert "ModelCodeUploadUri" not in rendered["CodeCommit"]["pipeline"]["Outputs"]
    assert "Fn::If" not in json.dumps(rendered)


def test_checkov_has_no_failed_checks(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100, "checkov evaluated the templates"
    scanned = {Path(c["file_path"]).name for c in checkov_report["results"]["passed_checks"]}
    assert len(scanned) == len(SOURCE_CHOICES) * len(NAMES), "every source's two templates"


def test_checkov_skips_are_exactly_the_ones_declared_in_place(
    checkov_report: dict[str, Any],
) -> None:
    """Each in-place skip suppresses a check that applies (no stale skips), and nothing else
    is skipped."""
    declared = set()
    for name in NAMES:
        for logical_id, resource in load_template(name)["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                declared.add((f"{resource['Type']}.{logical_id}", skip["id"]))
    skipped = {(c["resource"], c["check_id"]) for c in checkov_report["results"]["skipped_checks"]}
    assert skipped == declared


def test_each_check_the_config_skips_everywhere_would_fail_somewhere(
    tool_runs: dict[str, ToolRun],
) -> None:
    """No stale global skip: run alone, without the config, every one of them fails."""
    report = _report(tool_runs["checkov:global-skips"])
    failing = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert sorted(failing) == sorted(_global_skips())


@pytest.mark.parametrize("name", NAMES)
def test_sam_validate_lint_passes(name: str, tool_runs: dict[str, ToolRun]) -> None:
    run = tool_runs[f"sam:{name}"]
    assert run.returncode == 0, run.explain()
    assert "is a valid SAM Template" in run.stdout + run.stderr, run.explain()
