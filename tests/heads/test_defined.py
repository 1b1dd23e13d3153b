"""Metric.defined(): False exactly where a value's denominator is zero, while
result() stays the estimator's 0 (div_no_nan).

Oracle: scikit-learn with zero_division=nan (precision, recall, F1),
roc_auc_score's NaN (or ValueError, before sklearn 1.9) for one class present, numpy's weighted average
(ZeroDivisionError for zero total weight), r2_score without force_finite.
"""
import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import (average_precision_score, f1_score, mean_absolute_error,
                             precision_score, r2_score, recall_score, roc_auc_score)

from heads import auc, metrics


def _weighted_average(x, w):
    try:
        return float(np.average(x, weights=w))
    except ZeroDivisionError:
        return math.nan


def _roc(y, s, w):
    keep = w != 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Only one class is present": NaN
            return roc_auc_score(y[keep], s[keep], sample_weight=w[keep])
    except ValueError:  # the same, before sklearn 1.9 (or no example at all)
        return math.nan


def _ap(y, s, w):
    """sklearn's average precision (a step sum, not the estimator's
    interpolation: compared for definedness only); NaN without positives,
    where recall is 0/0 (sklearn warns and says 0)."""
    if not np.sum(w * y):
        return math.nan
    return average_precision_score(y, s, sample_weight=w)


def _cases():
    """(y, scores, w): mixed, one class present, all predicted one way, zero
    weights, and random ones with small counts (degenerate by chance)."""
    cases = [
        ([0, 1, 1, 0], [0.2, 0.8, 0.4, 0.6], [1, 1, 1, 1]),
        ([1, 1, 1], [0.2, 0.8, 0.6], [1, 2, 1]),        # positives only
        ([0, 0, 0], [0.2, 0.8, 0.6], [1, 2, 1]),        # negatives only
        ([0, 1, 1], [0.1, 0.2, 0.3], [1, 1, 1]),        # nothing predicted positive at 0.5
        ([0, 0, 1], [0.1, 0.2, 0.3], [1, 1, 0]),        # the positive has zero weight
        ([0, 1, 1], [0.1, 0.9, 0.3], [0, 0, 0]),        # zero weight
    ]
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(1, 5))
        cases.append((rng.integers(0, 2, n), rng.random(n).round(1),
                      rng.choice([0.0, 0.5, 1.0], n)))
    return [tuple(np.asarray(a, np.float64) for a in c) for c in cases]


CASES = _cases()


def _check(metric, oracle, values=True):
    """defined() iff the oracle is a number; then the values agree (unless
    not `values`), else result() is the estimator's 0."""
    assert metric.defined() == (not math.isnan(oracle)), (metric, oracle)
    if math.isnan(oracle):
        assert metric.result() == 0.0
    elif values:
        assert metric.result() == pytest.approx(oracle, abs=1e-9)


@pytest.mark.parametrize("y,s,w", CASES)
def test_confusion_metrics(y, s, w):
    pred = (s > 0.5).astype(np.int64)
    for cls, oracle in ((metrics.Precision, precision_score), (metrics.Recall, recall_score),
                        (metrics.F1, f1_score)):
        m = cls("m", threshold=0.5)
        m.update_state(y, s, w)
        if not w.any():  # sklearn refuses all-zero weights: every ratio is 0/0
            _check(m, math.nan)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _check(m, oracle(y, pred, sample_weight=w, zero_division=np.nan))


@pytest.mark.parametrize("y,s,w", CASES)
def test_means(y, s, w):
    mean = metrics.Mean("m")
    mean.update_state(s, w)
    _check(mean, _weighted_average(s, w))
    accuracy = metrics.Accuracy("a", threshold=0.5)
    accuracy.update_state(y, s, w)
    _check(accuracy, _weighted_average(y == (s > 0.5), w))
    baseline = metrics.AccuracyBaseline("b")
    baseline.update_state(y, w)
    label_mean = _weighted_average(y, w)
    _check(baseline, max(label_mean, 1 - label_mean))
    count = metrics.Sum("n")
    count.update_state(np.ones_like(w), w)
    assert count.defined() and count.result() == pytest.approx(np.sum(w))


@pytest.mark.parametrize("y,s,w", CASES)
def test_aucs(y, s, w):
    roc = auc.AUC("auc", auc.ROC)
    roc.update_state(y, s, w)
    pr = auc.AUC.reading(roc, "auc_pr", auc.PR)
    _check(roc, _roc(y, s, w))
    _check(pr, _ap(y, s, w), values=False)


def test_auc_pr_of_positives_only_is_one():
    """Precision is 1 at every threshold: defined, as sklearn says."""
    pr = auc.AUC("auc_pr", auc.PR)
    pr.update_state([1, 1], [0.3, 0.7])
    assert pr.defined() and pr.result() == pytest.approx(
        average_precision_score([1, 1], [0.3, 0.7])) == pytest.approx(1.0)


@pytest.mark.parametrize("y,z,w", [
    ([1.0, 2.0, 4.0], [1.5, 2.0, 3.0], [1, 1, 2]),
    ([2.0, 2.0, 2.0], [1.5, 2.0, 3.0], [1, 1, 2]),  # constant labels: R² is 0/0
    ([1.0, 2.0, 4.0], [1.5, 2.0, 3.0], [0, 0, 0]),  # zero weight
])
def test_regression(y, z, w):
    y, z, w = (np.asarray(a, np.float64) for a in (y, z, w))
    oracles = {"mae": math.nan, "rmse": math.nan, "r2": math.nan}
    if np.sum(w):
        oracles["mae"] = mean_absolute_error(y, z, sample_weight=w)
        oracles["rmse"] = math.sqrt(np.average((y - z) ** 2, weights=w))
        r2 = r2_score(y, z, sample_weight=w, force_finite=False)
        oracles["r2"] = r2 if math.isfinite(r2) else math.nan
    for kind, oracle in oracles.items():
        m = metrics.RegressionError(kind, kind)
        m.update_state(y, z, w)
        _check(m, oracle)


def test_calibration_rows_of_empty_buckets_are_undefined():
    p = np.array([0.01, 0.02, 0.51, 0.97])
    y = np.array([0.0, 1.0, 1.0, 1.0])
    w = np.array([1.0, 1.0, 0.0, 2.0])
    m = metrics.Calibration("calibration")
    m.update_state(y, p, w)
    weight = np.bincount(np.minimum((p * 20).astype(int), 19), w, 20)
    rows = m.rows()
    assert len(rows) == 60
    for row in rows:
        bucket = int(round(row.threshold * 20))
        if row.metric.endswith("/weight"):
            assert row.defined and row.value == weight[bucket]
        else:
            assert row.defined == (weight[bucket] != 0), row
            if not row.defined:
                assert row.value == 0.0  # the estimator-style 0 stays in `value`


def test_counts_are_always_defined():
    m = metrics.ConfusionMatrix("confusion_matrix", 2)
    assert all(r.defined for r in m.rows())
    assert metrics.Sum("example_count").defined()
