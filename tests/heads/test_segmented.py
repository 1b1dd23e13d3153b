"""update_metrics_segmented, with and without DeferredSums, against updating
each segment's examples on their own and against scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import precision_score, roc_auc_score

import heads
from heads.segments import DeferredSums


def _multi_head():
    return heads.MultiHead([
        heads.MultiLabelHead(3, name="ml", weight_column="w", thresholds=[0.3, 0.7],
                             classes_for_class_based_metrics=[0, 1, 2], extended_metrics=True),
        heads.BinaryClassHead(name="bin", weight_column="w", extended_metrics=True),
        heads.MultiClassHead(4, name="mc", weight_column="w", extended_metrics=True),
        heads.RegressionHead(name="reg", weight_column="w", extended_metrics=True),
    ])


def _batch(rng, n):
    y_ml = (rng.random((n, 3)) < [0.2, 0.4, 0.6]).astype(np.int64)
    y_bin = rng.integers(0, 2, (n, 1))
    y_mc = rng.integers(0, 4, (n, 1))
    y_reg = rng.normal(size=(n, 1)).astype(np.float32)
    logits = {"ml": (rng.normal(size=(n, 3)) + 2 * y_ml).astype(np.float32),
              "bin": (rng.normal(size=(n, 1)) + y_bin).astype(np.float32),
              "mc": rng.normal(size=(n, 4)).astype(np.float32),
              "reg": (y_reg + rng.normal(size=(n, 1))).astype(np.float32)}
    labels = {"ml": y_ml, "bin": y_bin, "mc": y_mc, "reg": y_reg}
    features = {"w": rng.uniform(0.5, 2.0, (n, 1)).astype(np.float32)}
    return features, logits, labels


def _take(batch, rows):
    return tuple({k: v[rows] for k, v in part.items()} for part in batch)


def _values(metrics):
    return {k: m.result() for k, m in metrics.items()}


@pytest.mark.parametrize("defer", [False, True])
def test_segments_equal_each_segment_alone(defer):
    rng = np.random.default_rng(3)
    head = _multi_head()
    n_seg = 3
    segmented = [head.metrics() for _ in range(n_seg)]
    alone = [head.metrics() for _ in range(n_seg)]
    deferred = DeferredSums() if defer else None
    kept = [[] for _ in range(n_seg)]
    for n in (500, 1, 800):
        batch = _batch(rng, n)
        seg = rng.integers(0, n_seg, n)
        head.update_metrics_segmented(segmented, *batch, seg, deferred=deferred)
        for s in range(n_seg):
            rows = np.flatnonzero(seg == s)
            if len(rows):
                head.update_metrics(alone[s], *_take(batch, rows))
                kept[s].append(_take(batch, rows))
    if defer:
        # Before apply() the dense metrics lack the deferred batches.
        assert segmented[0]["example_count/ml"].result() == 0
        deferred.apply()
    for s in range(n_seg):
        got, want = _values(segmented[s]), _values(alone[s])
        assert got.keys() == want.keys()
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-9, atol=1e-12, err_msg=key)
        # One segment against scikit-learn, from the examples themselves.
        feats = np.concatenate([f["w"] for f, _, _ in kept[s]])[:, 0].astype(np.float64)
        y = np.concatenate([lab["bin"] for _, _, lab in kept[s]])[:, 0]
        z = np.concatenate([lo["bin"] for _, lo, _ in kept[s]])[:, 0].astype(np.float64)
        p = 1 / (1 + np.exp(-z))
        assert got["example_count/bin"] == len(y)
        assert got["auc/bin"] == pytest.approx(roc_auc_score(y, p, sample_weight=feats), abs=1e-6)
        assert got["precision/bin"] == pytest.approx(
            precision_score(y, p > 0.5, sample_weight=feats), rel=1e-9)


def test_deferred_sums_apply_once_and_forget():
    rng = np.random.default_rng(4)
    head = heads.BinaryClassHead(extended_metrics=True)
    metrics = head.metrics()
    deferred = DeferredSums()
    _, logits, labels = _batch(rng, 100)
    head.update_metrics_segmented([metrics], {}, logits["bin"], labels["bin"], None,
                                  deferred=deferred)
    deferred.apply()
    deferred.apply()  # nothing left: counts stay
    assert metrics["example_count"].result() == 100
    assert metrics["label/mean"].result() == pytest.approx(labels["bin"].mean(), rel=1e-12)
