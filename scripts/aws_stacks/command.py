"""The command line: `deploy` or `destroy`; errors are one line and exit status 1."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

import scripts.aws_stacks
from localcloud.stacks import REPO_ROOT
from scripts import upload_lambdas
from scripts.aws_stacks.common import Failure, template
from scripts.aws_stacks.deploy import deploy
from scripts.aws_stacks.destroy import destroy


def _project_name(value: str) -> str:
    pattern = template("prep")["Parameters"]["ProjectName"]["AllowedPattern"]
    if not re.fullmatch(pattern, value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a project name (3 to 24 lowercase letters, digits, hyphens)"
        )
    return value


def main(argv: list[str] | None = None) -> int:
    """Command line: `deploy` or `destroy`; errors are one line and exit status 1."""
    parser = argparse.ArgumentParser(description=scripts.aws_stacks.__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    deploy_parser = commands.add_parser("deploy", help="create or update both stacks")
    deploy_parser.add_argument("--params", type=Path, required=True, help="parameters JSON file")
    deploy_parser.add_argument("--dist", type=Path, default=REPO_ROOT / "dist" / "lambdas")
    destroy_parser = commands.add_parser("destroy", help="delete everything of a project")
    destroy_parser.add_argument("--project", type=_project_name, required=True)
    destroy_parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    try:
        session = upload_lambdas.aws_session()
        if args.command == "deploy":
            deploy(session, args.params, args.dist)
        else:
            destroy(session, args.project, args.yes)
    except Failure as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as err:
        print(f"error: AWS: {err}", file=sys.stderr)
        return 1
    return 0
