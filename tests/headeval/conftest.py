"""The demo's report made twice, once a session: by the `headeval run`
command (a subprocess, as a user types it) and by `headeval.evaluate`
(given the config as YAML text, its relative paths read from the current
directory)."""
import os
import subprocess
import sys

import pytest

from pipeline.demo import demo_config_path


@pytest.fixture(scope="session")
def cli_report(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("cli") / "demo")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", demo_config_path(),
                           "--output", out, "--quiet"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def api_report(tmp_path_factory):
    """(folder, the Report evaluate returned)."""
    import headeval

    out = str(tmp_path_factory.mktemp("api") / "demo")
    config = demo_config_path()
    with open(config, encoding="utf-8") as f:
        text = f.read()
    here = os.getcwd()
    os.chdir(os.path.dirname(config))  # `pattern: demo.tfrecord.gz` resolves here
    try:
        report = headeval.evaluate(text, output=out)
    finally:
        os.chdir(here)
    return out, report
