"""`python -m pipeline ...` is the `headeval` command."""
import sys

from pipeline.cli import console_main

sys.exit(console_main())
