"""`python -m scripts.aws_stacks`: the deploy/destroy command line."""

import sys

from scripts.aws_stacks.command import main

sys.exit(main())
