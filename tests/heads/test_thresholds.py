"""Threshold metrics when the thresholds are not given in ascending order,
and scores exactly at a threshold, against counts written out in numpy.

The heads bin each score once by how many thresholds it exceeds and take
every threshold's confusion counts from cumulative sums; these tests check
that the counts land on the right threshold whatever the given order."""
import numpy as np
import pytest

import heads
from tests.heads.heads_oracle import sigmoid32


def _data(rng, n, n_classes, at_half):
    y = (rng.random((n, n_classes)) < np.linspace(0.2, 0.6, n_classes)).astype(np.int64)
    logits = (rng.normal(-0.5, 1.5, (n, n_classes)) + 1.5 * y).astype(np.float32)
    logits[:at_half] = 0.0  # probability 0.5 exactly: not above threshold 0.5
    w = rng.uniform(0.5, 2.0, (n, 1)).astype(np.float32)
    return y, logits, w


def _drop_near(y, logits, w, thresholds):
    """Rows whose probabilities are all clear of every threshold (the
    float32 and float64 sigmoids then agree on which side they fall), or
    exactly at 0.5."""
    p = sigmoid32(logits).astype(np.float64)
    near = np.zeros(len(p), bool)
    for t in thresholds:
        near |= ((np.abs(p - t) < 1e-5) & (p != 0.5)).any(axis=1)
    keep = ~near
    return y[keep], logits[keep], w[keep]


def _counts(y, p, w, t):
    """Weighted (tp, fp, fn, tn) at threshold t, predicted positive where p > t."""
    pred = p > t
    pos = y != 0
    return tuple(float(np.sum(w * m)) for m in (pred & pos, pred & ~pos, ~pred & pos,
                                                ~pred & ~pos))


def _assert_pooled(metrics, counts, suffix):
    tp, fp, fn, tn = counts
    assert metrics["precision/" + suffix].result() == pytest.approx(tp / (tp + fp), rel=1e-9)
    assert metrics["recall/" + suffix].result() == pytest.approx(tp / (tp + fn), rel=1e-9)
    assert metrics["accuracy/" + suffix].result() == pytest.approx(
        (tp + tn) / (tp + fp + fn + tn), rel=1e-9)


@pytest.mark.parametrize("thresholds", [(0.7, 0.2, 0.5), (0.5, 0.9, 0.1, 0.3), (0.5,)])
def test_multi_label_thresholds_in_any_order(thresholds):
    rng = np.random.default_rng(11)
    n_classes = 4
    y, logits, w = _drop_near(*_data(rng, 3000, n_classes, at_half=40), thresholds)
    head = heads.MultiLabelHead(n_classes, weight_column="w", thresholds=list(thresholds),
                                extended_metrics=True)
    metrics = head.metrics()
    head.update_metrics(metrics, {"w": w}, logits, y)
    p = sigmoid32(logits).astype(np.float64)
    wc = np.broadcast_to(w.astype(np.float64), y.shape)
    for t in thresholds:
        suffix = "positive_threshold_%g" % t
        _assert_pooled(metrics, _counts(y, p, wc, t), suffix)
        for c in range(n_classes):
            tp, fp, fn, _ = _counts(y[:, c], p[:, c], wc[:, c], t)
            key = "%%s/%s/class%d" % (suffix, c)
            assert metrics[key % "precision"].result() == pytest.approx(tp / (tp + fp), rel=1e-9)
            assert metrics[key % "recall"].result() == pytest.approx(tp / (tp + fn), rel=1e-9)
            assert metrics[key % "f1"].result() == pytest.approx(2 * tp / (2 * tp + fp + fn),
                                                                 rel=1e-9)


def test_binary_thresholds_in_any_order():
    rng = np.random.default_rng(12)
    thresholds = (0.9, 0.5, 0.1)
    y, logits, w = _drop_near(*_data(rng, 3000, 1, at_half=25), thresholds)
    head = heads.BinaryClassHead(weight_column="w", thresholds=list(thresholds))
    metrics = head.metrics()
    head.update_metrics(metrics, {"w": w}, logits, y)
    p = sigmoid32(logits).astype(np.float64)
    wf = w.astype(np.float64)
    for t in thresholds:
        suffix = "positive_threshold_%g" % t
        _assert_pooled(metrics, _counts(y, p, wf, t), suffix)
    # The class-id precision (logit > 0): exactly-0.5 rows are predicted negative.
    tp, fp, _, _ = _counts(y, p, wf, 0.5)
    assert metrics["precision"].result() == pytest.approx(tp / (tp + fp), rel=1e-9)


@pytest.mark.parametrize("head", [
    lambda t: heads.BinaryClassHead(thresholds=t),
    lambda t: heads.MultiLabelHead(3, thresholds=t),
])
@pytest.mark.parametrize("thresholds,twin", [
    ([0.5, 0.5000001], "0.5"),          # one key, 'positive_threshold_0.5'
    ([0.3, 0.1234561, 0.1234562], "0.123456"),
    ([0.25, 0.25 + 1e-9], "0.25"),      # also one float32
])
def test_thresholds_that_would_share_a_key_are_refused(head, thresholds, twin):
    """Two different thresholds that print alike in the metric keys (`%g`)
    or round to one float32 would blend two numbers in one row: refused,
    naming both."""
    with pytest.raises(ValueError, match=r"too close: .*reported as threshold %s" % twin):
        head(thresholds)


def test_thresholds_that_differ_in_their_keys_are_kept():
    assert heads.BinaryClassHead(thresholds=[0.5, 0.500001]).thresholds == (0.5, 0.500001)
    assert heads.BinaryClassHead(thresholds=[0.3, 0.3]).thresholds == (0.3, 0.3)  # the same one
