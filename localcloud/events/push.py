"""`python -m localcloud push`: the event CodeCommit sends when a branch moves, put on the bus.

The local cloud has no git server; the model code is the working copy. A push to the branch is
therefore this event (PutEvents through the cloud's endpoint), which the template's source rule
matches to start the pipeline, as on AWS.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from localcloud.codepipeline.build import zip_source_tree

DETAIL_TYPE = "CodeCommit Repository State Change"


def commit_id(model_code: Path) -> str:
    """The checkout's HEAD commit, or (outside git) a digest of the model code as it is."""
    head = subprocess.run(
        ["git", "-C", str(model_code), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode == 0:
        return head.stdout.strip()
    return hashlib.sha1(zip_source_tree(model_code), usedforsecurity=False).hexdigest()


def push_entry(repository_arn: str, branch: str, commit: str) -> dict[str, Any]:
    """The PutEvents entry of a `referenceUpdated` on `branch`, in CodeCommit's detail shape."""
    account, repository = repository_arn.split(":", 5)[4:]
    detail = {
        "callerUserArn": f"arn:aws:iam::{account}:root",
        "commitId": commit,
        "event": "referenceUpdated",
        "referenceFullName": f"refs/heads/{branch}",
        "referenceName": branch,
        "referenceType": "branch",
        "repositoryName": repository,
    }
    return {
        "Source": "aws.codecommit",
        "DetailType": DETAIL_TYPE,
        "Resources": [repository_arn],
        "Detail": json.dumps(detail),
    }


def push(events: Any, repository_arn: str, branch: str, commit: str) -> str:
    """Put the push event on the default bus; its event id."""
    answer = events.put_events(Entries=[push_entry(repository_arn, branch, commit)])
    entry = answer["Entries"][0]
    if "EventId" not in entry:
        raise RuntimeError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return str(entry["EventId"])
