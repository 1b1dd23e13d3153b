"""AUC semantics and accuracy of BinaryClassHead's `auc` and
`auc_precision_recall`.

Our AUC is exact: ties (equal float32 probabilities) count half, unlike
Keras' 200-threshold approximation the estimator used. `auc_precision_recall`
is Keras' interpolated PR formula evaluated at every distinct score. Past the
size where the state stops keeping every distinct score, both must stay
within 1e-6 of the exact values, with a state under 1 MB, also where the
scores cluster near 0 (rare events) or near 1 (near-certain events).
"""
import functools

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import heads
from tests.heads.heads_oracle import pr_auc, result_value, sigmoid32


def _auc_metrics(logits, labels, weights, batches=1):
    head = heads.BinaryClassHead(weight_column="w")
    metrics = head.metrics()
    for sl in np.array_split(np.arange(len(labels)), batches):
        head.update_metrics(metrics, {"w": weights[sl, None]}, logits[sl, None], labels[sl, None])
    return metrics["auc"], metrics["auc_precision_recall"]


# -- exact semantics on small data ------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_small_data_with_ties_is_exact(seed):
    rng = np.random.default_rng(seed)
    n = 500
    labels = (rng.random(n) < 0.3).astype(np.int64)
    # Logits on a 0.25 grid: many exact ties between positives and negatives.
    logits = (np.round((rng.normal(size=n) + labels) * 4) / 4).astype(np.float32)
    weights = rng.uniform(0.1, 2.0, n).astype(np.float32)
    auc, auc_pr = _auc_metrics(logits, labels, weights, batches=3)
    p = sigmoid32(logits)
    assert result_value(auc) == pytest.approx(roc_auc_score(labels, p, sample_weight=weights),
                                              abs=1e-9)
    assert result_value(auc_pr) == pytest.approx(pr_auc(labels, p, weights), abs=1e-9)


def test_ties_count_half():
    # One positive and one negative at the same score: AUC 1/2.
    auc, _ = _auc_metrics(np.array([0.3, 0.3], np.float32), np.array([1, 0]),
                          np.ones(2, np.float32))
    assert result_value(auc) == pytest.approx(0.5)


def test_logits_with_equal_float32_probabilities_are_tied():
    # sigmoid(20) and sigmoid(25) both round to 1.0 in float32: a tie, although
    # the positive has the larger logit.
    assert sigmoid32(20.) == sigmoid32(25.) == 1.0
    auc, _ = _auc_metrics(np.array([25., 20.], np.float32), np.array([1, 0]),
                          np.ones(2, np.float32))
    assert result_value(auc) == pytest.approx(0.5)
    # sigmoid(10) < sigmoid(12) in float32: ranked, AUC 1.
    assert sigmoid32(10.) < sigmoid32(12.)
    auc, _ = _auc_metrics(np.array([12., 10.], np.float32), np.array([1, 0]),
                          np.ones(2, np.float32))
    assert result_value(auc) == pytest.approx(1.0)


def test_auc_pr_by_hand():
    """Interpolated PR area for scores 0.9 (pos), 0.8 (neg), 0.7 (pos), by hand.

    Thresholds -inf, 0.7, 0.8, 0.9 -> (tp, fp) = (2, 1), (1, 1), (1, 0), (0, 0).
    Segment (2,1)->(1,1): dtp = 1, dp = 1, slope 1, intercept = 1 - 2 = -1,
        area = 1 * (1 - ln(3/2)) = 0.594535
    Segment (1,1)->(1,0): dtp = 0, area 0.
    Segment (1,0)->(0,0): dtp = 1, dp = 1, slope 1, intercept 0, area = 1.
    AUC-PR = (0.594535 + 0 + 1) / 2 positives = 0.797267
    """
    expected = (1 - np.log(1.5) + 1) / 2
    logits = np.log(np.array([0.9, 0.8, 0.7]) / (1 - np.array([0.9, 0.8, 0.7])))
    labels = np.array([1, 0, 1])
    assert pr_auc(labels, sigmoid32(logits)) == pytest.approx(expected, rel=1e-6)
    _, auc_pr = _auc_metrics(logits.astype(np.float32), labels, np.ones(3, np.float32))
    assert result_value(auc_pr) == pytest.approx(expected, rel=1e-6)


# -- accuracy at scale ----------------------------------------------------------------

N = 200_000
DISTRIBUTIONS = {
    # negatives ~ N(mu, sd), positives ~ N(mu + shift, sd); 10% positives.
    "standard": (0.0, 1.0, 1.5),
    # probabilities around 1e-4
    "rare_events": (-9.2, 0.5, 0.75),
    # probabilities around 1 - 1e-4
    "near_certain": (9.2, 0.5, 0.75),
}


@functools.lru_cache(maxsize=None)
def _at_scale(name, n=N):
    """(labels, logits, weights, auc metric, auc_pr metric) for one distribution."""
    mu, sd, shift = DISTRIBUTIONS[name]
    rng = np.random.default_rng(sorted(DISTRIBUTIONS).index(name) + (0 if n == N else n))
    labels = (rng.random(n) < 0.1).astype(np.int64)
    logits = (rng.normal(mu, sd, n) + shift * labels).astype(np.float32)
    weights = rng.uniform(0.1, 2.0, n).astype(np.float32)
    auc, auc_pr = _auc_metrics(logits, labels, weights, batches=4)
    return labels, logits, weights, auc, auc_pr


def _sigmoid64(logits):
    return 1. / (1. + np.exp(-np.asarray(logits, np.float64)))


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_auc_at_scale_within_1e_6(name):
    labels, logits, weights, auc, _ = _at_scale(name)
    # The exact value of our definition: float32 probabilities, ties half.
    got = result_value(auc)
    exact = roc_auc_score(labels, sigmoid32(logits), sample_weight=weights)
    assert abs(got - exact) < 1e-6, (got, exact)
    if name != "near_certain":  # see the next test
        exact64 = roc_auc_score(labels, _sigmoid64(logits), sample_weight=weights)
        assert abs(got - exact64) < 1e-6, (got, exact64)


@pytest.mark.xfail(strict=False, reason=(
    "near 1 the float32 probabilities tie 200k examples into ~6.5k values; the AUC "
    "of float32 probabilities (our definition) is ~1.6e-6 from the float64 one"))
def test_near_certain_auc_matches_float64_probabilities():
    labels, logits, weights, auc, _ = _at_scale("near_certain")
    got = result_value(auc)
    exact64 = roc_auc_score(labels, _sigmoid64(logits), sample_weight=weights)
    assert abs(got - exact64) < 1e-6, (got, exact64)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_auc_pr_at_scale_within_1e_6(name):
    labels, logits, weights, _, auc_pr = _at_scale(name)
    # The exact value of our definition: interpolated PR at every distinct
    # float32 probability.
    got, exact = result_value(auc_pr), pr_auc(labels, sigmoid32(logits), weights)
    assert abs(got - exact) < 1e-6, (got, exact)


@pytest.mark.parametrize("name", ["rare_events", "standard"])
def test_auc_and_auc_pr_just_past_the_exact_state(name):
    """50k examples: just past the size at which the state stops holding
    every distinct score (the tests above use 200k), so that the histogram
    holds the lower scores of a small data set."""
    labels, logits, weights, auc, auc_pr = _at_scale(name, 50_000)
    assert not auc.exact and not auc_pr.exact
    p = sigmoid32(logits)
    got, exact = result_value(auc), roc_auc_score(labels, p, sample_weight=weights)
    assert abs(got - exact) < 1e-6, (got, exact)
    got, exact = result_value(auc_pr), pr_auc(labels, p, weights)
    assert abs(got - exact) < 1e-6, (got, exact)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_auc_state_under_1_mb(name):
    *_, auc, auc_pr = _at_scale(name)
    for metric in (auc, auc_pr):
        state_bytes = sum(np.asarray(v).nbytes for v in metric.get_state().values())
        assert state_bytes < 1 << 20, state_bytes


def test_merged_state_at_scale_equals_one_pass():
    mu, sd, shift = DISTRIBUTIONS["standard"]
    rng = np.random.default_rng(7)
    n = 100_000
    labels = (rng.random(n) < 0.1).astype(np.int64)
    logits = (rng.normal(mu, sd, n) + shift * labels).astype(np.float32)
    weights = rng.uniform(0.1, 2.0, n).astype(np.float32)
    one_auc, one_pr = _auc_metrics(logits, labels, weights)
    head = heads.BinaryClassHead(weight_column="w")
    merged = head.metrics()
    # Uneven parts: the first alone stays below the exact-state limit.
    for lo, hi in ((0, 1000), (1000, 61_000), (61_000, n)):
        part = head.update_metrics(head.metrics(), {"w": weights[lo:hi, None]},
                                   logits[lo:hi, None], labels[lo:hi, None])
        for key in ("auc", "auc_precision_recall"):
            merged[key].merge_state([part[key]])
    assert result_value(merged["auc"]) == pytest.approx(result_value(one_auc), abs=1e-9)
    assert result_value(merged["auc_precision_recall"]) == pytest.approx(result_value(one_pr),
                                                                         abs=1e-9)
