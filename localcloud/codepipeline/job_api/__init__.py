"""The CodePipeline job API the Lambda actions call: PutJobSuccessResult, PutJobFailureResult.

botocore reaches it through `AWS_ENDPOINT_URL_CODEPIPELINE`. The runner opens a job per Lambda
invocation and waits for the one result the job accepts. After moto's shape: `models` (jobs and
their one result), `responses` (one method per action), `exceptions` (one class per error code),
`server` (the wire).
"""

from __future__ import annotations

from localcloud.codepipeline.job_api.models import JobResult, JobStore
from localcloud.codepipeline.job_api.server import JobApi

__all__ = ["JobApi", "JobResult", "JobStore"]
