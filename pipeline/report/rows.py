"""Merged metric objects -> tidy report rows (no Beam, no I/O).

metrics rows: head, slice, metric, class, threshold, value, key, then SPEC §6's
              model, average, k, lower, upper, stderr, slice_spec, slice_values
curves rows:  head, slice, class, curve, threshold, tp, fp, tn, fn, precision, recall,
              fpr, model
The key is the estimator's metric key without the `/<head name>` suffix a
MultiHead adds: the head has its own column. A value whose denominator is
zero on the slice (`heads.metrics.Metric.defined`: AUC with one class,
precision with nothing predicted positive, a mean of zero weight...) is
NaN, not the 0 the estimator gives: 0 would read as a measurement.
"""
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from heads.auc import ROC
from heads.replicates import REPLICATES_KEY
from pipeline.io.files import read_table
from pipeline.io.paths import join
from pipeline.report.schema import (CANDIDATE, CURVE_KINDS, CURVE_VALUES, METRICS_FILE,
                                    slice_columns)

MAX_CURVE_POINTS = 1000


def split_head(key: str, head_names) -> tuple:
    """'auc/class0/tags' -> ('tags', 'auc/class0'); 'loss/tags' -> ('tags', 'loss')."""
    for name in head_names:
        if name and key.endswith("/" + name):
            return name, key[: -len(name) - 1]
    return "", key


def _float_or_none(x):
    return None if x is None else float(x)


def metric_rows(slice_key: str, metrics: dict, head_names, model: str = CANDIDATE,
                intervals: dict = None) -> list:
    """Rows for one slice's merged metric dict, of `model`. `intervals`:
    {row key: (lower, upper, stderr)} (`pipeline.evaluate.intervals`); a
    row without one has null `lower`, `upper` and `stderr`."""
    spec, values = slice_columns(slice_key)
    intervals = intervals or {}
    rows = []
    for key in sorted(metrics):
        if key == REPLICATES_KEY:
            continue
        head, _ = split_head(key, head_names)
        for row in metrics[key].rows():
            _, short_key = split_head(row.key, head_names)
            name = row.metric
            lower, upper, stderr = intervals.get(row.key, (None, None, None))
            rows.append({"head": head, "slice": slice_key, "metric": name,
                         "class": row.class_name, "threshold": _float_or_none(row.threshold),
                         "value": float(row.value) if row.defined else math.nan,
                         "key": short_key, "model": model, "average": row.average,
                         "k": row.k, "lower": lower, "upper": upper, "stderr": stderr,
                         "slice_spec": spec, "slice_values": values})
    return rows


def undefined_counts(table: pa.Table) -> dict:
    """run.json's `undefined_metrics` from a metrics table: the number of NaN
    values (undefined on their slice), in all and per metric name."""
    undefined = table.filter(pc.is_nan(table.column("value")))
    by_metric = {}
    for name in undefined.column("metric").to_pylist():
        by_metric[name] = by_metric.get(name, 0) + 1
    return {"rows": undefined.num_rows, "by_metric": dict(sorted(by_metric.items()))}


def undefined_metrics(folder: str) -> dict:
    """`undefined_counts` of the metrics.parquet in `folder`: counted in what
    was written."""
    return undefined_counts(read_table(join(folder, METRICS_FILE)))


def curve_columns(slice_key: str, metrics: dict, head_names,
                  max_points: int = MAX_CURVE_POINTS, model: str = CANDIDATE) -> dict:
    """ROC and PR points of every ROC-AUC metric (the PR AUC shares its
    scores), as {column: pyarrow or numpy array}: each point is a roc row then
    a pr row, metrics in key order. Columnar: a slice has up to
    2 x 1000 points per class and curve."""
    parts = []
    for key in sorted(metrics):
        metric = metrics[key]
        if getattr(metric, "curve", None) != ROC or not hasattr(metric, "curve_points"):
            continue
        head, _ = split_head(key, head_names)
        points = metric.curve_points(max_points)
        parts.append((head, metric.info.class_name, points, len(points["threshold"])))
    rows = [2 * n for _, _, _, n in parts]  # per metric: a roc and a pr row per point
    total = sum(rows)
    out = {"head": _repeated([head for head, _, _, _ in parts], rows),
           "slice": _repeated([slice_key], [total]),
           "class": _repeated([class_name for _, class_name, _, _ in parts], rows),
           "curve": _strings(np.tile(np.arange(len(CURVE_KINDS), dtype=np.int32), total // 2),
                             CURVE_KINDS)}
    for c in ("threshold",) + CURVE_VALUES:
        values = [np.asarray(points[c], np.float64) for _, _, points, _ in parts]
        out[c] = np.repeat(np.concatenate(values), 2) if values else np.zeros(0)
    out["model"] = _repeated([model], [total])
    return out


def _repeated(values, counts):
    """values[i] repeated counts[i] times, as a pyarrow string array (None
    is null)."""
    distinct = list(dict.fromkeys(values))
    where = {v: i for i, v in enumerate(distinct)}
    codes = np.repeat(np.array([where[v] for v in values], np.int32),
                      np.asarray(counts, np.int64))
    return _strings(codes, distinct)


def _strings(codes, distinct):
    """distinct[codes] as a pyarrow string array, decoded by Arrow: ~10x
    faster than converting a Python list of 10^5 strings."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()),
                                          pa.array(list(distinct), pa.string())).cast(pa.string())
