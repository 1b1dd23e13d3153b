"""Google Cloud Dataflow: the driver-side checks and the job-only runs.

`run_pipeline` (pipeline/run.py) calls three things here:

* `check_dataflow_run(config, output, options)` before anything else. With
  the DataflowRunner every path a *worker* opens must be one the workers can
  reach: the input pattern, the model, the tf.Transform output and the report
  folder may not be local paths (a worker would look on its own disk and
  find nothing, or write where nobody reads). The error names the config
  keys and asks for gs:// URIs. A `label_vocabulary: {file: ...}` may stay
  local: `load_config` reads it on the launching machine and its words
  travel inside the config. The workers also need the `heads` and
  `pipeline` packages: without `--setup_file`, `--extra_package` or
  `--sdk_container_image` the job would die at worker start-up with
  ModuleNotFoundError, so that fails here too, naming the checkout's setup.py
  when there is one.
* `builds_job_only(options)`: 'template' for `--template_location` (a
  classic template is written, no job runs) and 'dry_run' for
  `--dry_run=True` (the job is built, not submitted; like Beam, any
  non-empty value counts). Then there is no counts file to read and no
  report to commit: `job_built(...)` says so and returns a small summary
  instead of run.json. A template runs later without this driver, so
  nothing can check its counts or move its report into place: its graph
  writes straight into `output` (metrics.parquet, curves.parquet and
  _counts.json, no run.json; see docs/dataflow.md, "Templates and dry runs").
* `check_finished(result)` after `wait_until_finish()`: a job that ended in
  any state but DONE (cancelled, drained, still running) leaves no report.

Nothing here imports TensorFlow or talks to Google Cloud.
"""
import logging
import os
from typing import List, Optional, Sequence, Tuple

from apache_beam.options.pipeline_options import (GoogleCloudOptions, PipelineOptions,
                                                  SetupOptions, StandardOptions, TestOptions,
                                                  WorkerOptions)
from apache_beam.runners.runner import PipelineResult, PipelineState

from pipeline.config import Config
from pipeline.errors import ConfigError, HeadevalError, JobNotFinishedError
from pipeline.io.paths import is_local

log = logging.getLogger(__name__)

# Runner names Beam resolves to the Dataflow runner ("DataflowRunner",
# "dataflow", a dotted class path, ...), compared lower-case without "runner".
_DATAFLOW_NAMES = ("dataflow", "testdataflow")


def runner_name(options: PipelineOptions) -> Optional[str]:
    """The runner `options` name (a string as given, or a runner object's
    class name), or None when they name none."""
    runner = options.view_as(StandardOptions).runner
    if runner is None:
        return None
    return runner if isinstance(runner, str) else type(runner).__name__


def is_dataflow(options: PipelineOptions) -> bool:
    """True when `options` choose the (Test)DataflowRunner."""
    name = runner_name(options)
    if not name:
        return False
    name = name.rsplit(".", 1)[-1].lower()
    if name.endswith("runner"):
        name = name[:-len("runner")]
    return name in _DATAFLOW_NAMES


def worker_paths(config: Config, output: str) -> List[Tuple[str, str]]:
    """[(what, path)]: every path the workers open, for the config's keys."""
    source = config.source or "the config"
    paths = [("`input.pattern` in %s" % source, config.input.pattern)]
    for key, model in (("model", config.model), ("baseline", config.baseline)):
        if model is not None and model.saved_model is not None:
            paths.append(("`%s.saved_model` in %s" % (key, source), model.saved_model))
    if config.transform is not None:
        paths.append(("`transform.tft_output` in %s" % source, config.transform.tft_output))
    paths.append(("the report folder (--output or `output`)", str(output)))
    return paths


def checkout_setup_file() -> Optional[str]:
    """The setup.py of the checkout this package runs from, or None (an
    installed package has none)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # pipeline/
    path = os.path.join(os.path.dirname(package), "setup.py")
    return path if os.path.isfile(path) else None


def _ships_code(options):
    setup = options.view_as(SetupOptions)
    worker = options.view_as(WorkerOptions)
    image = worker.sdk_container_image or getattr(worker, "worker_harness_container_image", None)
    return bool(setup.setup_file or setup.extra_packages or image)


def check_dataflow_run(config: Config, output: str, options: PipelineOptions) -> None:
    """With the DataflowRunner: raises ConfigError for local paths the
    workers would need, and HeadevalError when nothing ships our code to
    the workers. Does nothing for other runners."""
    if not is_dataflow(options):
        return
    local = [(what, path) for what, path in worker_paths(config, output)
             if is_local(path)]
    if local:
        lines = "\n".join("  %s: %s" % item for item in local)
        raise ConfigError(
            "the DataflowRunner's workers cannot read or write files on this machine; copy "
            "these to Cloud Storage (gcloud storage cp -r PATH gs://BUCKET/...) and give their "
            "gs:// URIs, the report folder too (e.g. --output=gs://BUCKET/reports/NAME):\n%s"
            % lines, config.source, None)
    if not _ships_code(options):
        setup = checkout_setup_file()
        hint = ("--setup_file=%s" % setup) if setup else "--setup_file=PATH/TO/headeval/setup.py"
        raise HeadevalError(
            "the Dataflow workers need the headeval code (the `heads` and `pipeline` "
            "packages): pass %s (Beam builds and stages an sdist of it), "
            "--extra_package=headeval-X.tar.gz, or --sdk_container_image=IMAGE with headeval "
            "installed (containers/README.md)" % hint)


def builds_job_only(options: PipelineOptions) -> Optional[str]:
    """'template' (--template_location) or 'dry_run' (--dry_run) when running
    the pipeline with these options only builds the Dataflow job; else None."""
    if not is_dataflow(options):
        return None
    if options.view_as(GoogleCloudOptions).template_location:
        return "template"
    if options.view_as(TestOptions).dry_run:
        return "dry_run"
    return None


def job_built(result: PipelineResult, config: Config, output: str, options: PipelineOptions,
              beam_argv: Sequence[str] = ()) -> dict:
    """The summary `run_pipeline` returns when only the job was built (no
    report: nothing ran). Logs what was made and where a later run writes."""
    kind = builds_job_only(options)
    location = options.view_as(GoogleCloudOptions).template_location
    if kind == "template":
        message = ("Dataflow template written to %s; no job ran and no report was written. "
                   "A job launched from this template writes metrics.parquet, curves.parquet "
                   "and _counts.json straight into %s, without the counts check and without "
                   "run.json; for a checked report, run `headeval run` without "
                   "--template_location." % (location, output))
    else:
        message = ("Dataflow job built (--dry_run) and not submitted; no report was "
                   "written.")
    log.warning("%s", message)
    return {
        "headeval_report": None,
        "report_written": False,
        "job": kind,
        "template_location": location,
        "message": message,
        "config_file": config.source,
        "output": str(output),
        "runner": runner_name(options),
        "beam_options": list(beam_argv or []),
        "state": str(getattr(result, "state", None)),
    }


def check_finished(result: PipelineResult) -> None:
    """Raises JobNotFinishedError unless the finished `result` is DONE."""
    state = getattr(result, "state", PipelineState.DONE)
    if state not in (PipelineState.DONE, None):
        job = getattr(result, "job_id", None)
        job = (" %s" % job()) if callable(job) else ""
        raise JobNotFinishedError("the job%s ended in state %s, not DONE; no report was written"
                                  % (job, state), str(state))
