"""The two model servers the serving benchmark compares, started on loopback and stopped cleanly.

Ours is `model-code/bin/serve` exactly as SageMaker runs it. The classic one is nginx in front of
gunicorn's gevent workers running bench/classic's Flask app, from `.venv-bench`, on the same
trained model directory and with the same number of workers.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from localcloud.background import free_port
from tests.container.conftest import MODEL_CODE, SERVE, program_env

BENCH_DIR = Path(__file__).resolve().parent
CLASSIC_DIR = BENCH_DIR / "classic"
BENCH_VENV = BENCH_DIR.parent / ".venv-bench"
WORKERS = 2
START_SECONDS = 60.0
# Our serve gives each worker cpus / workers BLAS threads; the classic workers get the same, so
# neither side loses to thread oversubscription on two cores.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def wait_ready(url: str, processes: list[subprocess.Popen[bytes]]) -> None:
    """Poll GET /ping until 200; fail at once if a process died, or after START_SECONDS."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            # The classic app loads its model on the first request, which may take seconds.
            if requests.get(f"{url}/ping", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}/ping did not answer 200 within {START_SECONDS:g} s")


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> None:
    """Signal a server and wait for it (SIGKILL after 15 s)."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def our_server(base: Path, workers: int = WORKERS) -> Iterator[tuple[str, int]]:
    """`serve` on the model in base/model; yields its URL and the pid of its main process."""
    port = free_port()
    env = program_env(
        base, SAGEMAKER_BIND_TO_PORT=str(port), SAGEMAKER_MODEL_SERVER_WORKERS=str(workers)
    )
    process = subprocess.Popen(
        [sys.executable, str(SERVE)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, [process])
        yield url, process.pid
    finally:
        stop(process)


@contextmanager
def classic_server(base: Path, workers: int = WORKERS) -> Iterator[tuple[str, int]]:
    """nginx -> gunicorn (gevent) -> Flask on base/model; yields its URL and gunicorn's pid."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    with ExitStack() as stack:
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="classic-")))
        run_dir.chmod(0o755)  # nginx's worker runs as an unprivileged user when started as root
        socket_path = run_dir / "gunicorn.sock"
        conf = (CLASSIC_DIR / "nginx.conf").read_text()
        for placeholder, value in (
            ("@PREFIX@", str(run_dir)),
            ("@SOCKET@", str(socket_path)),
            ("@PORT@", str(port)),
        ):
            conf = conf.replace(placeholder, value)
        (run_dir / "nginx.conf").write_text(conf)
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "SAGEMAKER_BASE_DIR": str(base),
            # model.joblib pickles the container's transformers: the app imports them from here.
            "PYTHONPATH": str(MODEL_CODE / "src"),
            **dict.fromkeys(THREAD_VARIABLES, threads),
        }
        gunicorn = subprocess.Popen(
            [
                str(BENCH_VENV / "bin" / "gunicorn"),
                "--timeout=60",
                "--worker-class=gevent",
                f"--bind=unix:{socket_path}",
                f"--workers={workers}",
                f"--chdir={CLASSIC_DIR}",
                "wsgi:app",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(stop, gunicorn)
        server = subprocess.Popen(
            [nginx, "-p", str(run_dir), "-c", str(run_dir / "nginx.conf"), "-e", "stderr"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(stop, server, signal.SIGQUIT)  # nginx's graceful shutdown
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, [gunicorn, server])
        yield url, gunicorn.pid
