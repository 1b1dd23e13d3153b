"""The Beam combiners of metric dicts (pipeline.evaluate.combine)."""
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

import heads
from pipeline.evaluate.combine import MergeMetrics


def test_merging_dicts_with_a_derived_pooled_auc_in_any_key_order():
    """The pooled multi-label AUC derives from the per-class AUCs of its dict;
    MergeMetrics must give the pooled AUC of all the data whatever the order
    of the keys (a per-class AUC merged first must not be counted twice)."""
    rng = np.random.default_rng(3)
    y = (rng.random((4000, 3)) < [0.2, 0.4, 0.6]).astype(np.int64)
    z = (rng.normal(size=(4000, 3)) + 1.5 * y).astype(np.float32)
    head = heads.MultiLabelHead(3, extended_metrics=True)
    parts = []
    for rows in (slice(0, 1500), slice(1500, 4000)):
        metrics = head.metrics()
        head.update_metrics(metrics, None, z[rows], y[rows])
        parts.append(metrics)
    parts[1] = dict(reversed(list(parts[1].items())))  # per-class keys first
    merged = MergeMetrics().add_input(MergeMetrics().add_input({}, parts[0]), parts[1])
    p = tf.math.sigmoid(z).numpy().astype(np.float64)
    assert merged["auc"].result() == pytest.approx(roc_auc_score(y.ravel(), p.ravel()), abs=1e-6)
    for c in range(3):
        assert merged["auc/class%d" % c].result() == pytest.approx(
            roc_auc_score(y[:, c], p[:, c]), abs=1e-6)
