"""The Lambda runtime: real worker processes running real deployment zips."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from localcloud.constants import ACCOUNT_ID, REGION
from localcloud.lambda_runtime import (
    CallerTimeout,
    InvalidParameterValueException,
    InvocationResult,
    LambdaFunction,
    LambdaRuntime,
    ResourceNotFoundException,
)
from tests.conftest import REPO_ROOT

ECHO = """
    import importlib.util
    import os
    import sys

    calls = 0

    def handler(event, context):
        global calls
        calls += 1
        return {
            "event": event,
            "calls": calls,
            "pid": os.getpid(),
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "sys_path": sys.path,
            "repo_importable": importlib.util.find_spec("localcloud") is not None,
            "context": {
                "aws_request_id": context.aws_request_id,
                "function_name": context.function_name,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "log_group_name": context.log_group_name,
                "remaining_ms": context.get_remaining_time_in_millis(),
            },
        }
"""

SLOW = """
    import os
    import time

    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        return {"pid": os.getpid()}
"""


def register(runtime: LambdaRuntime, name: str, code: bytes, **options: Any) -> None:
    runtime.register(LambdaFunction(name=name, code=code, handler="app.handler", **options))


def log_of(runtime: LambdaRuntime, name: str) -> str:
    return runtime.log_path(name).read_text()


def test_echo_gets_event_context_and_only_its_own_environment(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a parent with PYTHONPATH at the repo and a private variable
    WHEN a function is invoked
    THEN it sees its event, its context, its own variables, the ambient endpoints, and
    nothing of the parent: PYTHONPATH is its code directory alone and the repo is not importable.
    """
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.setenv("LOCALCLOUD_PARENT_ONLY", "must not leak")
    register(
        runtime,
        "echo-env",
        zip_of(ECHO),
        environment={"LOG_LEVEL": "DEBUG", "RETRIES": 3},
        timeout=7,
        memory=256,
    )

    result = runtime.invoke("echo-env", {"hello": ["world", 1]})

    assert result.ok, result.error
    payload = result.payload
    env = payload["env"]
    code_dir = payload["cwd"]
    assert payload["event"] == {"hello": ["world", 1]}
    assert Path(code_dir).parent == runtime.state_dir / "lambda" / "echo-env"
    assert len(Path(code_dir).name) == 64  # sha256 of the zip
    assert env["PYTHONPATH"] == code_dir
    assert payload["sys_path"][0] == code_dir
    assert not any(str(REPO_ROOT) == entry for entry in payload["sys_path"])
    assert payload["repo_importable"] is False
    assert "LOCALCLOUD_PARENT_ONLY" not in env
    assert env["HOME"] != os.environ.get("HOME")
    assert env["LOG_LEVEL"] == "DEBUG"
    assert env["RETRIES"] == "3"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_REGION"] == REGION
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo-env"
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "7"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == code_dir
    assert payload["context"] == {
        "aws_request_id": result.request_id,
        "function_name": "echo-env",
        "invoked_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:echo-env",
        "memory_limit_in_mb": "256",
        "log_group_name": "/aws/lambda/echo-env",
        "remaining_ms": payload["context"]["remaining_ms"],
    }
    assert 6000 < payload["context"]["remaining_ms"] <= 7000
    assert result.init_ms is not None


def test_a_warm_worker_is_reused_with_its_module_state(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    register(runtime, "echo-warm", zip_of(ECHO))

    first = runtime.invoke("echo-warm", {})
    second = runtime.invoke("echo-warm", {})

    assert second.payload["pid"] == first.payload["pid"]
    assert (first.payload["calls"], second.payload["calls"]) == (1, 2)
    assert first.init_ms is not None and second.init_ms is None


def test_concurrent_invocations_get_their_own_results_and_workers(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    """GIVEN a pool limit of 4 WHEN 12 threads invoke at once THEN every caller gets its own
    answer, from at most 4 worker processes."""
    register(runtime, "echo-many", zip_of(SLOW.replace('{"pid"', '{"event": event, "pid"')))

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(
            pool.map(lambda n: runtime.invoke("echo-many", {"n": n, "sleep": 0.1}), range(12))
        )

    assert [r.payload["event"]["n"] for r in results] == list(range(12))
    assert 2 <= len({r.payload["pid"] for r in results}) <= 4
    assert len({r.request_id for r in results}) == 12


def test_a_timeout_kills_the_worker_and_the_next_call_gets_a_fresh_one(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    register(runtime, "sleeper", zip_of(SLOW), timeout=0.3)
    warm = runtime.invoke("sleeper", {})

    started = time.monotonic()
    result = runtime.invoke("sleeper", {"sleep": 5})
    waited = time.monotonic() - started
    after = runtime.invoke("sleeper", {})

    assert result.error is not None and result.error.timed_out
    assert result.error.type == "Sandbox.Timedout"
    assert result.error.message == "Task timed out after 0.30 seconds"
    assert 0.3 <= waited < 2
    assert after.ok and after.payload["pid"] != warm.payload["pid"]
    assert not _alive(warm.payload["pid"])
    log = log_of(runtime, "sleeper")
    assert f"{result.request_id} Task timed out after 0.30 seconds" in log
    assert f"REPORT RequestId: {result.request_id}" in log and "Status: timeout" in log


def test_the_callers_own_limit_raises_and_stops_the_worker(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    register(runtime, "patient", zip_of(SLOW), timeout=30)
    pid = runtime.invoke("patient", {}).payload["pid"]

    with pytest.raises(CallerTimeout, match=r"did not answer within 0\.30 seconds"):
        runtime.invoke("patient", {"sleep": 5}, wait_seconds=0.3)

    assert not _alive(pid)
    assert runtime.invoke("patient", {}).ok
    assert "The caller stopped waiting after 0.30 seconds" in log_of(runtime, "patient")


def test_a_crashing_worker_is_an_exit_error_and_is_replaced(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    source = """
        import os

        def handler(event, context):
            if event.get("crash"):
                os._exit(3)
            return os.getpid()
    """
    register(runtime, "crasher", zip_of(source))
    before = runtime.invoke("crasher", {}).payload

    crashed = runtime.invoke("crasher", {"crash": True})
    after = runtime.invoke("crasher", {}).payload

    assert crashed.error is not None
    assert crashed.error.type == "Runtime.ExitError"
    assert crashed.error.message == (
        f"RequestId: {crashed.request_id} Error: Runtime exited with error: exit status 3"
    )
    assert after != before
    assert "Status: error\tError Type: Runtime.ExitError" in log_of(runtime, "crasher")


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.py": "import not_installed_anywhere\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'not_installed_anywhere'",
        ),
        (
            {"other.py": "x = 1\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'app'",
        ),
        (
            {"app.py": "def main(event, context):\n    return 1\n"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        (
            {"app.py": "def handler(event, context)\n    return 1\n"},
            "app.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'app': expected ':' (app.py, line 1)",
        ),
        ({"app.py": "x = 1\n"}, "apphandler", "Runtime.MalformedHandlerName", None),
        (
            {"app.py": "raise KeyError('TABLE_NAME')\n"},
            "app.handler",
            "KeyError",
            "'TABLE_NAME'",
        ),
    ],
    ids=["missing-dependency", "missing-module", "missing-handler", "syntax", "bad-name", "init"],
)
def test_init_errors_come_back_with_lambdas_error_type(
    runtime: LambdaRuntime,
    zip_files: Callable[[dict[str, str]], bytes],
    files: dict[str, str],
    handler: str,
    error_type: str,
    message: str | None,
) -> None:
    name = f"broken-{error_type.replace('.', '-')}"
    runtime.register(LambdaFunction(name, zip_files(files), handler))

    result = runtime.invoke(name, {})

    assert result.error is not None
    assert result.error.type == error_type
    if message is not None:
        assert result.error.message == message
    assert f"[ERROR] {error_type}" in log_of(runtime, name)


def test_a_handler_exception_is_reported_and_the_worker_stays_warm(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    source = """
        import os

        def handler(event, context):
            if event.get("fail"):
                raise ValueError("the model bucket is empty")
            return os.getpid()
    """
    register(runtime, "raiser", zip_of(source))
    pid = runtime.invoke("raiser", {}).payload

    failed = runtime.invoke("raiser", {"fail": True})

    assert failed.error is not None
    assert (failed.error.type, failed.error.message) == ("ValueError", "the model bucket is empty")
    assert failed.error.to_payload() == {
        "errorMessage": "the model bucket is empty",
        "errorType": "ValueError",
        "requestId": failed.request_id,
        "stackTrace": [
            f'  File "{failed.error.stack_trace[0].split(chr(34))[1]}", line 6, in handler\n'
            '    raise ValueError("the model bucket is empty")\n'
        ],
    }
    assert failed.error.stack_trace[0].split('"')[1].endswith("/app.py")
    assert runtime.invoke("raiser", {}).payload == pid
    log = log_of(runtime, "raiser")
    assert "[ERROR] ValueError: the model bucket is empty\nTraceback" in log
    assert 'app.py", line 6, in handler' in log
    assert "worker.py" not in log  # the runtime's own frames stay out of the user's trace


def test_an_unserializable_result_is_a_marshal_error(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    register(runtime, "marshal", zip_of("def handler(event, context):\n    return {1, 2}\n"))

    result = runtime.invoke("marshal", {})

    assert result.error is not None
    assert result.error.type == "Runtime.MarshalError"
    assert result.error.message.startswith("Unable to marshal response: Object of type set")


def test_output_goes_to_the_functions_log_with_lambdas_lines(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    source = """
        import logging
        import sys

        logger = logging.getLogger()
        logger.setLevel(logging.INFO)

        def handler(event, context):
            print("to stdout", event["n"])
            print("to stderr", file=sys.stderr)
            logger.info("through logging")
            return None
    """
    register(runtime, "talker", zip_of(source))

    first = runtime.invoke("talker", {"n": 1})
    second = runtime.invoke("talker", {"n": 2})

    assert first.ok and second.ok and first.payload is None
    log = log_of(runtime, "talker")
    lines = log.splitlines()
    start = lines.index(f"START RequestId: {first.request_id} Version: $LATEST")
    assert lines[start + 1] == "to stdout 1"
    assert lines[start + 2] == "to stderr"
    assert lines[start + 3].startswith("[INFO]\t")
    assert lines[start + 3].endswith(f"\t{first.request_id}\tthrough logging")
    assert lines[start + 4] == f"END RequestId: {first.request_id}"
    report = lines[start + 5]
    assert report.startswith(f"REPORT RequestId: {first.request_id}\tDuration: ")
    assert "\tBilled Duration: " in report and "\tMemory Size: 128 MB" in report
    assert "\tInit Duration: " in report
    assert f"START RequestId: {second.request_id}" in log
    assert log.count("INIT_START") == 1


def test_a_new_version_replaces_the_warm_workers(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    version = "import os\ndef handler(event, context):\n    return [{v}, os.getpid()]\n"
    register(runtime, "versioned", zip_of(version.format(v=1)))
    one, pid = runtime.invoke("versioned", {}).payload

    register(runtime, "versioned", zip_of(version.format(v=2)))
    two, new_pid = runtime.invoke("versioned", {}).payload

    assert (one, two) == (1, 2)
    assert new_pid != pid and not _alive(pid)
    assert len(list((runtime.state_dir / "lambda" / "versioned").glob("[0-9a-f]*"))) == 2


def test_configuration_errors_use_lambdas_words(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    with pytest.raises(ResourceNotFoundException, match=r"Function not found: arn:aws:lambda:"):
        runtime.invoke("never-registered", {})
    with pytest.raises(
        InvalidParameterValueException,
        match="Reserved keys used in this request: AWS_REGION, _HANDLER",
    ):
        register(
            runtime, "reserved", zip_of(ECHO), environment={"AWS_REGION": "x", "_HANDLER": "y"}
        )
    with pytest.raises(InvalidParameterValueException, match="functionName"):
        register(runtime, "has spaces", zip_of(ECHO))
    with pytest.raises(InvalidParameterValueException, match="Could not unzip"):
        register(runtime, "not-a-zip", b"plain bytes")


def test_code_from_a_zip_file_path(
    runtime: LambdaRuntime, zip_files: Callable[[dict[str, str]], bytes], tmp_path: Path
) -> None:
    package = tmp_path / "function.zip"
    package.write_bytes(
        zip_files({"pkg/__init__.py": "", "pkg/app.py": "def run(event, context):\n    return 7\n"})
    )
    runtime.register(LambdaFunction("from-path", package, "pkg/app.run"))

    assert runtime.invoke("from-path", {}).payload == 7


def test_shutdown_stops_every_worker(tmp_path: Path, zip_of: Callable[[str], bytes]) -> None:
    runtime = LambdaRuntime(tmp_path)
    register(runtime, "busy", zip_of(SLOW), timeout=30)
    idle_pid = runtime.invoke("busy", {}).payload["pid"]
    outcome: list[InvocationResult] = []
    caller = threading.Thread(
        target=lambda: outcome.append(runtime.invoke("busy", {"sleep": 30})), daemon=True
    )
    caller.start()
    time.sleep(0.2)

    runtime.shutdown()
    caller.join(timeout=5)

    assert not caller.is_alive()
    assert not _alive(idle_pid)
    assert outcome[0].error is not None and outcome[0].error.type == "Runtime.ExitError"
    with pytest.raises(RuntimeError, match="shut down"):
        runtime.invoke("busy", {})


def _alive(pid: int) -> bool:
    """Whether a process (not a reaped zombie) with this pid exists."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return status != "Z"


def test_an_event_json_cannot_hold_is_refused_before_a_worker_is_used(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    register(runtime, "strict", zip_of(SLOW))
    pid = runtime.invoke("strict", {}).payload["pid"]

    with pytest.raises(TypeError):
        runtime.invoke("strict", {"when": object()})

    assert runtime.invoke("strict", {}).payload["pid"] == pid


def test_the_callers_limit_also_covers_a_slow_init(
    runtime: LambdaRuntime, zip_of: Callable[[str], bytes]
) -> None:
    slow_import = "import time\ntime.sleep(5)\ndef handler(event, context):\n    return 1\n"
    register(runtime, "slow-init", zip_of(slow_import), timeout=30)
    started = time.monotonic()

    with pytest.raises(CallerTimeout):
        runtime.invoke("slow-init", {}, wait_seconds=0.3)

    assert time.monotonic() - started < 2
    assert "The caller stopped waiting after 0.30 seconds" in log_of(runtime, "slow-init")
