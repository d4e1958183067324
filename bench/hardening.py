"""Faults under load against a local cloud's endpoint: kill a serve worker, kill its instance.

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


def fleet_processes(state_dir: Path, endpoint: str) -> list[psutil.Process]:
    """The serve processes of the endpoint's newest deployment: one per instance."""
    root = StateLayout(state_dir).endpoint_dir(endpoint)
    candidates = []
    for process in psutil.process_iter(["cwd", "cmdline"]):
        cwd, cmdline = process.info["cwd"], process.info["cmdline"] or []
        serve = cmdline[-1:] and cmdline[-1].endswith("bin/serve")
        guardian = any(part.endswith("guardian.py") for part in cmdline)
        if cwd and Path(cwd).parent == root and serve and not guardian:
            candidates.append((Path(cwd).name, process))
    if not candidates:
        raise LookupError(f"no serve process runs for endpoint {endpoint} under {root}")
    newest = max(name for name, _ in candidates)
    return [process for name, process in candidates if name == newest]


def serve_processes(state_dir: Path, endpoint: str) -> tuple[psutil.Process, list[psutil.Process]]:
    """One running serve process of the endpoint's newest deployment, and its uvicorn workers."""
    serve = fleet_processes(state_dir, endpoint)[0]
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


def kill_the_instance_under_load(
    call: Callable[[requests.Session], int],
    state_dir: Path,
    endpoint: str,
    sagemaker: Any,
    runtime: Any,
    body: bytes,
    *,
    concurrency: int,
    before: float,
    after: float,
    replace_timeout: float = 60.0,
) -> dict[str, Any]:
    """SIGKILL every serve process of the endpoint while clients call it, as its whole fleet of
    instances dying.

    Reports how InvokeEndpoint answers while no instance serves (SageMaker's error at once, not
    a hang), how long until new instances serve, every status DescribeEndpoint showed
    meanwhile, and the requests that failed before and after the replacement.
    """
    fleet = fleet_processes(state_dir, endpoint)
    statuses: list[str] = []

    def instances(count: int) -> Callable[[], bool]:
        def check() -> bool:
            described = sagemaker.describe_endpoint(EndpointName=endpoint)
            if not statuses or statuses[-1] != described["EndpointStatus"]:
                statuses.append(described["EndpointStatus"])
            variants = described.get("ProductionVariants") or [{}]
            return variants[0].get("CurrentInstanceCount") == count

        return check

    with Load(call, concurrency) as load:
        time.sleep(before)
        killed_at = time.monotonic()
        for serve in fleet:
            serve.kill()
        lost_at = _wait_for(instances(0), replace_timeout, f"{endpoint} losing its instance")
        try:
            runtime.invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType="application/json"
            )
        except ClientError as error:
            code, message = error.response["Error"]["Code"], error.response["Error"]["Message"]
        except BotoCoreError as error:  # no answer at all: what this check exists to catch
            code, message = type(error).__name__, str(error)
        else:
            code, message = "", "InvokeEndpoint answered 200 while the instance was down"
        invoke_seconds = time.monotonic() - lost_at
        replaced_at = _wait_for(
            instances(len(fleet)), replace_timeout, f"new instances of {endpoint}"
        )
        time.sleep(after)
    outcomes = load.outcomes
    failed = [o for o in outcomes if o.status != 200]
    return {
        "concurrency": concurrency,
        "instances": len(fleet),
        "out_of_service_seconds": round(lost_at - killed_at, 2),
        "replaced_seconds": round(replaced_at - killed_at, 2),
        "statuses_seen": statuses,
        "invoke_error_code": code,
        "invoke_error_message": message,
        "invoke_seconds": round(invoke_seconds, 3),
        "requests": len(outcomes),
        "errors": len(failed),
        "error_statuses": {str(k): n for k, n in sorted(Counter(o.status for o in failed).items())},
        "errors_after_replacement": sum(1 for o in failed if o.started >= replaced_at),
        "answered_after_replacement": sum(
            1 for o in outcomes if o.started >= replaced_at and o.status == 200
        ),
    }
