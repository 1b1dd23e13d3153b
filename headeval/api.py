"""`headeval.evaluate` and `headeval.load`: what `headeval run` and
`headeval show` do, as functions that return a `Report`."""
import os
import shlex

from headeval.report import Report
from pipeline.errors import ConfigError
from pipeline.runtime.runner_args import with_default_runner


def read_config(config):
    """A `pipeline.config.Config` from what `evaluate` accepts: a Config; a
    path (str or os.PathLike, local or gs://); YAML text (a str holding a
    newline or starting with `{`); or a dict of the YAML's data. Relative
    paths in YAML text or a dict resolve against the current directory, in
    a file against the file's folder. ConfigError when it is not valid."""
    from pipeline.config import Config, load_config, load_config_text, parse_config
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return parse_config(config, base_dir=os.getcwd())
    if isinstance(config, str) and ("\n" in config or config.lstrip().startswith("{")):
        return load_config_text(config, base_dir=os.getcwd())
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    raise TypeError("config must be a path, YAML text or a dict; got %s"
                    % type(config).__name__)


def beam_argv(beam_options) -> list:
    """Beam options as the command line gives them: a list of `--name=value`
    strings (a str is split as a shell would), or a dict {name: value}
    (True: a flag, `--name`; None or False: left out)."""
    if beam_options is None:
        return []
    if isinstance(beam_options, str):
        return shlex.split(beam_options)
    if isinstance(beam_options, dict):
        argv = []
        for name, value in beam_options.items():
            name = "--" + str(name).lstrip("-")
            if value is True:
                argv.append(name)
            elif value is not None and value is not False:
                argv.append("%s=%s" % (name, value))
        return argv
    return [str(a) for a in beam_options]


def evaluate(config, output=None, beam_options=None, overwrite: bool = False):
    """Runs the evaluation `config` describes (as `headeval run`) and
    returns its `Report`.

    Args:
      config: a path to a YAML config, YAML text, or a dict (read_config).
      output: the report folder (local or gs://); default: the config's
        `output`.
      beam_options: Beam pipeline options, e.g. ["--direct_num_workers=2"]
        or {"runner": "DataflowRunner", "project": "p", "region": "r"};
        without a runner, the in-process FnApiRunner (as the CLI).
      overwrite: replace an existing report in `output`.

    Returns:
      The written report, loaded (`load(output)`); None when the options only
      build a job (a Dataflow template or --dry_run: no report is written).

    Raises:
      HeadevalError subclasses (ConfigError, ...) with a one-line message.
    """
    config = read_config(config)
    output = output if output is not None else config.output
    if output is None:
        raise ConfigError("%s: no output folder: pass output=... or set `output:` in the "
                          "config" % (config.source or "<config>"), config.source, "output")
    output = os.fspath(output)
    from pipeline.run import run_pipeline  # TensorFlow and Beam: only now
    run = run_pipeline(config, output, overwrite, with_default_runner(beam_argv(beam_options)))
    if isinstance(run, dict) and run.get("report_written") is False:
        return None
    return load(output)


def load(path) -> Report:
    """The report in folder `path` (local or any Beam filesystem, e.g.
    gs://). metrics.parquet must be there; damaged files are a
    DamagedReportError naming the file, as for `headeval show`."""
    from pipeline.report import load as reader  # pyarrow and Beam: only now
    from pipeline.report.schema import (COMPARISON_FILE, CURVES_FILE, CURVES_SCHEMA,
                                        VALIDATION_FILE)
    path = os.fspath(path)
    return Report(path, metrics=reader.read_metrics_table(path),
                  curves=reader.read_report_table(path, CURVES_FILE, CURVES_SCHEMA),
                  run=reader.read_run(path), rejected=reader.read_rejected_table(path),
                  comparison=reader.read_report_table(path, COMPARISON_FILE),
                  validation=reader.read_report_table(path, VALIDATION_FILE))
