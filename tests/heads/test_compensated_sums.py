"""Dense states add compensated (heads.states.two_sum): the same batch sums,
merged in any grouping and order, give bit-identical states, equal to the
correctly rounded sum (math.fsum, the oracle)."""
import math
from fractions import Fraction

import numpy as np
import pytest

from heads import metrics, states
from heads.segments import DeferredSums


def test_two_sum_is_exact():
    rng = np.random.default_rng(0)
    a = rng.normal(size=1000) * 10.0 ** rng.integers(-20, 20, 1000)
    b = rng.normal(size=1000) * 10.0 ** rng.integers(-20, 20, 1000)
    s, e = states.two_sum(a, b)
    for x, y, u, v in zip(a, b, s, e):
        assert Fraction(x) + Fraction(y) == Fraction(u) + Fraction(v)


def test_an_infinite_sum_keeps_no_error():
    s, e = states.two_sum(np.array([np.inf, 1e308, np.nan]), np.array([1.0, 1e308, 1.0]))
    assert np.isinf(s[:2]).all() and np.isnan(s[2]) and (e == 0).all()
    merged = states.MeanState(np.float64(np.inf), np.float64(1)).merge(
        states.MeanState(np.float64(1.0), np.float64(1)))
    assert merged.total == np.inf


def _partials(seed, n=400):
    """Per-batch (total, count) sums of non-dyadic values: 0.1-scale weights,
    magnitudes over 12 decades (plain float sums of these depend on order)."""
    rng = np.random.default_rng(seed)
    totals = rng.uniform(0.1, 1.0, n) * 10.0 ** rng.integers(-6, 6, n) * rng.choice([-1, 1], n)
    counts = rng.uniform(0.1, 3.3, n)
    return totals, counts


def _merge_grouped(totals, counts, rng):
    """Batches shuffled into random bundles, each summed in order, the
    bundles merged in a random order (as Beam may)."""
    order = rng.permutation(len(totals))
    cuts = np.sort(rng.choice(np.arange(1, len(totals)), 7, replace=False))
    bundles = []
    for part in np.split(order, cuts):
        state = states.MeanState.empty()
        for i in part:
            state = state.merge(states.MeanState(np.float64(totals[i]), np.float64(counts[i])))
        bundles.append(state)
    result = states.MeanState.empty()
    for k in rng.permutation(len(bundles)):
        result = result.merge(bundles[k])
    return result


@pytest.mark.parametrize("seed", range(5))
def test_any_grouping_gives_the_correctly_rounded_sum(seed):
    totals, counts = _partials(seed)
    plain = {float(np.sum(totals[np.random.default_rng(s).permutation(len(totals))]))
             for s in range(20)}
    assert len(plain) > 1  # the data do expose the order of a plain sum
    rng = np.random.default_rng(100 + seed)
    got = [_merge_grouped(totals, counts, rng) for _ in range(20)]
    assert {float(g.total) for g in got} == {math.fsum(totals)}
    assert {float(g.count) for g in got} == {math.fsum(counts)}


def test_deferred_sums_of_a_bundle_are_compensated_too():
    """A head's dense sums deferred over a bundle (DeferredSums) reach the
    metric as the correctly rounded sum of the batches' sums."""
    totals, counts = _partials(7, n=300)

    class OneMean:  # the part of a head DeferredSums uses: linear absorption
        def absorb_dense(self, eval_metrics, stats, s):
            eval_metrics["mean"].add_state(states.MeanState(stats["t"][s], stats["c"][s]))

    head = OneMean()
    for order in (np.arange(300), np.random.default_rng(1).permutation(300)):
        eval_metrics = {"mean": metrics.Mean("mean")}
        deferred = DeferredSums()
        for i in order:
            deferred.add(head, [eval_metrics], {"t": np.array([totals[i]]),
                                               "c": np.array([counts[i]])})
        deferred.apply()
        state = eval_metrics["mean"]._state
        assert float(state.total) == math.fsum(totals)
        assert float(state.count) == math.fsum(counts)


def test_deferred_sums_that_overflow_stay_infinite():
    class OneMean:
        def absorb_dense(self, eval_metrics, stats, s):
            eval_metrics["mean"].add_state(states.MeanState(stats["t"][s], stats["c"][s]))

    eval_metrics = {"mean": metrics.Mean("mean")}
    deferred = DeferredSums()
    for t in (1e308, 1e308, 1.0):
        deferred.add(OneMean(), [eval_metrics], {"t": np.array([t]), "c": np.array([1.0])})
    deferred.apply()
    assert eval_metrics["mean"]._state.total == np.inf  # not NaN
    assert eval_metrics["mean"]._state.count == 3.0
