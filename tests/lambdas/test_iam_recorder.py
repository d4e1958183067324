"""The recorder's check itself: a call is allowed only when its function's role has a statement
for both the action and the resource ARN built from the call's parameters."""

from __future__ import annotations

import pytest

from tests.lambdas.iam_recorder import Call, denied

ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/"
TAGS = [{"Key": "project", "Value": "demo"}]


def test_a_call_the_role_allows_on_its_own_resource_passes():
    # GIVEN TrainModel starting a job named the way the role names them
    call = Call(
        "train_model",
        "sagemaker",
        "CreateTrainingJob",
        {"TrainingJobName": "demo-0123456-20250102-030405", "Tags": TAGS},
    )
    # WHEN checked THEN nothing is denied (AddTags included)
    assert denied([call]) == []


def test_the_right_action_on_another_resource_is_denied():
    call = Call(
        "train_model",
        "sagemaker",
        "CreateTrainingJob",
        {"TrainingJobName": "demo-v2-0123456-20250102-030405"},
    )

    assert denied([call]) == [
        f"lambdas/train_model: sagemaker.CreateTrainingJob: TrainModelRole does not allow "
        f"sagemaker:CreateTrainingJob on {ARN}demo-v2-0123456-20250102-030405"
    ]


def test_an_action_another_role_has_is_denied_to_this_one():
    call = Call(
        "predict_proxy",
        "sagemaker",
        "CreateTrainingJob",
        {"TrainingJobName": "demo-0123456-20250102-030405"},
    )

    assert len(denied([call])) == 1


def test_a_role_handed_over_needs_pass_role_on_it():
    call = Call(
        "train_model",
        "sagemaker",
        "CreateTrainingJob",
        {
            "TrainingJobName": "demo-0123456-20250102-030405",
            "RoleArn": "arn:aws:iam::123456789012:role/admin",
        },
    )

    assert denied([call]) == [
        "lambdas/train_model: sagemaker.CreateTrainingJob: TrainModelRole does not allow "
        "iam:PassRole on arn:aws:iam::123456789012:role/admin"
    ]


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        ("capture/demo-prod/", True),
        ("capture/demo-dev/AllTraffic/", True),
        ("ground-truth/demo-prod/", True),
        ("capture/demo-v2-prod/", False),  # another project's endpoint in the same bucket
        ("capture/", False),
        ("train/", False),
        (None, False),  # the whole bucket
    ],
)
def test_a_listing_is_checked_against_the_statements_prefix_condition(prefix, allowed):
    params = {"Bucket": "demo-data"} | ({} if prefix is None else {"Prefix": prefix})
    call = Call("ground_truth", "s3", "ListObjectsV2", params)

    assert (denied([call]) == []) is allowed
