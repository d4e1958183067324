"""batch_scoring: which uploads are scored, where their predictions land, what the jobs are
called and how the topic's subject is kept to what SNS takes. Plain functions, no AWS."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from batch_scoring import (
    BatchInput,
    ignored_because,
    is_batch_job_of,
    sns_subject,
    split_s3_uri,
    transform_job_name,
)
from tests.lambdas.iam_policy import ACCOUNT, REGION
from tests.templates.conftest import iam_matches

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
EVENT_ID = "17793124-05d4-b198-2fde-7ededc63b103"
LONGEST_PROJECT = "a" + "b" * 23  # the prep template's ProjectName allows 24 characters


@pytest.mark.parametrize(
    ("key", "output_path", "output_key"),
    [
        ("batch/input/records.csv", "s3://data/batch/output", "batch/output/records.csv.out"),
        ("batch/input/a/b.csv", "s3://data/batch/output/a", "batch/output/a/b.csv.out"),
        ("batch/input/a/b/c", "s3://data/batch/output/a/b", "batch/output/a/b/c.out"),
    ],
)
def test_a_files_predictions_land_under_batch_output_where_it_sat_under_batch_input(
    key, output_path, output_key
):
    # GIVEN an uploaded file WHEN its job's output path is taken
    batch = BatchInput("data", key)
    # THEN the job reads exactly that object and writes <file>.out in the same sub-folders
    assert batch.uri == f"s3://data/{key}"
    assert batch.output_path == output_path
    assert batch.output_key == output_key
    # ... where SageMaker puts <S3OutputPath>/<file name>.out
    assert batch.output_uri == f"{output_path}/{key.rpartition('/')[2]}.out"


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("batch/input/", "folder marker"),
        ("batch/input/a/", "folder marker"),
        ("batch/input/records.csv.out", "ends in .out"),
        ("batch/output/records.csv.out", "not under batch/input/"),
        ("train/train.csv", "not under batch/input/"),
    ],
)
def test_folder_markers_out_files_and_other_prefixes_are_not_scored(key, why):
    assert why in ignored_because(key)


@pytest.mark.parametrize("key", ["batch/input/records.csv", "batch/input/2025/01/x.txt"])
def test_files_under_batch_input_are_scored(key):
    assert ignored_because(key) is None


def test_the_job_name_is_the_events_time_and_id_hash_in_a_fixed_shape_iam_can_name():
    # WHEN the longest project's upload names its job
    name = transform_job_name(LONGEST_PROJECT, NOW, EVENT_ID)
    # THEN it is a valid SageMaker name, the same for the same event, another for another
    assert len(name) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", name)
    assert name.startswith(f"{LONGEST_PROJECT}-batch-20250102-030405-")
    assert transform_job_name(LONGEST_PROJECT, NOW, EVENT_ID) == name
    assert transform_job_name(LONGEST_PROJECT, NOW, EVENT_ID + "x") != name
    # ... which the template's pattern names, and the name check accepts
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/{name}"
    pattern = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/{LONGEST_PROJECT}-batch-"
    assert iam_matches(pattern + "????????-??????-????????", arn)
    assert is_batch_job_of(LONGEST_PROJECT, name)


def test_another_projects_batch_jobs_are_not_this_ones():
    theirs = transform_job_name("abalone-batch", NOW, EVENT_ID)
    assert theirs.startswith("abalone-batch-")  # the rule's prefix lets it through ...
    assert not is_batch_job_of("abalone", theirs)  # ... the shape does not
    assert is_batch_job_of("abalone-batch", theirs)
    assert not is_batch_job_of("abalone", "abalone-batch-20250102-030405-0a1b2c3dX")


def test_the_input_tag_keeps_the_key_in_the_characters_and_length_a_tag_takes():
    assert BatchInput("data", "batch/input/a b.csv").tag() == {
        "Key": "batch-input-key",
        "Value": "batch/input/a b.csv",
    }
    odd = BatchInput("data", "batch/input/(draft), v2;#.csv").tag()["Value"]
    assert odd == "batch/input/_draft__ v2__.csv"
    assert len(BatchInput("data", "batch/input/" + "x" * 900).tag()["Value"]) == 256


def test_the_subject_is_one_line_of_printable_ascii_within_100_characters():
    subject = sns_subject("abalone batch scoring Completed: récoltes\n" + "x" * 200)
    assert subject.startswith("abalone batch scoring Completed: r?coltes x")
    assert len(subject) == 100 and subject.isascii() and subject.isprintable()


def test_s3_uris_split_into_bucket_and_key():
    assert split_s3_uri("s3://data/batch/input/a.csv") == ("data", "batch/input/a.csv")
    for bad in ("s3://data", "s3://data/", "https://data/key", "data/key"):
        with pytest.raises(ValueError, match="is not an s3://"):
            split_s3_uri(bad)
