"""The AUC state: the highest `exact_limit` distinct scores exactly, the
lower ones in a bounded histogram (at most `max_buckets` occupied buckets at
the finest level that allows), the same result from any partition of the
data."""
import pickle

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from heads import buckets, formulas, states
from heads.auc import AUC, CurveUnion

MANTISSA_BITS = 10  # the level the layout checks below use when none is named


def bucket_index(probabilities, mantissa_bits=MANTISSA_BITS):
    """Bucket of each float32 probability (int64)."""
    index, _ = buckets.index_and_position(probabilities, mantissa_bits)
    return index.astype(np.int64)


def bucket_lower_edges(mantissa_bits=MANTISSA_BITS):
    """The smallest probability of every bucket of a layout (float64)."""
    return buckets.lower_edges(np.arange(buckets.num_buckets(mantissa_bits)), mantissa_bits)


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
    idx = bucket_index(p)
    assert np.all(np.diff(idx) >= 0)
    edges = bucket_lower_edges()
    assert np.all(np.diff(edges) >= 0)
    assert np.all(edges[idx] <= p.astype(np.float64) + 1e-12)
    # Equal float32 scores share a bucket and a position in it.
    again = np.r_[p, p[::7]]
    assert np.array_equal(bucket_index(again)[len(p):], idx[::7])
    assert np.array_equal(buckets.position(again, MANTISSA_BITS)[len(p):],
                          buckets.position(p, MANTISSA_BITS)[::7])


def _wide_scores(n, rng):
    """float32 probabilities over every exponent: q = 2**-uniform(1, 126) on both sides."""
    q = np.exp2(-rng.uniform(1, 126, n))
    return np.where(rng.random(n) < 0.5, q, 1 - q).astype(np.float32)


def test_coarsening_equals_bucketing_with_one_bit_less():
    rng = np.random.default_rng(8)
    p = np.r_[_wide_scores(20_000, rng), rng.random(20_000).astype(np.float32),
              np.float32([0, 1e-45, 1e-38, 0.25, 0.5, 0.75, 1]),
              np.nextafter(np.float32(0.5), np.float32(0))]
    for bits in (buckets.MAX_MANTISSA_BITS, 13, 9, 1):
        idx, t = bucket_index(p, bits), buckets.position(p, bits)
        assert np.all((t > 0) & (t < 1))
        coarse, upper = buckets.coarsen(idx, bits)
        np.testing.assert_array_equal(coarse, bucket_index(p, bits - 1))
        np.testing.assert_array_equal((upper + t) / 2, buckets.position(p, bits - 1))
        edges = buckets.lower_edges(idx, bits)
        assert np.all(edges <= p.astype(np.float64))
        assert np.all(buckets.lower_edges(coarse, bits - 1) <= edges)
        # Positions ascend with the score inside a bucket.
        order = np.lexsort((p, idx))
        same = idx[order][1:] == idx[order][:-1]
        assert np.all(np.diff(t[order])[same] >= 0)


def test_coarsening_several_levels_at_once_equals_bucketing_that_coarse():
    rng = np.random.default_rng(18)
    p = np.r_[_wide_scores(20_000, rng), rng.random(20_000).astype(np.float32),
              np.float32([0, 1e-45, 1e-38, 0.25, 0.5, 0.75, 1])]
    bits = buckets.MAX_MANTISSA_BITS
    idx, t = bucket_index(p, bits), buckets.position(p, bits)
    for levels in (0, 2, 7, bits):
        coarse, offset = buckets.coarsen(idx, bits, levels=levels)
        np.testing.assert_array_equal(coarse, bucket_index(p, bits - levels))
        np.testing.assert_allclose((offset + t) / 2 ** levels,
                                   buckets.position(p, bits - levels), rtol=1e-15)
    with pytest.raises(ValueError, match="cannot coarsen"):
        buckets.coarsen(idx, bits, levels=bits + 1)


def test_fitting_level_is_the_finest_level_that_fits():
    rng = np.random.default_rng(19)
    p = np.r_[_wide_scores(5_000, rng), rng.random(5_000).astype(np.float32)]
    bits = buckets.MAX_MANTISSA_BITS
    index = np.unique(bucket_index(p, bits))
    for max_buckets in (buckets.num_buckets(0), 300, 2_000, len(index) - 1, len(index)):
        # By brute force: occupancy level by level, from the finest down.
        fits = next(m for m in range(bits, -1, -1)
                    if len(np.unique(bucket_index(p, m))) <= max_buckets)
        assert buckets.fitting_level(index, bits, max_buckets) == fits


def test_state_is_bounded_whatever_the_data():
    rng = np.random.default_rng(9)
    p = _wide_scores(300_000, rng)
    y = (rng.random(len(p)) < 0.3).astype(np.float64)
    metric = AUC("auc")
    for chunk in np.array_split(np.arange(len(p)), 5):
        metric.update_state(y[chunk], p[chunk])
    state = metric.get_state()
    assert len(state["scores"]) == AUC.DEFAULT_EXACT_LIMIT
    assert 0 < len(state["bucket_index"]) <= AUC.DEFAULT_MAX_BUCKETS
    assert sum(a.nbytes for a in state.values()) < 1_000_000
    # Its largest possible size: every exact score and every bucket taken.
    assert AUC.DEFAULT_EXACT_LIMIT * (4 + 8 + 8) + AUC.DEFAULT_MAX_BUCKETS * (4 + 4 * 8) \
        < 1_000_000
    assert metric.result() == pytest.approx(roc_auc_score(y, p), abs=1e-6)


def test_histogram_parts_at_different_levels_merge_to_one_pass():
    """Small parts bucket finer than the whole; merged, they coarsen to the
    level of one pass and hold the same state."""
    y, p, w = _data(60_000, seed=5)
    kwargs = dict(exact_limit=1000, max_buckets=2000)
    whole = AUC("auc", **kwargs)
    whole.update_state(y, p, w)
    rng = np.random.default_rng(6)
    cuts = np.sort(rng.choice(np.arange(1, len(y)), 11, replace=False))
    parts = []
    for idx in np.split(rng.permutation(len(y)), cuts):
        part = AUC("auc", **kwargs)
        for piece in np.array_split(idx, 3):
            part.update_state(y[piece], p[piece], w[piece])
        parts.append(part)
    levels = {int(part.get_state()["mantissa_bits"]) for part in parts if not part.exact}
    assert max(levels) > int(whole.get_state()["mantissa_bits"])
    rng.shuffle(parts)
    merged = AUC("auc", **kwargs).merge_state(parts)
    a, b = merged.get_state(), whole.get_state()
    assert sorted(a) == sorted(b)
    for key in a:
        if a[key].dtype.kind == "f":
            np.testing.assert_allclose(a[key], b[key], rtol=1e-12, atol=1e-9, err_msg=key)
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert merged.result() == pytest.approx(whole.result(), abs=1e-12)
    pr = AUC("pr", curve="PR", **kwargs).merge_state(
        [AUC.from_state(dict(part.get_state(), curve=np.asarray("PR"))) for part in parts])
    pr_whole = AUC("pr", curve="PR", **kwargs)
    pr_whole.update_state(y, p, w)
    assert pr.result() == pytest.approx(pr_whole.result(), abs=1e-12)


def test_from_state_keeps_the_configuration():
    y, p, w = _data(3000, seed=7)
    pr = AUC("pr", curve="PR", exact_limit=500, max_buckets=300)
    pr.update_state(y, p, w)
    copy = AUC.from_state(pr.get_state())
    assert (copy.curve, copy.exact_limit, copy.max_buckets) == ("PR", 500, 300)
    assert copy.result() == pr.result()
    exact = AUC("exact", exact_limit=None)
    exact.update_state(y, p, w)
    assert AUC.from_state(exact.get_state()).exact_limit is None
    with pytest.raises(ValueError, match="curve"):
        AUC("roc").merge_state([pr])
    with pytest.raises(ValueError, match="max_buckets"):
        AUC("pr", curve="PR", exact_limit=500).merge_state([pr])
    with pytest.raises(ValueError, match="max_buckets"):
        AUC("auc", max_buckets=10)


def test_within_bucket_pairs_by_hand():
    # Without positions a bucket's pairs count one half: ties.
    assert formulas.within_bucket_pairs(2.0, 3.0) == 3.0
    # One positive at position .6, one negative at .4: 1/2 + .6 - .4 = .7 of the pair.
    assert formulas.within_bucket_pairs(1.0, 1.0, 0.6, 0.4) == pytest.approx(0.7)
    # .9 over .1: 1/2 + .9 - .1 = 1.3, clipped to the one pair there is.
    assert formulas.within_bucket_pairs(1.0, 1.0, 0.9, 0.1) == 1.0
    assert formulas.within_bucket_pairs(1.0, 1.0, 0.1, 0.9) == 0.0
    # Weights 2 (positive) and 3 (negative), all at position .25: ties, 6 / 2.
    assert formulas.within_bucket_pairs(2.0, 3.0, 2 * 0.25, 3 * 0.25) == pytest.approx(3.0)


def test_pr_area_of_one_bucket_by_hand():
    """One bucket: a positive and a negative of weight 1.

    Without positions: one segment (0, 0) -> (tp 1, p 2), slope 1/2,
    intercept 0, area 1/2 * 1 = 0.5.
    Positive on top (.9 over .1): pairs 1, enclosed area 1/2, break point
    at p = 1, tp = (2 * 1/2 + 1) / 2 = 1: segments (0, 0) -> (1, 1), area 1,
    and (1, 1) -> (1, 2), area 0: AUC-PR 1, the exact value for a positive
    scored above a negative.
    Negative on top (.1 under .9): pairs 0, area -1/2, break at p = 1,
    tp = 0: (0, 0) -> (0, 1) area 0; (0, 1) -> (1, 2): slope 1, intercept
    0 - 1 * 1 = -1, area 1 * (1 - ln(2 / 1)): AUC-PR 1 - ln 2, as exact.
    """
    one = np.ones(1)
    assert formulas.pr_auc(one, one) == pytest.approx(0.5)
    assert formulas.pr_auc(one, one, 0.9 * one, 0.1 * one) == pytest.approx(1.0)
    assert formulas.pr_auc(one, one, 0.1 * one, 0.9 * one) == pytest.approx(1 - np.log(2))
    exact = AUC("pr", curve="PR")
    exact.update_state([1, 0], [0.1, 0.9])
    assert exact.result() == pytest.approx(1 - np.log(2))


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


def test_roc_and_pr_read_one_curve_state():
    """A head's ROC AUC and AUC-PR of the same scores are two views of one
    curve state (one update instead of two): the AUC-PR of that state must be
    the PR AUC of the data, and an update through either view reaches both."""
    rng = np.random.default_rng(7)
    y = (rng.random(90_000) < 0.2).astype(np.float64)
    p = 1 / (1 + np.exp(-(rng.normal(size=90_000) + 1.5 * y)))
    roc = AUC("auc", curve="ROC")
    pr = AUC.reading(roc, "auc_pr", "PR")
    for part in np.array_split(np.arange(len(y)), 3):  # past exact_limit: histogram too
        roc.update_state(y[part], p[part])
        assert pr.curve_state is roc.curve_state
    assert not pr.exact
    alone = AUC("auc_pr", curve="PR")
    alone.update_state(y, p)
    assert pr.result() == pytest.approx(alone.result(), abs=1e-12)
    assert pr.result() == pytest.approx(_pr_auc_by_hand(y, p.astype(np.float32).astype(
        np.float64), np.ones_like(y)), abs=1e-6)
    assert roc.result() == pytest.approx(roc_auc_score(y, p.astype(np.float32)), abs=1e-6)

    pr.update_state(y[:10], p[:10])  # through the AUC-PR: the ROC AUC has it too
    alone_roc = AUC("auc")
    alone_roc.update_state(np.r_[y, y[:10]], np.r_[p, p[:10]])
    assert roc.result() == pytest.approx(alone_roc.result(), abs=1e-12)
    other = AUC("auc", max_buckets=AUC.DEFAULT_MAX_BUCKETS // 2, exact_limit=None)
    view = AUC.reading(other, "auc_pr", "PR")
    assert (view.max_buckets, view.exact_limit) == (other.max_buckets, other.exact_limit)


def test_a_union_of_parts_equals_one_pass():
    """A pooled AUC over the union of per-part curve states (as a multi-label
    head's pooled `auc` over its per-class ones) holds the one-pass state;
    it reads the parts when read, and once written to it holds a state of
    its own."""
    rng = np.random.default_rng(11)
    n, k = 30_000, 3  # 90k pooled scores: past exact_limit
    y = rng.random((n, k)) < [0.1, 0.3, 0.5]
    p = 1 / (1 + np.exp(-(rng.normal(size=(n, k)) + 1.4 * y)))
    parts = [AUC("auc/class%d" % c) for c in range(k)]
    pooled = AUC.union("auc", "ROC", parts)
    for rows in np.array_split(np.arange(n), 4):
        assert isinstance(pooled.curve_state, CurveUnion)
        for c in range(k):
            parts[c].update_state(y[rows, c], p[rows, c])
    one_pass = AUC("auc")
    one_pass.update_state(y.ravel(), p.ravel())
    got, want = pooled.get_state(), one_pass.get_state()
    assert sorted(got) == sorted(want)
    for key in want:
        if want[key].dtype.kind in "US":
            assert got[key] == want[key], key
        else:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12, err_msg=key)
    assert pooled.result() == pytest.approx(roc_auc_score(y.ravel(), p.ravel().astype(
        np.float32)), abs=1e-6)

    parts[0].update_state([1], [0.5])  # the union reads its parts as they are now
    one_pass.update_state([1], [0.5])
    assert pooled.result() == pytest.approx(one_pass.result(), abs=1e-12)
    pooled.update_state([0], [0.25])  # a state of its own now: the parts keep theirs
    assert not isinstance(pooled.curve_state, CurveUnion)
    one_pass.update_state([0], [0.25])
    assert pooled.result() == pytest.approx(one_pass.result(), abs=1e-12)
    parts[1].update_state([1], [0.75])
    assert pooled.result() == pytest.approx(one_pass.result(), abs=1e-12)


def test_views_merge_through_the_auc_holding_their_state():
    """Merging the AUC-PR of a pair with another pair's merges nothing (the
    ROC AUCs' merge brings the scores), so merging every key of two dicts
    counts each score once; merging the views without their holders is an
    error when read, not a value that misses data."""
    rng = np.random.default_rng(12)
    y = (rng.random((2, 5000)) < 0.3).astype(np.float64)
    p = rng.random((2, 5000)).astype(np.float32)

    def pair(part=None):
        roc = AUC("auc")
        pr = AUC.reading(roc, "auc_pr", "PR")
        if part is not None:
            roc.update_state(y[part], p[part])
        return roc, pr

    sources = [pair(0), pair(1)]
    both = pair()
    for target, source in ((both[1], sources[0][1]), (both[0], sources[0][0]),
                           (both[0], sources[1][0]), (both[1], sources[1][1])):
        target.merge_state([source])
    alone = AUC("pr", curve="PR")
    alone.update_state(y.ravel(), p.ravel())
    assert both[1].result() == pytest.approx(alone.result(), abs=1e-12)

    pr_only = pair()
    pr_only[1].merge_state([sources[0][1]])
    with pytest.raises(states.IncompatibleStateError, match="merge every metric"):
        pr_only[1].result()
    pr_only[0].merge_state([sources[0][0]])  # its holder catches up
    assert pr_only[1].result() == pytest.approx(sources[0][1].result(), abs=1e-12)

    parts = [pair(0), pair(1)]
    pooled = AUC.union("auc", "ROC", [roc for roc, _ in parts])
    fresh_parts = [pair(), pair()]
    fresh = AUC.union("auc", "ROC", [roc for roc, _ in fresh_parts])
    fresh.merge_state([pooled])  # without merging the parts
    with pytest.raises(states.IncompatibleStateError, match="merge every metric"):
        fresh.result()
    for (into, _), (part, _) in zip(fresh_parts, parts):
        into.merge_state([part])
    assert fresh.result() == pytest.approx(pooled.result(), abs=1e-12)


def test_exact_states_merge_like_sorting_the_union():
    """ScoresState.merge (a linear merge of two sorted runs) equals grouping
    the union's scores from scratch: ties across and within parts, parts of
    very different sizes, an empty part."""
    rng = np.random.default_rng(5)
    for n_a, n_b in ((1000, 1000), (5000, 3), (3, 5000), (0, 10), (10, 0)):
        # Few distinct values: many ties, within each part and across them.
        a = rng.integers(0, 400, n_a).astype(np.float32) / 400
        b = rng.integers(0, 400, n_b).astype(np.float32) / 400
        wa, wb = rng.random((2, n_a)), rng.random((2, n_b))
        merged = states.ScoresState.from_values(a, *wa).merge(states.ScoresState.from_values(b, *wb))
        union = np.concatenate([a, b])
        distinct, inverse = np.unique(union, return_inverse=True)
        np.testing.assert_array_equal(merged.scores, distinct)
        np.testing.assert_allclose(merged.pos, np.bincount(inverse, np.r_[wa[0], wb[0]],
                                                           len(distinct)), rtol=1e-12)
        np.testing.assert_allclose(merged.neg, np.bincount(inverse, np.r_[wa[1], wb[1]],
                                                           len(distinct)), rtol=1e-12)


def test_views_pickled_with_their_dict_stay_views():
    """One pickle of a dict keeps the views of one curve state one state (a
    union over its parts too); an AUC pickled alone comes back with a copy of
    the state it reads, and the same value."""
    rng = np.random.default_rng(13)
    y = (rng.random((3, 3000)) < 0.3).astype(np.float64)
    p = rng.random((3, 3000)).astype(np.float32)
    parts = [AUC("auc/class%d" % c) for c in range(3)]
    for c, part in enumerate(parts):
        part.update_state(y[c], p[c])
    pooled = AUC.union("auc", "ROC", parts)
    metrics = {"auc": pooled, "auc_pr": AUC.reading(pooled, "auc_pr", "PR")}
    metrics.update({part.info.key: part for part in parts})
    back = pickle.loads(pickle.dumps(metrics))
    assert back["auc_pr"].curve_state is back["auc"].curve_state
    assert all(a is b for a, b in zip(back["auc"].curve_state.parts,
                                      [back["auc/class%d" % c] for c in range(3)]))
    for key, metric in metrics.items():
        assert back[key].result() == metric.result(), key
        assert pickle.loads(pickle.dumps(metric)).result() == metric.result(), key


def test_views_share_folding_and_merging_work_and_results():
    """The ROC and PR AUC of the same scores (one curve state) fold their
    buffered scores and merge once between them, and both equal AUCs that
    never shared anything."""
    rng = np.random.default_rng(11)
    n = 120_000
    scores = rng.random(n).astype(np.float32)
    pos = (rng.random(n) < scores).astype(np.float64)
    roc = AUC("auc", "ROC", exact_limit=4096)
    pr = AUC.reading(roc, "pr", "PR")
    alone_roc, alone_pr = AUC("auc", "ROC", exact_limit=4096), AUC("pr", "PR", exact_limit=4096)
    for lo in range(0, n, 10_000):
        part = slice(lo, lo + 10_000)
        roc.curve_state.add_scores(scores[part], pos[part], 1 - pos[part])
        alone_roc.update_state(pos[part], scores[part])
        alone_pr.update_state(pos[part], scores[part])
    assert pr.curve_state is roc.curve_state
    assert roc.result() == pytest.approx(alone_roc.result(), abs=1e-12)
    assert pr.result() == pytest.approx(alone_pr.result(), abs=1e-12)
    # Merging the pair into a fresh pair: done once, into the one state.
    into_roc = AUC("auc", "ROC", exact_limit=4096)
    into_pr = AUC.reading(into_roc, "pr", "PR")
    into_roc.merge_state([roc])
    into_pr.merge_state([pr])
    assert into_pr.curve_state is into_roc.curve_state
    assert into_pr.result() == pytest.approx(alone_pr.result(), abs=1e-12)
