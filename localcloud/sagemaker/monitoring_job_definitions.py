"""Data-quality and model-quality job definitions: Create, Describe, Delete and List of each, and
the one shape (`MonitoringJob`) a schedule's executions run, whether defined here or inline.

A schedule names a definition with `MonitoringJobDefinitionName` and `MonitoringType`. A model
quality definition adds the ground truth (`GroundTruthS3Input`, the labels' hour folders) and the
problem type; its baseline is constraints only (the evaluation's metrics).
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from localcloud.sagemaker.common import arn, list_page
from localcloud.sagemaker.exceptions import ResourceInUse, ResourceNotFound
from localcloud.sagemaker.store import Kind, ResourceStore
from localcloud.sagemaker.tags import TagStore

DATA_QUALITY = "DataQuality"
MODEL_QUALITY = "ModelQuality"


def _kind(arn_kind: str, label: str) -> Kind:
    return Kind(
        arn_kind,
        label,
        "MonitoringJobDefinitionName",
        "JobDefinitionSummaries",
        not_found=lambda name: ResourceNotFound(f"Could not find {label} {arn(arn_kind, name)}."),
        taken=lambda name: ResourceInUse(f"Job definition {arn(arn_kind, name)} already exists."),
    )


KINDS = {
    DATA_QUALITY: _kind("data-quality-job-definition", "data quality job definition"),
    MODEL_QUALITY: _kind("model-quality-job-definition", "model quality job definition"),
}
# Each type's own names for the parts of a definition, as the Create action takes them.
PREFIXES = {DATA_QUALITY: "DataQuality", MODEL_QUALITY: "ModelQuality"}


@dataclass(frozen=True)
class MonitoringJob:
    """What one execution runs, in the inline MonitoringJobDefinition's shape, plus what only a
    model-quality definition has."""

    monitoring_type: str
    definition: dict[str, Any]  # BaselineConfig, MonitoringInputs, MonitoringOutputConfig, ...
    definition_name: str | None = None
    ground_truth_uri: str | None = None
    problem_type: str | None = None

    @property
    def endpoint_input(self) -> dict[str, Any]:
        """The one EndpointInput."""
        return self.definition["MonitoringInputs"][0]["EndpointInput"]


@dataclass
class JobDefinition:
    """One stored definition and its request."""

    name: str
    monitoring_type: str
    request: dict[str, Any]
    created: float = field(default_factory=time.time)

    @property
    def arn(self) -> str:
        """JobDefinitionArn."""
        return arn(KINDS[self.monitoring_type].arn_kind, self.name)

    def job(self) -> MonitoringJob:
        """The definition as an execution runs it."""
        prefix = PREFIXES[self.monitoring_type]
        app = copy.deepcopy(self.request[f"{prefix}AppSpecification"])
        environment = app.pop("Environment", {})
        problem_type = app.pop("ProblemType", None)
        job_input = self.request[f"{prefix}JobInput"]
        definition = {
            "MonitoringInputs": [{"EndpointInput": copy.deepcopy(job_input["EndpointInput"])}],
            "MonitoringOutputConfig": copy.deepcopy(self.request[f"{prefix}JobOutputConfig"]),
            "MonitoringResources": copy.deepcopy(self.request["JobResources"]),
            "MonitoringAppSpecification": app,
            "Environment": environment,
            "RoleArn": self.request["RoleArn"],
        }
        if "StoppingCondition" in self.request:
            definition["StoppingCondition"] = copy.deepcopy(self.request["StoppingCondition"])
        if baseline := self.request.get(f"{prefix}BaselineConfig"):
            definition["BaselineConfig"] = copy.deepcopy(baseline)
        ground_truth = job_input.get("GroundTruthS3Input", {}).get("S3Uri")
        return MonitoringJob(
            self.monitoring_type, definition, self.name, ground_truth, problem_type
        )

    def describe(self) -> dict[str, Any]:
        """The Describe*JobDefinition response."""
        shown = {k: copy.deepcopy(v) for k, v in self.request.items() if k != "Tags"}
        return {**shown, "JobDefinitionArn": self.arn, "CreationTime": self.created}

    def summary(self) -> dict[str, Any]:
        """The definition's entry in List*JobDefinitions."""
        return {
            "MonitoringJobDefinitionName": self.name,
            "MonitoringJobDefinitionArn": self.arn,
            "CreationTime": self.created,
            "EndpointName": self.request[f"{PREFIXES[self.monitoring_type]}JobInput"][
                "EndpointInput"
            ]["EndpointName"],
        }


class JobDefinitions:
    """The data-quality and model-quality job definitions, one store per type."""

    def __init__(self, lock: threading.RLock, tags: TagStore) -> None:
        self.stores: dict[str, ResourceStore[JobDefinition]] = {
            kind: ResourceStore(KINDS[kind], lock, tags) for kind in KINDS
        }

    def create(self, monitoring_type: str, params: dict[str, Any]) -> JobDefinition:
        """Create*JobDefinition (the request is checked by the caller's `check`)."""
        definition = JobDefinition(params["JobDefinitionName"], monitoring_type, params)
        return self.stores[monitoring_type].add(definition, params.get("Tags", []))

    def list(self, monitoring_type: str, params: dict[str, Any]) -> dict[str, Any]:
        """List*JobDefinitions, with its EndpointName filter."""
        kind = KINDS[monitoring_type]
        summaries = [d.summary() for d in self.stores[monitoring_type].all()]
        if endpoint := params.get("EndpointName"):
            summaries = [s for s in summaries if s["EndpointName"] == endpoint]
        items, token = list_page(
            summaries, params, name_key=kind.name_key, status_key=None, sort_keys=kind.sort_keys
        )
        return {kind.list_key: items, **({"NextToken": token} if token else {})}
