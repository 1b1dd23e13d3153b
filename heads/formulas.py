"""Pure functions of metric states: precision, recall, AUC, ...

Zero denominators give 0, as Keras' `div_no_nan` does (precision with no
predicted positives is 0; AUC with one class absent is 0).
"""
import numpy as np


def div_no_nan(num, den):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    safe = np.where(den == 0, 1.0, den)
    return np.where(den == 0, 0.0, num / safe)


def mean(state):
    return div_no_nan(state.total, state.count)


def accuracy_baseline(label_mean_state):
    """max(label mean, 1 - label mean): the best constant prediction."""
    total, count = label_mean_state.total, label_mean_state.count
    return div_no_nan(np.maximum(total, count - total), count)


def confusion_counts(matrix):
    """tp, fp, tn, fn from `matrix[..., label, predicted]`."""
    return matrix[..., 1, 1], matrix[..., 0, 1], matrix[..., 0, 0], matrix[..., 1, 0]


def precision(matrix):
    tp, fp, _, _ = confusion_counts(matrix)
    return div_no_nan(tp, tp + fp)


def recall(matrix):
    tp, _, _, fn = confusion_counts(matrix)
    return div_no_nan(tp, tp + fn)


def f1(matrix):
    p, r = precision(matrix), recall(matrix)
    return div_no_nan(2 * p * r, p + r)


def _occupied(pos, neg):
    keep = (pos != 0) | (neg != 0)
    return np.asarray(pos, np.float64)[keep], np.asarray(neg, np.float64)[keep]


def roc_auc(pos, neg):
    """Area under the ROC curve from weights per ascending score bucket.

    Pairs in the same bucket count one half (ties), so with one bucket per
    distinct score this is the exact (Mann-Whitney) AUC. It equals the
    trapezoidal area Keras computes at the bucket boundaries.
    """
    pos, neg = _occupied(pos, neg)
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos == 0 or total_neg == 0:
        return 0.0
    pos_above = np.cumsum(pos[::-1])[::-1] - pos
    return float(np.sum(neg * (pos_above + 0.5 * pos)) / (total_pos * total_neg))


def pr_auc(pos, neg):
    """Area under the interpolated precision-recall curve (Davis & Goadrich).

    Keras' `AUC(curve='PR', summation_method='interpolation')` formula, the
    estimator's `auc_precision_recall`, evaluated at every bucket boundary.
    """
    pos, neg = _occupied(pos, neg)
    total_pos = pos.sum()
    if total_pos == 0:
        return 0.0
    # Points from "everything positive" down to "nothing positive".
    tp = np.concatenate([np.cumsum(pos[::-1])[::-1], [0.0]])
    fp = np.concatenate([np.cumsum(neg[::-1])[::-1], [0.0]])
    p = tp + fp
    dtp = tp[:-1] - tp[1:]
    dp = p[:-1] - p[1:]
    slope = div_no_nan(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    ratio = np.where((dp > 0) & (p[1:] > 0), div_no_nan(p[:-1], p[1:]), 1.0)
    increments = slope * (dtp + intercept * np.log(ratio))
    return float(np.sum(increments) / total_pos)


def curve_points(pos, neg, lower_edges, max_points=None):
    """ROC / PR points at each occupied bucket's lower edge, ascending threshold.

    Returns a dict of arrays: threshold, tp, fp, tn, fn, precision, recall, fpr.
    The point at a threshold counts as positive every example whose bucket
    starts at or above it.
    """
    pos = np.asarray(pos, np.float64)
    neg = np.asarray(neg, np.float64)
    keep = np.flatnonzero((pos != 0) | (neg != 0))
    tp = np.cumsum(pos[::-1])[::-1][keep]
    fp = np.cumsum(neg[::-1])[::-1][keep]
    thresholds = np.asarray(lower_edges, np.float64)[keep]
    if max_points is not None and len(keep) > max_points:
        pick = np.unique(np.linspace(0, len(keep) - 1, max_points).round().astype(int))
        tp, fp, thresholds = tp[pick], fp[pick], thresholds[pick]
    total_pos, total_neg = pos.sum(), neg.sum()
    fn, tn = total_pos - tp, total_neg - fp
    return {
        "threshold": thresholds, "tp": tp, "fp": fp, "tn": tn, "fn": fn,
        "precision": div_no_nan(tp, tp + fp), "recall": div_no_nan(tp, tp + fn),
        "fpr": div_no_nan(fp, fp + tn),
    }


def regression_summary(sums):
    """MAE, RMSE and R² per label dimension from `RegressionState.sums`."""
    w, wy, wy2, wabs, wsq = sums
    mae = div_no_nan(wabs, w)
    rmse = np.sqrt(div_no_nan(wsq, w))
    total_ss = wy2 - div_no_nan(wy * wy, w)
    r2 = np.where(total_ss > 0, 1.0 - div_no_nan(wsq, total_ss), 0.0)
    return mae, rmse, r2
