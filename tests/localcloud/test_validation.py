"""Requests checked against botocore's model: AWS's wording, Java patterns, whole-string matches."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.core.validation import InvalidRequest, MalformedRequest, validate


def _problems(service: str, operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(InvalidRequest) as raised:
        validate(service, operation, params)
    return str(raised.value)


def _invoke(**members: Any) -> dict[str, Any]:
    return {"EndpointName": "abalone-prod", "Body": b"1", **members}


def test_a_valid_request_passes() -> None:
    validate("sagemaker-runtime", "InvokeEndpoint", _invoke(ContentType="text/csv"))
    validate("sagemaker", "DescribeEndpoint", {"EndpointName": "abalone-prod"})


@pytest.mark.parametrize("name", ["abc\n", "abc\ndef", "\nabc", "abc-", "a_b"])
def test_patterns_match_the_whole_name(name: str) -> None:
    message = _problems("sagemaker", "DescribeEndpoint", {"EndpointName": name})
    assert message.startswith("1 validation error detected: ")
    assert "at 'endpointName' failed to satisfy constraint: Member must satisfy regular" in message


def test_every_problem_is_listed_with_its_member_path() -> None:
    message = _problems(
        "sagemaker",
        "CreateTrainingJob",
        {
            "TrainingJobName": "ok",
            "AlgorithmSpecification": {"TrainingInputMode": "Sideways"},
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "OutputDataConfig": {"S3OutputPath": "s3://b/p"},
            "ResourceConfig": {"InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 0},
            "InputDataConfig": [{"ChannelName": "a/b", "DataSource": {}}],
        },
    )
    assert message.startswith("3 validation errors detected: ")
    assert (
        "Value 'Sideways' at 'algorithmSpecification.trainingInputMode' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Pipe, File, FastFile]" in message
    )
    assert (
        "Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1" in message
    )
    assert "Value 'a/b' at 'inputDataConfig.1.member.channelName'" in message


def test_map_keys_and_counts_are_checked() -> None:
    base = {"ModelName": "m", "PrimaryContainer": {"Image": "i"}}
    bad_key = _problems(
        "sagemaker", "CreateModel", {**base, "PrimaryContainer": {"Environment": {"1X": "v"}}}
    )
    assert "at 'primaryContainer.environment' failed to satisfy constraint: Map keys must" in (
        bad_key
    )
    many = {f"V{n}": "v" for n in range(101)}
    too_many = _problems(
        "sagemaker", "CreateModel", {**base, "PrimaryContainer": {"Environment": many}}
    )
    assert "Member must have length less than or equal to 100" in too_many


def test_javas_ascii_classes_are_ascii_only() -> None:
    # \p{ASCII} (Java) on Content-Type, \p{Print} on InferenceId: non-ASCII text is refused
    message = _problems("sagemaker-runtime", "InvokeEndpoint", _invoke(ContentType="text/csvé"))
    assert "at 'contentType' failed to satisfy constraint" in message
    message = _problems("sagemaker-runtime", "InvokeEndpoint", _invoke(InferenceId="idé"))
    assert "at 'inferenceId' failed to satisfy constraint" in message
    validate("sagemaker-runtime", "InvokeEndpoint", _invoke(InferenceId="id-1"))


def test_javas_surrogate_pair_range_means_supplementary_characters() -> None:
    def table(name: str) -> dict[str, Any]:
        return {
            "FeatureGroupName": "fg",
            "RecordIdentifierFeatureName": "id",
            "EventTimeFeatureName": "t",
            "FeatureDefinitions": [{"FeatureName": "id", "FeatureType": "String"}],
            "OfflineStoreConfig": {
                "S3StorageConfig": {"S3Uri": "s3://b/p"},
                "DataCatalogConfig": {"TableName": name, "Catalog": "c", "Database": "d"},
            },
        }

    validate("sagemaker", "CreateFeatureGroup", table("table \U0001f600"))
    assert "tableName" in _problems("sagemaker", "CreateFeatureGroup", table("table\x01"))


def test_a_sensitive_value_is_not_repeated_in_the_message() -> None:
    secret = "s" * 1025
    message = _problems("sagemaker-runtime", "InvokeEndpoint", _invoke(CustomAttributes=secret))
    assert "Value at 'customAttributes' failed to satisfy constraint" in message
    assert secret not in message


def test_a_member_of_the_wrong_type_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="at 'endpointName': expected a string"):
        validate("sagemaker", "DescribeEndpoint", {"EndpointName": 7})
    with pytest.raises(MalformedRequest, match="expected a integer"):
        validate("sagemaker", "ListEndpoints", {"MaxResults": True})
