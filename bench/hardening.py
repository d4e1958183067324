"""Faults under load against a local cloud's endpoint: kill a serve worker, kill the whole endpoint.

The serve processes of an endpoint are found by their working directory (the deployment's
/opt/ml under the local SageMaker's state), so this works from the process that runs the cloud
and from any other. `make test` runs these briefly; `make bench` runs them longer and keeps the
figures.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import requests
from botocore.exceptions import BotoCoreError, ClientError

from bench.load import Load
from localcloud.sagemaker.layout import SERVE_LOG, StateLayout

STARTUP_LINE = "Application startup complete."  # uvicorn logs it once per worker that is ready
POLL_SECONDS = 0.05


def serve_processes(state_dir: Path, endpoint: str) -> tuple[psutil.Process, list[psutil.Process]]:
    """The endpoint's newest running serve process and its uvicorn worker processes."""
    root = StateLayout(state_dir).endpoint_dir(endpoint)
    candidates = []
    for process in psutil.process_iter(["cwd", "cmdline"]):
        cwd, cmdline = process.info["cwd"], process.info["cmdline"] or []
        if cwd and Path(cwd).parent == root and cmdline and cmdline[-1].endswith("bin/serve"):
            candidates.append((Path(cwd).name, process))
    if not candidates:
        raise LookupError(f"no serve process runs for endpoint {endpoint} under {root}")
    serve = max(candidates, key=lambda pair: pair[0])[1]
    return serve, uvicorn_workers(serve)


def uvicorn_workers(serve: psutil.Process) -> list[psutil.Process]:
    """The worker processes of a serve process (uvicorn spawns them; a resource tracker too)."""
    return [
        child
        for child in serve.children()
        if any("multiprocessing.spawn" in part for part in child.cmdline())
    ]


def _startups(serve: psutil.Process) -> int:
    return (Path(serve.cwd()) / SERVE_LOG).read_text(errors="replace").count(STARTUP_LINE)


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until condition() holds; the monotonic time it did, or TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g} s")
        time.sleep(POLL_SECONDS)
    return time.monotonic()


def kill_a_worker_under_load(
    call: Callable[[requests.Session], int],
    state_dir: Path,
    endpoint: str,
    *,
    concurrency: int,
    before: float,
    after: float,
    replace_timeout: float = 60.0,
) -> dict[str, Any]:
    """SIGKILL one uvicorn worker of the endpoint while `concurrency` clients call it.

    Waits until uvicorn's supervisor has started a replacement and it has loaded the model,
    keeps the load `after` seconds more, and reports every request that failed and when.
    """
    serve, workers = serve_processes(state_dir, endpoint)
    victim = workers[0]
    ready_before = _startups(serve)
    with Load(call, concurrency) as load:
        time.sleep(before)
        killed_at = time.monotonic()
        victim.kill()
        replaced_at = _wait_for(
            lambda: _startups(serve) > ready_before, replace_timeout, "a replacement worker"
        )
        time.sleep(after)
    _, now = serve_processes(state_dir, endpoint)
    outcomes = load.outcomes
    failed = [o for o in outcomes if o.status != 200]
    during_gap = [o for o in outcomes if killed_at <= o.started < replaced_at]
    return {
        "concurrency": concurrency,
        "killed_pid": victim.pid,
        "replacement_pids": sorted(p.pid for p in now if p.pid not in {w.pid for w in workers}),
        "workers_after": len(now),
        "replaced_seconds": round(replaced_at - killed_at, 2),
        "requests": len(outcomes),
        "errors": len(failed),
        "error_statuses": {str(k): n for k, n in sorted(Counter(o.status for o in failed).items())},
        "errors_from_kill_seconds": [
            round(min(o.started for o in failed) - killed_at, 3),
            round(max(o.started + o.seconds for o in failed) - killed_at, 3),
        ]
        if failed
        else [],
        "answered_during_gap": sum(1 for o in during_gap if o.status == 200),
        "errors_after_replacement": sum(1 for o in failed if o.started >= replaced_at),
    }


def kill_the_endpoint(
    state_dir: Path,
    endpoint: str,
    sagemaker: Any,
    runtime: Any,
    body: bytes,
    *,
    timeout: float = 15.0,
) -> dict[str, Any]:
    """SIGKILL the endpoint's serve process; how DescribeEndpoint and InvokeEndpoint then answer."""
    serve, _ = serve_processes(state_dir, endpoint)
    killed_at = time.monotonic()
    serve.kill()
    described: dict[str, Any] = {}

    def failed() -> bool:
        described.update(sagemaker.describe_endpoint(EndpointName=endpoint))
        return described["EndpointStatus"] == "Failed"

    failed_at = _wait_for(failed, timeout, f"{endpoint} turning Failed")
    started = time.monotonic()
    try:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="application/json")
    except ClientError as error:
        code, message = error.response["Error"]["Code"], error.response["Error"]["Message"]
    except BotoCoreError as error:  # no answer at all: what this check exists to catch
        code, message = type(error).__name__, str(error)
    else:
        code, message = "", "InvokeEndpoint answered 200 from a dead endpoint"
    return {
        "failed_seconds": round(failed_at - killed_at, 2),
        "failure_reason": described.get("FailureReason", ""),
        "invoke_error_code": code,
        "invoke_error_message": message,
        "invoke_seconds": round(time.monotonic() - started, 3),
    }
