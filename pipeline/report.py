"""Merged metric objects -> tidy report rows (no Beam, no I/O).

metrics rows: head, slice, metric, class, threshold, value, key
curves rows:  head, slice, class, curve, threshold, tp, fp, tn, fn, precision, recall, fpr
The key is the estimator's metric key without the `/<head name>` suffix a
MultiHead adds: the head has its own column.
"""

METRIC_COLUMNS = ("head", "slice", "metric", "class", "threshold", "value", "key")
CURVE_COLUMNS = ("head", "slice", "class", "curve", "threshold", "tp", "fp", "tn", "fn",
                 "precision", "recall", "fpr")
MAX_CURVE_POINTS = 1000


def split_head(key, head_names):
    """'auc/class0/tags' -> ('tags', 'auc/class0'); 'loss/tags' -> ('tags', 'loss')."""
    for name in head_names:
        if name and key.endswith("/" + name):
            return name, key[: -len(name) - 1]
    return "", key


def _float_or_none(x):
    return None if x is None else float(x)


def metric_rows(slice_key, metrics, head_names):
    """Rows for one slice's merged metric dict."""
    rows = []
    for key in sorted(metrics):
        head, _ = split_head(key, head_names)
        for row in metrics[key].rows():
            _, short_key = split_head(row.key, head_names)
            name = row.metric
            rows.append({"head": head, "slice": slice_key, "metric": name,
                         "class": row.class_name, "threshold": _float_or_none(row.threshold),
                         "value": float(row.value), "key": short_key})
    return rows


def curve_rows(slice_key, metrics, head_names, max_points=MAX_CURVE_POINTS):
    """ROC and PR points of every ROC-AUC metric (the PR AUC shares its scores)."""
    rows = []
    for key in sorted(metrics):
        metric = metrics[key]
        if getattr(metric, "curve", None) != "ROC" or not hasattr(metric, "curve_points"):
            continue
        head, _ = split_head(key, head_names)
        points = metric.curve_points(max_points)
        for i in range(len(points["threshold"])):
            base = {"head": head, "slice": slice_key, "class": metric.info.class_name,
                    "threshold": float(points["threshold"][i])}
            base.update({c: float(points[c][i]) for c in ("tp", "fp", "tn", "fn", "precision",
                                                         "recall", "fpr")})
            rows.append(dict(base, curve="roc"))
            rows.append(dict(base, curve="pr"))
    return rows
