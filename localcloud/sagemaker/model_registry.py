"""The Model Registry: model package groups and their versioned model packages, kept on disk.

A group holds versions 1, 2, ... of one model; a version number is never given twice in a group,
even after a delete (the counters are kept apart from the packages). Every change is written to
`<state>/sagemaker/model-registry.json` before the action answers, so the registry (approvals
included) survives a restart of the local SageMaker on the same state directory.

SageMaker puts a "SageMaker Model Package State Change" event on the default bus when a version
is created and whenever its ModelApprovalStatus changes; `events` is the sink that does it
(`set_sink`: the local cloud connects its bus once the bus exists; events before are dropped).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from localcloud.sagemaker.common import arn, event_time, list_page
from localcloud.sagemaker.exceptions import ConflictException, ValidationException
from localcloud.sagemaker.tags import TagStore

LOG = logging.getLogger("localcloud.sagemaker")
REGISTRY_FILE = "model-registry.json"
APPROVED, PENDING = "Approved", "PendingManualApproval"
EVENT_SOURCE = "aws.sagemaker"
STATE_CHANGE = "SageMaker Model Package State Change"
# CreateModelPackage's members kept as given and shown again by DescribeModelPackage.
KEPT_MEMBERS = (
    "ModelPackageDescription",
    "InferenceSpecification",
    "MetadataProperties",
    "ModelMetrics",
    "DriftCheckBaselines",
    "Domain",
    "Task",
    "SamplePayloadUrl",
)
_ARN_PREFIX = re.compile(r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:[a-z\-]*/")
# (source, detail-type, detail, resources): the local bus's put_event
EventSink = Callable[[str, str, dict[str, Any], Iterable[str]], Any]


@dataclass
class ModelPackageGroup:
    """A CreateModelPackageGroup request as kept."""

    name: str
    description: str | None = None
    created: float = field(default_factory=time.time)

    @property
    def arn(self) -> str:
        """ModelPackageGroupArn."""
        return arn("model-package-group", self.name)

    def summary(self) -> dict[str, Any]:
        """The group's entry in ListModelPackageGroups."""
        out: dict[str, Any] = {
            "ModelPackageGroupName": self.name,
            "ModelPackageGroupArn": self.arn,
            "CreationTime": self.created,
            "ModelPackageGroupStatus": "Completed",
        }
        if self.description is not None:
            out["ModelPackageGroupDescription"] = self.description
        return out

    def describe(self) -> dict[str, Any]:
        """The DescribeModelPackageGroup response (no IAM identity here: CreatedBy is empty)."""
        return {**self.summary(), "CreatedBy": {}}


@dataclass
class ModelPackage:
    """One version of a group: its CreateModelPackage members and its approval."""

    group: str
    version: int
    kept: dict[str, Any]
    approval: str = PENDING
    approval_description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # CustomerMetadataProperties
    created: float = field(default_factory=time.time)
    modified: float = 0.0

    def __post_init__(self) -> None:
        self.modified = self.modified or self.created

    @property
    def arn(self) -> str:
        """ModelPackageArn: `model-package/<lower-cased group>/<version>`."""
        return arn("model-package", f"{self.group}/{self.version}")

    def summary(self) -> dict[str, Any]:
        """The version's entry in ListModelPackages."""
        out: dict[str, Any] = {
            "ModelPackageName": self.group,
            "ModelPackageGroupName": self.group,
            "ModelPackageVersion": self.version,
            "ModelPackageArn": self.arn,
            "CreationTime": self.created,
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": self.approval,
        }
        if "ModelPackageDescription" in self.kept:
            out["ModelPackageDescription"] = self.kept["ModelPackageDescription"]
        return out

    def describe(self) -> dict[str, Any]:
        """The DescribeModelPackage response."""
        out = {
            **self.summary(),
            **self.kept,
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "CertifyForMarketplace": False,
            "LastModifiedTime": self.modified,
        }
        if self.metadata:
            out["CustomerMetadataProperties"] = dict(self.metadata)
        if self.approval_description is not None:
            out["ApprovalDescription"] = self.approval_description
        return out

    def event_detail(self) -> dict[str, Any]:
        """The state-change event's detail: the Describe answer with ISO 8601 times."""
        detail = self.describe()
        for key in ("CreationTime", "LastModifiedTime"):
            detail[key] = event_time(detail[key])
        return detail


def package_not_found(name: str) -> ValidationException:
    """SageMaker's answer for a model package (ARN or name) that does not exist."""
    shown = name if _ARN_PREFIX.match(name) else arn("model-package", name)
    return ValidationException(f"ModelPackage {shown} does not exist.")


def group_not_found(name: str) -> ValidationException:
    """The answer for a model package group that does not exist."""
    return ValidationException(f"ModelPackageGroup {name} does not exist.")


class ModelRegistry:
    """Every group and version of this local SageMaker, written through to the state dir."""

    def __init__(self, directory: Path, lock: threading.RLock, tags: TagStore) -> None:
        self._path = Path(directory) / REGISTRY_FILE
        self._lock = lock
        self._tags = tags
        self._sink: EventSink | None = None
        self._groups: dict[str, ModelPackageGroup] = {}
        self._packages: dict[tuple[str, int], ModelPackage] = {}
        self._last_version: dict[str, int] = {}  # by lower-cased group: never reused
        self._tokens: dict[str, str] = {}  # ClientToken -> ModelPackageArn
        self._load()

    def set_sink(self, sink: EventSink | None) -> None:
        """Where state-change events go from now on (None: dropped)."""
        with self._lock:
            self._sink = sink

    # --- groups -------------------------------------------------------------------------
    def create_group(self, params: dict[str, Any]) -> ModelPackageGroup:
        """CreateModelPackageGroup."""
        group = ModelPackageGroup(
            params["ModelPackageGroupName"], params.get("ModelPackageGroupDescription")
        )
        with self._lock:
            if any(g.arn == group.arn for g in self._groups.values()):
                raise ValidationException(f"Model Package Group already exists: {group.arn}")
            self._tags.open(group.arn, params.get("Tags", []))
            self._groups[group.name] = group
            self._save()
        return group

    def group(self, name_or_arn: str) -> ModelPackageGroup:
        """The group a name or ARN names, or SageMaker's not-found error."""
        with self._lock:
            found = self._find_group(name_or_arn)
        if found is None:
            raise group_not_found(name_or_arn)
        return found

    def delete_group(self, name_or_arn: str) -> None:
        """DeleteModelPackageGroup: refused while the group still has versions."""
        with self._lock:
            group = self.group(name_or_arn)
            left = sorted(v for g, v in self._packages if g == group.name)
            if left:
                raise ConflictException(
                    f"Model Package Group {group.name} cannot be deleted: it still has model "
                    f"package versions {', '.join(map(str, left))}; delete them first"
                )
            del self._groups[group.name]
            self._tags.close(group.arn)
            self._save()

    def list_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListModelPackageGroups (SortOrder defaults to Ascending)."""
        with self._lock:
            summaries = [group.summary() for group in self._groups.values()]
        page, token = list_page(
            summaries,
            {"SortOrder": "Ascending", **params},
            name_key="ModelPackageGroupName",
            status_key=None,
            sort_keys={"Name": "ModelPackageGroupName", "CreationTime": "CreationTime"},
        )
        return {"ModelPackageGroupSummaryList": page, **({"NextToken": token} if token else {})}

    # --- versions -----------------------------------------------------------------------
    def create_package(self, params: dict[str, Any]) -> ModelPackage:
        """CreateModelPackage: the group's next version; a known ClientToken gives its version."""
        if "ModelPackageGroupName" not in params:
            raise ValidationException("Missing ARN.")
        with self._lock:
            token = params.get("ClientToken")
            if token in self._tokens and (known := self._by_arn(self._tokens[token])):
                return known
            group = self._find_group(params["ModelPackageGroupName"])
            if group is None:
                raise ValidationException("Model Package Group does not exist.")
            version = self._last_version.get(group.name.lower(), 0) + 1
            package = ModelPackage(
                group.name,
                version,
                {key: params[key] for key in KEPT_MEMBERS if key in params},
                approval=params.get("ModelApprovalStatus", PENDING),
                metadata=dict(params.get("CustomerMetadataProperties", {})),
            )
            self._tags.open(package.arn, params.get("Tags", []))
            self._packages[(group.name, version)] = package
            self._last_version[group.name.lower()] = version
            if token:
                self._tokens[token] = package.arn
            self._save()
            self._emit(package)
        return package

    def package(self, name_or_arn: str) -> ModelPackage:
        """The version a versioned ARN or `group/version` names, or SageMaker's not-found."""
        with self._lock:
            found = self._by_arn(name_or_arn)
        if found is None:
            raise package_not_found(name_or_arn)
        return found

    def update_package(self, params: dict[str, Any]) -> ModelPackage:
        """UpdateModelPackage: approval, its description, customer metadata; an event when the
        approval status changes."""
        with self._lock:
            package = self.package(params["ModelPackageArn"])
            changed = params.get("ModelApprovalStatus", package.approval) != package.approval
            package.approval = params.get("ModelApprovalStatus", package.approval)
            if "ApprovalDescription" in params:
                package.approval_description = params["ApprovalDescription"]
            package.metadata.update(params.get("CustomerMetadataProperties", {}))
            for key in params.get("CustomerMetadataPropertiesToRemove", []):
                package.metadata.pop(key, None)  # a key it does not have is no error
            package.modified = time.time()
            self._save()
            if changed:
                self._emit(package)
        return package

    def delete_package(self, name_or_arn: str) -> None:
        """DeleteModelPackage: the version goes; its number is not given again."""
        with self._lock:
            package = self.package(name_or_arn)
            del self._packages[(package.group, package.version)]
            self._tags.close(package.arn)
            self._save()

    def list_packages(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListModelPackages: every package here is versioned, so Unversioned (the default
        without a group) lists none; SortOrder defaults to Ascending."""
        group_filter = params.get("ModelPackageGroupName")
        kind = params.get("ModelPackageType", "Versioned" if group_filter else "Unversioned")
        with self._lock:
            group = self._find_group(group_filter) if group_filter else None
            selected = [
                package.summary()
                for package in self._packages.values()
                if kind != "Unversioned"
                and (not group_filter or (group is not None and package.group == group.name))
                and params.get("ModelApprovalStatus") in (None, package.approval)
            ]
        page, token = list_page(
            selected,
            {"SortOrder": "Ascending", **params},
            name_key="ModelPackageName",
            status_key=None,
            sort_keys={"Name": "ModelPackageName", "CreationTime": "CreationTime"},
        )
        return {"ModelPackageSummaryList": page, **({"NextToken": token} if token else {})}

    def approved_container(self, name_or_arn: str) -> dict[str, Any]:
        """The one container an Approved version runs (CreateModel from a package)."""
        package = self.package(name_or_arn)
        if package.approval != APPROVED:
            raise ValidationException(
                f"Model package {package.arn} has ModelApprovalStatus {package.approval}: a "
                f"versioned model package must be {APPROVED} before a model can be created from it"
            )
        containers = package.kept["InferenceSpecification"]["Containers"]
        if len(containers) != 1:
            raise ValidationException(
                f"Model package {package.arn} has {len(containers)} containers: the local "
                "SageMaker runs exactly one container per model"
            )
        return dict(containers[0])

    # --- internals ----------------------------------------------------------------------
    def _find_group(self, name_or_arn: str) -> ModelPackageGroup | None:
        if _ARN_PREFIX.match(name_or_arn):
            return next((g for g in self._groups.values() if g.arn == name_or_arn), None)
        return self._groups.get(name_or_arn)

    def _by_arn(self, name_or_arn: str) -> ModelPackage | None:
        name = _ARN_PREFIX.sub("", name_or_arn, count=1)
        group_name, slash, version = name.rpartition("/")
        if not slash or not version.isdigit():
            return None  # an unversioned name: there are none here
        if name != name_or_arn:  # an ARN: as SageMaker writes it (the group lower-cased)
            return next((p for p in self._packages.values() if p.arn == name_or_arn), None)
        return next(
            (
                package
                for (group, number), package in self._packages.items()
                if group.lower() == group_name.lower() and number == int(version)
            ),
            None,
        )

    def _emit(self, package: ModelPackage) -> None:
        if self._sink is None:
            LOG.info("no event bus yet: dropped the state change of %s", package.arn)
            return
        self._sink(EVENT_SOURCE, STATE_CHANGE, package.event_detail(), [package.arn])

    def _save(self) -> None:
        """Write the whole registry (small) atomically: a crash leaves the old or the new."""
        document = {
            "groups": [asdict(group) for group in self._groups.values()],
            "packages": [asdict(package) for package in self._packages.values()],
            "last_version": self._last_version,
            "client_tokens": self._tokens,
            "tags": {
                resource: self._tags.list(resource, {"MaxResults": 50})["Tags"]
                for resource in [
                    *(g.arn for g in self._groups.values()),
                    *(p.arn for p in self._packages.values()),
                ]
            },
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._path.with_suffix(".partial")
        partial.write_text(json.dumps(document, indent=1))
        partial.replace(self._path)

    def _load(self) -> None:
        if not self._path.is_file():
            return
        document = json.loads(self._path.read_text())
        tags = document.get("tags", {})
        for record in document["groups"]:
            group = ModelPackageGroup(**record)
            self._groups[group.name] = group
            self._tags.open(group.arn, tags.get(group.arn, []))
        for record in document["packages"]:
            package = ModelPackage(**record)
            self._packages[(package.group, package.version)] = package
            self._tags.open(package.arn, tags.get(package.arn, []))
        self._last_version = dict(document["last_version"])
        self._tokens = dict(document["client_tokens"])
