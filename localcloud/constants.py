"""The local cloud's fixed facts, each written once: everything local imports them from here."""

from __future__ import annotations

from pathlib import Path

# The checkout the local cloud runs from: templates, Lambda code and data are read from it.
REPO_ROOT = Path(__file__).resolve().parent.parent

# moto's default account: ARNs agree across moto, the local SageMaker and the job API.
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
# The local API gateway's port: the one `sam local start-api` uses.
GATEWAY_PORT = 3000
# The pipeline's model-code sources the local cloud offers (the stacks' SourceProvider): CodeCommit
# stands in with the working copy of model-code/ (`python -m localcloud push`), S3 takes the zip
# `make push-code LOCAL=yes` uploads, as on AWS. CodeConnection needs GitHub, GitLab or Bitbucket.
LOCAL_SOURCES = ("CodeCommit", "S3")
LOCAL_SOURCE = "CodeCommit"
