"""The local SageMaker's state: training, processing and transform jobs, models, endpoint configs,
endpoints, monitoring schedules, the model registry, tags."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import boto3

from localcloud.processes import ProcessRegistry
from localcloud.sagemaker.clients import AwsClients
from localcloud.sagemaker.common import Settings
from localcloud.sagemaker.endpoints import Endpoints
from localcloud.sagemaker.hosting import Hosting
from localcloud.sagemaker.layout import StateLayout, read_endpoint_log, read_training_job_log
from localcloud.sagemaker.model_registry import EventSink, ModelRegistry
from localcloud.sagemaker.monitoring import MonitoringSchedules
from localcloud.sagemaker.monitoring_job_definitions import JobDefinitions
from localcloud.sagemaker.processing_jobs import ProcessingJobs
from localcloud.sagemaker.processing_runner import ProcessingRunner
from localcloud.sagemaker.storage import S3Storage
from localcloud.sagemaker.tags import TagStore
from localcloud.sagemaker.training_jobs import TrainingJobs
from localcloud.sagemaker.training_runner import TrainingRunner
from localcloud.sagemaker.transform_jobs import TransformJobs
from localcloud.sagemaker.transform_runner import TransformRunner


class LocalSageMaker:
    """Every resource of one local SageMaker, kept under one state directory.

    `python` runs the images' `bin/train` and `bin/serve`; `settings` holds the timeouts and the
    default number of serve workers; `session` (the cloud's boto3 session, or the ambient
    configuration) reaches S3, CloudWatch Logs and CloudWatch.
    """

    def __init__(
        self,
        state_dir: Path,
        python: str = sys.executable,
        settings: Settings | None = None,
        session: boto3.session.Session | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.settings = settings or Settings()
        self.layout = StateLayout(self.state_dir)
        lock = threading.RLock()
        clients = AwsClients(session)
        storage = S3Storage(clients)
        registry = ProcessRegistry(self.state_dir)
        self.tags = TagStore(lock)
        runner = TrainingRunner(self.layout, storage, python, lock, registry, clients)
        self.training_jobs = TrainingJobs(self.layout, lock, self.tags, runner)
        processing_runner = ProcessingRunner(self.layout, storage, python, lock, registry, clients)
        self.processing_jobs = ProcessingJobs(self.layout, lock, self.tags, processing_runner)
        self.registry = ModelRegistry(self.layout.sagemaker, lock, self.tags)
        self.hosting = Hosting(self.layout, storage, lock, self.tags, self.registry)
        self.endpoints = Endpoints(
            self.layout,
            storage,
            self.hosting,
            python,
            self.settings,
            lock,
            registry,
            self.tags,
            clients,
        )
        transform_runner = TransformRunner(
            self.layout, storage, python, self.settings, lock, registry, clients
        )
        self.transform_jobs = TransformJobs(
            self.layout, lock, self.tags, self.hosting, transform_runner
        )
        self.job_definitions = JobDefinitions(lock, self.tags)
        self.monitoring_schedules = MonitoringSchedules(
            lock,
            self.tags,
            self.processing_jobs,
            self.job_definitions,
            self.endpoints,
            storage,
            clients,
            self.settings.monitoring_poll_seconds,
        )

    def set_event_sink(self, sink: EventSink | None) -> None:
        """Where this SageMaker's EventBridge events go (the local cloud's bus once it runs)."""
        self.registry.set_sink(sink)
        self.transform_jobs.set_sink(sink)

    def training_job_log(self, name: str) -> str:
        """The job's stdout and stderr so far."""
        return read_training_job_log(self.state_dir, name)

    def endpoint_log(self, name: str) -> str:
        """The endpoint's serve logs, oldest deployment first."""
        return read_endpoint_log(self.state_dir, name)

    def shutdown(self) -> None:
        """Stop every training, processing, transform and serve process this SageMaker started."""
        self.monitoring_schedules.shutdown()
        self.endpoints.shutdown()
        self.training_jobs.shutdown()
        self.processing_jobs.shutdown()
        self.transform_jobs.shutdown()
