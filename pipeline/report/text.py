"""Metrics rows as text: the tables `headeval show` prints, and csv, json
and markdown for scripts and documents."""
import csv
import fnmatch
import io
import json
import math

from pipeline.report import versus
from pipeline.report.tables import (CALIBRATION_PREFIX, CONFUSION_METRIC, class_orders,
                                    head_order, is_missing, order_rows, row_kind, slice_counts,
                                    slice_tables)

FORMATS = ("table", "csv", "json", "markdown")
TEXT_COLUMNS = ("head", "slice", "metric", "class", "key")

# Characters a terminal acts on instead of showing (control characters: the
# escape that starts a colour or cursor sequence, newlines that forge rows;
# bidirectional overrides that reorder what is read): `show` writes them
# as `\xHH` / `\uHHHH`, so names from the data print as what they are.
_UNPRINTABLE = {c: "\\x%02x" % c for c in list(range(0x20)) + list(range(0x7F, 0xA0))}
_UNPRINTABLE.update({c: "\\u%04x" % c for c in list(range(0x202A, 0x202F))
                     + list(range(0x2066, 0x206A))})


def printable(text):
    """`text` with the characters a terminal would act on written as escapes."""
    return text.translate(_UNPRINTABLE) if isinstance(text, str) else text


def _format_value(row, column="value"):
    """A row's `column` (value, or the baseline's) as `show` prints it; the
    value with the row's interval when it has one (`_interval`)."""
    if row is None:
        return ""
    value = row[column]
    if value is None and column != "value":
        return ""  # no baseline row
    if value is None or math.isnan(value):  # an infinity prints as one: it is a value
        return UNDEFINED
    if (row["metric"].endswith("count") or row["metric"] == CONFUSION_METRIC
            or row["metric"] == CALIBRATION_PREFIX + "weight") and float(value).is_integer():
        return "%d" % value
    if column != "value":
        return "%.6g" % value
    return "%.6g" % value + _interval(value, row.get("lower"), row.get("upper"))


def _interval(value, lower, upper, number="%.4g"):
    """' ± 0.012' when the interval is symmetric about `value` to the two
    digits shown, else ' [0.8012, 0.8301]'; '' without one."""
    if is_missing(lower) or is_missing(upper) or is_missing(value):
        return ""
    below, above = "%.2g" % (value - lower), "%.2g" % (upper - value)
    if below == above:
        return " ± " + above
    return " [%s, %s]" % (number % lower, number % upper)


def _format_delta(row):
    """The change against the baseline: '+0.0123', its interval when the
    comparison has one, and 'better' / 'worse' by the metric's direction."""
    if row is None:
        return ""
    delta = row.get("delta")
    if is_missing(delta):
        return "" if row.get("baseline") is None else UNDEFINED
    text = "%+.4g" % delta + _interval(delta, row.get("delta_lower"), row.get("delta_upper"),
                                       "%+.3g")
    return text + (" " + row["change"] if row.get("change") else "")


UNDEFINED = "undefined"  # a NaN value: a zero denominator on the slice (pipeline.report.rows)


def _matches(value, patterns):
    return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)


def select_rows(rows: list, heads=None, slices=None, metrics=None) -> list:
    """Filters metrics rows: each filter is a list of glob patterns (any may
    match); a slice pattern 'overall' matches the overall slice, and a
    metric pattern matches the base name or the full key."""
    slices = [("" if s == "overall" else s) for s in (slices or [])]
    return [r for r in rows
            if _matches(r["head"], heads) and _matches(r["slice"], slices)
            and (not metrics or _matches(r["metric"], metrics) or _matches(r["key"], metrics))]


def _number_parts(v):
    """(before the point, the point, the rest) of a cell whose first word
    is a plain number ('0.75 ± 0.01' -> ('0', '.', '75 ± 0.01')); (v, '', '')
    for any other."""
    word, gap, tail = v.partition(" ")
    if word and word[-1].isdigit() and "e" not in word:
        a, dot, b = word.partition(".")
        return a, dot, b + gap + tail
    return v, "", ""


def _align_decimals(values):
    """Pads numbers so their decimal points line up: ['0.75', '1000'] ->
    ['   0.75', '1000   ']; a number followed by words aligns on its own."""
    parts = [_number_parts(v) if v else (v, "", "") for v in values]
    left = max((len(a) for a, _, _ in parts), default=0)
    right = max((len(dot + b) for _, dot, b in parts), default=0)
    return [a.rjust(left) + (dot + b).ljust(right) for a, dot, b in parts]


def _text_grid(header, lines, n_text=1, indent="", paint=None):
    """A plain-text table: the first `n_text` columns left-aligned, the
    others numbers with their decimal points lined up. `paint`: {(line,
    column): 'better' | 'worse'}, cells coloured for a terminal."""
    columns = [list(c) for c in zip(*lines)] if lines else [[] for _ in header]
    for i in range(n_text, len(header)):
        columns[i] = _align_decimals(columns[i])
    lines = [list(line) for line in zip(*columns)] if lines else []
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]

    def fmt(cells, n=None):
        return (indent + "  ".join(_paint(str(c).ljust(w) if i < n_text else str(c).rjust(w),
                                          (paint or {}).get((n, i)))
                                   for i, (c, w) in enumerate(zip(cells, widths)))).rstrip()
    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(line, n)
                                                            for n, line in enumerate(lines)]


_COLOURS = {"better": "\033[32m", "worse": "\033[31m"}  # green, red


def _paint(cell, change):
    """`cell` with its text (not its padding) in the colour of `change`."""
    if change not in _COLOURS or not cell.strip():
        return cell
    text = cell.strip()
    start = cell.index(text)
    return cell[:start] + _COLOURS[change] + text + "\033[0m" + cell[start + len(text):]


def use_colour(stream) -> bool:
    """Colour the table for `stream`: a terminal, and NO_COLOR not set."""
    import os
    try:
        return bool(stream.isatty()) and not os.environ.get("NO_COLOR")
    except (AttributeError, ValueError):
        return False


def _slice_title(slice_, count):
    title = slice_ or "(overall)"
    n, w = count.get("example_count"), count.get("weighted_example_count")
    facts = []
    if n is not None and not is_missing(n):
        facts.append("%s examples" % _format_value({"metric": "example_count", "value": n}))
    if w is not None and not is_missing(w) and w != n:
        facts.append("weighted %s" % _format_value({"metric": "weighted_example_count",
                                                    "value": w}))
    return title + (": " + ", ".join(facts) if facts else "")


def _compared_table(kind, header, body, n_text):
    """A table of paired rows: the candidate's value, and beside it the
    baseline's and the delta (scalar table), or a delta column after each
    metric column (pivots). Returns (header, lines, paint)."""
    if kind == "scalar":
        header = ["metric", "candidate", "baseline", "delta"]
        lines = [[cells[0], _format_value(cells[1]), _format_value(cells[1], "baseline"),
                  _format_delta(cells[1])] for cells in body]
        return header, lines, {(n, 3): cells[1].get("change") for n, cells in enumerate(body)}
    header = header[:n_text] + [h for name in header[n_text:] for h in (name, name + " delta")]
    lines, paint = [], {}
    for n, cells in enumerate(body):
        line = list(cells[:n_text])
        for c in cells[n_text:]:
            if c is not None and c.get("change"):
                paint[(n, len(line) + 1)] = c["change"]
            line += [_format_value(c), _format_delta(c)]
        lines.append(line)
    return header, lines, paint


def _table_text(rows, counts, vocabularies, compare=None, colour=False):
    """Per head, per slice, its tables. `compare`: {(head, slice): headline
    row} of the slices behind the baseline when `rows` are paired (versus);
    None for a one-model report."""
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
            title = _slice_title(slice_, counts.get((head, slice_), {}))
            worse = (compare or {}).get((head, slice_))
            if worse is not None:
                title += "  " + _paint("<< candidate worse than baseline: %s %s" % (
                    worse["key"], "%+.4g" % worse["delta"]), "worse" if colour else None)
            lines.append(title)
            # The counts are in the title; list them only when asked for alone.
            shown = [r for r in slice_rows if row_kind(r) != "count"] or slice_rows
            for kind, title, header, body in slice_tables(shown, vocabularies.get(head)):
                n_text = 2 if kind == "class_threshold" else 1
                paint = None
                if compare is None or kind in ("confusion", "calibration"):
                    body = [cells[:n_text] + [_format_value(c) for c in cells[n_text:]]
                            for cells in body]
                    title = title and (title + (" - candidate" if compare is not None else ""))
                else:
                    header, body, paint = _compared_table(kind, header, body, n_text)
                if title:
                    lines.append("  " + title)
                lines += _text_grid(header, body, n_text, indent="  ",
                                    paint=paint if colour else None)
                lines.append("")
        blocks.append("\n".join(lines).rstrip("\n"))
    return "\n\n".join(blocks) + "\n"


def format_rows(rows: list, fmt: str = "table", counts: dict | None = None,
                vocabularies: dict | None = None, heads=None, compare: dict | None = None,
                colour: bool = False) -> str:
    """metrics rows -> text in one of FORMATS.

    `table` (for people): per head, per slice (overall first, then by example
    count), a metric/value table and pivots: per threshold, per class, per
    class and threshold, the confusion matrix and the calibration buckets.
    `csv`, `json` and `markdown` (for scripts and documents): one line per
    row, in the same order. `counts` (slice_counts of the whole report)
    orders and titles the slices when `rows` is filtered; `vocabularies`
    ({head: [class, ...]}, class_orders) orders classes, `heads`
    (head_order) the heads. `compare` ({(head, slice): headline row},
    versus.behind) says `rows` are paired with a baseline (versus.paired):
    those slices come right after the overall one, marked, and the tables
    get baseline and delta columns; `colour` colours better and worse.
    """
    counts = slice_counts(rows) if counts is None else counts
    rows = order_rows(rows, counts, heads, ahead=compare)
    if fmt != "json":  # json.dumps escapes them itself
        rows = [dict(r, **{c: printable(r[c]) for c in TEXT_COLUMNS if c in r}) for r in rows]
        counts = {(printable(h), printable(s)): c for (h, s), c in counts.items()}
        vocabularies = {printable(h): [printable(c) for c in classes]
                        for h, classes in (vocabularies or {}).items()}
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
        if compare is not None:
            lines = ["| head | slice | metric | candidate | baseline | delta |",
                     "|---|---|---|---:|---:|---:|"]
            lines += ["| %s | %s | %s | %s | %s | %s |" % (
                _md(r["head"]), _md(r["slice"] or "(overall)"), _md(r["key"]) + (
                    " (baseline)" if versus.is_baseline(r) else ""),
                _format_value(r), _format_value(r, "baseline"), _format_delta(r)) for r in rows]
            return "\n".join(lines) + "\n"
        lines = ["| head | slice | metric | value |", "|---|---|---|---:|"]
        lines += ["| %s | %s | %s | %s |" % (_md(r["head"]), _md(r["slice"] or "(overall)"),
                                             _md(r["key"]), _format_value(r)) for r in rows]
        return "\n".join(lines) + "\n"
    return _table_text(rows, counts, vocabularies or {}, compare, colour)


def _md(text):
    return str(text).replace("|", "\\|")


def format_report(rows: list, run: dict | None, fmt: str = "table",
                  all_rows: list | None = None, extras: versus.Extras | None = None,
                  colour: bool = False) -> str:
    """Rows of a report (all of them, or those `select_rows` kept of
    `all_rows`) as `headeval show` prints them: heads in config order,
    classes in vocabulary order (from run.json, `run`, which may be None),
    slices by size.

    With a baseline (its rows among `rows`, or `extras.comparison`) the
    candidate's rows are the lines, with the baseline's value and the
    change beside them (versus.paired: csv and json gain the columns
    baseline, delta, relative, delta_lower, delta_upper, change); the
    slices where the candidate is worse come right after the overall one.
    `table` starts with the validation verdict and the failed gates when the
    report has gates or a baseline (versus.verdict).
    """
    everything = rows if all_rows is None else all_rows
    compares = versus.has_baseline(everything, extras)
    verdict = versus.verdict(run, extras, compares)
    if not compares and verdict.status is None:
        counts = slice_counts(everything)
        return format_rows(rows, fmt, counts=counts, vocabularies=class_orders(run),
                           heads=head_order(run))
    counts = slice_counts([r for r in everything if not versus.is_baseline(r)])
    behind = versus.behind(versus.paired(everything, extras)) if compares else None
    text = format_rows(versus.paired(rows, extras) if compares else rows, fmt, counts=counts,
                       vocabularies=class_orders(run), heads=head_order(run), compare=behind,
                       colour=colour)
    if fmt != "table" or verdict.status is None:
        return text
    return _verdict_text(verdict, colour) + "\n" + text


def _verdict_text(verdict, colour):
    """The validation line, then one line per failed gate row."""
    bad = verdict.status == versus.NOT_BLESSED
    lines = [_paint("validation: " + versus.verdict_text(verdict),
                    ("worse" if bad else "better") if colour and verdict.status != versus.NO_GATES
                    else None)]
    for r in verdict.failed_rows:
        where = ", ".join("%s %s" % (name, printable(r[name] if name != "slice"
                                                     else r[name] or "(overall)"))
                          for name in ("head", "slice", "key")
                          if r.get(name) is not None and (r[name] or name == "slice"))
        numbers = ", ".join("%s %s" % (name, "%.6g" % r[name]) for name in
                            ("value", "baseline", "bound") if not is_missing(r.get(name)))
        lines.append("  FAILED gate %s %s%s%s: %s" % (
            r["gate"], printable(r.get("gate_text") or ""), (" - " + where) if where else "",
            (" (%s)" % numbers) if numbers else "", printable(r.get("reason") or "")))
    return "\n".join(lines) + "\n"


def show_text(folder: str, heads=None, slices=None, metrics=None, fmt: str = "table",
              colour: bool = False) -> str:
    """What `headeval show FOLDER` prints: the report's rows kept by the
    filters (select_rows), with its comparison and validation files.
    HeadevalError when no row matches."""
    from pipeline.errors import HeadevalError
    from pipeline.report.load import read_metrics_rows, read_run

    all_rows = read_metrics_rows(folder)
    run = read_run(folder)  # a folder without it is no complete report
    rows = select_rows(all_rows, heads, slices, metrics)
    if not rows:
        raise HeadevalError("no metrics in %s match the filters" % folder)
    return format_report(rows, run, fmt, all_rows, versus.load_extras(folder), colour)
