"""heads.replicates: one pass with (slice, group) segments gives the point
estimates of a run without groups, and replicate values equal to evaluating
the data reweighted (scikit-learn's weighted AUC for the AUCs, within the
compact histogram's error, which is far below the intervals' width)."""
import pickle

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from heads import BinaryClassHead, MultiClassHead, MultiHead, intervals, replicates
from pipeline.config import intervals as config_intervals
from pipeline.config import HeadConfig

G = 8


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float32)
    logit = (rng.normal(0, 1, n) + 1.5 * y).astype(np.float32)
    w = rng.uniform(0.5, 2, n).astype(np.float32)
    return y, logit, w, rng.integers(0, 3, n), rng.integers(0, G, n)


def _binary():
    return BinaryClassHead(weight_column="w", thresholds=[0.3, 0.7], extended_metrics=True)


def test_point_estimates_are_those_without_groups_binary_and_multi_head():
    y, logit, w, slices, groups = _data(3000)
    cls = (logit > 0.5).astype(np.int64) + (logit > 1.5)
    multi = MultiHead([BinaryClassHead(weight_column="w", name="b", extended_metrics=True),
                       MultiClassHead(3, weight_column="w", name="m", extended_metrics=True)])
    features = {"w": w[:, None]}
    logits = {"b": logit[:, None], "m": np.stack([logit, -logit, logit / 2], 1)}
    labels = {"b": y[:, None], "m": cls[:, None]}
    for head, lo, la in ((_binary(), logit[:, None], y[:, None]), (multi, logits, labels)):
        seg, pairs = replicates.pairs(slices, groups, 3, G)
        stats = head.segmented_statistics(features, lo, la, seg, len(pairs.groups))
        folded = [head.metrics() for _ in range(3)]
        head.absorb_statistics(folded, replicates.fold(stats, pairs))
        direct = [head.metrics() for _ in range(3)]
        head.update_metrics_segmented(direct, features, lo, la, slices)
        for a, b in zip(folded, direct):
            assert replicates.interval_rows(a) == replicates.interval_rows(b)
            np.testing.assert_allclose(replicates.row_values(a), replicates.row_values(b),
                                       rtol=1e-12, atol=1e-12)


def test_replicate_values_are_the_reweighted_data_and_states_merge():
    y, logit, w, slices, groups = _data(4000, seed=1)
    head = _binary()
    features = {"w": w[:, None]}
    seg, pairs = replicates.pairs(slices, groups, 3, G)
    stats = head.segmented_statistics(features, logit[:, None], y[:, None], seg,
                                      len(pairs.groups))
    prepared = replicates.prepare_scores(stats, pairs)
    whole, part0, part2 = (replicates.ReplicateState(G) for _ in range(3))
    for s in (0, 2):  # two slices merge into the state of their union
        whole.add(stats, pairs, s, prepared)
    part0.add(stats, pairs, 0, prepared)
    part2.add(stats, pairs, 2, prepared)
    merged = replicates.ReplicateState(G).merge_state([pickle.loads(pickle.dumps(part0)),
                                                       part2])
    weights = intervals.replicate_weights(intervals.POISSON_BOOTSTRAP, 4)[:, :G]
    values = replicates.replicate_values(head, whole, weights)
    np.testing.assert_allclose(replicates.replicate_values(head, merged, weights), values,
                               rtol=1e-12, atol=1e-12)
    point = head.metrics()
    keys = replicates.interval_rows(point)
    rows = (slices == 0) | (slices == 2)
    for r in range(len(weights)):
        exact = head.metrics()
        ww = (w * weights[r][groups])[rows]
        head.update_metrics(exact, {"w": ww[:, None]}, logit[rows][:, None], y[rows][:, None])
        expected = replicates.row_values(exact)
        auc = [i for i, k in enumerate(keys) if k.startswith("auc")]
        other = [i for i in range(len(keys)) if i not in auc]
        # float32 inside the head: the weights multiply before or after it
        np.testing.assert_allclose(values[r, other], expected[other], rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(values[r, auc], expected[auc], atol=5e-4)
        oracle = roc_auc_score(y[rows], logit[rows], sample_weight=ww)
        assert values[r, keys.index("auc")] == pytest.approx(oracle, abs=2e-4)


def test_compact_auc_replicates_give_the_exact_replicates_stderr():
    """The replicates' AUCs from the compact histograms against scikit-learn's
    exact weighted AUC of each replicate: the stderr agrees within 3 % and
    every replicate within 5 % of the interval's half-width."""
    n = 50_000
    y, logit, w, _, _ = _data(n, seed=2)
    groups = np.random.default_rng(3).integers(0, 20, n)
    head = BinaryClassHead(weight_column="w")
    seg, pairs = replicates.pairs(np.zeros(n), groups, 1, 20)
    stats = head.segmented_statistics({"w": w[:, None]}, logit[:, None], y[:, None], seg,
                                      len(pairs.groups))
    state = replicates.ReplicateState(20)
    state.add(stats, pairs, 0, replicates.prepare_scores(stats, pairs))
    weights = intervals.replicate_weights(intervals.JACKKNIFE, 20)
    auc = replicates.interval_rows(head.metrics()).index("auc")
    compact = replicates.replicate_values(head, state, weights)[:, auc]
    exact = np.array([roc_auc_score(y, logit, sample_weight=w * weights[r][groups])
                      for r in range(20)])
    se_compact = intervals.stderr(intervals.JACKKNIFE, compact[:, None])[0]
    se_exact = intervals.stderr(intervals.JACKKNIFE, exact[:, None])[0]
    assert se_compact == pytest.approx(se_exact, rel=0.03)
    half = intervals.t_quantile(0.975, 19) * se_exact
    assert np.max(np.abs(compact - exact)) < 0.05 * half


def test_counts_get_no_interval():
    head = _binary()
    keys = replicates.interval_rows(head.metrics())
    assert "auc" in keys and "accuracy" in keys and "average_loss" in keys
    assert not [k for k in keys if "example_count" in k or k.endswith("/weight")
                or "calibration/weight" in k]


def test_the_config_estimate_bounds_a_filled_state():
    """config_intervals.replicate_bytes (no numpy at config time) is above
    what a binary head's replicate state holds after many distinct scores."""
    n = 200_000
    y, logit, w, _, groups = _data(n, seed=4)
    head = _binary()
    seg, pairs = replicates.pairs(np.zeros(n), groups, 1, G)
    stats = head.segmented_statistics({"w": w[:, None]}, logit[:, None] * 4, y[:, None], seg,
                                      len(pairs.groups))
    state = replicates.ReplicateState(G)
    state.add(stats, pairs, 0, replicates.prepare_scores(stats, pairs))
    cfg = HeadConfig(name=None, type="binary", label="y", thresholds=(0.3, 0.7))
    assert 0.3 * config_intervals.replicate_bytes(cfg, G) < state.nbytes() \
        < config_intervals.replicate_bytes(cfg, G)
