"""`python -m pipeline ...` is the `headeval` command."""
import sys

from pipeline.cli import main

sys.exit(main())
