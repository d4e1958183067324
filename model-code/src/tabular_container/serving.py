"""The `serve` program: check the settings and the model, then run uvicorn's workers."""

from __future__ import annotations

import copy
import os
import sys

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from tabular_container.constants import EXIT_USER_ERROR, GRACEFUL_SHUTDOWN_SECONDS
from tabular_container.environment import ServingEnvironment, available_cpus
from tabular_container.errors import UserError

APP = "tabular_container.server:create_app"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _logging_config(level: str) -> dict:
    """uvicorn's own log format, extended to this package's loggers."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["tabular_container"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def _check_model(env: ServingEnvironment) -> None:
    """Fail at once, not at the first ping, when there is no model to serve."""
    missing = [
        path.name for path in (env.paths.model_file, env.paths.metadata_file) if not path.is_file()
    ]
    if missing:
        raise UserError(
            f"no model to serve in {env.paths.model_dir}: {', '.join(missing)} missing "
            "(a model directory written by train)"
        )


def main() -> int:
    """Run `serve` until SIGTERM; exit 1 with a one-line reason on bad settings."""
    try:
        env = ServingEnvironment.from_environ()
        _check_model(env)
    except UserError as error:
        print(f"serve: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    # Share the CPUs between workers rather than let every worker's BLAS claim them all.
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, str(max(1, available_cpus() // env.workers)))
    uvicorn.run(
        APP,
        factory=True,
        host=env.host,
        port=env.port,
        workers=env.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,  # a line per request costs more than the request; errors still log
        server_header=False,
        date_header=False,
        log_level=env.log_level,
        log_config=_logging_config(env.log_level),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0
