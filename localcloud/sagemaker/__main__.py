"""`python -m localcloud.sagemaker`: run the local SageMaker as its own process until SIGTERM.

It accepts only requests signed with the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of its own
environment: a client started from the same shell works unchanged.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from localcloud.core.signing import Credentials
from localcloud.sagemaker.common import Settings
from localcloud.sagemaker.server import start_server


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then stop every process started; print the URL when up."""
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m localcloud.sagemaker", description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True, help="the local cloud's state")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--python", default=sys.executable, help="runs bin/train and bin/serve")
    parser.add_argument("--health-timeout", type=float, default=defaults.health_timeout)
    parser.add_argument("--workers", type=int, default=defaults.default_workers)
    parser.add_argument("--invoke-timeout", type=float, default=defaults.invoke_timeout)
    args = parser.parse_args(argv)
    key_id, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        parser.error(
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: the local SageMaker accepts only "
            "requests signed with them"
        )
    settings = Settings(
        health_timeout=args.health_timeout,
        default_workers=args.workers,
        invoke_timeout=args.invoke_timeout,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = start_server(
        args.state_dir,
        Credentials(key_id, secret),
        args.host,
        args.port,
        python=args.python,
        settings=settings,
    )
    print(server.url, flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
