"""The AUC state: exact while small, fixed-size histogram past the limit,
the same result from any partition of the data."""
import pickle

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from heads import buckets, formulas
from heads.metrics import AUC


def _pr_auc_by_hand(y, p, w):
    """Keras' interpolated PR area (Davis & Goadrich), one point per distinct score."""
    order = np.argsort(-p, kind="stable")
    y, p, w = y[order], p[order], w[order]
    distinct = np.r_[np.flatnonzero(np.diff(p)), len(p) - 1]
    tp = np.r_[0.0, np.cumsum(w * y)[distinct]]
    fp = np.r_[0.0, np.cumsum(w * (1 - y))[distinct]]
    total = 0.0
    for i in range(1, len(tp)):
        dtp, dp = tp[i] - tp[i - 1], (tp[i] + fp[i]) - (tp[i - 1] + fp[i - 1])
        if dp <= 0:
            continue
        slope = dtp / dp
        intercept = tp[i] - slope * (tp[i] + fp[i])
        ratio = (tp[i] + fp[i]) / (tp[i - 1] + fp[i - 1]) if tp[i - 1] + fp[i - 1] > 0 else 1.0
        total += slope * (dtp + intercept * np.log(ratio))
    return total / tp[-1]


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float64)
    p = (1 / (1 + np.exp(-(rng.normal(size=n) + y)))).astype(np.float32)
    return y, p, rng.uniform(0.1, 2, n)


def test_small_data_is_exact():
    y, p, w = _data(2000)
    roc, pr = AUC("auc"), AUC("pr", curve="PR")
    roc.update_state(y, p, w)
    pr.update_state(y, p, w)
    assert roc.exact
    assert roc.result() == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert pr.result() == pytest.approx(_pr_auc_by_hand(y, p.astype(np.float64), w), abs=1e-9)


def test_switches_to_bounded_histogram_and_stays_accurate():
    y, p, w = _data(200_000, seed=1)
    roc = AUC("auc", exact_limit=10_000)
    for chunk in np.array_split(np.arange(len(y)), 7):
        roc.update_state(y[chunk], p[chunk], w[chunk])
    assert not roc.exact
    state = roc.get_state()
    assert sum(a.nbytes for a in state.values()) < 1_000_000
    assert roc.result() == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=2e-6)


@pytest.mark.parametrize("limit", [None, 500, 5000])
def test_any_partition_merges_to_one_pass(limit):
    y, p, w = _data(4000, seed=2)
    whole = AUC("auc", exact_limit=limit)
    whole.update_state(y, p, w)
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(np.arange(1, len(y)), 9, replace=False))
    parts = []
    for idx in np.split(rng.permutation(len(y)), cuts):
        part = AUC("auc", exact_limit=limit)
        part.update_state(y[idx], p[idx], w[idx])
        parts.append(pickle.loads(pickle.dumps(part)))
    rng.shuffle(parts)
    merged = AUC("auc", exact_limit=limit).merge_state(parts)
    assert merged.exact == whole.exact
    assert merged.result() == pytest.approx(whole.result(), abs=1e-12)
    a, b = parts[0], parts[1]
    ab = AUC("auc", exact_limit=limit).merge_state([a, b]).result()
    ba = AUC("auc", exact_limit=limit).merge_state([b, a]).result()
    assert ab == pytest.approx(ba, abs=1e-15)
    restored = AUC.from_state(merged.get_state(), exact_limit=limit)
    assert restored.result() == pytest.approx(merged.result(), abs=1e-15)


def test_buckets_ascend_with_the_score_and_keep_float32_ties():
    p = np.sort(np.random.default_rng(4).random(10_000).astype(np.float32))
    p = np.r_[np.float32(0), np.float32(1e-30), p, np.float32(1)]
    idx = buckets.bucket_index(p)
    assert np.all(np.diff(idx) >= 0)
    edges = buckets.bucket_lower_edges()
    assert np.all(np.diff(edges) >= 0)
    assert np.all(edges[idx] <= p.astype(np.float64) + 1e-12)
    assert buckets.num_buckets() * 16 < 1_000_000


def test_all_positive_labels_follow_keras():
    # Keras: ROC AUC 0 (no negatives: fpr = 0/0 -> 0), PR AUC 1 (precision always 1).
    roc, pr = AUC("auc"), AUC("pr", curve="PR")
    roc.update_state([1, 1, 1], [0.2, 0.5, 0.9])
    pr.update_state([1, 1, 1], [0.2, 0.5, 0.9])
    assert roc.result() == 0.0
    assert pr.result() == pytest.approx(1.0)


def test_roc_by_hand():
    # scores .1(neg) .4(pos) .35(neg) .8(pos): pairs pos>neg: (.4>.1)(.4>.35)(.8>.1)(.8>.35) = 4/4.
    # Swap one: .3(pos) below .35(neg): 3 of 4 -> 0.75.
    roc = AUC("auc")
    roc.update_state([0, 1, 0, 1], [0.1, 0.3, 0.35, 0.8])
    assert roc.result() == pytest.approx(0.75)
    # A tie counts one half: pos .35 with neg .35 -> (1 + 0.5 + 1 + 1) / 4.
    tie = AUC("auc")
    tie.update_state([0, 1, 0, 1], [0.1, 0.35, 0.35, 0.8])
    assert tie.result() == pytest.approx(3.5 / 4)
    assert formulas.roc_auc(np.array([0.0, 1.0]), np.array([1.0, 0.0])) == 1.0
