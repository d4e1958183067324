"""How the local SageMaker starts a container's program as a host process, and what it refuses.

On AWS a request's `Environment` goes into an isolated container. Here the program runs on the
host, so the variables that decide how a program starts (`PATH`, `PYTHON*`, `LD_*`) and the ones
the local SageMaker sets itself are refused, and the program gets a clean environment: none of
the cloud's own variables (credentials included) reach it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

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


def stop_running_programs(
    jobs: Iterable[Any], lock: threading.RLock, threads: Iterable[threading.Thread]
) -> None:
    """Stop the program of every job still running (all at once, then each waited for), and
    wait for the jobs' threads: a training or processing job's shutdown."""
    with lock:
        programs = []
        for job in jobs:
            if job.status in {"InProgress", "Stopping"}:
                job.stop_requested = True
                if job.program is not None:
                    job.program.send_stop()
                    programs.append(job.program)
    for program in programs:
        program.stop()
    for thread in threads:
        thread.join()
