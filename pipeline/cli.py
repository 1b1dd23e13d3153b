"""The `headeval` command: run, show, report, diff, check, demo, schema.

    headeval run CONFIG [--output DIR] [--overwrite] [--quiet|--verbose] [--report] [Beam options...]
    headeval show DIR [--head H] [--slice S] [--metric M] [--format table|csv|json|markdown]
    headeval report DIR [--out FILE]
    headeval diff REPORT_A REPORT_B [--output FILE] [--overwrite]
    headeval check REPORT [--config C] [--baseline REPORT_B] [--write]
    headeval demo [--output DIR] [--verbose] [Beam options...]
    headeval schema [--out FILE]

`run` (and `demo`) hand every option it does not know to Beam's PipelineOptions
(`--runner=DataflowRunner --project=... --region=...`,
`--direct_num_workers=2`, ...); write them as `--name=value`. With no
`--runner` it uses the FnApiRunner: DirectRunner in Beam 2.77 first tries to
download the Prism binary, which fails or hangs without network.

`show` prints, per head, the overall slice and then the others by example
count, each as a metric table plus pivots (per threshold, per class, per
class and threshold, confusion matrix, calibration buckets); csv, json and
markdown give one line per metrics row for scripts. `report` writes the HTML
page (pipeline.report.html.page); `run --report` writes it beside the Parquet.
`run` prints progress lines on a terminal (pipeline.runtime.progress).
`diff` compares two finished reports (A the candidate, B the baseline;
pipeline.report.comparison); `check` re-checks validation gates against a
finished report (pipeline.report.validation). `run` and `check` exit with 3
when a gate failed.
`schema` prints the config's JSON Schema (pipeline.config.json_schema), for
editors (docs/config-schema.md).

Heavy imports (TensorFlow, Beam) happen inside the commands, so
`headeval --help` starts quickly. Expected failures
(`HeadevalError`: bad config, input, output) print one line, not a traceback.

Ctrl-C (SIGINT) and SIGTERM print one line, `headeval CMD: interrupted`
(exit 130) or `headeval CMD: terminated (SIGTERM)` (exit 143, 128 + 15, what
a shell reports for a process SIGTERM ends), after the report's temporary
folder is removed. Beam re-raises a KeyboardInterrupt in a bundle as a
RuntimeError ("KeyboardInterrupt [while running ...]", it cannot rebuild one
with its step name) and logs its traceback, so the CLI's own signal handler
records the signal: whatever exception then ends the command, it reports the
interruption, and log records after it are dropped (pipeline.runtime.signals).
A failed write to standard output is one error line, a closed pipe a quiet
end (pipeline.runtime.stdout).
"""
import argparse
import atexit
import logging
import os
import re
import sys
import threading

from pipeline.errors import ConfigError, HeadevalError, OutputWriteError, UsageError
from pipeline.demo import DEFAULT_OUTPUT as DEFAULT_DEMO_OUTPUT
from pipeline.report.text import FORMATS
from pipeline.runtime.gc_tuning import import_uncollected
from pipeline.runtime.quiet_start import import_quietly
from pipeline.runtime import signals
from pipeline.runtime.runner_args import DEFAULT_RUNNER, check_beam_argv, with_default_runner
from pipeline.runtime.stdout import PipeClosed, guarded_stdout, quiet_after_broken_pipe

_OWN_PROCESS = False  # set by console_main: the process ends when main returns
_command = None  # the command main ran last, for console_main's last word


# -- run ------------------------------------------------------------------------

def _check_output_option(args):
    """`--output=` (empty) is a usage error, not "no output folder", nor
    (as `args.output or ...` read it) the config's `output:`."""
    if args.output is not None and not args.output.strip():
        raise UsageError("--output is empty (%r): name the report folder, e.g. --output "
                         "out/report" % args.output)


def _expand_home(path):
    from pipeline.io.paths import is_uri
    return os.path.expanduser(path) if path and not is_uri(path) else path


def _cmd_run(args, extra):
    _check_output_option(args)
    from pipeline.config import load_config
    config = load_config(args.config)
    # `--output=~/x` reaches us unexpanded (the shell expands `~` only at a
    # word's start); config paths are expanded as they are read.
    output = _expand_home(args.output) or config.output
    if output is None:
        raise ConfigError("%s: no output folder: pass --output DIR or set `output:` in the "
                          "config" % config.source, config.source, "output")
    from pipeline.runtime import progress
    _import_pipeline(args.verbose)
    from pipeline.run import run_pipeline  # the pipeline pulls in TensorFlow and Beam
    progress.reset()
    with progress.quiet(args.quiet):
        run = run_pipeline(config, output, args.overwrite, with_default_runner(extra))
    if isinstance(run, dict) and run.get("report_written") is False:
        # A Dataflow template or --dry_run: a job was built, no report written.
        if not args.quiet:
            print(run.get("message") or "no report written (the job was only built)")
        return 0
    html = None
    if args.report:
        from pipeline.report.html.page import write_report
        html = write_report(output)
    if not args.quiet:
        print("report written to %s%s (see it with: headeval show %s)"
              % (output, _counts_text(run), output))
        if html:
            print("HTML report: %s" % html)
    return _validation_end("run", (run or {}).get("validation"), args.quiet)


def _validation_end(command, validation, quiet=False):
    """The exit code of `run` or `check` from run.json's `validation`: 3 and
    one line on stderr when a gate failed."""
    if not validation or validation.get("ok", True):
        if validation and not quiet:
            print("validation: %d gate%s passed (%s)" % (
                validation["gates"], "" if validation["gates"] == 1 else "s",
                validation.get("blessing")) if validation.get("gates")
                else "validation: " + validation.get("note", "no gates"))
        return 0
    from pipeline.report.validation import failed_text, failure_lines
    if not quiet:
        print("\n".join(failure_lines(validation)))
    print("headeval %s: %s" % (command, failed_text(validation)), file=sys.stderr)
    return 3


def _cmd_diff(args, extra):
    from pipeline.report.comparison import diff_reports, format_comparison
    if args.output is not None and os.path.exists(args.output) and not args.overwrite:
        raise UsageError("--output %s exists; pass --overwrite to replace it" % args.output)
    table = diff_reports(args.report_a, args.report_b)
    if args.output is not None:
        from pipeline.io.files import write_table
        try:
            write_table(table, _expand_home(args.output))
        except OSError as e:
            raise OutputWriteError("cannot write %s: %s" % (args.output, e.strerror or e),
                                   args.output) from e
    sys.stdout.write(format_comparison(table))
    if args.output is not None:
        print("comparison written to %s" % args.output)
    return 0


def _cmd_check(args, extra):
    from pipeline.config.loading import load_config_data
    from pipeline.config.validation import config_validation
    from pipeline.report.comparison import has_baseline
    from pipeline.report.load import read_metrics_table, read_run
    from pipeline.report.validation import check_report
    run = read_run(args.report)
    if args.config is not None:
        data, file, _ = load_config_data(args.config)
        if not isinstance(data, dict):
            raise ConfigError("%s: not a config (a mapping of sections)" % file, file)
    else:
        data, file = run.get("config") or {}, "%s (its run.json's config)" % args.report
    baseline = args.baseline is not None or has_baseline(read_metrics_table(args.report))
    gates = config_validation(data, file, has_baseline=baseline)
    summary = check_report(args.report, gates, args.baseline, write=args.write)
    if args.write and summary["gates"]:
        print("%s written to %s" % (summary["blessing"], args.report))
    return _validation_end("check", summary)


def _counts_text(run):
    """': 599 records read, 599 evaluated, 0 rejected in 3.1 s' from run.json
    (then '; 12 metric values undefined (NaN)' when some are)."""
    counts = (run or {}).get("counts") if isinstance(run, dict) else None
    if not counts:
        return ""
    text = ": {:,} records read, {:,} evaluated, {:,} rejected".format(
        counts.get("read", 0), counts.get("evaluated", 0), counts.get("rejected", 0))
    wall = run.get("wall_seconds")
    text += " in %.1f s" % wall if isinstance(wall, (int, float)) else ""
    undefined = (run.get("undefined_metrics") or {}).get("rows")
    # NaN in metrics.parquet: a zero denominator on the slice (run.json says which metrics).
    return text + ("; {:,} metric values undefined (NaN)".format(undefined) if undefined else "")


def _cmd_show(args, extra):
    from pipeline.report.text import show_text, use_colour
    sys.stdout.write(show_text(args.dir, args.head, args.slice, args.metric, args.format,
                               colour=args.format == "table" and use_colour(sys.stdout)))
    return 0


# -- report, demo ---------------------------------------------------------------

def _cmd_report(args, extra):
    from pipeline.report.html.page import write_report
    path = write_report(args.dir, args.out, overwrite=args.overwrite)
    print("HTML report written to %s" % path)
    return 0


def _import_pipeline(verbose=False):
    """In the CLI's own process, the pipeline (TensorFlow, Beam) imported
    with the collector paused and TensorFlow's start-up notes off stderr
    (pipeline.runtime.gc_tuning, pipeline.runtime.quiet_start) unless
    `--verbose` asks for them."""
    if not _OWN_PROCESS:
        return
    if verbose:
        _load_pipeline()
    else:
        import_quietly(_load_pipeline)


def _load_pipeline():
    import_uncollected("pipeline.run")
    import tensorflow as tf
    tf.config.list_physical_devices()  # CUDA's notes on a machine without a GPU come here


def _cmd_demo(args, extra):
    _check_output_option(args)
    _import_pipeline(args.verbose)
    from pipeline.demo import run_demo
    run_demo(_expand_home(args.output), beam_argv=with_default_runner(extra))
    return 0


def _cmd_schema(args, extra):
    import json

    from pipeline.config.json_schema import config_schema
    text = json.dumps(config_schema(), indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise OutputWriteError("cannot write %s: %s" % (args.out, e.strerror or e), args.out) \
            from e
    print("JSON Schema written to %s" % args.out)
    return 0


# -- main -----------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="headeval",
        description="Evaluate classification and regression models with TensorFlow Estimator "
                    "heads in an Apache Beam pipeline: TFRecords in, Parquet reports out.")
    parser.add_argument("--version", action="version", version="%(prog)s " + _version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="evaluate as a YAML config says", allow_abbrev=False,
        description="Evaluate as CONFIG says and write a report. Options not listed here go to "
                    "Beam (write them as --name=value): --runner=DataflowRunner, "
                    "--direct_num_workers=2, ... The default runner is %s." % DEFAULT_RUNNER)
    run.add_argument("config", metavar="CONFIG", help="YAML config file")
    run.add_argument("--output", metavar="DIR", help="report folder (default: the config's "
                     "`output`)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing report")
    run.add_argument("--verbose", action="store_true",
                     help="also show TensorFlow's native log lines (start-up notes included) "
                          "and Beam's informational logging")
    run.add_argument("--quiet", action="store_true",
                     help="print errors only (no progress lines; progress is printed only "
                          "when stderr is a terminal, or with HEADEVAL_PROGRESS=1)")
    run.add_argument("--report", action="store_true",
                     help="also write report.html (headeval report) beside the Parquet files")
    run.set_defaults(func=_cmd_run)

    show = sub.add_parser("show", help="print a report's metrics",
                          description="Print metrics.parquet of a report: per head, the "
                                      "overall slice first. Filters take glob patterns and "
                                      "may be repeated.")
    show.add_argument("dir", metavar="DIR", help="report folder")
    show.add_argument("--head", action="append", help="head name")
    show.add_argument("--slice", action="append",
                      help="slice, e.g. 'country=FR', 'country=*' or 'overall'")
    show.add_argument("--metric", action="append",
                      help="metric name or key, e.g. auc, 'precision/*'")
    show.add_argument("--format", choices=FORMATS, default="table")
    show.set_defaults(func=_cmd_show)

    report = sub.add_parser(
        "report", help="write an HTML report with plots",
        description="Write one self-contained HTML file (no network needed to view it) with, "
                    "per head, the key metrics, ROC, PR and calibration plots, the confusion "
                    "matrix and a slice table flagging slices significantly worse than the "
                    "rest.")
    report.add_argument("dir", metavar="DIR", help="report folder")
    report.add_argument("--out", metavar="FILE",
                        help="where to write the page (default: DIR/report.html)")
    report.add_argument("--overwrite", action="store_true",
                        help="replace FILE even when it is not a headeval HTML report")
    report.set_defaults(func=_cmd_report)

    diff = sub.add_parser(
        "diff", help="compare two finished reports (A: candidate, B: baseline)",
        description="Compare the metrics of two finished one-model reports without Beam: "
                    "delta = A - B, relative = delta / |B|. Refuses reports whose heads or "
                    "slice specs differ.")
    diff.add_argument("report_a", metavar="REPORT_A", help="the candidate's report folder")
    diff.add_argument("report_b", metavar="REPORT_B", help="the baseline's report folder")
    diff.add_argument("--output", metavar="FILE", help="write comparison.parquet to FILE")
    diff.add_argument("--overwrite", action="store_true", help="replace FILE")
    diff.set_defaults(func=_cmd_diff)

    check = sub.add_parser(
        "check", help="re-check validation gates against a finished report",
        description="Check the validation gates (of --config, else of the report's run.json) "
                    "against a finished report without Beam. Exit 0: every gate passed (or "
                    "none), 3: a gate failed, 1: an error. Writes nothing unless --write.")
    check.add_argument("report", metavar="REPORT", help="report folder (the candidate)")
    check.add_argument("--config", metavar="C", help="take the gates from this config's "
                       "`validation:` (only that section is read)")
    check.add_argument("--baseline", metavar="REPORT_B",
                       help="compare with this report's candidate as the baseline")
    check.add_argument("--write", action="store_true",
                       help="write validation.parquet, BLESSED or NOT_BLESSED (and "
                            "comparison.parquet with --baseline) into REPORT and update its "
                            "run.json")
    check.set_defaults(func=_cmd_check)

    demo = sub.add_parser("demo", help="run the embedded example end to end",
                          allow_abbrev=False,
                          description="Evaluate the embedded example and print its report. "
                                      "Other options go to Beam, as for `run`.")
    demo.add_argument("--output", metavar="DIR", default=DEFAULT_DEMO_OUTPUT,
                      help="report folder (default: %(default)s)")
    demo.add_argument("--verbose", action="store_true",
                      help="also show TensorFlow's native log lines and Beam's informational "
                           "logging")
    demo.set_defaults(func=_cmd_demo)

    schema = sub.add_parser(
        "schema", help="print the config's JSON Schema (for editors)",
        description="Print the JSON Schema of a config file, for an editor's completion and "
                    "inline errors (docs/config-schema.md). `headeval run` checks more than "
                    "the schema can: features named by other keys, sizes, files.")
    schema.add_argument("--out", metavar="FILE", help="write it to FILE instead")
    schema.set_defaults(func=_cmd_schema)
    return parser


def _version():
    try:
        from importlib.metadata import version
        return version("headeval")
    except Exception:  # not installed (running from a checkout)
        return "(not installed)"


class _DropExpectedErrors(logging.Filter):
    """Beam logs a worker's exception with its traceback before re-raising
    it; for the errors headeval explains (HeadevalError, and a report that
    cannot be written, which the run turns into one) the CLI's one line is
    the message, so those log records are dropped."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HeadevalError):
            return False
        if isinstance(exc, OSError) and "pipeline.report.output" in sys.modules:
            return not sys.modules["pipeline.report.output"].is_write_failure(exc)
        return True


_BEAM_STEPS = re.compile(r"( \[while running '[^']*'\])+$")


def _without_beam_steps(error) -> str:
    """The message without the " [while running 'Step']" Beam appends when it
    re-raises a worker's error: our messages name the file and record."""
    return _BEAM_STEPS.sub("", str(error))


def _own_options(parser, command):
    """The option names of subcommand `command` (for "did you mean")."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return [s for a in action.choices[command]._actions for s in a.option_strings]
    return []


def _check_beam_options(parser, command, extra):
    """What `run` and `demo` pass to Beam, checked before TensorFlow is
    imported (Beam's options module alone; a bad option fails in a second,
    not after the pipeline's import)."""
    if not extra:
        return
    if _OWN_PROCESS:
        import_uncollected("apache_beam.options.pipeline_options")
    check_beam_argv(extra, _own_options(parser, command))


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    global _command
    _command = args.command
    if extra and args.command not in ("run", "demo"):
        parser.error("unrecognized arguments: %s" % " ".join(extra))
    quiet = getattr(args, "quiet", False)
    verbose = getattr(args, "verbose", False) and not quiet
    # TensorFlow's C++ start-up notes (CPU features, no CUDA) are noise here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if quiet else "0" if verbose else "2")
    logging.basicConfig(level=logging.ERROR if quiet else logging.INFO if verbose
                        else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for name in ("apache_beam.runners.common", "apache_beam.runners.worker.sdk_worker"):
        logging.getLogger(name).addFilter(_DropExpectedErrors())
    try:
        with signals.signals_interrupt():
            try:
                if args.command in ("run", "demo"):
                    _check_beam_options(parser, args.command, extra)
                with guarded_stdout():
                    return args.func(args, extra)
            except PipeClosed:
                quiet_after_broken_pipe()
                return 0
            except BaseException as e:
                interrupted = signals.interruption(e)
                if interrupted is None:
                    raise
        code, words = interrupted
        print("headeval %s: %s" % (args.command, words), file=sys.stderr)
        return code
    except UsageError as e:
        print("headeval %s: error: %s" % (args.command, e), file=sys.stderr)
        return 2
    except HeadevalError as e:
        print("headeval %s: error: %s" % (args.command, _without_beam_steps(e)),
              file=sys.stderr)
        return 1
    except NotImplementedError as e:
        print("headeval %s: not implemented yet: %s" % (args.command, e), file=sys.stderr)
        return 2


def console_main(argv=None) -> int:
    """The `headeval` command and `python -m pipeline`: `main` in a process of
    its own, which it leaves without tearing TensorFlow and Beam down.

    After a run has written its report, the interpreter's finalisation (the
    modules, objects and C++ thread pools of TensorFlow and Beam) takes a
    second or more, for nothing anybody reads (docs/performance.md). So once the atexit handlers have run (logging's flush, temporary
    folders' clean-up) and stdout and stderr are flushed, the process ends
    with `os._exit`. A thread still running (none is, after a run) gets the
    normal exit, which waits for it."""
    global _OWN_PROCESS
    _OWN_PROCESS = True
    code = main(argv)
    if not signals.received and any(t.is_alive() and not t.daemon for t in threading.enumerate()
                             if t is not threading.main_thread()):
        return code  # (after a signal, the threads of the cut-off run are not waited for)
    atexit._run_exitfuncs()  # what the interpreter runs first on exit, then the slow part
    code = code if isinstance(code, int) else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: the descriptor was closed (`>&-`)
                stream.flush()
        except BrokenPipeError:  # the reader has gone: it wanted no more
            pass
        except (OSError, ValueError) as e:  # an atexit handler's output, lost
            if stream is sys.stdout and code == 0 and sys.stderr is not None:
                print("headeval %s: error: cannot write to standard output: %s"
                      % (_command or "", getattr(e, "strerror", None) or e), file=sys.stderr)
                code = 1
    os._exit(code)


if __name__ == "__main__":
    sys.exit(console_main())
