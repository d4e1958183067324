"""Debugger's hook and system monitor through boto3, as SageMaker runs them for a BYO container.

A probe image stands in for a container using smdebug: its `train` reads the hook configuration
SageMaker wrote for it, writes a collection file under LocalPath, and keeps a core busy for a
couple of seconds, so the upload to debug-output and the CPU records have something to show.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.sagemaker.conftest import BUCKET, REGISTRY, Cloud, error_of, unique

PROBE_IMAGE = f"{REGISTRY}/debugger-probe:test"
PROBE_TRAIN = """\
import json, os, pathlib, time

if "SMDEBUG_CONFIG_FILE_PATH" in os.environ:
    config = json.loads(pathlib.Path(os.environ["SMDEBUG_CONFIG_FILE_PATH"]).read_text())
    collections = pathlib.Path(config["LocalPath"]) / "collections" / "000000000"
    collections.mkdir(parents=True)
    names = [c["CollectionName"] for c in config["CollectionConfigurations"]]
    (collections / "worker_0_collections.json").write_text(json.dumps(names))
deadline = time.monotonic() + 2.0
while time.monotonic() < deadline:  # busy: the system monitor sees a core working
    pass
"""
HOOK = {
    "S3OutputPath": f"s3://{BUCKET}/debugger",
    "HookParameters": {"save_interval": "2"},
    "CollectionConfigurations": [
        {"CollectionName": "losses"},
        {"CollectionName": "weights", "CollectionParameters": {"save_interval": "5"}},
    ],
}
PROFILER = {"S3OutputPath": f"s3://{BUCKET}/profiler", "ProfilingIntervalInMilliseconds": 100}
RECORD_KEYS = {"Type", "Name", "Dimension", "Value", "NodeId", "Timestamp"}
METRICS_FILE = re.compile(r"/profiler-output/system/incremental/(\d{10})/(\d{10})\.algo-1\.json$")


@pytest.fixture(scope="module")
def probe_request(cloud: Cloud) -> Any:
    """CreateTrainingJob requests for the probe image (its snapshot made once)."""
    train = cloud.state_dir / "images" / "debugger-probe" / "test" / "bin" / "train"
    train.parent.mkdir(parents=True, exist_ok=True)
    train.write_text(PROBE_TRAIN)

    def request(name: str, **overrides: Any) -> dict[str, Any]:
        out = cloud.training_job_request(name, **overrides)
        out["AlgorithmSpecification"] = {"TrainingImage": PROBE_IMAGE, "TrainingInputMode": "File"}
        return out

    return request


@pytest.fixture(scope="module")
def debugged_job(cloud: Cloud, probe_request: Any) -> dict[str, Any]:
    """A probe job with the hook and the system monitor on (and empty rule lists)."""
    name = unique("debugged")
    cloud.sagemaker.create_training_job(
        **probe_request(
            name,
            DebugHookConfig=HOOK,
            ProfilerConfig=PROFILER,
            DebugRuleConfigurations=[],
            ProfilerRuleConfigurations=[],
        )
    )
    job = cloud.wait_training_done(name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    return job


def _keys(cloud: Cloud, prefix: str) -> list[str]:
    listed = cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_the_hook_configuration_reaches_the_container_and_its_output_reaches_s3(
    cloud: Cloud, debugged_job: dict[str, Any]
) -> None:
    # GIVEN a job created with DebugHookConfig (LocalPath left to its default)
    name = debugged_job["TrainingJobName"]
    base_dir = cloud.state_dir / "sagemaker" / "training-jobs" / name

    # THEN SageMaker's input/config/debughookconfig.json holds the members, LocalPath defaulted
    # to /opt/ml/output/tensors (the job folder stands for /opt/ml)
    written = json.loads((base_dir / "input" / "config" / "debughookconfig.json").read_text())
    assert written == {
        "S3OutputPath": f"s3://{BUCKET}/debugger/{name}/debug-output",
        "LocalPath": str((base_dir / "output" / "tensors").resolve()),
        "HookParameters": {"save_interval": "2"},
        "CollectionConfigurations": [
            {"CollectionName": "losses", "CollectionParameters": None},
            {"CollectionName": "weights", "CollectionParameters": {"save_interval": "5"}},
        ],
    }
    # AND what the container wrote under LocalPath was uploaded to <S3OutputPath>/<job>/debug-output
    key = f"debugger/{name}/debug-output/collections/000000000/worker_0_collections.json"
    assert _keys(cloud, f"debugger/{name}/") == [key]
    body = cloud.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert json.loads(body) == ["losses", "weights"]
    # AND DescribeTrainingJob echoes both configurations, the profiler's with its defaults
    assert debugged_job["DebugHookConfig"] == HOOK
    assert debugged_job["ProfilerConfig"] == {**PROFILER, "DisableProfiler": False}
    assert debugged_job["ProfilingStatus"] == "Enabled"


def test_the_system_monitor_writes_smdebugs_layout_to_s3(
    cloud: Cloud, debugged_job: dict[str, Any]
) -> None:
    # GIVEN the job ran with ProfilerConfig sampling every 100 ms
    name = debugged_job["TrainingJobName"]

    # THEN its records are in one file per minute, under the UTC hour, named for algo-1
    keys = _keys(cloud, f"profiler/{name}/profiler-output/system/incremental/")
    assert keys
    lines = []
    for key in keys:
        hour, minute = METRICS_FILE.search(key).groups()  # type: ignore[union-attr]
        assert int(minute) % 60 == 0
        assert datetime.fromtimestamp(int(minute), UTC).strftime("%Y%m%d%H") == hour
        body = cloud.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        assert body.endswith("\n")
        lines += [json.loads(line) for line in body.splitlines()]
    # AND every line is one system-monitor record of this node, taken while the job trained
    start = debugged_job["TrainingStartTime"].timestamp()
    end = debugged_job["TrainingEndTime"].timestamp()
    assert all(set(record) == RECORD_KEYS for record in lines)
    assert {record["NodeId"] for record in lines} == {"algo-1"}
    assert all(start - 1 <= record["Timestamp"] <= end + 1 for record in lines)
    cpu = [r for r in lines if r["Type"] == "cpu"]
    assert {r["Dimension"] for r in cpu} == {"CPUUtilization"}
    assert {r["Name"] for r in cpu} == {f"cpu{index}" for index in range(os.cpu_count() or 1)}
    assert all(0 <= r["Value"] <= 100 for r in cpu)
    assert max(r["Value"] for r in cpu) > 0  # the probe kept a core busy for two seconds
    memory = [r for r in lines if r["Type"] == "memory"]
    assert {(r["Name"], r["Dimension"]) for r in memory} == {("MemoryUsedPercent", "Memory")}
    assert all(0 < r["Value"] < 100 for r in memory)
    # AND at most one sample per 100 ms (fewer when the host is busy: a sample waits its turn)
    samples = {r["Timestamp"] for r in memory}
    assert 3 <= len(samples) <= (end - start) * 10 + 3


def test_a_disabled_profiler_writes_nothing_and_says_disabled(
    cloud: Cloud, probe_request: Any
) -> None:
    # GIVEN a job with DisableProfiler=True (the SDK's disable_profiler=True)
    name = unique("unprofiled")
    disabled = {"S3OutputPath": f"s3://{BUCKET}/profiler", "DisableProfiler": True}
    cloud.sagemaker.create_training_job(**probe_request(name, ProfilerConfig=disabled))
    job = cloud.wait_training_done(name)

    # THEN it completes, reports the profiler disabled, and wrote no profiler output
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert (job["ProfilingStatus"], job["ProfilerConfig"]) == ("Disabled", disabled)
    assert "DebugHookConfig" not in job
    assert _keys(cloud, f"profiler/{name}/") == []


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            {"DebugHookConfig": {**HOOK, "LocalPath": "/tmp/tensors"}},
            "DebugHookConfig.LocalPath '/tmp/tensors' cannot be used on the local SageMaker",
        ),
        (
            {"DebugHookConfig": {**HOOK, "LocalPath": "/opt/ml/../../etc"}},
            "must be a folder under /opt/ml (without '..')",
        ),
        (
            {"DebugHookConfig": {**HOOK, "S3OutputPath": "https://example.com/x"}},
            "DebugHookConfig.S3OutputPath: 'https://example.com/x' is not an s3:// URI",
        ),
        (
            {"ProfilerConfig": {"ProfilingIntervalInMilliseconds": 500}},
            "ProfilerConfig.S3OutputPath is required unless ProfilerConfig.DisableProfiler is",
        ),
        (
            {"ProfilerConfig": {**PROFILER, "ProfilingIntervalInMilliseconds": 250}},
            "does not support ProfilerConfig.ProfilingIntervalInMilliseconds=250 on "
            "CreateTrainingJob: SageMaker samples at 100, 200, 500, 1000, 5000 or 60000 ms",
        ),
        (
            {"ProfilerConfig": {**PROFILER, "ProfilingParameters": {"LocalPath": "/opt/ml/p"}}},
            "does not support ProfilerConfig.ProfilingParameters={'LocalPath': '/opt/ml/p'} on "
            "CreateTrainingJob: detailed framework profiling is not implemented",
        ),
        (
            {
                "ProfilerRuleConfigurations": [
                    {"RuleConfigurationName": "ProfilerReport", "RuleEvaluatorImage": "x"}
                ]
            },
            "does not support ProfilerRuleConfigurations=",
        ),
        (
            {
                "DebugRuleConfigurations": [
                    {"RuleConfigurationName": "LossNotDecreasing", "RuleEvaluatorImage": "x"}
                ]
            },
            "Debugger rules run in AWS's rule images",
        ),
    ],
)
def test_debugger_members_the_local_sagemaker_cannot_honour_are_refused(
    cloud: Cloud, members: dict[str, Any], message: str
) -> None:
    name = unique("refused")
    with pytest.raises(ClientError) as excinfo:
        cloud.sagemaker.create_training_job(**cloud.training_job_request(name, **members))
    code, text = error_of(excinfo)
    assert code == "ValidationException"
    assert message in text
    with pytest.raises(ClientError) as missing:
        cloud.sagemaker.describe_training_job(TrainingJobName=name)
    assert error_of(missing)[0] == "ResourceNotFound"
