"""Pure functions of metric states: precision, recall, AUC, ...

Zero denominators give 0, as Keras' `div_no_nan` does (precision with no
predicted positives is 0; AUC with one class absent is 0): the estimator's
numbers. That 0 is no measurement, so each value has a `*_defined`
companion, true where its denominator is not zero, for reports to say
"undefined" instead (heads.metrics.Metric.defined).
"""
import numpy as np
import numpy.typing as npt

from heads import states


def div_no_nan(num: npt.ArrayLike, den: npt.ArrayLike) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    safe = np.where(den == 0, 1.0, den)
    return np.where(den == 0, 0.0, num / safe)


def mean(state: states.MeanState) -> np.ndarray:
    return div_no_nan(state.total, state.count)


def mean_defined(state: states.MeanState) -> np.ndarray:
    """Where `mean` divides by a non-zero total weight."""
    return np.asarray(state.count) != 0


def accuracy_baseline(label_mean_state: states.MeanState) -> np.ndarray:
    """max(label mean, 1 - label mean): the best constant prediction."""
    total, count = label_mean_state.total, label_mean_state.count
    return div_no_nan(np.maximum(total, count - total), count)


def confusion_counts(matrix: np.ndarray) -> tuple:
    """tp, fp, tn, fn from `matrix[..., label, predicted]`."""
    return matrix[..., 1, 1], matrix[..., 0, 1], matrix[..., 0, 0], matrix[..., 1, 0]


def precision(matrix: np.ndarray) -> np.ndarray:
    tp, fp, _, _ = confusion_counts(matrix)
    return div_no_nan(tp, tp + fp)


def recall(matrix: np.ndarray) -> np.ndarray:
    tp, _, _, fn = confusion_counts(matrix)
    return div_no_nan(tp, tp + fn)


def f1(matrix: np.ndarray) -> np.ndarray:
    p, r = precision(matrix), recall(matrix)
    return div_no_nan(2 * p * r, p + r)


def precision_defined(matrix: np.ndarray) -> np.ndarray:
    """Where some weight is predicted positive (tp + fp != 0)."""
    tp, fp, _, _ = confusion_counts(matrix)
    return tp + fp != 0


def recall_defined(matrix: np.ndarray) -> np.ndarray:
    """Where some weight is labelled positive (tp + fn != 0)."""
    tp, _, _, fn = confusion_counts(matrix)
    return tp + fn != 0


def f1_defined(matrix: np.ndarray) -> np.ndarray:
    """Where tp + fp + fn != 0: F1 = 2tp / (2tp + fp + fn), which `f1` equals
    there (with tp = 0 both of its factors are 0, whichever is 0/0), as
    scikit-learn defines it."""
    tp, fp, _, fn = confusion_counts(matrix)
    return tp + fp + fn != 0


def _occupied(pos, neg, *more):
    keep = (np.asarray(pos) != 0) | (np.asarray(neg) != 0)
    return tuple(np.asarray(a, np.float64)[keep] for a in (pos, neg) + more)


def within_bucket_pairs(pos: npt.ArrayLike, neg: npt.ArrayLike, pos_t: npt.ArrayLike = None,
                        neg_t: npt.ArrayLike = None) -> np.ndarray:
    """Estimated weight of (positive, negative) pairs inside each bucket in
    which the positive scores higher, ties counting one half.

    Without positions every pair in a bucket counts one half: exact when a
    bucket holds one distinct score. With `pos_t` / `neg_t`, the weighted sums
    of the positions t in [0, 1] of the positives and negatives in the bucket,
    it is the Hoeffding projection of the pair count U = sum w_i w_j [t_i > t_j]:
    [t_i > t_j] ~ 1/2 + t_i - t_j for positions spread evenly over the bucket,
    so U ~ pos * neg / 2 + neg * pos_t - pos * neg_t (clipped to [0, pos * neg]).
    This keeps the first-order part of how positives and negatives are ordered
    inside a bucket, and is exact for a bucket of ties (equal t)."""
    pos = np.asarray(pos, np.float64)
    neg = np.asarray(neg, np.float64)
    pairs = pos * neg
    if pos_t is None:
        return 0.5 * pairs
    u = 0.5 * pairs + neg * np.asarray(pos_t, np.float64) - pos * np.asarray(neg_t, np.float64)
    return np.clip(u, 0.0, pairs)


def roc_auc(pos: npt.ArrayLike, neg: npt.ArrayLike, pos_t: npt.ArrayLike = None,
            neg_t: npt.ArrayLike = None) -> float:
    """Area under the ROC curve from weights per ascending score bucket.

    Pairs in the same bucket count one half (ties), so with one bucket per
    distinct score this is the exact (Mann-Whitney) AUC; it then equals the
    trapezoidal area Keras computes at the bucket boundaries. With the
    positions of a histogram (`pos_t`, `neg_t`), the pairs inside a bucket
    are estimated by `within_bucket_pairs`.
    """
    if pos_t is None:
        pos, neg = _occupied(pos, neg)
    else:
        pos, neg, pos_t, neg_t = _occupied(pos, neg, pos_t, neg_t)
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos == 0 or total_neg == 0:
        return 0.0
    pos_above = np.cumsum(pos[::-1])[::-1] - pos
    inside = within_bucket_pairs(pos, neg, pos_t, neg_t)
    return float((np.sum(neg * pos_above) + np.sum(inside)) / (total_pos * total_neg))


def roc_auc_defined(pos: npt.ArrayLike, neg: npt.ArrayLike) -> bool:
    """Whether both classes have weight: `roc_auc` gives 0 when one is absent."""
    return bool(np.sum(pos) != 0 and np.sum(neg) != 0)


def pr_auc_defined(pos: npt.ArrayLike, neg: npt.ArrayLike) -> bool:
    """Whether positives have weight: `pr_auc` gives 0 without (recall is
    0/0). Negatives may be absent: precision is then 1 everywhere."""
    del neg
    return bool(np.sum(pos) != 0)


def _interpolated_pr_area(tp, fp):
    """Keras' `interpolate_pr_auc` summed over the segments between points
    (tp[i], fp[i]) -> (tp[i + 1], fp[i + 1]), thresholds ascending."""
    p = tp + fp
    dtp = tp[:-1] - tp[1:]
    dp = p[:-1] - p[1:]
    slope = div_no_nan(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    ratio = np.where((dp > 0) & (p[1:] > 0), div_no_nan(p[:-1], p[1:]), 1.0)
    return float(np.sum(slope * (dtp + intercept * np.log(ratio))))


def pr_auc(pos: npt.ArrayLike, neg: npt.ArrayLike, pos_t: npt.ArrayLike = None,
           neg_t: npt.ArrayLike = None) -> float:
    """Area under the interpolated precision-recall curve (Davis & Goadrich).

    Keras' `AUC(curve='PR', summation_method='interpolation')` formula, the
    estimator's `auc_precision_recall`, evaluated at every bucket boundary:
    exact with one bucket per distinct score.

    With the positions of a histogram (`pos_t`, `neg_t`), each bucket's
    segment is replaced by two whose (fp, tp) path encloses with the chord the
    area A = U - pos * neg / 2, U from `within_bucket_pairs` (A > 0 when the
    positives of the bucket score higher than its negatives): the path of
    the bucket's positives and negatives in any order encloses U - pos * neg / 2
    with the chord, and the interpolated area depends on the path mostly
    through that area. The break point lies on the way to the extreme order
    (all positives first, or all negatives first), so the path stays feasible.
    """
    if pos_t is None:
        pos, neg = _occupied(pos, neg)
    else:
        pos, neg, pos_t, neg_t = _occupied(pos, neg, pos_t, neg_t)
    total_pos = pos.sum()
    if total_pos == 0:
        return 0.0
    # Points from "everything positive" down to "nothing positive".
    tp_above = np.cumsum(pos[::-1])[::-1] - pos
    fp_above = np.cumsum(neg[::-1])[::-1] - neg
    if pos_t is None:
        tp = np.concatenate([tp_above + pos, [0.0]])
        fp = np.concatenate([fp_above + neg, [0.0]])
        return _interpolated_pr_area(tp, fp) / total_pos
    area = within_bucket_pairs(pos, neg, pos_t, neg_t) - 0.5 * pos * neg
    count = pos + neg
    # The bucket's path, from its top (higher scores) down: (0, 0) -> break -> (neg, pos)
    # in (fp, tp). A >= 0: break at count = pos, tp = (2A + pos^2) / count (all positives
    # first when A = pos*neg/2); A < 0: at count = neg, tp = (2A + pos*neg) / count.
    ahead = area >= 0
    break_count = np.where(ahead, pos, neg)
    break_tp = div_no_nan(2 * area + np.where(ahead, pos * pos, pos * neg), count)
    break_tp = np.clip(break_tp, 0.0, np.minimum(pos, break_count))
    n = len(pos)
    tp = np.empty(2 * n + 1)
    fp = np.empty(2 * n + 1)
    tp[0:2 * n:2], fp[0:2 * n:2] = tp_above + pos, fp_above + neg
    tp[1:2 * n:2], fp[1:2 * n:2] = tp_above + break_tp, fp_above + break_count - break_tp
    tp[-1] = fp[-1] = 0.0
    return _interpolated_pr_area(tp, fp) / total_pos


def curve_points(pos: npt.ArrayLike, neg: npt.ArrayLike, lower_edges: npt.ArrayLike,
                 max_points: int = None) -> dict:
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


def regression_summary(sums: np.ndarray) -> tuple:
    """MAE, RMSE and R² per label dimension from `RegressionState.sums`."""
    w, wy, wy2, wabs, wsq = sums
    mae = div_no_nan(wabs, w)
    rmse = np.sqrt(div_no_nan(wsq, w))
    total_ss = wy2 - div_no_nan(wy * wy, w)
    r2 = np.where(total_ss > 0, 1.0 - div_no_nan(wsq, total_ss), 0.0)
    return mae, rmse, r2


def regression_defined(sums: np.ndarray) -> tuple:
    """Where `regression_summary`'s MAE, RMSE and R² have non-zero
    denominators: weight, and for R² a positive total sum of squares (the
    labels vary)."""
    w, wy, wy2, _, _ = sums
    total_ss = wy2 - div_no_nan(wy * wy, w)
    return w != 0, w != 0, total_ss > 0


# -- rates from the confusion counts (derived_rates) --------------------------------

def false_positive_rate(matrix: np.ndarray) -> np.ndarray:
    _, fp, tn, _ = confusion_counts(matrix)
    return div_no_nan(fp, fp + tn)


def false_negative_rate(matrix: np.ndarray) -> np.ndarray:
    tp, _, _, fn = confusion_counts(matrix)
    return div_no_nan(fn, fn + tp)


def specificity(matrix: np.ndarray) -> np.ndarray:
    _, fp, tn, _ = confusion_counts(matrix)
    return div_no_nan(tn, tn + fp)


def negative_predictive_value(matrix: np.ndarray) -> np.ndarray:
    _, _, tn, fn = confusion_counts(matrix)
    return div_no_nan(tn, tn + fn)


def negatives_defined(matrix: np.ndarray) -> np.ndarray:
    """Where some weight is labelled negative (fp + tn != 0): the false
    positive rate and specificity."""
    _, fp, tn, _ = confusion_counts(matrix)
    return fp + tn != 0


def predicted_negatives_defined(matrix: np.ndarray) -> np.ndarray:
    """Where some weight is predicted negative (tn + fn != 0): the negative
    predictive value."""
    _, _, tn, fn = confusion_counts(matrix)
    return tn + fn != 0


# -- averages over classes (average) ----------------------------------------------------

def class_average(values: np.ndarray, defined: np.ndarray, support: np.ndarray,
                  average: str) -> tuple:
    """(value, defined) of 'macro' or 'weighted' averages of per-class
    `values`: classes whose value is undefined are left out (scikit-learn's
    `zero_division=np.nan`); 'weighted' weighs each by its `support` (the
    weight of its positives). Undefined when no class is defined (or,
    weighted, when the defined classes have no support)."""
    values, defined = np.asarray(values, np.float64), np.asarray(defined, bool)
    weights = np.where(defined, 1.0 if average == "macro" else np.asarray(support, np.float64),
                       0.0)
    total = weights.sum()
    if total == 0:
        return 0.0, False
    return float(np.sum(weights * np.where(defined, values, 0.0)) / total), True


# -- operating points of a curve (precision_at_recall...) ------------------------------

def operating_point(points: dict, kind: str, target: float) -> tuple:
    """(value, defined) from `curve_points` (every point: one per occupied
    bucket or exact score, predicting positive the scores at or above its
    threshold):

    * 'precision_at_recall': the highest precision among points of recall >= target
      (Keras `PrecisionAtRecall`, at every distinct score);
    * 'recall_at_precision': the highest recall among points of precision >= target
      (Keras `RecallAtPrecision`);
    * 'threshold_at_recall': the highest threshold whose recall is >= target.

    Undefined without positives, or when no point reaches the target."""
    tp, fn = points["tp"], points["fn"]
    if not len(tp) or tp[0] + fn[0] == 0:
        return 0.0, False
    if kind == "recall_at_precision":
        ok, value = points["precision"] >= target, points["recall"]
    else:
        ok = points["recall"] >= target
        value = points["precision"] if kind == "precision_at_recall" else points["threshold"]
    if not ok.any():
        return 0.0, False
    return float(np.max(value[ok])), True
