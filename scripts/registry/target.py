"""Where the registry is: an AWS account and region (boto3's usual credential chain), or the
running local cloud (its connection.json), and which project's group and endpoints to read."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from localcloud.cfn import load_template
from localcloud.client import CONNECTION_FILE, aws_client, read_connection
from localcloud.constants import REPO_ROOT
from scripts.upload_lambdas import aws_session

# The prep stack's template holds the project name's default and pattern. (localcloud.stacks
# names this path too, but importing it loads moto, seconds a command line should not wait.)
PREP_TEMPLATE = REPO_ROOT / "templates" / "01-prep.yml"
ENVIRONMENTS = ("prod", "dev")


class Problem(Exception):
    """A problem reported as one `error:` line; `status` is the exit status (1, or 2 for bad
    input found only after parsing)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@cache
def project_parameter() -> dict[str, Any]:
    """ProjectName of templates/01-prep.yml: Default, AllowedPattern, ConstraintDescription."""
    return dict(load_template(PREP_TEMPLATE)["Parameters"]["ProjectName"])


def check_project_name(value: str) -> str:
    """A project name as the prep stack accepts it, or why not (argparse's type)."""
    parameter = project_parameter()
    if not re.fullmatch(parameter["AllowedPattern"], value):
        raise ValueError(f"{value!r} is not a project name ({parameter['ConstraintDescription']})")
    return value


@dataclass(frozen=True)
class Target:
    """The clients of one registry and the project whose group and endpoints they read."""

    project: str
    where: str  # for messages: "AWS (us-east-1)" or "the local cloud"
    client: Callable[[str], Any]

    @property
    def group(self) -> str:
        """The project's model package group (templates/02-pipeline.yml names it the project)."""
        return self.project

    def endpoint(self, environment: str) -> str:
        """`<project>-dev` or `<project>-prod`."""
        return f"{self.project}-{environment}"


def aws_target(project: str | None, region: str | None) -> Target:
    """AWS through boto3's credential chain; the region from --region, else AWS_REGION, else
    the profile's."""
    session = aws_session() if region is None else boto3.session.Session(region_name=region)
    if not session.region_name:
        raise Problem("no AWS region: pass --region, or set AWS_REGION (or a profile's region)")
    return Target(
        project or project_parameter()["Default"],
        f"AWS ({session.region_name})",
        session.client,
    )


def local_target(project: str | None, state_dir: Path) -> Target:
    """The local cloud `make up` (or `python -m localcloud start`) runs, with its own project."""
    connection = read_connection(state_dir)
    if connection is None:
        raise Problem(
            f"the local cloud is not running (no live {state_dir / CONNECTION_FILE}): "
            "start it with `make up` or `python -m localcloud start`"
        )
    return Target(
        project or connection["stacks"]["prep"]["ProjectName"],
        "the local cloud",
        partial(aws_client, connection),
    )


def report(prog: str, work: Callable[[], str]) -> int:
    """Print what `work` returns, or its problem (ours or AWS's) as one `prog: error:` line on
    stderr; the exit status."""

    def fail(message: str, status: int = 1) -> int:
        print(f"{prog}: error: {message}", file=sys.stderr)
        return status

    try:
        print(work())
    except Problem as err:
        return fail(str(err), err.status)
    except ClientError as err:
        error = err.response["Error"]
        return fail(f"AWS {error['Code']} in {err.operation_name}: {error['Message']}")
    except NoCredentialsError:
        return fail(
            "no AWS credentials: configure a profile (AWS_PROFILE, `aws configure`) or "
            "environment credentials, or use --local"
        )
    except BotoCoreError as err:
        return fail(f"AWS: {err}")
    return 0
