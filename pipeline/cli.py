"""The `headeval` command: run, show, report, demo.

    headeval run CONFIG [--output DIR] [--overwrite] [--quiet] [--report] [Beam options...]
    headeval show DIR [--head H] [--slice S] [--metric M] [--format table|csv|json|markdown]
    headeval report DIR [--out FILE]
    headeval demo [--output DIR] [Beam options...]

`run` (and `demo`) hand every option it does not know to Beam's PipelineOptions
(`--runner=DataflowRunner --project=... --region=...`,
`--direct_num_workers=2`, ...); write them as `--name=value`. With no
`--runner` it uses the FnApiRunner: DirectRunner in Beam 2.77 first tries to
download the Prism binary (NOTES.md), which fails or hangs without network.

`show` prints, per head, the overall slice and then the others by example
count, each as a metric table plus pivots (per threshold, per class, per
class and threshold, confusion matrix, calibration buckets); csv, json and
markdown give one line per metrics row for scripts. `report` writes the HTML
page (pipeline.html_report); `run --report` writes it beside the Parquet.
`run` prints progress lines on a terminal (pipeline.progress).

Heavy imports (TensorFlow, Beam) happen inside the commands, so
`headeval --help` starts quickly. Expected failures
(`HeadevalError`: bad config, input, output) print one line, not a traceback.
"""
import argparse
import atexit
import csv
import fnmatch
import gc
import io
import json
import logging
import math
import os
import re
import sys
import threading

from pipeline.errors import ConfigError, HeadevalError

DEFAULT_RUNNER = "FnApiRunner"
DEFAULT_DEMO_OUTPUT = "headeval-demo"
_OWN_PROCESS = False  # set by console_main: the process ends when main returns
FORMATS = ("table", "csv", "json", "markdown")


def beam_args(extra):
    """The options `run` passes to Beam: `extra`, with --runner=FnApiRunner
    first when it names no runner."""
    extra = list(extra)
    if not any(a == "--runner" or a.startswith("--runner=") for a in extra):
        extra.insert(0, "--runner=%s" % DEFAULT_RUNNER)
    return extra


# -- run ------------------------------------------------------------------------

def _import_pipeline_uncollected():
    """Imports the pipeline (TensorFlow, Beam, pyarrow) with the garbage
    collector paused, then freezes everything imported: for the CLI's own
    process only.

    The import makes ~420k objects, and the collections they set off took
    0.5-0.7 s of its 2.4-2.7 s here. Paused, it leaves ~3,700 unreachable
    objects (~7 MB) that a full collection would free in 0.23 s; frozen,
    they stay, as the imported modules do, until the process ends. Frozen
    objects are out of the collector's sight, so the full collections
    during the run do not scan them again (one took 0.2-0.3 s in a run over
    1M examples)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        import pipeline.run  # noqa: F401
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def _cmd_run(args, extra):
    from pipeline.config import load_config
    config = load_config(args.config)
    output = args.output or config.output
    if output is None:
        raise ConfigError("%s: no output folder: pass --output DIR or set `output:` in the "
                          "config" % config.source, config.source, "output")
    from pipeline import progress
    if _OWN_PROCESS:
        _import_pipeline_uncollected()
    from pipeline.run import run_pipeline  # the pipeline pulls in TensorFlow and Beam
    progress.reset()
    with progress.quiet(args.quiet):
        run = run_pipeline(config, output, args.overwrite, beam_args(extra))
    if isinstance(run, dict) and run.get("report_written") is False:
        # A Dataflow template or --dry_run: a job was built, no report written.
        if not args.quiet:
            print(run.get("message") or "no report written (the job was only built)")
        return 0
    html = None
    if args.report:
        from pipeline.html_report import write_report
        html = write_report(output)
    if not args.quiet:
        print("report written to %s%s (see it with: headeval show %s)"
              % (output, _counts_text(run), output))
        if html:
            print("HTML report: %s" % html)
    return 0


def _counts_text(run):
    """': 599 records read, 599 evaluated, 0 rejected in 3.1 s' from run.json."""
    counts = (run or {}).get("counts") if isinstance(run, dict) else None
    if not counts:
        return ""
    text = ": {:,} records read, {:,} evaluated, {:,} rejected".format(
        counts.get("read", 0), counts.get("evaluated", 0), counts.get("rejected", 0))
    wall = run.get("wall_seconds")
    return text + (" in %.1f s" % wall if isinstance(wall, (int, float)) else "")


# -- report rows: order, kinds, pivots (shared by `show` and pipeline.html_report) --

COUNT_METRICS = ("example_count", "weighted_example_count")
CALIBRATION_PREFIX = "calibration/"
CONFUSION_METRIC = "confusion_matrix"
CALIBRATION_COLUMNS = ("weight", "prediction_mean", "label_mean")


def _is_missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def natural_key(text):
    """Sort key that puts 'class2' before 'class10' and '2' before '10'."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", str(text)) if part != ""]


def class_orders(run):
    """{head name: [class names in vocabulary order]} from run.json's config
    (heads with a label_vocabulary); {} without one."""
    heads = ((run or {}).get("config") or {}).get("heads") or []
    named = len(heads) > 1
    out = {}
    for h in heads:
        vocabulary = h.get("label_vocabulary")
        if isinstance(vocabulary, list):
            out[h.get("name") if named else ""] = [str(v) for v in vocabulary]
            if not named and h.get("name"):
                out[h["name"]] = out[""]
    return out


def class_sorter(vocabulary=None):
    """Sort key for class names: vocabulary order first, then natural order."""
    rank = {c: i for i, c in enumerate(vocabulary or ())}
    return lambda c: (rank.get(c, len(rank)), natural_key(c))


def slice_counts(rows):
    """{(head, slice): {'example_count': n, 'weighted_example_count': w}}."""
    counts = {}
    for r in rows:
        if r["metric"] in COUNT_METRICS and r["class"] is None and r["threshold"] is None:
            counts.setdefault((r["head"], r["slice"]), {})[r["metric"]] = r["value"]
    return counts


def head_order(run):
    """Report head names in config order (run.json); [] without one."""
    heads = ((run or {}).get("config") or {}).get("heads") or []
    if len(heads) == 1:
        return ["", heads[0].get("name") or ""]
    return [h.get("name") or "" for h in heads]


def order_rows(rows, counts=None, heads=None):
    """Rows grouped per head (in the order of `heads`, e.g. head_order(run),
    then first-seen); in a head the overall slice first, then the other
    slices by example count, largest first (ties and slices without a count
    keep their order in the file: the config's); within a slice, file order.
    `counts` (slice_counts) defaults to the counts among `rows`: pass those
    of the whole report when `rows` is filtered."""
    counts = slice_counts(rows) if counts is None else counts
    heads = {h: i for i, h in enumerate(dict.fromkeys(heads or ()))}
    slices = {}
    for row in rows:
        heads.setdefault(row["head"], len(heads))
        slices.setdefault(row["slice"], len(slices))

    def key(r):
        n = counts.get((r["head"], r["slice"]), {}).get("example_count")
        return (heads[r["head"]], r["slice"] != "",
                -n if n is not None and not _is_missing(n) else math.inf, slices[r["slice"]])
    return sorted(rows, key=key)


def row_kind(row):
    """Which table a metrics row belongs in: 'count', 'calibration',
    'confusion', 'class_threshold', 'class', 'threshold' or 'scalar'."""
    metric = row["metric"]
    if metric.startswith(CALIBRATION_PREFIX):
        return "calibration"
    if metric == CONFUSION_METRIC:
        return "confusion"
    has_class, has_threshold = row["class"] is not None, row["threshold"] is not None
    if has_class and has_threshold:
        return "class_threshold"
    if has_class:
        return "class"
    if has_threshold:
        return "threshold"
    if metric in COUNT_METRICS:
        return "count"
    return "scalar"


def column_name(row):
    """A per-class or per-threshold row's column in a pivot: its key without
    the class suffix and the `positive_threshold_X` part
    ('f1/positive_threshold_0.5/even' -> 'f1', 'label/mean/even' -> 'label/mean')."""
    parts = row["key"].split("/")
    if row["class"] is not None and parts and parts[-1] == row["class"]:
        parts = parts[:-1]
    elif row["class"] is not None and row["key"].endswith("/" + row["class"]):
        parts = row["key"][: -len(row["class"]) - 1].split("/")
    parts = [p for p in parts if not p.startswith("positive_threshold_")]
    return "/".join(parts) or row["metric"]


def predicted_class(row):
    """The predicted class of a confusion_matrix row: key
    'confusion_matrix/<label>/<predicted>' with <label> its class."""
    prefix = "%s/%s/" % (CONFUSION_METRIC, row["class"])
    key = row["key"]
    return key[len(prefix):] if key.startswith(prefix) else key.rsplit("/", 1)[-1]


def pivot(rows, row_of, column_of, row_sort=None, column_sort=None):
    """rows -> (row labels, column labels, {(row label, column label): row}).
    Labels keep first-seen order unless a sort key is given."""
    cells, row_labels, column_labels = {}, {}, {}
    for r in rows:
        a, b = row_of(r), column_of(r)
        row_labels.setdefault(a, None)
        column_labels.setdefault(b, None)
        cells[(a, b)] = r
    row_labels, column_labels = list(row_labels), list(column_labels)
    if row_sort is not None:
        row_labels.sort(key=row_sort)
    if column_sort is not None:
        column_labels.sort(key=column_sort)
    return row_labels, column_labels, cells


def slice_tables(rows, vocabulary=None):
    """One head and slice's rows -> its tables, in display order:
    [(kind, title, header, body rows of cells)], where a cell is a metrics
    row (or None) in every column but the leading label columns (strings)."""
    by_kind = {}
    for r in rows:
        by_kind.setdefault(row_kind(r), []).append(r)
    sort_class = class_sorter(vocabulary)
    tables = []
    scalars = by_kind.get("scalar", []) + by_kind.get("count", [])
    if scalars:
        tables.append(("scalar", None, ["metric", "value"], [[r["key"], r] for r in scalars]))
    if "threshold" in by_kind:
        thresholds, columns, cells = pivot(by_kind["threshold"], lambda r: r["threshold"],
                                           column_name, row_sort=float)
        tables.append(("threshold", "per threshold", ["threshold"] + columns,
                       [["%g" % t] + [cells.get((t, c)) for c in columns] for t in thresholds]))
    if "class" in by_kind:
        classes, columns, cells = pivot(by_kind["class"], lambda r: r["class"], column_name,
                                        row_sort=sort_class)
        tables.append(("class", "per class", ["class"] + columns,
                       [[k] + [cells.get((k, c)) for c in columns] for k in classes]))
    if "class_threshold" in by_kind:
        keys, columns, cells = pivot(by_kind["class_threshold"],
                                     lambda r: (r["class"], r["threshold"]), column_name,
                                     row_sort=lambda k: (sort_class(k[0]), k[1]))
        tables.append(("class_threshold", "per class and threshold",
                       ["class", "threshold"] + columns,
                       [[k[0], "%g" % k[1]] + [cells.get((k, c)) for c in columns]
                        for k in keys]))
    if "confusion" in by_kind:
        labels, predicted, cells = pivot(by_kind["confusion"], lambda r: r["class"],
                                         predicted_class, row_sort=sort_class,
                                         column_sort=sort_class)
        tables.append(("confusion", "confusion matrix (rows: label, columns: predicted)",
                       ["label"] + predicted,
                       [[k] + [cells.get((k, c)) for c in predicted] for k in labels]))
    if "calibration" in by_kind:
        edges, columns, cells = pivot(
            by_kind["calibration"], lambda r: r["threshold"],
            lambda r: r["metric"][len(CALIBRATION_PREFIX):], row_sort=float,
            column_sort=lambda c: (CALIBRATION_COLUMNS.index(c) if c in CALIBRATION_COLUMNS
                                   else len(CALIBRATION_COLUMNS), c))
        width = min((b - a for a, b in zip(edges, edges[1:])), default=None)
        tables.append(("calibration", "calibration (probability buckets)",
                       ["bucket"] + columns,
                       [[_bucket_label(e, width)] + [cells.get((e, c)) for c in columns]
                        for e in edges]))
    return tables


def _bucket_label(edge, width):
    if edge is None:
        return ""
    if width is None:
        return "%g-" % edge
    return "%g-%g" % (edge, min(1.0, round(edge + width, 12)))


# -- show -----------------------------------------------------------------------

def _format_value(row):
    if row is None:
        return ""
    value = row["value"]
    if _is_missing(value):
        return "nan"
    if (row["metric"].endswith("count") or row["metric"] == CONFUSION_METRIC
            or row["metric"] == CALIBRATION_PREFIX + "weight") and float(value).is_integer():
        return "%d" % value
    return "%.6g" % value


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


def _text_grid(header, lines, n_text=1, indent=""):
    """A plain-text table: the first `n_text` columns left-aligned, the
    others numbers with their decimal points lined up."""
    columns = [list(c) for c in zip(*lines)] if lines else [[] for _ in header]
    for i in range(n_text, len(header)):
        columns[i] = _align_decimals(columns[i])
    lines = [list(line) for line in zip(*columns)] if lines else []
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]

    def fmt(cells):
        return (indent + "  ".join(str(c).ljust(w) if i < n_text else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))).rstrip()
    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(line) for line in lines]


def _slice_title(slice_, count):
    title = slice_ or "(overall)"
    n, w = count.get("example_count"), count.get("weighted_example_count")
    facts = []
    if n is not None and not _is_missing(n):
        facts.append("%s examples" % _format_value({"metric": "example_count", "value": n}))
    if w is not None and not _is_missing(w) and w != n:
        facts.append("weighted %s" % _format_value({"metric": "weighted_example_count",
                                                    "value": w}))
    return title + (": " + ", ".join(facts) if facts else "")


def _table_text(rows, counts, vocabularies):
    blocks = []
    for head in dict.fromkeys(r["head"] for r in rows):
        lines = []
        if head:
            lines += ["head: %s" % head, "=" * len("head: %s" % head), ""]
        by_slice = {}
        for r in rows:
            if r["head"] == head:
                by_slice.setdefault(r["slice"], []).append(r)
        for slice_, slice_rows in by_slice.items():
            lines.append(_slice_title(slice_, counts.get((head, slice_), {})))
            # The counts are in the title; list them only when asked for alone.
            shown = [r for r in slice_rows if row_kind(r) != "count"] or slice_rows
            for kind, title, header, body in slice_tables(shown, vocabularies.get(head)):
                n_text = 2 if kind == "class_threshold" else 1
                body = [cells[:n_text] + [_format_value(c) for c in cells[n_text:]]
                        for cells in body]
                if title:
                    lines.append("  " + title)
                lines += _text_grid(header, body, n_text, indent="  ")
                lines.append("")
        blocks.append("\n".join(lines).rstrip("\n"))
    return "\n\n".join(blocks) + "\n"


def format_rows(rows, fmt="table", counts=None, vocabularies=None, heads=None):
    """metrics rows -> text in one of FORMATS.

    `table` (for people): per head, per slice (overall first, then by example
    count), a metric/value table and pivots: per threshold, per class, per
    class and threshold, the confusion matrix and the calibration buckets.
    `csv`, `json` and `markdown` (for scripts and documents): one line per
    row, in the same order. `counts` (slice_counts of the whole report)
    orders and titles the slices when `rows` is filtered; `vocabularies`
    ({head: [class, ...]}, class_orders) orders classes, `heads`
    (head_order) the heads.
    """
    counts = slice_counts(rows) if counts is None else counts
    rows = order_rows(rows, counts, heads)
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
        lines += ["| %s | %s | %s | %s |" % (_md(r["head"]), _md(r["slice"] or "(overall)"),
                                             _md(r["key"]), _format_value(r)) for r in rows]
        return "\n".join(lines) + "\n"
    return _table_text(rows, counts, vocabularies or {})


def _md(text):
    return str(text).replace("|", "\\|")


def _read_run(folder):
    """run.json of a report, or None when it is absent or unreadable."""
    from pipeline.write import RUN_FILE, join, read_json
    try:
        return read_json(join(folder, RUN_FILE))
    except Exception:  # an incomplete report: show what is there
        return None


def read_metrics_rows(folder):
    """metrics.parquet of a report folder as row dicts."""
    from pipeline.write import METRICS_FILE, join, read_table
    path = join(folder, METRICS_FILE)
    try:
        return read_table(path).to_pylist()
    except (OSError, IOError) as e:
        raise HeadevalError("%s is not a headeval report: cannot read %s (%s)"
                            % (folder, METRICS_FILE, e)) from e


def read_run(folder):
    """run.json of a report folder, or None."""
    return _read_run(folder)


def _cmd_show(args, extra):
    all_rows = read_metrics_rows(args.dir)
    rows = select_rows(all_rows, args.head, args.slice, args.metric)
    if not rows:
        print("no metrics in %s match the filters" % args.dir, file=sys.stderr)
        return 1
    run = _read_run(args.dir)
    sys.stdout.write(format_rows(rows, args.format, counts=slice_counts(all_rows),
                                 vocabularies=class_orders(run), heads=head_order(run)))
    return 0


# -- report, demo ---------------------------------------------------------------

def _cmd_report(args, extra):
    from pipeline.html_report import write_report
    path = write_report(args.dir, args.out)
    print("HTML report written to %s" % path)
    return 0


def _cmd_demo(args, extra):
    if _OWN_PROCESS:
        _import_pipeline_uncollected()
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


class _DropExpectedErrors(logging.Filter):
    """Beam logs a worker's exception with its traceback before re-raising
    it; for the errors headeval explains (HeadevalError) the CLI's one line
    is the message, so those log records are dropped."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HeadevalError)


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("run", "demo"):
        parser.error("unrecognized arguments: %s" % " ".join(extra))
    quiet = getattr(args, "quiet", False)
    # TensorFlow's C++ start-up notes (CPU features, no CUDA) are noise here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if quiet else "2")
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for name in ("apache_beam.runners.common", "apache_beam.runners.worker.sdk_worker"):
        logging.getLogger(name).addFilter(_DropExpectedErrors())
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


def console_main(argv=None):
    """The `headeval` command and `python -m pipeline`: `main` in a process of
    its own, which it leaves without tearing TensorFlow and Beam down.

    After a run has written its report, the interpreter's finalisation (the
    modules, objects and C++ thread pools of TensorFlow and Beam) took
    1.1-1.4 s of a 12 s run over 1M examples, for nothing anybody reads.
    So once the atexit handlers have run (logging's flush, temporary
    folders' clean-up) and stdout and stderr are flushed, the process ends
    with `os._exit`. A thread still running (none is, after a run) gets the
    normal exit, which waits for it."""
    global _OWN_PROCESS
    _OWN_PROCESS = True
    code = main(argv)
    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.main_thread()):
        return code
    atexit._run_exitfuncs()  # what the interpreter runs first on exit, then the slow part
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a closed pipe
            pass
    os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    sys.exit(console_main())
