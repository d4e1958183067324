"""Run Lambda functions from their deployment zips in warm worker processes, as Lambda does.

Their logs go to CloudWatch Logs as Lambda's do (`logs`); `server` serves Lambda's Invoke.
"""

from localcloud.lambda_runtime.exceptions import (
    CallerTimeout,
    InvalidParameterValueException,
    ResourceNotFoundException,
)
from localcloud.lambda_runtime.function import LambdaFunction
from localcloud.lambda_runtime.runtime import InvocationResult, LambdaError, LambdaRuntime

__all__ = [
    "CallerTimeout",
    "InvalidParameterValueException",
    "InvocationResult",
    "LambdaError",
    "LambdaFunction",
    "LambdaRuntime",
    "ResourceNotFoundException",
]
