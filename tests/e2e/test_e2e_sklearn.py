"""End to end: TFRecords -> `python -m pipeline run` -> metrics.parquet, checked
row by row against scikit-learn and numpy on the same arrays.

The oracle below never imports `heads` or `pipeline` (only
`pipeline.io.writer`, through the fixtures, to write the inputs). Metric
semantics are the TF Estimator's (tensorflow_estimator/python/estimator/head/):

* probabilities are float32 `sigmoid` / `softmax` of the logits, as the
  heads compute them; a prediction is positive when `probability > t`;
* `average_loss` = sum(w * unreduced loss) / sum(w), where the unreduced loss
  is sigmoid cross-entropy (binary), softmax cross-entropy (multi-class),
  the mean over classes of sigmoid cross-entropy (multi-label) or the
  squared error (regression);
* `loss` (per head in a MultiHead) reduces with "sum_over_batch_size" over
  the whole data set instead of per batch: sum(w * loss) / number of losses;
* the binary `accuracy` / `precision` / `recall` use the class ids
  (logit > 0); `accuracy_baseline` = max(label mean, 1 - label mean);
* multi-label `auc`, `auc_precision_recall` and the threshold metrics pool
  every (example, class) pair with the example weight broadcast over classes;
  `auc/class<i>`, `auc_precision_recall/class<i>`, `probability_mean/class<i>`
  use column i alone;
* `auc_precision_recall` is Keras' interpolated PR AUC (Davis & Goadrich)
  with a threshold at every distinct score;
* `example_count` counts examples, `weighted_example_count` sums their weights.

AUCs must match to 1e-5 absolute (the pipeline may bucket scores), every
other value to 1e-6 relative. A value with a zero denominator on its slice
(sklearn's `zero_division`, roc_auc_score's NaN for one class, a mean
of zero weight, an empty calibration bucket) is NaN in the oracle and must
be NaN in the report, where the estimator says 0.

The tests marked `e2e` run a Beam pipeline (the CLI in a subprocess, or the
demo in-process): 10-40 s each. They run by default; `pytest -m "not e2e"`
leaves them out.
"""
import json
import math
import os
import re
from collections import defaultdict

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
from sklearn.metrics import (accuracy_score, f1_score, mean_absolute_error,
                             mean_squared_error, precision_score, r2_score, recall_score,
                             roc_auc_score)


AUC_ATOL = 1e-5
RTOL = 1e-6
# Metric base names compared with AUC_ATOL instead of RTOL.
AUC_METRICS = ("auc", "auc_precision_recall")


# -- oracle: probabilities and losses ----------------------------------------------

def sigmoid32(z):
    """The pipeline's float32 probability of float32 logits: the float64
    sigmoid rounded to float32, returned as float64. (Not TensorFlow's
    float32 sigmoid: its vectorised kernel rounds the same logit differently
    at different batch positions, which breaks and makes ties.)"""
    z = np.asarray(z, np.float32).astype(np.float64)
    return (1. / (1. + np.exp(-z))).astype(np.float32).astype(np.float64)


def softmax32(z):
    """The float64 softmax rounded to float32 (as `sigmoid32`), as float64."""
    z = np.asarray(z, np.float32).astype(np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32).astype(np.float64)


def sigmoid_cross_entropy(y, z):
    """-y log(sigmoid z) - (1 - y) log(1 - sigmoid z), stably, in float64."""
    z = np.asarray(z, np.float64)
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


def softmax_cross_entropy(y, z):
    """-log softmax(z)[y], in float64."""
    z = np.asarray(z, np.float64)
    m = z.max(axis=1, keepdims=True)
    log_sum = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return log_sum - z[np.arange(len(y)), y]


def wmean(x, w):
    """sum(w * x) / sum(w), in float64; NaN for zero total weight."""
    total = np.sum(w)
    return float(np.sum(np.asarray(x, np.float64) * w) / total) if total else math.nan


def pr_auc(y, s, w):
    """Keras' interpolated PR AUC with a threshold at every distinct score.

    Thresholds t_0 = -inf < t_1 < ... < t_k are the distinct scores; a score
    is positive when score > t. Between consecutive thresholds i and i + 1
    (Keras `interpolate_pr_auc`), with p = tp + fp:
        slope = (tp_i - tp_{i+1}) / (p_i - p_{i+1}),  b = tp_{i+1} - slope * p_{i+1}
        area_i = slope * (tp_i - tp_{i+1} + b * ln(p_i / p_{i+1}))   (ln 1 when p_{i+1} = 0)
    and the AUC is sum(area_i) / (total positive weight): NaN without
    positives (recall is 0/0).
    """
    y, s, w = (np.asarray(a, np.float64).ravel() for a in (y, s, w))
    distinct, index = np.unique(s, return_inverse=True)
    pos = np.bincount(index, weights=w * y, minlength=len(distinct))
    neg = np.bincount(index, weights=w * (1 - y), minlength=len(distinct))
    # tp[k], fp[k]: weight of scores > thresholds[k]; thresholds = [-inf, distinct...]
    tp = np.concatenate([[pos.sum()], pos.sum() - np.cumsum(pos)])
    fp = np.concatenate([[neg.sum()], neg.sum() - np.cumsum(neg)])
    p = tp + fp
    dtp = tp[:-1] - tp[1:]
    dp = p[:-1] - p[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(dp > 0, dtp / np.where(dp > 0, dp, 1), 0.0)
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), p[:-1] / np.where(p[1:] > 0, p[1:], 1), 1.0)
    area = slope * (dtp + intercept * np.log(ratio))
    total = pos.sum()
    return float(area.sum() / total) if total > 0 else math.nan


def binary_metrics(y, prob, w, prefix=""):
    """accuracy / precision / recall of `prob > t` predictions (pooled
    arrays); NaN where the denominator is zero (all of them when every
    weight is 0, which sklearn refuses)."""
    if not np.any(w):
        return dict.fromkeys(("accuracy", "precision", "recall", "f1"), math.nan)
    return {
        "accuracy": accuracy_score(y, prob, sample_weight=w) if np.sum(w) else math.nan,
        "precision": precision_score(y, prob, sample_weight=w, zero_division=np.nan),
        "recall": recall_score(y, prob, sample_weight=w, zero_division=np.nan),
        "f1": f1_score(y, prob, sample_weight=w, zero_division=np.nan),
    }


def threshold_key(base, t):
    return "%s/positive_threshold_%g" % (base, t)


def auc_or_nan(y, s, w):
    """sklearn's ROC AUC; NaN with one class present, counting only examples
    of non-zero weight (sklearn 1.9 warns and gives NaN, older versions raise
    ValueError)."""
    try:
        return roc_auc_score(np.asarray(y)[w != 0], np.asarray(s)[w != 0],
                             sample_weight=np.asarray(w)[w != 0])
    except ValueError:
        return math.nan


# -- oracle: one head, one slice -----------------------------------------------------

def expected_binary(y, z, w, thresholds):
    p = sigmoid32(z)
    class_ids = (z > 0).astype(np.int64)
    loss = sigmoid_cross_entropy(y, z)
    out = {
        "average_loss": wmean(loss, w),
        "loss": float(np.sum(loss * w) / len(y)),
        "prediction/mean": wmean(p, w),
        "label/mean": wmean(y, w),
        "auc": auc_or_nan(y, p, w),
        "auc_precision_recall": pr_auc(y, p, w),
    }
    out["accuracy_baseline"] = max(out["label/mean"], 1 - out["label/mean"]) \
        if np.sum(w) else math.nan
    out.update(binary_metrics(y, class_ids, w))
    for t in thresholds:
        for k, v in binary_metrics(y, (p > t).astype(np.int64), w).items():
            out[threshold_key(k, t)] = v
    out.update(calibration(y, p, w))
    return out


def calibration(y, p, w, n_buckets=20):
    """Extended metric: per equal-width probability bucket [k/20, (k+1)/20),
    the weight, weighted mean probability and weighted mean label (NaN when
    empty); keyed by the bucket's lower edge."""
    y, p, w = (np.asarray(a, np.float64).ravel() for a in (y, p, w))
    b = np.clip(np.floor(p * n_buckets).astype(np.int64), 0, n_buckets - 1)
    weight = np.bincount(b, w, n_buckets)
    sums = {"prediction_mean": np.bincount(b, w * p, n_buckets),
            "label_mean": np.bincount(b, w * y, n_buckets)}
    out = {}
    for k in range(n_buckets):
        suffix = "bucket_%g" % (k / n_buckets)
        out["calibration/weight/" + suffix] = weight[k]
        for name, total in sums.items():
            out["calibration/%s/%s" % (name, suffix)] = total[k] / weight[k] if weight[k] \
                else math.nan
    return out


def expected_multi_class(y, z, w, class_names):
    loss = softmax_cross_entropy(y, z)
    pred = z.argmax(axis=1)
    out = {
        "average_loss": wmean(loss, w),
        "loss": float(np.sum(loss * w) / len(y)),
        "accuracy": accuracy_score(y, pred, sample_weight=w) if np.sum(w) else math.nan,
    }
    # Extended metrics. top-k: the true class's logit is beaten by fewer than k.
    rank = (z > z[np.arange(len(y)), y][:, None]).sum(axis=1)
    for k in (2, 5):
        if k < z.shape[1]:
            out["accuracy/top_%d" % k] = wmean(rank < k, w)
    p = softmax32(z)
    confusion = np.zeros((len(class_names), len(class_names)))
    np.add.at(confusion, (y, pred), w)
    for c, name in enumerate(class_names):
        for k, v in binary_metrics(y == c, pred == c, w).items():
            if k != "accuracy":
                out["%s/%s" % (k, name)] = v
        out["auc/" + name] = auc_or_nan(y == c, p[:, c], w)
        out["auc_precision_recall/" + name] = pr_auc(y == c, p[:, c], w)
        for c2, name2 in enumerate(class_names):  # rows: label, columns: prediction
            out["confusion_matrix/%s/%s" % (name, name2)] = confusion[c, c2]
    return out


def expected_multi_label(y, z, w, thresholds, classes, class_names=None):
    """`y` [n, C] multi-hot, `z` [n, C] logits; `classes`: ids with per-class metrics."""
    y = y.astype(np.int64)
    p = sigmoid32(z)
    loss = sigmoid_cross_entropy(y, z).mean(axis=1)
    wb = np.broadcast_to(w[:, None], y.shape)
    out = {
        "average_loss": wmean(loss, w),
        "loss": float(np.sum(loss * w) / len(y)),
        "auc": auc_or_nan(y.ravel(), p.ravel(), wb.ravel()),
        "auc_precision_recall": pr_auc(y, p, wb),
    }
    for t in thresholds:
        pred = (p > t).astype(np.int64)
        for k, v in binary_metrics(y.ravel(), pred.ravel(), wb.ravel()).items():
            out[threshold_key(k, t)] = v
    # `classes` (classes_for_class_based_metrics) are required; the other
    # classes' rows are extended metrics, checked when reported.
    for c in range(y.shape[1]):
        name = "class%d" % c if class_names is None else class_names[c]
        out["auc/" + name] = auc_or_nan(y[:, c], p[:, c], w)
        out["auc_precision_recall/" + name] = pr_auc(y[:, c], p[:, c], w)
        out["probability_mean/" + name] = wmean(p[:, c], w)
        out["label/mean/" + name] = wmean(y[:, c], w)
        for t in thresholds:
            for k, v in binary_metrics(y[:, c], (p[:, c] > t).astype(np.int64), w).items():
                out["%s/%s" % (threshold_key(k, t), name)] = v
    out.update(calibration(y, p, wb))
    return out


def expected_regression(y, z, w):
    y = np.asarray(y, np.float64)
    z = np.asarray(z, np.float64)
    sq = (z - y) ** 2
    return {
        "average_loss": wmean(sq, w),
        "loss": float(np.sum(sq * w) / len(y)),
        "label/mean": wmean(y, w),
        "prediction/mean": wmean(z, w),
        **(regression_errors(y, z, w) if np.sum(w) else dict.fromkeys(
            ("mean_absolute_error", "root_mean_squared_error", "r_squared"), math.nan)),
    }


def regression_errors(y, z, w):
    """MAE, RMSE, R² (NaN where sklearn's unforced R² is not finite: constant labels)."""
    r2 = r2_score(y, z, sample_weight=w, force_finite=False)
    return {"mean_absolute_error": mean_absolute_error(y, z, sample_weight=w),
            "root_mean_squared_error": math.sqrt(mean_squared_error(y, z, sample_weight=w)),
            "r_squared": r2 if math.isfinite(r2) else math.nan}


def with_counts(metrics, w):
    metrics["example_count"] = float(len(w))
    metrics["weighted_example_count"] = float(np.sum(w, dtype=np.float64))
    return metrics


# Keys every report must hold for these heads (the estimator's eval metrics;
# the extended ones above are checked only when the pipeline reports them).
def required_keys(kind, thresholds=(), class_keys=()):
    if kind == "binary":
        keys = ["average_loss", "accuracy", "precision", "recall", "prediction/mean",
                "label/mean", "accuracy_baseline", "auc", "auc_precision_recall"]
        keys += [threshold_key(b, t) for t in thresholds
                 for b in ("accuracy", "precision", "recall")]
    elif kind == "multi_class":
        keys = ["average_loss", "accuracy"]
    elif kind == "multi_label":
        keys = ["average_loss", "auc", "auc_precision_recall"]
        keys += [threshold_key(b, t) for t in thresholds
                 for b in ("accuracy", "precision", "recall")]
        keys += ["%s/%s" % (b, c) for c in class_keys
                 for b in ("auc", "auc_precision_recall", "probability_mean")]
    else:
        keys = ["average_loss", "label/mean", "prediction/mean"]
    return set(keys) | {"example_count", "weighted_example_count"}


def e2e_expected(a, countries, mc_vocabulary):
    """{(head, slice): {key: value}} for the e2e config (conftest.e2e_config)."""
    ml_classes = (0, 2)
    slices = [("", np.ones(a.n, bool))] + [("country=%s" % c, a.country == c)
                                           for c in countries]
    expected = {}
    for name, mask in slices:
        w = a.weight[mask].astype(np.float64)
        expected[("bin", name)] = with_counts(
            expected_binary(a.y_bin[mask], a.z_bin[mask], w, (0.3, 0.5)), w)
        expected[("mc", name)] = with_counts(
            expected_multi_class(a.y_mc[mask], a.z_mc[mask], w, mc_vocabulary), w)
        expected[("ml", name)] = with_counts(
            expected_multi_label(a.y_ml[mask], a.z_ml[mask], w, (0.3, 0.5, 0.7), ml_classes), w)
        expected[("reg", name)] = with_counts(
            expected_regression(a.y_reg[mask], a.z_reg[mask], w), w)
    required = {
        "bin": required_keys("binary", (0.3, 0.5)),
        "mc": required_keys("multi_class"),
        "ml": required_keys("multi_label", (0.3, 0.5, 0.7), ["class%d" % c for c in ml_classes]),
        "reg": required_keys("regression"),
    }
    return expected, required


# -- comparing a report with the oracle ----------------------------------------------

_THRESHOLD = re.compile(r"^(?P<base>[a-z_0-9]+)/positive_threshold_(?P<t>[0-9.e+-]+)$")
_THRESHOLD_CLASS = re.compile(
    r"^(?P<base>[a-z_0-9]+)/positive_threshold_(?P<t>[0-9.e+-]+)/(?P<cls>[^/]+)$")
_PER_CLASS = ("auc_precision_recall", "auc", "probability_mean", "label/mean", "precision",
              "recall", "f1")


def parse_key(key):
    """(metric, class, threshold) the report's other columns must hold for `key`.

    'precision/positive_threshold_0.5' -> ('precision', None, 0.5);
    'auc/class2' -> ('auc', '2', None); 'auc/ant' -> ('auc', 'ant', None);
    'label/mean' -> ('label/mean', None, None);
    'recall/positive_threshold_0.3/class1' -> ('recall', '1', 0.3). None when
    `key` is not one of these forms (calibration and confusion matrix rows).
    """
    m = _THRESHOLD.match(key)
    if m:
        return m.group("base"), None, float(m.group("t"))
    m = _THRESHOLD_CLASS.match(key)
    if m:
        return m.group("base"), _class(m.group("cls")), float(m.group("t"))
    if "/" not in key or key in ("label/mean", "prediction/mean"):
        return key, None, None
    for base in _PER_CLASS:
        if key.startswith(base + "/") and "/" not in key[len(base) + 1:]:
            return base, _class(key[len(base) + 1:]), None
    if re.fullmatch(r"accuracy/top_\d+", key):
        return "accuracy", None, None
    return None


def _class(suffix):
    m = re.fullmatch(r"class(\d+)", suffix)
    return m.group(1) if m else suffix


def oracle_key(key, head):
    """`key` without a `/<head>` path component inside it: the oracle names
    'calibration/weight/bucket_0.05', not 'calibration/bin/weight/...'
    (test_keys_name_no_head checks the report has none)."""
    parts = key.split("/")
    if head and head in parts[1:-1]:
        parts.remove(head)
    return "/".join(parts)


def read_metrics(output, model="candidate"):
    """The rows of `model` (SPEC section 4's columns first, then section 6's)."""
    table = pq.read_table(os.path.join(output, "metrics.parquet"))
    assert table.column_names == ["head", "slice", "metric", "class", "threshold", "value",
                                  "key", "model", "average", "k", "lower", "upper", "stderr",
                                  "slice_spec", "slice_values"], table.schema  # SPEC §4, §6
    return [r for r in table.to_pylist() if r["model"] == model]


def close(actual, expected, metric):
    if math.isnan(expected) or math.isnan(actual):  # undefined: NaN on both sides
        return math.isnan(expected) and math.isnan(actual)
    if metric in AUC_METRICS:
        return abs(actual - expected) <= AUC_ATOL
    return abs(actual - expected) <= RTOL * abs(expected) + 1e-12


def compare(rows, expected, required, slice_names):
    """Every oracle-known row checked; returns (failures, unchecked keys)."""
    failures, unchecked, seen = [], defaultdict(set), defaultdict(set)
    count_rows = defaultdict(set)
    for r in rows:
        head, slice_, key, value = r["head"], r["slice"], r["key"], r["value"]
        where = "%s %r %s" % (head or "<multihead>", slice_, key)
        parsed = parse_key(key)
        if parsed is not None:
            metric, class_, threshold = parsed
            if (r["metric"], r["class"], r["threshold"]) != (metric, class_, threshold):
                failures.append("%s: columns (metric, class, threshold) = %r, expected %r"
                                % (where, (r["metric"], r["class"], r["threshold"]), parsed))
        if key in ("example_count", "weighted_example_count"):
            count_rows[slice_].add(key)
        want = expected.get((head, slice_), {}).get(oracle_key(key, head))
        if (head, slice_) not in expected and key in ("example_count", "weighted_example_count"):
            # Counts reported once per slice (head ""): same for every head here.
            want = expected[(next(iter(required)), slice_)][key]
        if want is None:
            unchecked[key].add(head)
            continue
        seen[(head, slice_)].add(key)
        if value is None or not close(value, want, r["metric"] or key):
            failures.append("%s: pipeline %r, oracle %r (diff %.3g)"
                            % (where, value, want, (value or 0) - want))
    for head, keys in required.items():
        for slice_ in slice_names:
            missing = keys - seen[(head, slice_)] - {"example_count", "weighted_example_count"}
            if missing:
                failures.append("%s %r: no rows for %s" % (head, slice_, sorted(missing)))
    for slice_ in slice_names:
        missing = {"example_count", "weighted_example_count"} - count_rows[slice_]
        if missing:
            failures.append("slice %r: no %s rows" % (slice_, sorted(missing)))
    return failures, dict(unchecked)


def run_json_counts(output):
    with open(os.path.join(output, "run.json")) as f:
        run = json.load(f)
    counts = run.get("counts", run)
    return run, {k: counts.get(k) for k in ("read", "evaluated", "rejected")}


# -- the tests ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def in_process_report(e2e_dataset, headeval_cli, tmp_path_factory):
    """The e2e config run once by the in-process FnApiRunner."""
    out = tmp_path_factory.mktemp("report") / "single"
    headeval_cli.run("run", e2e_dataset.config, "--output", out, headeval_cli.runner_flag)
    return out


def test_oracle_is_self_consistent():
    """Sanity checks of the oracle itself, against hand arithmetic."""
    # Unweighted binary: labels [0, 1, 1, 0], logits [-1, 2, -0.5, 0.5]
    # -> class ids [0, 1, 0, 1]: tp 1, fp 1, fn 1, tn 1.
    y = np.array([0, 1, 1, 0])
    z = np.array([-1.0, 2.0, -0.5, 0.5], np.float32)
    m = expected_binary(y, z, np.ones(4), (0.5,))
    assert m["accuracy"] == m["precision"] == m["recall"] == 0.5
    assert m["accuracy_baseline"] == 0.5
    # loss = mean(softplus(-1), softplus(2) - 2, softplus(-0.5) + 0.5, softplus(0.5))
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    assert m["average_loss"] == pytest.approx((sp(-1) + sp(-2) + sp(0.5) + sp(0.5)) / 4)
    # scores ranked: 0.88 (+), 0.62 (-), 0.38 (+), 0.27 (-): 3 of 4 pairs in order.
    assert m["auc"] == pytest.approx(0.75)
    # A perfect ranking has PR AUC 1; Keras' interpolation of two points too.
    assert pr_auc([1, 0], [0.9, 0.1], [1, 1]) == pytest.approx(1.0)
    # All positive at one score: precision 1 everywhere.
    assert pr_auc([1, 1], [0.5, 0.5], [1, 1]) == pytest.approx(1.0)


@pytest.mark.e2e
def test_cli_run_matches_sklearn(e2e_dataset, in_process_report):
    """Every metric row of a 4-head, 5-slice run against the sklearn/numpy oracle."""
    rows = read_metrics(in_process_report)
    expected, required = e2e_expected(e2e_dataset.arrays, e2e_dataset.countries,
                                      e2e_dataset.mc_vocabulary)
    failures, unchecked = compare(rows, expected, required, e2e_dataset.slices)
    print("rows: %d; not checked (no oracle): %s" % (len(rows), unchecked))
    assert not failures, "%d mismatches:\n%s" % (len(failures), "\n".join(failures[:60]))

    slices = {r["slice"] for r in rows}
    assert slices == set(e2e_dataset.slices)
    _, counts = run_json_counts(in_process_report)
    assert counts["read"] == counts["evaluated"] + counts["rejected"] == e2e_dataset.n_records, \
        counts
    assert counts["rejected"] == 0
    assert os.path.exists(os.path.join(in_process_report, "curves.parquet"))


@pytest.mark.e2e
def test_keys_name_no_head(in_process_report):
    """The head has its own column: no key carries the head name as a path
    component (a MultiHead's estimator keys end in `/<head>`, which the
    report strips; composite keys must not keep it in the middle)."""
    bad = sorted({(r["head"], r["key"]) for r in read_metrics(in_process_report)
                  if r["head"] and r["head"] in r["key"].split("/")})
    assert not bad, "%d keys embed their head name, e.g. %s" % (len(bad), bad[:6])


# Two SDK worker processes give every value of the single-process run:
# tests/e2e/test_determinism.py (one shared two-process run).


# -- the demo ----------------------------------------------------------------------

def _read_demo_records(path):
    """The demo file parsed with tf.io.parse_example (independent of pipeline.io.parse)."""
    spec = {
        "digit": tf.io.FixedLenFeature([], tf.string),
        "digit_logits": tf.io.FixedLenFeature([10], tf.float32),
        "properties": tf.io.VarLenFeature(tf.string),
        "properties_logits": tf.io.FixedLenFeature([4], tf.float32),
        "ink": tf.io.FixedLenFeature([], tf.float32),
        "ink_prediction": tf.io.FixedLenFeature([1], tf.float32),
        "weight": tf.io.FixedLenFeature([], tf.float32, default_value=1.0),
        "stroke": tf.io.FixedLenFeature([], tf.string),
        "digit_logits_baseline": tf.io.FixedLenFeature([10], tf.float32),
        "properties_logits_baseline": tf.io.FixedLenFeature([4], tf.float32),
        "ink_prediction_baseline": tf.io.FixedLenFeature([1], tf.float32),
    }
    records = [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type="GZIP")]
    parsed = tf.io.parse_example(records, spec)
    props = tf.sparse.to_dense(parsed.pop("properties"), default_value=b"").numpy()
    out = {k: v.numpy() for k, v in parsed.items()}
    out["properties"] = props
    return out


@pytest.mark.e2e
def test_demo_matches_sklearn(tmp_path, headeval_cli):
    """`headeval demo`'s numbers (MultiHead, string vocabularies, weights,
    slices), the candidate's and the baseline's, against the oracle on the
    shipped demo records."""
    from pipeline.demo import run_demo

    data_file = os.path.join(headeval_cli.repo, "pipeline", "data", "demo.tfrecord.gz")
    assert os.path.getsize(data_file) < 200_000
    d = _read_demo_records(data_file)
    n = len(d["digit"])
    assert n == 599

    result = run_demo(str(tmp_path / "demo"), beam_argv=[headeval_cli.runner_flag], show=False)

    digits = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    props = ["even", "prime", "large", "loop"]
    y_digit = np.array([digits.index(s.decode()) for s in d["digit"]])
    y_props = np.stack([(d["properties"] == p.encode()).any(axis=1) for p in props], axis=1)
    slices = [("", np.ones(n, bool)), ("stroke=thin", d["stroke"] == b"thin"),
              ("stroke=thick", d["stroke"] == b"thick")]
    required = {"properties": required_keys("multi_label", (0.3, 0.5, 0.7), props),
                "digit": required_keys("multi_class"), "ink": required_keys("regression")}
    for model, suffix in (("candidate", ""), ("baseline", "_baseline")):
        expected = {}
        for name, m in slices:
            w = d["weight"][m].astype(np.float64)
            expected[("properties", name)] = with_counts(expected_multi_label(
                y_props[m], d["properties_logits" + suffix][m], w, (0.3, 0.5, 0.7), range(4),
                props), w)
            expected[("digit", name)] = with_counts(
                expected_multi_class(y_digit[m], d["digit_logits" + suffix][m], w, digits), w)
            expected[("ink", name)] = with_counts(
                expected_regression(d["ink"][m], d["ink_prediction" + suffix][m, 0], w), w)
        rows = read_metrics(tmp_path / "demo", model)
        failures, unchecked = compare(rows, expected, required, [s for s, _ in slices])
        print("demo %s rows: %d; not checked: %s" % (model, len(rows), unchecked))
        assert not failures, "%s: %d mismatches:\n%s" % (model, len(failures),
                                                         "\n".join(failures[:60]))
    assert isinstance(result, dict)
    _, counts = run_json_counts(tmp_path / "demo")
    assert counts["read"] == counts["evaluated"] == n


def test_e2e_files_hold_the_arrays(e2e_dataset):
    """The fixture's TFRecords (pipeline.io.writer) parse back to its arrays."""
    a = e2e_dataset.arrays
    records = [r.numpy() for path in e2e_dataset.files for r in tf.data.TFRecordDataset(
        str(path), compression_type="GZIP" if str(path).endswith(".gz") else "")]
    assert len(records) == e2e_dataset.n_records == a.n
    parsed = tf.io.parse_example(records, {
        "id": tf.io.FixedLenFeature([], tf.int64),
        "weight": tf.io.FixedLenFeature([], tf.float32, default_value=1.0),
        "ml_labels": tf.io.VarLenFeature(tf.int64),
        "ml_logits": tf.io.FixedLenFeature([4], tf.float32),
        "mc_label": tf.io.FixedLenFeature([], tf.string),
        "country": tf.io.FixedLenFeature([], tf.string)})
    np.testing.assert_array_equal(parsed["id"].numpy(), np.arange(a.n))
    np.testing.assert_array_equal(parsed["weight"].numpy(), a.weight)
    np.testing.assert_array_equal(parsed["ml_logits"].numpy(), a.z_ml)
    multi_hot = tf.sparse.to_indicator(parsed["ml_labels"], 4).numpy()
    np.testing.assert_array_equal(multi_hot, a.y_ml)
    np.testing.assert_array_equal(parsed["country"].numpy().astype(str), a.country)
    assert a.weight_missing.any() and a.ml_missing.any()


def test_write_examples_round_trip(tmp_path):
    """pipeline.io.writer: every column form parses back as written."""
    from pipeline.io.writer import serialize_examples, write_examples

    columns = {
        "f": np.array([0.5, -1.25, 3.0]),                      # float scalar
        "v": np.arange(6, dtype=np.float32).reshape(3, 2),     # float[2]
        "i": np.array([1, -2, 2**40]),                         # int64
        "b": np.array([True, False, True]),                    # bool -> int64
        "s": np.array(["a", "é", ""]),                         # str -> bytes (UTF-8)
        "ids": [[3, 1], [], None],                             # var-length; None: absent
        "tags": [[b"x"], ["y", "z"], []],                      # var-length strings
    }
    path = tmp_path / "x.tfrecord.gz"
    assert write_examples(path, columns) == 3
    records = [r.numpy() for r in tf.data.TFRecordDataset(str(path), compression_type="GZIP")]
    assert records == serialize_examples(columns)
    examples = [tf.train.Example.FromString(r).features.feature for r in records]
    assert [list(e["f"].float_list.value) for e in examples] == [[0.5], [-1.25], [3.0]]
    assert [list(e["v"].float_list.value) for e in examples] == [[0, 1], [2, 3], [4, 5]]
    assert [list(e["i"].int64_list.value) for e in examples] == [[1], [-2], [2**40]]
    assert [list(e["b"].int64_list.value) for e in examples] == [[1], [0], [1]]
    assert [list(e["s"].bytes_list.value) for e in examples] == [[b"a"], ["é".encode()], [b""]]
    assert [list(e["ids"].int64_list.value) for e in examples[:2]] == [[3, 1], []]
    assert "ids" not in examples[2]
    assert [list(e["tags"].bytes_list.value) for e in examples] == [[b"x"], [b"y", b"z"], []]
    ragged = serialize_examples({"ids": tf.ragged.constant([[3, 1], [], [7]], tf.int64)})
    assert [list(tf.train.Example.FromString(r).features.feature["ids"].int64_list.value)
            for r in ragged] == [[3, 1], [], [7]]
    with pytest.raises(ValueError, match="one entry per example"):
        serialize_examples({"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(ValueError, match="dtypes"):
        serialize_examples({"a": [[], []]})
    assert len(serialize_examples({"a": [[], []]}, dtypes={"a": "int64"})) == 2
