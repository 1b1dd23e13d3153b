"""A made-up two-model report (candidate and baseline) with comparison.parquet,
validation.parquet and a blessing file, written from plain numbers, for the
`show` and HTML tests of the comparison views. The numbers are chosen by
hand: the candidate is better overall and on g=b, worse on g=a (auc and
accuracy) and g=c; gate 1 fails on g=a.
"""
import os

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.report.schema import BASELINE, CANDIDATE
from tests.support.report_files import write_complete

# slice: (examples, {metric: (candidate, baseline)})
NUMBERS = {
    "": (3000, {"auc": (0.91, 0.89), "accuracy": (0.86, 0.84), "average_loss": (0.31, 0.35)}),
    "g=a": (1000, {"auc": (0.80, 0.86), "accuracy": (0.78, 0.82), "average_loss": (0.45, 0.40)}),
    "g=b": (1500, {"auc": (0.95, 0.90), "accuracy": (0.91, 0.85), "average_loss": (0.22, 0.33)}),
    "g=c": (500, {"auc": (0.88, 0.885), "accuracy": (0.86, 0.86), "average_loss": (0.30, 0.30)}),
}
# precision at two thresholds, overall: (candidate, baseline)
PRECISION = {0.3: (0.70, 0.72), 0.5: (0.80, 0.75)}
HALF_WIDTH = 0.02  # the intervals, when asked for: value ± this (a slice's: ± 2x)
CONFIG = {"heads": [{"name": None, "type": "binary"}], "slices": [[], ["g"]]}


def _row(slice_, metric, value, model, threshold=None, interval=None):
    key = metric if threshold is None else "%s/positive_threshold_%g" % (metric, threshold)
    row = {"head": "", "slice": slice_, "metric": metric, "class": None,
           "threshold": threshold, "value": value, "key": key, "model": model}
    if interval is not None:
        row.update(lower=value - interval, upper=value + interval, stderr=interval / 1.96)
    return row


def metric_rows(intervals=False):
    rows = []
    for s, (n, metrics) in NUMBERS.items():
        width = None if not intervals else HALF_WIDTH * (1 if s == "" else 2)
        for m, model in ((0, CANDIDATE), (1, BASELINE)):
            rows += [_row(s, "example_count", n, model), _row(s, "weighted_example_count", n,
                                                               model)]
            rows += [_row(s, k, v[m], model, interval=width) for k, v in metrics.items()]
            if s == "":
                rows += [_row(s, "precision", v[m], model, threshold=t, interval=width)
                         for t, v in PRECISION.items()]
    return rows


def curve_rows():
    """Three-point ROC and PR curves of both models, overall slice."""
    rows = []
    for model, bend in ((CANDIDATE, 0.8), (BASELINE, 0.6)):
        for curve in ("roc", "pr"):
            for t, fpr, recall in ((1.0, 0.0, 0.0), (0.5, 0.2, bend), (0.0, 1.0, 1.0)):
                rows.append({"head": "", "slice": "", "class": None, "curve": curve,
                             "threshold": t, "tp": 0.0, "fp": 0.0, "tn": 0.0, "fn": 0.0,
                             "precision": 1.0 - fpr / 2, "recall": recall, "fpr": fpr,
                             "model": model})
    return rows



def comparison_rows(rows):
    """comparison.parquet's rows, from the metric rows (delta = candidate -
    baseline, computed here in plain Python: the oracle)."""
    base = {(r["slice"], r["key"]): r for r in rows if r["model"] == BASELINE}
    out = []
    for r in rows:
        if r["model"] != CANDIDATE:
            continue
        b = base[(r["slice"], r["key"])]["value"]
        delta = r["value"] - b
        out.append({"head": r["head"], "slice": r["slice"],
                    "slice_spec": "g" if r["slice"] else "", "metric": r["metric"],
                    "class": None, "threshold": r["threshold"], "average": None, "k": None,
                    "key": r["key"], "candidate": r["value"], "baseline": b, "delta": delta,
                    "relative": delta / abs(b) if b else None,
                    "delta_lower": None, "delta_upper": None})
    return out


def validation_rows():
    """Gate 0 (auc >= 0.75 on every slice) passes; gate 1 (accuracy may not
    drop) fails on g=a only."""
    out = []
    for s, (_, metrics) in NUMBERS.items():
        c, b = metrics["auc"]
        out.append({"gate": 0, "gate_text": "{metric: auc, lower_bound: 0.75}", "head": "",
                    "slice": s, "metric": "auc", "class": None, "threshold": None,
                    "key": "auc", "value": c, "baseline": b, "bound": 0.75,
                    "kind": "lower_bound", "passed": True, "reason": ""})
    for s, (_, metrics) in NUMBERS.items():
        c, b = metrics["accuracy"]
        passed = c >= b
        out.append({"gate": 1, "gate_text": "{metric: accuracy, change: {absolute: 0}}",
                    "head": "", "slice": s, "metric": "accuracy", "class": None,
                    "threshold": None, "key": "accuracy", "value": c, "baseline": b,
                    "bound": b, "kind": "change_absolute", "passed": passed,
                    "reason": "" if passed else "accuracy %.2f is below the baseline's %.2f"
                    % (c, b)})
    return out


def write_versus(folder, intervals=False, gates=True, comparison=True):
    """The two-model report in `folder`; returns its metric rows."""
    from pipeline.report.versus import _schemas
    COMPARISON_SCHEMA, VALIDATION_SCHEMA = _schemas()

    os.makedirs(folder, exist_ok=True)
    rows = metric_rows(intervals)
    run = {"config": CONFIG}
    if gates:
        failed = sorted({r["gate"] for r in validation_rows() if not r["passed"]})
        run["validation"] = {"ok": not failed, "gates": 2, "failed": len(failed)}
    write_complete(folder, rows, curve_rows(), **run)
    if comparison:
        pq.write_table(pa.Table.from_pylist(comparison_rows(rows), schema=COMPARISON_SCHEMA),
                       os.path.join(folder, "comparison.parquet"))
    if gates:
        pq.write_table(pa.Table.from_pylist(validation_rows(), schema=VALIDATION_SCHEMA),
                       os.path.join(folder, "validation.parquet"))
        open(os.path.join(folder, "NOT_BLESSED"), "w").close()
    return rows
