"""`python -m workbench.cli ARGS`: the same as `spinwb ARGS` (scripts and child processes call it so)."""

import sys

from workbench.cli.main import main

sys.exit(main())
