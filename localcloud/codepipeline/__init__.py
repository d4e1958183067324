"""The local CodePipeline: the pipeline read from its template, run by the local runner, served
with CodePipeline's own API.

After moto's shape: `models` (pipelines and executions: state and rules), `jobs` (the job API's
state), `runner` (an execution's stages and actions), `responses` (one method per action),
`shapes` (the output shapes), `exceptions` (one class per error code), `server` (the wire);
`definition` reads the template, `build` is the Source and Build stages without Docker.
"""

from __future__ import annotations

from localcloud.codepipeline.jobs import JobResult, JobStore
from localcloud.codepipeline.server import CodePipelineService

__all__ = ["CodePipelineService", "JobResult", "JobStore"]
