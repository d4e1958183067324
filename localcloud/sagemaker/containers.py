"""How the local SageMaker starts a container's program as a host process, and what it refuses.

On AWS a request's `Environment` goes into an isolated container. Here the program runs on the
host, so the variables that decide how a program starts (`PATH`, `PYTHON*`, `LD_*`) and the ones
the local SageMaker sets itself are refused, and the program gets a clean environment: none of
the cloud's own variables (credentials included) reach it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from localcloud.processes import base_path
from localcloud.sagemaker.debugger import CONFIG_FILE_ENV
from localcloud.sagemaker.exceptions import ValidationException

# Set by the local SageMaker for every program; SAGEMAKER_MODEL_SERVER_WORKERS stays the model's.
OWN_VARIABLES = (
    "SAGEMAKER_BASE_DIR",
    "SAGEMAKER_BIND_TO_PORT",
    "MODEL_SERVER_HOST",
    "TRAINING_JOB_NAME",
    "TRAINING_JOB_ARN",
    CONFIG_FILE_ENV,
)
_REFUSED = re.compile(r"PATH|PYTHON\w*|LD_\w*|" + "|".join(OWN_VARIABLES))


def check_environment(environment: Mapping[str, str], member: str) -> None:
    """Refuse variables that would change how the host starts the program, naming them."""
    refused = sorted(name for name in environment if _REFUSED.fullmatch(name))
    if refused:
        raise ValidationException(
            f"Environment variable{'s' if len(refused) > 1 else ''} {', '.join(refused)} at "
            f"'{member}' cannot be set on the local SageMaker: it runs the container's programs "
            "as host processes, where they would change how the program starts "
            "(PATH, PYTHON*, LD_* and the variables it sets itself are refused)"
        )


def program_environment(
    snapshot: Path, base_dir: Path, requested: Mapping[str, str], own: Mapping[str, str]
) -> dict[str, str]:
    """The environment of one program: a clean base, the request's variables, then ours."""
    return {
        "PATH": base_path(),
        "HOME": str(base_dir),
        "LANG": "C.UTF-8",
        **requested,
        "PYTHONPATH": str(snapshot / "src"),
        "PYTHONUNBUFFERED": "1",
        "SAGEMAKER_BASE_DIR": str(base_dir),
        **own,
    }
