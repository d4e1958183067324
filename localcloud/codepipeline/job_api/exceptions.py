"""CodePipeline's job error codes, one class each, with the service's documented wording."""

from __future__ import annotations

from localcloud.core.exceptions import AwsError


class JobNotFoundException(AwsError):
    """An unknown job id."""

    code = "JobNotFoundException"

    def __init__(self) -> None:
        super().__init__("The job was specified in an invalid format or cannot be found.")


class InvalidJobStateException(AwsError):
    """A result for a job that already has one."""

    code = "InvalidJobStateException"

    def __init__(self) -> None:
        super().__init__("The job state was specified in an invalid format.")
