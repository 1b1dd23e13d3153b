"""Metrics rows as text: the tables `headeval show` prints, and csv, json
and markdown for scripts and documents."""
import csv
import fnmatch
import io
import json
import math

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


def _format_value(row):
    if row is None:
        return ""
    value = row["value"]
    if value is None or math.isnan(value):  # an infinity prints as one: it is a value
        return UNDEFINED
    if (row["metric"].endswith("count") or row["metric"] == CONFUSION_METRIC
            or row["metric"] == CALIBRATION_PREFIX + "weight") and float(value).is_integer():
        return "%d" % value
    lower, upper = row.get("lower"), row.get("upper")
    if lower is None or upper is None or math.isnan(lower) or math.isnan(upper):
        return "%.6g" % value
    return "%.6g ± %.2g" % (value, (upper - lower) / 2)  # a confidence interval


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
    if n is not None and not is_missing(n):
        facts.append("%s examples" % _format_value({"metric": "example_count", "value": n}))
    if w is not None and not is_missing(w) and w != n:
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


def format_rows(rows: list, fmt: str = "table", counts: dict | None = None,
                vocabularies: dict | None = None, heads=None) -> str:
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
        lines = ["| head | slice | metric | value |", "|---|---|---|---:|"]
        lines += ["| %s | %s | %s | %s |" % (_md(r["head"]), _md(r["slice"] or "(overall)"),
                                             _md(r["key"]), _format_value(r)) for r in rows]
        return "\n".join(lines) + "\n"
    return _table_text(rows, counts, vocabularies or {})


def _md(text):
    return str(text).replace("|", "\\|")


def format_report(rows: list, run: dict | None, fmt: str = "table",
                  all_rows: list | None = None) -> str:
    """Rows of a report (all of them, or those `select_rows` kept of
    `all_rows`) as `headeval show` prints them: heads in config order,
    classes in vocabulary order (from run.json, `run`, which may be None),
    slices by size."""
    counts = slice_counts(rows if all_rows is None else all_rows)
    return format_rows(rows, fmt, counts=counts, vocabularies=class_orders(run),
                       heads=head_order(run))
