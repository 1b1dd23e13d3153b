"""Independent oracles and small helpers for the heads tests.

Nothing here imports `heads`: expected values come from numpy, scikit-learn
and the arithmetic written in the tests.

* `sigmoid32` / `softmax32`: the float32 probabilities a head scores with.
* `roc_auc`: exact ROC AUC, ties counted half (scikit-learn).
* `pr_auc`: Keras' interpolated precision-recall area (Davis & Goadrich,
  `tf.keras.metrics.AUC(curve='PR', summation_method='interpolation')`)
  evaluated with one threshold per distinct score instead of 200 fixed ones.
"""
import numpy as np
from sklearn.metrics import roc_auc_score


def sigmoid32(logits):
    """The float32 probability of float32 logits: the float64 sigmoid rounded
    to float32. (Not `tf.math.sigmoid` on float32: its vectorised kernel can
    round the same logit differently at different positions, e.g. -12 ->
    6.1441747e-06 or 6.1441742e-06, which would break ties.)"""
    logits = np.asarray(logits, np.float32).astype(np.float64)
    return (1. / (1. + np.exp(-logits))).astype(np.float32)


def _flat(labels, scores, weights):
    """Flattened float64 labels, scores and weights (weights already broadcast
    to the labels' shape, see `broadcast_weights`)."""
    scores = np.asarray(scores, np.float64).ravel()
    labels = np.asarray(labels, np.float64).ravel()
    weights = np.ones_like(scores) if weights is None else np.asarray(weights, np.float64).ravel()
    assert labels.shape == scores.shape == weights.shape, (labels.shape, scores.shape,
                                                           weights.shape)
    return labels, scores, weights


def broadcast_weights(weights, like):
    """Weights of shape [D0, ..., DN] or [D0, ..., DN, 1] broadcast to `like`."""
    like = np.asarray(like)
    weights = np.asarray(weights, np.float64)
    if weights.ndim == like.ndim - 1:
        weights = weights[..., None]
    return np.broadcast_to(weights, like.shape)


def roc_auc(labels, scores, weights=None):
    """Exact weighted ROC AUC; ties between a positive and a negative count half."""
    y, s, w = _flat(labels, scores, weights)
    return float(roc_auc_score(y, s, sample_weight=w))


def pr_auc(labels, scores, weights=None):
    """Keras' interpolated PR AUC with a threshold at every distinct score.

    Thresholds t_0 = -inf < t_1 < ... < t_k are the distinct scores; a score
    is predicted positive when score > t. For each segment i -> i+1
    (Keras `interpolate_pr_auc`):
        dtp = tp_i - tp_{i+1},  p = tp + fp,  dp = p_i - p_{i+1}
        slope = dtp / dp,  intercept = tp_{i+1} - slope * p_{i+1}
        area_i = slope * (dtp + intercept * ln(p_i / p_{i+1}))   (ratio 1 if p_{i+1} = 0)
    and the AUC is sum(area_i) / total positive weight (0 without positives).
    """
    y, s, w = _flat(labels, scores, weights)
    distinct, index = np.unique(s, return_inverse=True)
    pos = np.bincount(index, w * y, len(distinct))
    neg = np.bincount(index, w * (1 - y), len(distinct))
    # tp[j] = positive weight with score > t_j: a reverse cumulative sum, then 0.
    tp = np.append(np.cumsum(pos[::-1])[::-1], 0.0)
    fp = np.append(np.cumsum(neg[::-1])[::-1], 0.0)
    p = tp + fp
    dtp = tp[:-1] - tp[1:]
    dp = p[:-1] - p[1:]
    slope = np.divide(dtp, dp, out=np.zeros_like(dtp), where=dp > 0)
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = np.where(both, p[:-1] / np.where(p[1:] > 0, p[1:], 1.0), 1.0)
    area = slope * (dtp + intercept * np.log(ratio))
    total_pos = tp[0]
    return float(area.sum() / total_pos) if total_pos > 0 else 0.0


def names(*patterns):
    """A regex matching a message that contains every pattern, in any order
    (for `pytest.raises(match=...)`)."""
    return "(?s)^" + "".join("(?=.*%s)" % p for p in patterns)


def result_value(metric):
    value = np.asarray(metric.result())
    return float(value) if value.ndim == 0 else value


def results(metrics):
    """{key: python float (or array)} from a dict of metric objects."""
    return {k: result_value(m) for k, m in metrics.items()}


def evaluate(head, features, logits, labels, regularization_losses=None):
    """Fresh `head.metrics()` updated with one batch; returns the updated dict."""
    metrics = head.metrics(regularization_losses=regularization_losses)
    return head.update_metrics(metrics, features, logits, labels,
                               regularization_losses=regularization_losses)


def assert_metrics(expected, metrics, rtol=1e-6, atol=1e-6, exact_keys=True):
    """Keys equal to `expected`'s (when `exact_keys`) and every value close."""
    got = results(metrics)
    if exact_keys:
        assert sorted(got) == sorted(expected), (
            "missing %s, unexpected %s" % (sorted(set(expected) - set(got)),
                                           sorted(set(got) - set(expected))))
    bad = {k: (got.get(k), v) for k, v in expected.items()
           if k not in got or not np.allclose(got[k], v, rtol=rtol, atol=atol)}
    assert not bad, "metric: (got, expected): %s" % bad
