"""CloudFormation stacks: create or update one and wait, describe it, delete it."""

from __future__ import annotations

import sys
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from scripts.aws_stacks.common import WAITER_CONFIG, Failure

CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
UPDATABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}
NO_UPDATES = "No updates are to be performed"


def describe_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack, or None when there is none (never created, or deleted)."""
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as err:
        if "does not exist" in err.response["Error"].get("Message", ""):
            return None
        raise
    return None if stack["StackStatus"] == "DELETE_COMPLETE" else stack


def stack_outputs(stack: dict[str, Any]) -> dict[str, str]:
    """Output key -> value."""
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def failed_events(cfn: Any, stack_id: str) -> list[str]:
    """`LogicalId (Type) STATUS: reason` for each failure of the stack's latest operation."""
    lines = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page["StackEvents"]:  # newest first
            if event["ResourceStatus"].endswith("_FAILED"):
                lines.append(
                    f"{event['LogicalResourceId']} ({event.get('ResourceType', '?')}) "
                    f"{event['ResourceStatus']}: {event.get('ResourceStatusReason', 'no reason')}"
                )
            if (
                event.get("PhysicalResourceId") == stack_id
                and event.get("ResourceStatusReason") == "User Initiated"
            ):
                return lines[::-1]
    return lines[::-1]


def wait(cfn: Any, waiter: str, stack_id: str, name: str) -> None:
    """Wait for the stack's operation; on failure print the failed resources and raise."""
    try:
        cfn.get_waiter(waiter).wait(StackName=stack_id, WaiterConfig=WAITER_CONFIG)
    except WaiterError:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            raise Failure(
                f"stack {name} is still {status} after 90 minutes: follow it in the "
                "CloudFormation console"
            ) from None
        print(f"stack {name} is {status}: {stack.get('StackStatusReason', '')}", file=sys.stderr)
        for line in failed_events(cfn, stack_id):
            print(f"  {line}", file=sys.stderr)
        raise Failure(f"stack {name} ended {status} (failed resources above)") from None


def create_or_update(
    cfn: Any, name: str, parameters: dict[str, str], template: dict[str, str]
) -> dict[str, Any]:
    """Create the stack or update it in place, wait, and return it; no changes is fine."""
    arguments = {
        "StackName": name,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": CAPABILITIES,
        **template,
    }
    stack = describe_stack(cfn, name)
    if stack is None:
        print(f"stack {name}: creating, waiting for CREATE_COMPLETE")
        stack_id = cfn.create_stack(**arguments)["StackId"]
        wait(cfn, "stack_create_complete", stack_id, name)
    else:
        status, stack_id = stack["StackStatus"], stack["StackId"]
        if status not in UPDATABLE:
            raise Failure(_not_updatable(name, status))
        try:
            cfn.update_stack(**arguments)
        except ClientError as err:
            if NO_UPDATES not in err.response["Error"].get("Message", ""):
                raise
            print(f"stack {name}: no changes")
            return stack
        print(f"stack {name}: updating, waiting for UPDATE_COMPLETE")
        wait(cfn, "stack_update_complete", stack_id, name)
    return cfn.describe_stacks(StackName=stack_id)["Stacks"][0]


def _not_updatable(name: str, status: str) -> str:
    project = name.rsplit("-", 1)[0]
    if status.endswith("_IN_PROGRESS"):
        return f"stack {name} is busy ({status}): wait until it settles, then deploy again"
    if status == "ROLLBACK_COMPLETE":
        return (
            f"stack {name} is ROLLBACK_COMPLETE (its creation failed) and cannot be updated: "
            f"make destroy PROJECT={project} CONFIRM=yes, then deploy again"
        )
    return f"stack {name} is {status} and cannot be updated: fix it in the console first"


def delete_stack(cfn: Any, name: str) -> None:
    """Delete the stack and wait; a stack already gone is fine."""
    stack = describe_stack(cfn, name)
    if stack is None:
        print(f"stack {name}: already gone")
        return
    print(f"stack {name}: deleting, waiting for DELETE_COMPLETE")
    cfn.delete_stack(StackName=stack["StackId"])
    wait(cfn, "stack_delete_complete", stack["StackId"], name)
    print(f"stack {name}: deleted")
