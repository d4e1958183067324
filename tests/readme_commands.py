"""The README's shell commands, and the AWS CLI they are run with in the tests.

The CLI is the project's pinned one (`make awscli-venv`, which `make test` runs), never whatever
`aws` the machine has on its PATH.
"""

from __future__ import annotations

import re

from localcloud.constants import REPO_ROOT

AWS_CLI = REPO_ROOT / ".venv-awscli" / "bin" / "aws"


def readme_blocks(section: str) -> list[str]:
    """The bash blocks of one README section (from its heading to the next), in order."""
    text = (REPO_ROOT / "README.md").read_text()
    body = text[text.index(section) :].split("\n### ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", body, re.DOTALL)
