"""heads.intervals on arrays: replicate weights, stderr, the t interval and the
paired difference, against hand formulas, scipy and numpy."""
import numpy as np
import pytest
from scipy import stats

from heads import intervals, replicates
from pipeline.config import intervals as config_intervals


def test_the_config_repeats_the_heads_numbers():
    assert set(config_intervals.INTERVAL_METHODS) == set(intervals.METHODS)
    assert config_intervals.BOOTSTRAP_GROUPS_PER_REPLICATE == \
        intervals.BOOTSTRAP_GROUPS_PER_REPLICATE
    assert config_intervals.COMPACT_BUCKETS == replicates.num_buckets()


@pytest.mark.parametrize("dof", [1, 3, 19, 99])
@pytest.mark.parametrize("p", [0.9, 0.975, 0.995])
def test_t_quantile_is_scipys(p, dof):
    assert intervals.t_quantile(p, dof) == pytest.approx(stats.t.ppf(p, dof), abs=1e-7)


def test_jackknife_weights_leave_one_group_out():
    w = intervals.replicate_weights(intervals.JACKKNIFE, 5)
    assert w.shape == (5, 5)
    np.testing.assert_array_equal(w, 1 - np.eye(5))


def test_bootstrap_weights_are_poisson_1_and_a_function_of_the_seed():
    w = intervals.replicate_weights(intervals.POISSON_BOOTSTRAP, 200, seed=3)
    assert w.shape == (200, 200 * intervals.BOOTSTRAP_GROUPS_PER_REPLICATE)
    np.testing.assert_array_equal(w, intervals.replicate_weights(intervals.POISSON_BOOTSTRAP,
                                                                 200, seed=3))
    assert not np.array_equal(w, intervals.replicate_weights(intervals.POISSON_BOOTSTRAP, 200,
                                                             seed=4))
    # Frequencies of 0, 1, 2, 3 against Poisson(1)'s pmf (200,000 draws).
    freq = np.bincount(w.astype(int).ravel(), minlength=4)[:4] / w.size
    np.testing.assert_allclose(freq, stats.poisson.pmf(np.arange(4), 1.0), atol=0.005)
    # The same (seed, r, g) gives the same weight whatever R.
    small = intervals.replicate_weights(intervals.POISSON_BOOTSTRAP, 20, seed=3)
    np.testing.assert_array_equal(small, w[:20, :small.shape[1]])


def test_stderr_formulas():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(20, 3))
    np.testing.assert_allclose(intervals.stderr(intervals.POISSON_BOOTSTRAP, v),
                               [np.std(v[:, j], ddof=1) for j in range(3)])
    g = 20
    hand = [np.sqrt((g - 1) / g * sum((x - np.mean(v[:, j])) ** 2 for x in v[:, j]))
            for j in range(3)]
    np.testing.assert_allclose(intervals.stderr(intervals.JACKKNIFE, v), hand)


def test_jackknife_of_a_mean_is_the_classical_standard_error():
    """Leave-one-out means of n values: the jackknife stderr is s / sqrt(n)."""
    x = np.random.default_rng(1).normal(size=30)
    loo = (x.sum() - x) / (len(x) - 1)
    se = intervals.stderr(intervals.JACKKNIFE, loo[:, None])[0]
    assert se == pytest.approx(np.std(x, ddof=1) / np.sqrt(len(x)), rel=1e-12)


def test_interval_is_value_plus_minus_t_stderr_and_nan_where_undefined():
    reps = np.array([[1.0, 2.0, np.nan], [2.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    value = np.array([2.0, 2.0, 1.0])
    lower, upper, se = intervals.interval(intervals.POISSON_BOOTSTRAP, 0.9, value, reps)
    t = stats.t.ppf(0.95, 2)
    assert se[0] == pytest.approx(1.0)
    assert (lower[0], upper[0]) == pytest.approx((2 - t, 2 + t), abs=1e-7)
    assert (lower[1], upper[1], se[1]) == (2.0, 2.0, 0.0)
    assert np.isnan([lower[2], upper[2], se[2]]).all()
    nan_value = intervals.interval(intervals.JACKKNIFE, 0.9, [np.nan], reps[:, :1])
    assert np.isnan(nan_value).all()
    with pytest.raises(ValueError, match="at least 2 replicates"):
        intervals.interval(intervals.JACKKNIFE, 0.9, [1.0], [[1.0]])


def test_paired_difference_cancels_what_both_models_share():
    """Two models whose replicate values move together: the interval of
    the change is that of the replicate differences, far narrower than
    either model's own."""
    rng = np.random.default_rng(2)
    shared = rng.normal(0, 0.01, size=(20, 1))
    a = 0.80 + shared + rng.normal(0, 0.001, size=(20, 1))
    b = 0.79 + shared + rng.normal(0, 0.001, size=(20, 1))
    delta, lower, upper, se = intervals.paired_difference(
        intervals.POISSON_BOOTSTRAP, 0.95, [0.80], a, [0.79], b)
    assert delta[0] == pytest.approx(0.01)
    assert se[0] == pytest.approx(np.std(a[:, 0] - b[:, 0], ddof=1))
    half = stats.t.ppf(0.975, 19) * se[0]
    assert (lower[0], upper[0]) == pytest.approx((0.01 - half, 0.01 + half))
    assert lower[0] > 0  # significant, though each model's own interval is ~ +- 0.02
    assert intervals.stderr(intervals.POISSON_BOOTSTRAP, a)[0] > 5 * se[0]


def test_splitmix64_is_the_reference_hash():
    """Values of the reference splitmix64 (Vigna), computed by hand in
    Python integers: x + golden gamma, then the two multiply-xorshifts."""
    def reference(x):
        m = (1 << 64) - 1
        z = (x + 0x9E3779B97F4A7C15) & m
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        return z ^ (z >> 31)
    xs = [0, 1, 12345, (1 << 64) - 1]
    assert intervals.splitmix64(np.array(xs, np.uint64)).tolist() == [reference(x) for x in xs]
