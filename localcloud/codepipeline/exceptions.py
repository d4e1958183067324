"""CodePipeline's error codes, one class each, with the service's wording.

Where AWS's exact message is not published, the wording is the API reference's description of
the error, naming the resource the request named.
"""

from __future__ import annotations

from localcloud.core.exceptions import AwsError


# --- the job API -----------------------------------------------------------------------------
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


# --- pipelines and their executions ----------------------------------------------------------
class PipelineNotFoundException(AwsError):
    """An unknown pipeline name."""

    code = "PipelineNotFoundException"

    def __init__(self, account_id: str, name: str) -> None:
        super().__init__(f"Account '{account_id}' does not have a pipeline with name '{name}'")


class PipelineVersionNotFoundException(AwsError):
    """A pipeline version that does not exist."""

    code = "PipelineVersionNotFoundException"

    def __init__(self, name: str, version: int) -> None:
        super().__init__(f"Pipeline '{name}' does not have a version {version}")


class PipelineExecutionNotFoundException(AwsError):
    """An execution id the pipeline never had."""

    code = "PipelineExecutionNotFoundException"

    def __init__(self, account_id: str, name: str, execution_id: str) -> None:
        super().__init__(
            f"Account '{account_id}' does not have an execution with id '{execution_id}' "
            f"for pipeline '{name}'"
        )


class StageNotFoundException(AwsError):
    """A stage the pipeline does not have."""

    code = "StageNotFoundException"

    def __init__(self, pipeline: str, stage: str) -> None:
        super().__init__(f"Stage '{stage}' does not exist in pipeline '{pipeline}'")


class ActionNotFoundException(AwsError):
    """An action the stage does not have."""

    code = "ActionNotFoundException"

    def __init__(self, stage: str, action: str) -> None:
        super().__init__(f"Action '{action}' does not exist in stage '{stage}'")


class InvalidApprovalTokenException(AwsError):
    """A token no approval of this action waits with (unknown, or expired with its run)."""

    code = "InvalidApprovalTokenException"

    def __init__(self, token: str) -> None:
        super().__init__(
            f"The approval token '{token}' is not valid: the approval request already "
            "received a response or has expired"
        )


class ApprovalAlreadyCompletedException(AwsError):
    """A second answer to an approval."""

    code = "ApprovalAlreadyCompletedException"

    def __init__(self) -> None:
        super().__init__("The approval action has already been approved or rejected.")


class InvalidNextTokenException(AwsError):
    """A nextToken no earlier answer gave."""

    code = "InvalidNextTokenException"

    def __init__(self) -> None:
        super().__init__(
            "The next token was specified in an invalid format. Make sure that the next token "
            "you provide is the token returned by a previous call."
        )


class PipelineExecutionNotStoppableException(AwsError):
    """A stop for an execution that is not in progress."""

    code = "PipelineExecutionNotStoppableException"

    def __init__(self, execution_id: str, status: str | None) -> None:
        where = f"it is {status}" if status else "it does not exist"
        super().__init__(
            f"Unable to stop pipeline execution '{execution_id}': {where}. The execution might "
            "already be in a Stopped state, or it might no longer be in progress."
        )


class DuplicatedStopRequestException(AwsError):
    """A second stop of the same kind for an execution already stopping."""

    code = "DuplicatedStopRequestException"

    def __init__(self, execution_id: str) -> None:
        super().__init__(
            f"The pipeline execution '{execution_id}' is already in a Stopping state. "
            "If you already chose to stop and wait, you cannot make that request again. "
            "You can choose to stop and abandon now, but be aware that this option can lead "
            "to failed tasks or out of sequence tasks."
        )


class StageNotRetryableException(AwsError):
    """A retry of a stage that did not fail or stop, or whose execution still runs."""

    code = "StageNotRetryableException"

    def __init__(self, stage: str, status: str | None) -> None:
        where = f"its latest execution is {status}" if status else "it has not run"
        super().__init__(
            f"Unable to retry stage '{stage}': {where}. Only a Failed or Stopped stage of a "
            "finished execution can be retried."
        )


class NotLatestPipelineExecutionException(AwsError):
    """A retry naming an execution that is not the stage's latest."""

    code = "NotLatestPipelineExecutionException"

    def __init__(self, stage: str, execution_id: str) -> None:
        super().__init__(
            f"Execution '{execution_id}' is not the latest execution of stage '{stage}': the "
            "stage ran in a later execution, or the execution id is out of date."
        )
