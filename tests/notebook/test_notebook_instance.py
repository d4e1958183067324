"""The AWS path on the project's notebook instance: what the prep stack's lifecycle configuration
writes and installs is what the walkthrough reads, and its helpers run without the local cloud."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localcloud.cfn import load_template
from notebooks.walkthrough import connect
from tests.conftest import REPO_ROOT

PREP_TEMPLATE = REPO_ROOT / "templates" / "01-prep.yml"
NOTEBOOKS = REPO_ROOT / "notebooks"
# Stand-ins for what only the instance has: ec2-user, and sudo to become it.
STUBS = {
    "chown": "#!/bin/sh\nexit 0\n",
    # Records its arguments, and the script it is given on stdin (`sudo -u ec2-user -i bash -s`).
    "sudo": '#!/bin/sh\necho "$@" >> "$STUB_LOG"\n'
    '[ "$5" = "-s" ] && cat > "$STUB_LOG.stdin"\nexit 0\n',
}


def on_start_script(project: str, stack: str, region: str, source: str = "CodeCommit") -> str:
    """The OnStart script as CloudFormation hands it to the instance (Fn::Sub resolved)."""
    config = load_template(PREP_TEMPLATE)["Resources"]["NotebookLifecycleConfig"]
    (hook,) = config["Properties"]["OnStart"]
    script = hook["Content"]["Fn::Base64"]["Fn::Sub"]
    for name, value in {
        "ProjectName": project,
        "AWS::StackName": stack,
        "AWS::Region": region,
        "AWS::AccountId": "123456789012",
        "SourceProvider": source,
        "GitCloneUrl": "",
    }.items():
        script = script.replace("${" + name + "}", value)
    assert "${" not in script, "a Sub variable the test does not know"
    return script


def run_on_start(tmp_path: Path) -> tuple[Path, str, str]:
    """Run the OnStart script with its SageMaker folder in tmp_path and sudo recorded."""
    home, stubs = tmp_path / "SageMaker", tmp_path / "bin"
    home.mkdir()
    stubs.mkdir()
    for name, body in STUBS.items():
        (stubs / name).write_text(body)
        (stubs / name).chmod(0o755)
    script = on_start_script("demo", "demo-prep", "eu-west-1")
    script = script.replace("home=/home/ec2-user/SageMaker", f"home={home}")
    log = tmp_path / "sudo.log"
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "STUB_LOG": str(log)}
    subprocess.run(["bash", "-c", script], env=env, check=True, timeout=30)
    # The setup runs detached (nohup ... &): wait for the stub to have read all of it.
    stdin = Path(f"{log}.stdin")
    deadline = time.monotonic() + 10
    while "walkthrough ready" not in (stdin.read_text() if stdin.exists() else ""):
        assert time.monotonic() < deadline, "the background setup never reached sudo"
        time.sleep(0.05)
    return home, log.read_text(), stdin.read_text()


def test_the_instance_start_writes_the_stack_names_the_notebook_connects_with(
    tmp_path: Path,
) -> None:
    # GIVEN the prep stack's OnStart script, run as SageMaker runs it at every start
    home, _, _ = run_on_start(tmp_path)
    # WHEN the notebook, in the clone under that folder, connects with STACK_NAME empty
    clone = home / "demo"
    (clone / "notebooks").mkdir(parents=True)
    found = connect.find_project_env(clone)
    assert found == home / connect.PROJECT_ENV
    session, stack = connect.aws_session_and_stack("", found)
    # THEN it reads the pipeline stack the role may describe, in the stack's region
    assert stack == "demo-pipeline"
    assert session.region_name == "eu-west-1"


def test_the_instance_start_pulls_the_walkthrough_and_installs_the_pins_in_the_background(
    tmp_path: Path,
) -> None:
    _, sudo_calls, setup = run_on_start(tmp_path)
    # THEN the long part runs detached as ec2-user (SageMaker stops a start after 5 minutes)
    assert "-u ec2-user -i bash -s -- CodeCommit " in sudo_calls  # the source, then GitCloneUrl
    assert "CodeCommit) cd demo && git pull --ff-only origin main" in setup
    # AND with the S3 source it unpacks the zip make push-code uploaded to the data bucket
    assert "zip=s3://demo-data-123456789012-eu-west-1/pipeline/model-code.zip" in setup, (
        "the pipeline stack's data bucket, named as templates/02-pipeline.yml names it"
    )
    assert "source /home/ec2-user/anaconda3/bin/activate python3" in setup
    assert "pip install --quiet -r notebooks/requirements.txt" in setup
    # AND the clone's own modules (pipeline_data) become importable in that environment
    assert "sagemaker-byoc-pipeline.pth" in setup
    # AND the kernel it registers is the one the committed notebook asks for
    kernel = json.loads((NOTEBOOKS / "walkthrough.ipynb").read_text())["metadata"]["kernelspec"]
    assert f"--name {kernel['name']} " in setup
    assert f'--display-name "{kernel["display_name"]}"' in setup
    # AND the background script parses (bash -n)
    assert subprocess.run(["bash", "-n", "-c", setup], check=False).returncode == 0


def pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return dict(line.lower().split("==") for line in lines if "==" in line)


def test_the_instance_gets_the_versions_the_tests_run_the_notebook_with() -> None:
    instance = pins(NOTEBOOKS / "requirements.txt")
    assert instance
    tested = pins(REPO_ROOT / "requirements" / "dev.txt")
    assert {name: tested.get(name) for name in instance} == instance


def test_project_env_without_the_pipeline_stack_name_is_refused(tmp_path: Path) -> None:
    env = tmp_path / connect.PROJECT_ENV
    env.write_text("PROJECT_NAME=demo\nAWS_REGION=eu-west-1\n")
    with pytest.raises(ValueError, match="has no PIPELINE_STACK_NAME: restart the instance"):
        connect.aws_session_and_stack("", env)
    env.write_text("PROJECT_NAME demo\n")
    with pytest.raises(ValueError, match=r"line 1: expected NAME=value, got 'PROJECT_NAME demo'"):
        connect.read_project_env(env)


def test_aws_without_a_stack_name_or_project_env_is_refused() -> None:
    with pytest.raises(ValueError, match="TARGET = 'aws' needs STACK_NAME"):
        connect.aws_session_and_stack("", None)


def test_stack_name_wins_over_project_env(tmp_path: Path) -> None:
    env = tmp_path / connect.PROJECT_ENV
    env.write_text("PIPELINE_STACK_NAME=demo-pipeline\nAWS_REGION=eu-west-1\n")
    assert connect.aws_session_and_stack("other-pipeline", env)[1] == "other-pipeline"


# Imported from the notebook's folder, as its kernel does, with the local cloud unimportable.
WITHOUT_LOCALCLOUD = """
import sys
sys.modules["localcloud"] = None
from walkthrough import aws, connect, data, progress, results
assert not [m for m in sys.modules if m.startswith("localcloud") and sys.modules[m]]
try:
    connect.connect("local")
except RuntimeError as error:
    print(error)
"""


def test_the_aws_path_runs_from_the_notebook_folder_without_the_local_cloud() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_LOCALCLOUD],
        cwd=NOTEBOOKS,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "TARGET = 'local' needs the local cloud, which is not here" in result.stdout
    assert "set TARGET = 'aws'" in result.stdout
