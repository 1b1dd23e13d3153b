"""`headeval demo`: the embedded example, end to end.

The package ships `pipeline/data/demo.yaml` and the 599 records it reads,
`pipeline/data/demo.tfrecord.gz` (scikit-learn's handwritten digits scored by
quick scikit-learn models; `scripts/make_demo_data.py` documents and rebuilds
them; scikit-learn is not needed here). `run_demo` evaluates them with a
MultiHead of three heads (multi-label `properties`, multi-class `digit`,
regression `ink`), overall and per `stroke` slice, for a candidate and a
baseline (the config's `baseline`: models fitted on thin strokes only,
better there, worse overall) in one pass, and prints the report.
"""
import importlib.resources
import os
import pathlib
import shutil
import sys
import tempfile

from pipeline.runtime.runner_args import with_default_runner

DATA_FILES = ("demo.yaml", "demo.tfrecord.gz")
DEFAULT_OUTPUT = "headeval-demo"


class _DemoFiles:
    """The folder holding the demo config and data: the installed package's
    own folder when it is a plain directory, else a temporary copy (a zipped
    install)."""

    def __enter__(self):
        data = importlib.resources.files("pipeline").joinpath("data")
        self._tmp = None
        if isinstance(data, pathlib.Path) and all((data / f).is_file() for f in DATA_FILES):
            return str(data)
        self._tmp = tempfile.mkdtemp(prefix="headeval-demo-")
        for name in DATA_FILES:
            resource = data.joinpath(name)
            if not resource.is_file():
                raise FileNotFoundError(
                    "the demo file pipeline/data/%s is missing from the installed package; "
                    "reinstall headeval (or run scripts/make_demo_data.py in a checkout)" % name)
            with open(os.path.join(self._tmp, name), "wb") as f:
                f.write(resource.read_bytes())
        return self._tmp

    def __exit__(self, *exc):
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        return False


def demo_config_path() -> str:
    """Path of the packaged demo config (a plain-directory install)."""
    return str(importlib.resources.files("pipeline").joinpath("data", "demo.yaml"))


def run_demo(output_dir: str | None = None, beam_argv=None, show: bool = True) -> dict:
    """Runs the demo evaluation and prints its report.

    Args:
      output_dir: where the report goes (metrics.parquet, curves.parquet,
        run.json); default `headeval-demo` under the current folder.
        Replaced if it holds an earlier report.
      beam_argv: Beam pipeline options; without a `--runner`, the in-process
        FnApiRunner.
      show: print the report to stdout.

    Returns:
      The run.json contents (dict).
    """
    from pipeline.config import load_config
    from pipeline.run import run_pipeline

    output_dir = os.path.abspath(output_dir or DEFAULT_OUTPUT)
    beam_argv = with_default_runner(beam_argv)
    with _DemoFiles() as folder:
        config = load_config(os.path.join(folder, "demo.yaml"))
        result = run_pipeline(config, output_dir, overwrite=True, beam_argv=beam_argv)
    if show:
        print("headeval demo: 599 handwritten digits (scikit-learn's load_digits test split)")
        print("config: %s" % demo_config_path())
        print("report: %s" % output_dir)
        show_report(output_dir)
    return result


def show_report(output_dir: str, out=None) -> None:
    """Prints the report as `headeval show` does: the candidate's values
    with the baseline's and the change beside them, the slices where the
    candidate is behind first."""
    # Reading Parquet imports pyarrow and Beam: not at import time, since the
    # CLI imports this module for its defaults (`headeval --help` stays quick).
    from pipeline.report.text import show_text
    out = out or sys.stdout
    out.write(show_text(output_dir))
