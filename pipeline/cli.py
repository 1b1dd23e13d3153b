"""The `headeval` command: run, show, report, demo.

    headeval run CONFIG [--output DIR] [--overwrite] [--quiet] [Beam options...]
    headeval show DIR [--head H] [--slice S] [--metric M] [--format table|csv|json|markdown]
    headeval report DIR
    headeval demo [--output DIR] [Beam options...]

`run` (and `demo`) hand every option it does not know to Beam's PipelineOptions
(`--runner=DataflowRunner --project=... --region=...`,
`--direct_num_workers=2`, ...); write them as `--name=value`. With no
`--runner` it uses the FnApiRunner: DirectRunner in Beam 2.77 first tries to
download the Prism binary (NOTES.md), which fails or hangs without network.

Heavy imports (TensorFlow, Beam) happen inside the commands, so
`headeval --help` and `headeval show` start quickly. Expected failures
(`HeadevalError`: bad config, input, output) print one line, not a traceback.
"""
import argparse
import csv
import fnmatch
import io
import json
import logging
import math
import os
import sys

from pipeline.errors import ConfigError, HeadevalError

DEFAULT_RUNNER = "FnApiRunner"
DEFAULT_DEMO_OUTPUT = "headeval-demo"
FORMATS = ("table", "csv", "json", "markdown")


def beam_args(extra):
    """The options `run` passes to Beam: `extra`, with --runner=FnApiRunner
    first when it names no runner."""
    extra = list(extra)
    if not any(a == "--runner" or a.startswith("--runner=") for a in extra):
        extra.insert(0, "--runner=%s" % DEFAULT_RUNNER)
    return extra


# -- run ------------------------------------------------------------------------

def _cmd_run(args, extra):
    from pipeline.config import load_config
    config = load_config(args.config)
    output = args.output or config.output
    if output is None:
        raise ConfigError("%s: no output folder: pass --output DIR or set `output:` in the "
                          "config" % config.source, config.source, "output")
    from pipeline.run import run_pipeline  # the pipeline pulls in TensorFlow and Beam
    run_pipeline(config, output, args.overwrite, beam_args(extra))
    if not args.quiet:
        print("report written to %s (see it with: headeval show %s)" % (output, output))
    return 0


# -- show -----------------------------------------------------------------------

def _format_value(row):
    value = row["value"]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if row["metric"].endswith("count") and float(value).is_integer():
        return "%d" % value
    return "%.6g" % value


def _order(rows):
    """Rows grouped per head (first-seen order), overall slice first, then the
    other slices in first-seen order; within a slice, file order."""
    heads, slices = {}, {}
    for row in rows:
        heads.setdefault(row["head"], len(heads))
        slices.setdefault(row["slice"], len(slices))
    return sorted(rows, key=lambda r: (heads[r["head"]], r["slice"] != "",
                                       slices[r["slice"]]))


def _matches(value, patterns):
    return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)


def select_rows(rows, heads=None, slices=None, metrics=None):
    """Filters metrics rows: each filter is a list of glob patterns (any may
    match); a slice pattern 'overall' matches the overall slice, and a
    metric pattern matches the base name or the full key."""
    slices = [("" if s == "overall" else s) for s in (slices or [])]
    return [r for r in rows
            if _matches(r["head"], heads) and _matches(r["slice"], slices)
            and (not metrics or _matches(r["metric"], metrics) or _matches(r["key"], metrics))]


def _align_decimals(values):
    """Pads numbers so their decimal points line up: ['0.75', '1000'] ->
    ['   0.75', '1000   ']."""
    parts = [v.partition(".") if v and v[-1].isdigit() and "e" not in v else (v, "", "")
             for v in values]
    left = max((len(a) for a, _, _ in parts), default=0)
    right = max((len(dot + b) for _, dot, b in parts), default=0)
    return [a.rjust(left) + (dot + b).ljust(right) for a, dot, b in parts]


def _text_table(header, lines):
    values = _align_decimals([line[-1] for line in lines if line[-1]])
    values.reverse()
    lines = [line[:-1] + [values.pop() if line[-1] else ""] for line in lines]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
    numeric = [i == len(header) - 1 for i in range(len(header))]

    def fmt(cells):
        return "  ".join(str(c).rjust(w) if right else str(c).ljust(w)
                         for c, w, right in zip(cells, widths, numeric)).rstrip()
    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(line) for line in lines]


def format_rows(rows, fmt="table"):
    """metrics rows -> text in one of FORMATS."""
    rows = _order(rows)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    if fmt == "json":
        clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                  for k, v in r.items()} for r in rows]
        return json.dumps(clean, indent=2) + "\n"
    if fmt == "markdown":
        lines = ["| head | slice | metric | value |", "|---|---|---|---:|"]
        lines += ["| %s | %s | %s | %s |" % (r["head"], r["slice"] or "(overall)", r["key"],
                                             _format_value(r)) for r in rows]
        return "\n".join(lines) + "\n"
    blocks = []
    for head in dict.fromkeys(r["head"] for r in rows):
        lines, previous = [], None
        for r in (r for r in rows if r["head"] == head):
            label = (r["slice"] or "(overall)") if r["slice"] != previous else ""
            if previous is not None and r["slice"] != previous:
                lines.append(["", "", ""])
            previous = r["slice"]
            lines.append([label, r["key"], _format_value(r)])
        title = ["head: %s" % head] if head else []
        blocks.append("\n".join(title + _text_table(["slice", "metric", "value"], lines)))
    return "\n\n".join(blocks) + "\n"


def _cmd_show(args, extra):
    from pipeline.write import METRICS_FILE, join, read_table
    path = join(args.dir, METRICS_FILE)
    try:
        table = read_table(path)
    except (OSError, IOError) as e:
        raise HeadevalError("%s is not a headeval report: cannot read %s (%s)"
                            % (args.dir, METRICS_FILE, e)) from e
    rows = select_rows(table.to_pylist(), args.head, args.slice, args.metric)
    if not rows:
        print("no metrics in %s match the filters" % path, file=sys.stderr)
        return 1
    sys.stdout.write(format_rows(rows, args.format))
    return 0


# -- report, demo ---------------------------------------------------------------

def _cmd_report(args, extra):
    raise NotImplementedError("coming in issue 7")


def _cmd_demo(args, extra):
    from pipeline.demo import run_demo
    if extra:
        run_demo(args.output, beam_argv=beam_args(extra))
    else:
        run_demo(args.output)
    return 0


# -- main -----------------------------------------------------------------------

def build_parser():
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
    run.add_argument("--quiet", action="store_true", help="print errors only")
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

    report = sub.add_parser("report", help="write an HTML report with plots")
    report.add_argument("dir", metavar="DIR", help="report folder")
    report.set_defaults(func=_cmd_report)

    demo = sub.add_parser("demo", help="run the embedded example end to end",
                          allow_abbrev=False,
                          description="Evaluate the embedded example and print its report. "
                                      "Other options go to Beam, as for `run`.")
    demo.add_argument("--output", metavar="DIR", default=DEFAULT_DEMO_OUTPUT,
                      help="report folder (default: %(default)s)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def _version():
    try:
        from importlib.metadata import version
        return version("headeval")
    except Exception:  # not installed (running from a checkout)
        return "(not installed)"


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("run", "demo"):
        parser.error("unrecognized arguments: %s" % " ".join(extra))
    quiet = getattr(args, "quiet", False)
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args, extra)
    except HeadevalError as e:
        print("headeval %s: error: %s" % (args.command, e), file=sys.stderr)
        return 1
    except NotImplementedError as e:
        print("headeval %s: not implemented yet: %s" % (args.command, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("headeval %s: interrupted" % args.command, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
