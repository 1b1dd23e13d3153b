"""setuptools shim for Dataflow's `--setup_file=./setup.py`.

All metadata lives in pyproject.toml (`pip install -e .` does not need this
file). Beam's DataflowRunner builds an sdist of this project with
`python -m build --sdist --no-isolation` or, when `build` is not installed,
`python setup.py sdist`, and stages it as `workflow.tar.gz`; each worker
then runs `pip install workflow.tar.gz`, which installs `heads`, `pipeline`
(with the demo files in pipeline/data/) and the pinned dependencies.
tests/pipeline/runtime/test_dataflow.py builds that sdist, installs it into a fresh virtualenv
and runs `headeval demo` from it.

`python setup.py sdist` runs with whatever setuptools the launching
environment has (no build isolation), so check it can read pyproject.toml's
[project] table (setuptools >= 61) instead of silently building an empty
"UNKNOWN" package that the workers would install without complaint.
"""
import sys

import setuptools

_MIN_SETUPTOOLS = (61, 0)


def _version_tuple(text):
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


if _version_tuple(setuptools.__version__) < _MIN_SETUPTOOLS:
    sys.exit("headeval's setup.py needs setuptools >= %d.%d to read pyproject.toml (this "
             "environment has %s): pip install -U 'setuptools>=68'"
             % (_MIN_SETUPTOOLS + (setuptools.__version__,)))

setuptools.setup()
