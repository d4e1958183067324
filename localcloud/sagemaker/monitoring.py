"""Model Monitor's schedules: the actions on them, and the executions they run as processing jobs.

A schedule names an endpoint (whose configuration must capture) and a job definition given inline:
the image and program to run, the baseline files, where the report goes. At each scheduled time
(`schedule_expression`; `NOW` once, at creation) an execution collects the capture of the
analysis window (by default the hour before the scheduled time; `StartTimeOffset` and
`EndTimeOffset`, or `DataAnalysisStartTime`/`EndTime` for `NOW`, move it), one processing input
per captured hour folder `<capture>/<endpoint>/<variant>/yyyy/mm/dd/hh/` under the input's
LocalPath, and starts a processing job `model-monitoring-yyyymmddhhmm-<hash>` with the
contract's environment (model-monitor-byoc-contract-inputs; the definition's Environment
wins). The report goes to `<S3Uri>/<endpoint>/<schedule>/yyyy/mm/dd/hh`. A window without
capture fails the execution with "Job inputs had no data", as SageMaker's does; the job's exit
message makes a completed one `CompletedWithViolations`; the metric files the program wrote under
`output/metrics/cloudwatch/` are put into CloudWatch (data-metrics and model-metrics namespaces)
before the execution is shown as ended. A thread looks at the schedules every
`Settings.monitoring_poll_seconds`.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.core.exceptions import AwsError
from localcloud.sagemaker.clients import AwsClients
from localcloud.sagemaker.common import list_page
from localcloud.sagemaker.endpoints import Endpoints
from localcloud.sagemaker.exceptions import ResourceInUse, ValidationException
from localcloud.sagemaker.monitoring_job_definitions import (
    DATA_QUALITY,
    MODEL_QUALITY,
    JobDefinition,
    JobDefinitions,
    MonitoringJob,
)
from localcloud.sagemaker.monitoring_schedule import (
    ENDED,
    MONITORING_SCHEDULE,
    MonitoringExecution,
    MonitoringSchedule,
)
from localcloud.sagemaker.processing_job import ProcessingJob, local_path
from localcloud.sagemaker.processing_jobs import ProcessingJobs
from localcloud.sagemaker.processing_runner import command_of
from localcloud.sagemaker.schedule_expression import ScheduleExpression, parse_offset
from localcloud.sagemaker.storage import S3Storage, StorageError
from localcloud.sagemaker.store import ResourceStore
from localcloud.sagemaker.tags import TagStore

LOG = logging.getLogger("localcloud.sagemaker")
CAPTURE_FORMAT = '{"sagemakerCaptureJson":{"captureIndexNames":["endpointInput","endpointOutput"]}}'
NO_DATA = "Job inputs had no data"
BASELINE_DIR = PurePosixPath("/opt/ml/processing/baseline")
GROUND_TRUTH_DIR = PurePosixPath("/opt/ml/processing/groundtruth")
JOB_PREFIXES = {DATA_QUALITY: "model-monitoring", MODEL_QUALITY: "model-quality-monitoring"}
DEFAULT_WINDOW = (timedelta(hours=-1), timedelta(0))  # the hour before the scheduled time
MAX_WINDOW = timedelta(hours=24)
ISO = "%Y-%m-%dT%H:%M:%SZ"
HOUR_PATH = "%Y/%m/%d/%H"
# The metric files a monitoring program writes, and the namespace SageMaker puts each into.
METRIC_NAMESPACES = {
    "data-metrics.json": "aws/sagemaker/Endpoints/data-metrics",
    "model-metrics.json": "aws/sagemaker/Endpoints/model-metrics",
}
METRICS_PER_CALL = 20
EXECUTION_SORT_KEYS = {
    "CreationTime": "CreationTime",
    "ScheduledTime": "ScheduledTime",
    "Status": "MonitoringExecutionStatus",
}


class _NoData(Exception):
    """No capture in the window: the execution fails without a job."""


def _ceil_second(moment: datetime) -> datetime:
    """The moment rounded up to a whole second."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """The whole UTC hours overlapping [start, end)."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield hour
        hour += timedelta(hours=1)


class MonitoringSchedules:
    """Every monitoring schedule of this local SageMaker, and the thread that runs them."""

    def __init__(
        self,
        lock: threading.RLock,
        tags: TagStore,
        processing_jobs: ProcessingJobs,
        definitions: JobDefinitions,
        endpoints: Endpoints,
        storage: S3Storage,
        clients: AwsClients,
        poll_seconds: float,
    ) -> None:
        self._lock = lock
        self._processing_jobs = processing_jobs
        self._definitions = definitions
        self._endpoints = endpoints
        self._storage = storage
        self._clients = clients
        self._poll_seconds = poll_seconds
        self.store: ResourceStore[MonitoringSchedule] = ResourceStore(
            MONITORING_SCHEDULE, lock, tags
        )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the actions -----------------------------------------------------------------------
    def create(self, params: dict[str, Any]) -> MonitoringSchedule:
        """CreateMonitoringSchedule: checked, stored, its first run planned (NOW: started)."""
        config = params["MonitoringScheduleConfig"]
        expression, job = self._checked(config)
        schedule = MonitoringSchedule(
            params["MonitoringScheduleName"],
            copy.deepcopy(config),
            expression,
            job.endpoint_input["EndpointName"],
            job.monitoring_type,
            job.definition_name,
        )
        self.store.add(schedule, params.get("Tags", []))
        self._plan(schedule)
        return schedule

    def update(self, params: dict[str, Any]) -> MonitoringSchedule:
        """UpdateMonitoringSchedule: a new configuration, its next run planned again."""
        schedule = self.store.get(params["MonitoringScheduleName"])
        config = params["MonitoringScheduleConfig"]
        expression, job = self._checked(config)
        with self._lock:
            schedule.config, schedule.expression = copy.deepcopy(config), expression
            schedule.endpoint = job.endpoint_input["EndpointName"]
            schedule.monitoring_type, schedule.definition_name = (
                job.monitoring_type,
                job.definition_name,
            )
            schedule.modified = datetime.now(UTC).timestamp()
        self._plan(schedule)
        return schedule

    def delete(self, name: str) -> None:
        """DeleteMonitoringSchedule: no further runs; a running execution's job goes on."""
        self.store.remove(name)

    def start(self, name: str) -> None:
        """StartMonitoringSchedule: Scheduled again, the next run planned from now."""
        schedule = self.store.get(name)
        with self._lock:
            if schedule.status == "Scheduled":
                return
            schedule.status = "Scheduled"
            schedule.modified = datetime.now(UTC).timestamp()
        self._plan(schedule)

    def stop(self, name: str) -> None:
        """StopMonitoringSchedule: Stopped, no further runs."""
        schedule = self.store.get(name)
        with self._lock:
            schedule.status, schedule.next_run = "Stopped", None
            schedule.modified = datetime.now(UTC).timestamp()

    def create_definition(self, monitoring_type: str, params: dict[str, Any]) -> JobDefinition:
        """Create{Data,Model}QualityJobDefinition: checked as a schedule's job would be."""
        definition = JobDefinition(params["JobDefinitionName"], monitoring_type, params)
        check_job(definition.job(), self._endpoints)
        return self._definitions.stores[monitoring_type].add(definition, params.get("Tags", []))

    def delete_definition(self, monitoring_type: str, name: str) -> None:
        """Delete{Data,Model}QualityJobDefinition, unless a schedule runs it."""
        definition = self._definitions.stores[monitoring_type].get(name)
        with self._lock:
            users = [
                s.name
                for s in self.store.all()
                if (s.monitoring_type, s.definition_name) == (monitoring_type, name)
            ]
            if users:
                raise ResourceInUse(
                    f"Job definition {definition.arn} is used by monitoring schedule {users[0]}: "
                    "delete the schedule first"
                )
            self._definitions.stores[monitoring_type].remove(name)

    def list_schedules(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListMonitoringSchedules, with its endpoint, type and job definition filters."""
        with self._lock:
            summaries = [s.summary() for s in self.store.all()]
        summaries = self._filtered(summaries, params)
        items, token = list_page(
            summaries,
            params,
            name_key=MONITORING_SCHEDULE.name_key,
            status_key=MONITORING_SCHEDULE.status_key,
            sort_keys=MONITORING_SCHEDULE.sort_keys,
        )
        return {"MonitoringScheduleSummaries": items, **({"NextToken": token} if token else {})}

    def list_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListMonitoringExecutions across the schedules, newest first by default."""
        with self._lock:
            summaries = [e.summary() for s in self.store.all() for e in s.executions]
        if name := params.get("MonitoringScheduleName"):
            summaries = [s for s in summaries if s["MonitoringScheduleName"] == name]
        summaries = self._filtered(summaries, params)
        for bound, keep in (
            ("ScheduledTimeAfter", float.__gt__),
            ("ScheduledTimeBefore", float.__lt__),
        ):
            if bound in params:
                limit = float(params[bound])
                summaries = [s for s in summaries if keep(float(s["ScheduledTime"]), limit)]
        items, token = list_page(
            summaries,
            {"SortBy": "ScheduledTime", **params},
            name_key="MonitoringScheduleName",
            status_key="MonitoringExecutionStatus",
            sort_keys=EXECUTION_SORT_KEYS,
        )
        return {"MonitoringExecutionSummaries": items, **({"NextToken": token} if token else {})}

    @staticmethod
    def _filtered(summaries: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
        """By EndpointName, MonitoringTypeEquals and MonitoringJobDefinitionName."""
        for param, key in (
            ("EndpointName", "EndpointName"),
            ("MonitoringTypeEquals", "MonitoringType"),
            ("MonitoringJobDefinitionName", "MonitoringJobDefinitionName"),
        ):
            if param in params:
                summaries = [s for s in summaries if s.get(key) == params[param]]
        return summaries

    def shutdown(self) -> None:
        """Stop the scheduling thread (running jobs are the processing jobs' to stop)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    # --- checks ----------------------------------------------------------------------------
    def job_of(self, config: dict[str, Any]) -> MonitoringJob:
        """The job a schedule's configuration runs: its inline definition, or the named one."""
        monitoring_type = config.get("MonitoringType", DATA_QUALITY)
        if "MonitoringJobDefinition" in config:
            if "MonitoringJobDefinitionName" in config or monitoring_type != DATA_QUALITY:
                raise ValidationException(
                    "An inline MonitoringJobDefinition is a DataQuality job: give a "
                    "MonitoringJobDefinitionName with MonitoringType for the others"
                )
            return MonitoringJob(DATA_QUALITY, config["MonitoringJobDefinition"])
        if "MonitoringJobDefinitionName" not in config or "MonitoringType" not in config:
            raise ValidationException(
                "MonitoringScheduleConfig needs MonitoringJobDefinition, or "
                "MonitoringJobDefinitionName and MonitoringType"
            )
        store = self._definitions.stores[monitoring_type]
        return store.get(config["MonitoringJobDefinitionName"]).job()

    def _checked(self, config: dict[str, Any]) -> tuple[ScheduleExpression, MonitoringJob]:
        """Refuse a configuration no execution could run, before anything is stored."""
        job = self.job_of(config)
        schedule_config = config["ScheduleConfig"]
        expression = ScheduleExpression.parse(schedule_config["ScheduleExpression"])
        bounds = [
            k for k in ("DataAnalysisStartTime", "DataAnalysisEndTime") if k in schedule_config
        ]
        if expression.once:
            if len(bounds) < 2:
                raise ValidationException(
                    "ScheduleConfig.DataAnalysisStartTime and DataAnalysisEndTime are required "
                    "when ScheduleExpression is NOW (offsets such as -PT1H and -PT0H)"
                )
            start, end = self._window(config, expression, job)
            if not start < end or end - start > MAX_WINDOW:
                raise ValidationException(
                    "The analysis window of a NOW schedule must start before it ends and last "
                    "24 hours at most"
                )
        elif bounds:
            raise ValidationException(
                f"ScheduleConfig.{bounds[0]} is for ScheduleExpression NOW only: a recurring "
                "schedule takes its window from the endpoint input's StartTimeOffset and "
                "EndTimeOffset"
            )
        else:
            self._window(config, expression, job)
        check_job(job, self._endpoints)
        return expression, job

    @staticmethod
    def _window(
        config: dict[str, Any], expression: ScheduleExpression, job: MonitoringJob
    ) -> tuple[timedelta, timedelta]:
        """(start, end) of the analysis window, as offsets from the scheduled time."""
        if expression.once:
            schedule_config = config["ScheduleConfig"]
            return (
                parse_offset(schedule_config["DataAnalysisStartTime"], "DataAnalysisStartTime"),
                parse_offset(schedule_config["DataAnalysisEndTime"], "DataAnalysisEndTime"),
            )
        start = job.endpoint_input.get("StartTimeOffset")
        end = job.endpoint_input.get("EndTimeOffset")
        window = (
            DEFAULT_WINDOW[0] if start is None else parse_offset(start, "StartTimeOffset"),
            DEFAULT_WINDOW[1] if end is None else parse_offset(end, "EndTimeOffset"),
        )
        if not window[0] < window[1]:
            raise ValidationException("StartTimeOffset must come before EndTimeOffset")
        return window

    # --- running ---------------------------------------------------------------------------
    def _plan(self, schedule: MonitoringSchedule) -> None:
        """Set the next run; NOW runs at once. Starts the scheduling thread on first use."""
        now = datetime.now(UTC)
        with self._lock:
            if schedule.status != "Scheduled":
                return
            schedule.next_run = (
                None if schedule.expression.once else schedule.expression.next_after(now)
            )
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="monitoring-schedules", daemon=True
                )
                self._thread.start()
        if schedule.expression.once:
            self._execute(schedule, now)

    def _loop(self) -> None:
        while not self._stopping.wait(self._poll_seconds):
            now = datetime.now(UTC)
            with self._lock:
                due = [
                    (s, s.next_run)
                    for s in self.store.all()
                    if s.status == "Scheduled" and s.next_run is not None and s.next_run <= now
                ]
                for schedule, _ in due:
                    schedule.next_run = schedule.expression.next_after(now)
            for schedule, scheduled in due:
                self._execute(schedule, scheduled)

    def _execute(self, schedule: MonitoringSchedule, scheduled: datetime) -> None:
        """One execution: its processing job started, or Failed at once with the reason."""
        execution = MonitoringExecution(
            schedule.name,
            schedule.endpoint,
            schedule.monitoring_type,
            schedule.definition_name,
            scheduled,
        )
        with self._lock:
            schedule.executions.append(execution)
        try:
            request = self._job_request(schedule, scheduled)
            job = self._processing_jobs.create(
                request, schedule.arn, on_end=lambda job: self._ended(execution, job)
            )
        except _NoData:
            with self._lock:
                execution.end("Failed", NO_DATA)
            return
        except (AwsError, StorageError) as error:
            reason = error.message if isinstance(error, AwsError) else str(error)
            with self._lock:
                execution.end("Failed", reason)
            return
        with self._lock:
            execution.processing_job_arn = job.arn
            if execution.status not in ENDED:
                execution.end("InProgress")

    def _job_request(self, schedule: MonitoringSchedule, scheduled: datetime) -> dict[str, Any]:
        """The CreateProcessingJob request of one execution; _NoData when nothing was captured."""
        job = self.job_of(schedule.config)  # again: a named definition may be gone since
        definition, endpoint_input = job.definition, job.endpoint_input
        endpoint = self._endpoints.store.get(endpoint_input["EndpointName"])
        capture = endpoint.config.capture
        if capture is None:
            raise ValidationException(f"Endpoint {endpoint.name} does not capture data")
        start_offset, end_offset = self._window(schedule.config, schedule.expression, job)
        start, end = scheduled + start_offset, scheduled + end_offset
        source = PurePosixPath(endpoint_input["LocalPath"])
        inputs = []
        for variant_uri in self._storage.folders(f"{capture.destination}/{endpoint.name}"):
            variant = variant_uri.rstrip("/").rsplit("/", 1)[1]
            local = source / endpoint.name / variant
            inputs += self._hour_inputs("endpoint_input", variant_uri, local, start, end)
        if not inputs:
            raise _NoData
        labels = []
        if job.ground_truth_uri is not None:
            uri = job.ground_truth_uri.rstrip("/") + "/"
            labels = self._hour_inputs("groundtruth_input", uri, GROUND_TRUTH_DIR, start, end)
            if not labels:
                raise _NoData
        (output,) = definition["MonitoringOutputConfig"]["MonitoringOutputs"]
        environment = {
            "dataset_format": CAPTURE_FORMAT,
            "dataset_source": str(source),
            "output_path": output["S3Output"]["LocalPath"],
            "publish_cloudwatch_metrics": "Enabled",
            "sagemaker_endpoint_name": endpoint.name,
            "sagemaker_monitoring_schedule_name": schedule.name,
            "sagemaker_endpoint_datacapture_prefix": f"{capture.destination}/{endpoint.name}",
            "start_time": start.strftime(ISO),
            # inferenceTime has whole seconds: a record in the window's last second is inside
            "end_time": _ceil_second(end).strftime(ISO),
            "metric_time": scheduled.strftime(ISO),
        }
        for member, variable in (
            ("InferenceAttribute", "inference_attribute"),
            ("ExcludeFeaturesAttribute", "exclude_features_attribute"),
        ):
            if member in endpoint_input:
                environment[variable] = endpoint_input[member]
        baseline = definition.get("BaselineConfig", {})
        for resource, kind, variable in (
            ("StatisticsResource", "stats", "baseline_statistics"),
            ("ConstraintsResource", "constraints", "baseline_constraints"),
        ):
            if uri := baseline.get(resource, {}).get("S3Uri"):
                folder = BASELINE_DIR / kind
                inputs.append(_s3_input(f"baseline_{kind}", uri, str(folder)))
                environment[variable] = str(folder / uri.rstrip("/").rsplit("/", 1)[1])
        if job.monitoring_type == MODEL_QUALITY:
            environment.update(
                analysis_type="MODEL_QUALITY",
                problem_type=job.problem_type or "Regression",
                ground_truth_source=str(GROUND_TRUTH_DIR),
            )
            inputs += labels
        environment.update(definition.get("Environment", {}))
        output_config = definition["MonitoringOutputConfig"]
        report_uri = (
            f"{output['S3Output']['S3Uri'].rstrip('/')}/{endpoint.name}/{schedule.name}/"
            f"{scheduled.strftime(HOUR_PATH)}"
        )
        app = definition["MonitoringAppSpecification"]
        return {
            "ProcessingJobName": (
                f"{JOB_PREFIXES[job.monitoring_type]}-{scheduled:%Y%m%d%H%M}-{uuid.uuid4().hex[:24]}"
            ),
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "monitoring_output",
                        "S3Output": {**output["S3Output"], "S3Uri": report_uri},
                    }
                ],
                **({"KmsKeyId": output_config["KmsKeyId"]} if "KmsKeyId" in output_config else {}),
            },
            "ProcessingResources": copy.deepcopy(definition["MonitoringResources"]),
            "StoppingCondition": copy.deepcopy(
                definition.get("StoppingCondition", {"MaxRuntimeInSeconds": 3600})
            ),
            "AppSpecification": {
                key: copy.deepcopy(app[key])
                for key in ("ImageUri", "ContainerEntrypoint", "ContainerArguments")
                if key in app
            },
            "Environment": environment,
            "RoleArn": definition["RoleArn"],
        }

    def _hour_inputs(
        self, name: str, uri: str, local: PurePosixPath, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """One input per hour folder `<uri>yyyy/mm/dd/hh/` of the window that holds objects."""
        inputs = []
        for hour in _hours(start, end):
            folder = f"{uri}{hour.strftime(HOUR_PATH)}/"
            if self._storage.has_objects(folder):
                path = str(local / hour.strftime(HOUR_PATH))
                inputs.append(_s3_input(f"{name}_{len(inputs) + 1}", folder, path))
        return inputs

    def _ended(self, execution: MonitoringExecution, job: ProcessingJob) -> None:
        """The execution's status from its job's; the job's metrics put into CloudWatch first."""
        status, reason = job.status, None
        if status == "Completed":
            if (job.exit_message or "").startswith("CompletedWithViolations"):
                status = "CompletedWithViolations"
            self._publish_metrics(job)
        elif status == "Failed":
            reason = job.exit_message or job.failure_reason
        with self._lock:
            execution.end(status, reason)

    def _publish_metrics(self, job: ProcessingJob) -> None:
        folder = job.base_dir / "output" / "metrics" / "cloudwatch"
        cloudwatch = self._clients.client("cloudwatch")
        for name, namespace in METRIC_NAMESPACES.items():
            path = folder / name
            if not path.is_file():
                continue
            data = [_datum(json.loads(line)) for line in path.read_text().splitlines() if line]
            try:
                for index in range(0, len(data), METRICS_PER_CALL):
                    chunk = data[index : index + METRICS_PER_CALL]
                    cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
            except (ClientError, BotoCoreError) as error:
                LOG.warning(
                    "monitoring job %s: its metrics were not published: %s", job.name, error
                )


def check_job(job: MonitoringJob, endpoints: Endpoints) -> None:
    """Refuse a job no execution could run: its endpoint must capture, its program and paths
    be ones a processing job takes."""
    endpoint = endpoints.store.get(job.endpoint_input["EndpointName"])
    if endpoint.config.capture is None:
        raise ValidationException(
            f"Endpoint {endpoint.name} does not capture data: its configuration "
            f"{endpoint.config.name} needs a DataCaptureConfig with EnableCapture"
        )
    command_of(job.definition["MonitoringAppSpecification"])
    base = Path("/opt/ml")  # only checks the paths
    local_path(base, job.endpoint_input["LocalPath"], "EndpointInput.LocalPath")
    (output,) = job.definition["MonitoringOutputConfig"]["MonitoringOutputs"]
    local_path(base, output["S3Output"]["LocalPath"], "MonitoringOutputs.S3Output.LocalPath")


def _s3_input(name: str, uri: str, local: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def _datum(line: dict[str, Any]) -> dict[str, Any]:
    """A metric file's line as PutMetricData takes it (the Timestamp parsed)."""
    datum = dict(line)
    datum["Timestamp"] = datetime.strptime(line["Timestamp"], ISO).replace(tzinfo=UTC)
    return datum
