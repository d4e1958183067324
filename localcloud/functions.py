"""The pipeline's Lambda functions as the pipeline template declares them: the one table of them.

Folder, zip key parameter, handler, role and environment are all read from the template's
`AWS::Lambda::Function` resources, so a new function is one resource there and one folder in
`lambdas/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from localcloud.cfn import TemplateError

FUNCTION_TYPE = "AWS::Lambda::Function"
ZIP_PREFIX = "lambdas/"  # where the zips go in the Lambda-code bucket, as the defaults say


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function of the template: `lambdas/<folder>/`, zipped to `<folder>.zip`."""

    logical_id: str
    folder: str
    zip_key_parameter: str
    zip_version_parameter: str | None
    handler: str
    role: str
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def default_zip_key(self) -> str:
        """The S3 key the template's zip key parameter defaults to."""
        return f"{ZIP_PREFIX}{self.folder}.zip"


def _single_ref(value: Any, what: str) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return value["Ref"]
    raise TemplateError(f"{what} must be a !Ref to a parameter, got {value!r}")


def _version_parameter(value: Any, logical_id: str) -> str | None:
    """The parameter `Code.S3ObjectVersion` refers to, directly or through `!If`, if any."""
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        refs = [v["Ref"] for v in value["Fn::If"][1:] if isinstance(v, dict) and "Ref" in v]
        named = [ref for ref in refs if not ref.startswith("AWS::")]
        if len(named) == 1:
            return named[0]
    return _single_ref(value, f"{logical_id}.Code.S3ObjectVersion")


def _role(value: Any, logical_id: str) -> str:
    target = value.get("Fn::GetAtt") if isinstance(value, dict) else None
    if isinstance(target, str):
        target = target.split(".", 1)
    if not isinstance(target, list) or len(target) != 2 or target[1] != "Arn":
        raise TemplateError(f"{logical_id}.Role must be !GetAtt <Role>.Arn, got {value!r}")
    return target[0]


def _spec(template: dict[str, Any], logical_id: str, properties: dict[str, Any]) -> FunctionSpec:
    code = properties["Code"]
    key_parameter = _single_ref(code["S3Key"], f"{logical_id}.Code.S3Key")
    default = template.get("Parameters", {}).get(key_parameter, {}).get("Default")
    key = PurePosixPath(str(default))
    if default is None or str(key.parent) + "/" != ZIP_PREFIX or key.suffix != ".zip":
        raise TemplateError(
            f"parameter {key_parameter} must default to {ZIP_PREFIX}<folder>.zip, got {default!r}"
        )
    return FunctionSpec(
        logical_id=logical_id,
        folder=key.stem,
        zip_key_parameter=key_parameter,
        zip_version_parameter=_version_parameter(code.get("S3ObjectVersion"), logical_id),
        handler=properties["Handler"],
        role=_role(properties["Role"], logical_id),
        environment=properties.get("Environment", {}).get("Variables", {}),
    )


def pipeline_functions(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    """Every Lambda function of a loaded template, by folder name, in template order."""
    specs = [
        _spec(template, logical_id, resource["Properties"])
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == FUNCTION_TYPE
    ]
    return {spec.folder: spec for spec in specs}
