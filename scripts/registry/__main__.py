"""`python -m scripts.registry`: see scripts/registry/command.py."""

import sys

from scripts.registry.command import main

sys.exit(main())
