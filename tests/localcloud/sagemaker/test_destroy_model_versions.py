"""`make destroy` deletes the project's model versions (CloudFormation cannot delete a group that
still holds versions), and no other project's, against the local SageMaker (moto has no
DeleteModelPackage)."""

from __future__ import annotations

import pytest

from scripts.aws_stacks.destroy import delete_model_versions
from tests.localcloud.sagemaker.conftest import Cloud, unique
from tests.localcloud.sagemaker.test_model_registry import _register


def test_destroy_deletes_every_version_of_the_project_and_only_its(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the project's group with three versions, and a project named like it with one
    project = unique("proj")
    for group in (project, f"{project}-v2"):
        cloud.sagemaker.create_model_package_group(ModelPackageGroupName=group)
    for _ in range(3):
        _register(cloud, project)
    other = _register(cloud, f"{project}-v2")
    # WHEN destroy deletes the model versions
    delete_model_versions(cloud.sagemaker, project)
    # THEN the project's group is empty and can be deleted, the other project's is untouched
    assert "model versions: deleted 3" in capsys.readouterr().out
    listed = cloud.sagemaker.list_model_packages(ModelPackageGroupName=project)
    assert listed["ModelPackageSummaryList"] == []
    cloud.sagemaker.delete_model_package_group(ModelPackageGroupName=project)
    others = cloud.sagemaker.list_model_packages(ModelPackageGroupName=f"{project}-v2")
    assert [s["ModelPackageArn"] for s in others["ModelPackageSummaryList"]] == [other]
    # WHEN destroy runs again on a project whose group is gone THEN it says so and succeeds
    delete_model_versions(cloud.sagemaker, project)
    assert "model versions: none left" in capsys.readouterr().out
