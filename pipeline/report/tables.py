"""The report's rows arranged for people: order, kinds and pivot tables.

One table model, shared by `headeval show` (pipeline.report.text) and the
HTML page (pipeline.report.html): rows grouped per head, the overall slice
first, then the other slices by example count; within a slice, a metric
table and pivots per threshold, per class, per class and threshold, the
confusion matrix and the calibration buckets.
"""
import math
import re
from typing import Callable

COUNT_METRICS = ("example_count", "weighted_example_count")
CALIBRATION_PREFIX = "calibration/"
CONFUSION_METRIC = "confusion_matrix"
CALIBRATION_COLUMNS = ("weight", "prediction_mean", "label_mean")


def is_missing(value) -> bool:
    """None, NaN or infinite: a value the report does not have (NaN: the
    metric is undefined on its slice, pipeline.report.rows). The one test
    `show` and the page share."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def natural_key(text) -> list:
    """Sort key that puts 'class2' before 'class10' and '2' before '10'."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", str(text)) if part != ""]


def class_orders(run: dict | None) -> dict:
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


def class_sorter(vocabulary=None) -> Callable:
    """Sort key for class names: vocabulary order first, then natural order."""
    rank = {c: i for i, c in enumerate(vocabulary or ())}
    return lambda c: (rank.get(c, len(rank)), natural_key(c))


def slice_counts(rows: list) -> dict:
    """{(head, slice): {'example_count': n, 'weighted_example_count': w}}."""
    counts = {}
    for r in rows:
        if r["metric"] in COUNT_METRICS and r["class"] is None and r["threshold"] is None:
            counts.setdefault((r["head"], r["slice"]), {})[r["metric"]] = r["value"]
    return counts


def head_order(run: dict | None) -> list:
    """Report head names in config order (run.json); [] without one."""
    heads = ((run or {}).get("config") or {}).get("heads") or []
    if len(heads) == 1:
        return ["", heads[0].get("name") or ""]
    return [h.get("name") or "" for h in heads]


def order_rows(rows: list, counts: dict | None = None, heads=None, ahead=None) -> list:
    """Rows grouped per head (in the order of `heads`, e.g. head_order(run),
    then first-seen); in a head the overall slice first, then the other
    slices by example count, largest first (ties and slices without a count
    keep their order in the file: the config's); within a slice, file order.
    `counts` (slice_counts) defaults to the counts among `rows`: pass those
    of the whole report when `rows` is filtered. `ahead`: (head, slice)
    pairs that come right after the overall slice (by count among them),
    e.g. the slices where the candidate is worse than the baseline."""
    ahead = ahead or ()
    counts = slice_counts(rows) if counts is None else counts
    heads = {h: i for i, h in enumerate(dict.fromkeys(heads or ()))}
    slices = {}
    for row in rows:
        heads.setdefault(row["head"], len(heads))
        slices.setdefault(row["slice"], len(slices))

    def key(r):
        n = counts.get((r["head"], r["slice"]), {}).get("example_count")
        return (heads[r["head"]], r["slice"] != "", (r["head"], r["slice"]) not in ahead,
                -n if n is not None and not is_missing(n) else math.inf, slices[r["slice"]])
    return sorted(rows, key=key)


def row_kind(row: dict) -> str:
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


def column_name(row: dict) -> str:
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


def predicted_class(row: dict) -> str:
    """The predicted class of a confusion_matrix row: key
    'confusion_matrix/<label>/<predicted>' with <label> its class."""
    prefix = "%s/%s/" % (CONFUSION_METRIC, row["class"])
    key = row["key"]
    return key[len(prefix):] if key.startswith(prefix) else key.rsplit("/", 1)[-1]


def pivot(rows: list, row_of: Callable, column_of: Callable, row_sort=None,
          column_sort=None) -> tuple:
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


def slice_tables(rows: list, vocabulary=None) -> list:
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
