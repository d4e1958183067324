"""The intrinsic-function resolver turns template values into what the created stack holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.cfn import StackContext, TemplateError, load_template, resolve


@pytest.fixture
def context() -> StackContext:
    return StackContext(
        stack_name="abalone-pipeline",
        region="us-east-1",
        account_id="123456789012",
        parameters={"ProjectName": "abalone", "ApprovalEmail": ""},
        physical_ids={"DataBucket": "abalone-data-x1", "TrainFn": "abalone-train"},
        exports={"abalone-prep-LambdaCodeBucketName": "abalone-code-y2"},
        conditions={"HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApprovalEmail"}, ""]}]}},
        get_att=lambda logical_id, attribute: f"{logical_id}.{attribute}!",
    )


def test_ref_resolves_parameters_resources_and_pseudo_parameters(context: StackContext) -> None:
    value = {"a": {"Ref": "ProjectName"}, "b": {"Ref": "DataBucket"}, "c": {"Ref": "AWS::Region"}}
    assert resolve(value, context) == {"a": "abalone", "b": "abalone-data-x1", "c": "us-east-1"}


def test_sub_with_and_without_variables_and_escapes(context: StackContext) -> None:
    assert resolve({"Fn::Sub": "${ProjectName}-dev"}, context) == "abalone-dev"
    assert (
        resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::${DataBucket}/*"}, context)
        == "arn:aws:s3:::abalone-data-x1/*"
    )
    assert resolve(
        {"Fn::Sub": ["${X}:${TrainFn.Arn}", {"X": {"Ref": "ProjectName"}}]}, context
    ) == ("abalone:TrainFn.Arn!")
    assert resolve({"Fn::Sub": "${!Literal}"}, context) == "${Literal}"


def test_import_value_join_select_split(context: StackContext) -> None:
    imported = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-prep-LambdaCodeBucketName"}}
    assert resolve(imported, context) == "abalone-code-y2"
    assert resolve({"Fn::Join": ["/", ["a", {"Ref": "ProjectName"}]]}, context) == "a/abalone"
    assert resolve({"Fn::Select": ["1", {"Fn::Split": [",", "x,y,z"]}]}, context) == "y"


def test_conditions_and_no_value_remove_entries(context: StackContext) -> None:
    value = {
        "Endpoint": {"Fn::If": ["HasEmail", {"Ref": "ApprovalEmail"}, {"Ref": "AWS::NoValue"}]},
        "List": ["keep", {"Ref": "AWS::NoValue"}],
    }
    assert resolve(value, context) == {"List": ["keep"]}


def test_unknown_names_are_named_in_the_error(context: StackContext) -> None:
    with pytest.raises(TemplateError, match="unknown name 'Nope'"):
        resolve({"Ref": "Nope"}, context)
    with pytest.raises(TemplateError, match="no stack exports 'missing'"):
        resolve({"Fn::ImportValue": "missing"}, context)


def test_load_template_turns_short_tags_into_functions(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text(
        "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n"
        "      BucketName: !Sub '${AWS::StackName}-b'\n      Tag: !GetAtt X.Arn\n"
    )
    properties = load_template(path)["Resources"]["B"]["Properties"]
    assert properties == {
        "BucketName": {"Fn::Sub": "${AWS::StackName}-b"},
        "Tag": {"Fn::GetAtt": ["X", "Arn"]},
    }
