"""What every part of the deploy path shares: the templates, stack names and the one error."""

from __future__ import annotations

from functools import cache
from typing import Any

from localcloud.cfn import load_template
from localcloud.stacks import PIPELINE_TEMPLATE, PREP_TEMPLATE

TEMPLATES = {"prep": PREP_TEMPLATE, "pipeline": PIPELINE_TEMPLATE}
SECTIONS = tuple(TEMPLATES)
# Poll every 10 s for up to 90 minutes (a notebook instance alone takes about 5).
WAITER_CONFIG = {"Delay": 10, "MaxAttempts": 540}


class Failure(Exception):
    """A problem reported as one `error:` line and exit status 1."""


@cache
def template(section: str) -> dict[str, Any]:
    """The 'prep' or 'pipeline' template (read once; do not modify)."""
    return load_template(TEMPLATES[section])


def stack_name(project: str, section: str) -> str:
    """`<project>-prep` or `<project>-pipeline`."""
    return f"{project}-{section}"


def whoami(session: Any) -> str:
    """`account A, region R` of the credentials in use; fails early without any."""
    if not session.region_name:
        raise Failure("no AWS region: set AWS_REGION (or a profile's region)")
    account = session.client("sts").get_caller_identity()["Account"]
    return f"account {account}, region {session.region_name}"
