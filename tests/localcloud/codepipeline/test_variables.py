"""CodePipeline's variables in action configurations, resolved as CodePipeline does."""

from __future__ import annotations

import pytest

from localcloud.codepipeline.variables import UnresolvedVariable, resolve_configuration

EXECUTION = "5b2a1f0e-0c1d-4e5f-8a9b-0c1d2e3f4a5b"


def test_the_execution_id_and_an_earlier_actions_output_variables_are_filled_in():
    configuration = {
        "FunctionName": "abalone-record-approval",
        "UserParameters": '{"execution_id": "#{codepipeline.PipelineExecutionId}"}',
        "CustomData": "Version #{Register.ModelPackageVersion} passed the gate.",
        "Count": 3,
    }
    resolved = resolve_configuration(
        configuration, EXECUTION, {"Register": {"ModelPackageVersion": "7"}}
    )
    assert resolved == {
        "FunctionName": "abalone-record-approval",
        "UserParameters": f'{{"execution_id": "{EXECUTION}"}}',
        "CustomData": "Version 7 passed the gate.",
        "Count": 3,
    }


def test_a_reference_to_no_variable_fails_naming_it():
    configuration = {"CustomData": "#{Register.ModelPackageVersion} and #{Nope.Thing}"}
    with pytest.raises(UnresolvedVariable) as raised:
        resolve_configuration(configuration, EXECUTION, {"Register": {}})
    assert "#{Nope.Thing}" in str(raised.value)
    assert "#{Register.ModelPackageVersion}" in str(raised.value)
