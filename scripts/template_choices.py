"""The templates as each model-code source makes them, for the linters.

cfn-lint takes a choice's parameters itself; checkov has no parameters for CloudFormation, so it
reads each choice rendered: resources and outputs of false conditions removed and every
`Fn::If` replaced by its branch. `python -m scripts.template_choices --out DIR` lints each
choice with cfn-lint and writes the rendered templates for checkov (`make lint-templates`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cfnlint.api import ManualArgs, lint_file

from localcloud.cfn import render
from scripts.aws_stacks.common import TEMPLATES, template

LINT_REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]
# What a user of each source fills in (the pipeline's PrepStackName has no default).
SAMPLE_CONNECTION_ARN = (
    "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
)
SOURCE_CHOICES: dict[str, dict[str, dict[str, str]]] = {
    "S3": {
        "prep": {"SourceProvider": "S3"},
        "pipeline": {"SourceProvider": "S3", "PrepStackName": "abalone-prep"},
    },
    "CodeCommit": {
        "prep": {"SourceProvider": "CodeCommit"},
        "pipeline": {"SourceProvider": "CodeCommit", "PrepStackName": "abalone-prep"},
    },
    "CodeConnection": {
        "prep": {
            "SourceProvider": "CodeConnection",
            "GitCloneUrl": "https://github.com/acme/abalone-model.git",
        },
        "pipeline": {
            "SourceProvider": "CodeConnection",
            "PrepStackName": "abalone-prep",
            "ConnectionArn": SAMPLE_CONNECTION_ARN,
            "FullRepositoryId": "acme/abalone-model",
        },
    },
}


def cfn_lint(choice: str) -> list[str]:
    """cfn-lint's findings (informational included) on both templates with the choice's
    parameters."""
    return [
        str(match)
        for name, path in TEMPLATES.items()
        for match in lint_file(
            path,
            config=ManualArgs(
                include_checks=["I"],
                regions=LINT_REGIONS,
                parameters=[SOURCE_CHOICES[choice][name]],
            ),
        )
    ]


def write_rendered(out: Path) -> list[Path]:
    """Every choice's rendered templates as `<out>/<choice>-<template>.json`."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for choice, parameters in SOURCE_CHOICES.items():
        for name in TEMPLATES:
            target = out / f"{choice}-{name}.json"
            target.write_text(json.dumps(render(template(name), parameters[name]), indent=1))
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.template_choices", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder for the rendered templates")
    args = parser.parse_args(argv)
    failed = False
    for choice in SOURCE_CHOICES:
        findings = cfn_lint(choice)
        print(f"cfn-lint, SourceProvider {choice}: {len(findings) or 'no'} findings")
        for finding in findings:
            print(f"  {finding}")
        failed = failed or bool(findings)
    for path in write_rendered(args.out):
        print(f"rendered {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
