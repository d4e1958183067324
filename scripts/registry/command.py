"""The command line: `list`, `show VERSION`, `approve VERSION`, `reject VERSION`, against AWS
or (`--local`) the running local cloud. Errors are one `error:` line on stderr; exit status 2
for bad arguments, 1 for what AWS or the registry refused."""

from __future__ import annotations

import argparse
from pathlib import Path

import scripts.registry
from localcloud.client import STATE_DIR
from model_registry import APPROVAL_STATUSES, APPROVED, REJECTED
from scripts.registry import actions, view
from scripts.registry.target import (
    Target,
    aws_target,
    check_project_name,
    local_target,
    project_parameter,
    report,
)

PROG = "python -m scripts.registry"


def version_number(value: str) -> int:
    """A version as the registry numbers them: a whole number from 1 (argparse's type)."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a version number (1, 2, ...)")
    return int(value)


def project_name(value: str) -> str:
    """argparse's type for --project: the prep template's pattern."""
    try:
        return check_project_name(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def parser() -> argparse.ArgumentParser:
    """The options go before or after the command (`--local list` or `list --local`)."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where the registry is")
    where.add_argument(
        "--project",
        type=project_name,
        default=argparse.SUPPRESS,
        help="the project: its model package group and the endpoints <project>-dev and "
        f"<project>-prod (default: {project_parameter()['Default']} on AWS, the local "
        "cloud's project with --local)",
    )
    where.add_argument(
        "--region",
        default=argparse.SUPPRESS,
        help="the AWS region (default: AWS_REGION, else the profile's)",
    )
    where.add_argument(
        "--local",
        action="store_true",
        default=argparse.SUPPRESS,
        help="use the running local cloud (`make up`) instead of AWS",
    )
    where.add_argument(
        "--state-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help=f"with --local: the local cloud's state folder (default: {STATE_DIR})",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the registry's answers as JSON (times as ISO-8601 strings, UTC)",
    )
    top = argparse.ArgumentParser(prog=PROG, description=scripts.registry.__doc__, parents=[common])
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[common])

    listing = command("list", "the versions, newest first, and which one prod serves")
    listing.add_argument("--status", choices=APPROVAL_STATUSES, help="only versions of this status")
    show = command("show", "everything about one version")
    show.add_argument("version", metavar="VERSION", type=version_number)
    show.add_argument(
        "--reports",
        action="store_true",
        help="also read its error-by-group and feature-importance reports from S3",
    )
    for name, text in (
        ("approve", "approve a version: prod moves to the newest Approved version"),
        ("reject", "reject a version: rejecting the one prod serves rolls prod back"),
    ):
        change = command(name, text)
        change.add_argument("version", metavar="VERSION", type=version_number)
        change.add_argument(
            "--comment", default="", help="why, kept in the version's ApprovalDescription"
        )
    return top


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The arguments with every option's default; options that do not go together refused."""
    top = parser()
    args = top.parse_args(argv)
    defaults = {"project": None, "region": None, "local": False, "state_dir": None, "json": False}
    for name, default in defaults.items():
        setattr(args, name, getattr(args, name, default))
    if args.local and args.region is not None:
        top.error("--region does not go with --local: the local cloud has its own region")
    if not args.local and args.state_dir is not None:
        top.error("--state-dir is the local cloud's: use it with --local")
    return args


def target_of(args: argparse.Namespace) -> Target:
    """AWS, or the local cloud with --local."""
    if args.local:
        return local_target(args.project, args.state_dir or STATE_DIR)
    return aws_target(args.project, args.region)


def run(args: argparse.Namespace) -> str:
    """Carry out the command; what it prints."""
    target = target_of(args)
    if args.command == "list":
        answer, text = actions.list_versions(target, args.status), view.table
    elif args.command == "show":
        answer, text = actions.show_version(target, args.version, args.reports), view.details
    else:
        status = APPROVED if args.command == "approve" else REJECTED
        answer, text = actions.set_status(target, args.version, status, args.comment), view.change
    return view.as_json(answer) if args.json else text(answer)


def main(argv: list[str] | None = None) -> int:
    """The command line; its exit status."""
    args = parse_args(argv)
    return report(PROG, lambda: run(args))
