"""Coverage of the confidence intervals (issue 19): on 400 simulated binary
datasets of 2,000 examples with known true values, the 95 % interval of the
AUC, the accuracy, the precision at threshold 0.5 and the mean loss covers
the truth in 92-98 % of the datasets, for both methods.

The truth comes from the generating distribution, not from the code: the
logits are N(+MU, 1) for positives and N(-MU, 1) for negatives (binormal, so
AUC = Phi(2 MU / sqrt 2)); accuracy and precision at 0.5 are normal tail
probabilities; the mean loss is the expected sigmoid cross-entropy,
integrated by Gauss-Hermite quadrature. The data go through the head's own
states: all datasets in one batch, one segment per (dataset, replicate
group), as the pipeline does per (slice, group), then each dataset's
`ReplicateState` weighs its groups per replicate. The four values are read
from the weighted sums with `heads.formulas`, vectorised over replicates
(the metric objects give the same values: tests/heads/test_replicates.py),
so the test takes about a second."""
import math

import numpy as np
import pytest

from heads import BinaryClassHead
from heads import formulas, intervals, replicates

N_DATASETS, N, P, MU = 400, 2000, 0.3, 0.8


def _phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _truth():
    acc = P * _phi(MU) + (1 - P) * _phi(MU)
    precision = P * _phi(MU) / (P * _phi(MU) + (1 - P) * _phi(-MU))
    x, w = np.polynomial.hermite_e.hermegauss(80)  # E f(Z), Z ~ N(0, 1)
    w = w / w.sum()
    softplus = lambda z: np.logaddexp(0, z)  # noqa: E731
    loss = P * np.sum(w * softplus(-(x + MU))) + (1 - P) * np.sum(w * softplus(x - MU))
    return {"auc": _phi(2 * MU / math.sqrt(2)), "accuracy": acc, "precision": precision,
            "average_loss": loss}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(19)
    y = (rng.random(N_DATASETS * N) < P).astype(np.float32)
    logits = (rng.normal(0, 1, y.size) + np.where(y > 0, MU, -MU)).astype(np.float32)
    return y[:, None], logits[:, None], np.repeat(np.arange(N_DATASETS), N)


@pytest.mark.parametrize("method", intervals.METHODS)
def test_95_percent_intervals_cover_the_truth_in_92_to_98_percent_of_datasets(data, method):
    y, logits, dataset = data
    head = BinaryClassHead()  # its metrics: accuracy, auc, precision, average_loss, ...
    replicates_, level = 20, 0.95
    g = intervals.num_groups(method, replicates_)
    groups = np.random.default_rng(7).integers(0, g, len(y))
    segment_ids, pairs = replicates.pairs(dataset, groups, N_DATASETS, g)
    stats = head.segmented_statistics(None, logits, y, segment_ids, len(pairs.groups))
    points = [head.metrics() for _ in range(N_DATASETS)]
    head.absorb_statistics(points, replicates.fold(stats, pairs))
    prepared = replicates.prepare_scores(stats, pairs)
    weights = intervals.replicate_weights(method, replicates_, seed=0)
    truth = _truth()
    names = list(truth)
    keys = replicates.interval_rows(points[0])
    where = [keys.index(k) for k in names]
    values = np.array([replicates.row_values(p)[where] for p in points])  # [datasets, 4]
    reps = np.empty((N_DATASETS, replicates_, len(names)))
    for d in range(N_DATASETS):
        state = replicates.ReplicateState(g)
        state.add(stats, pairs, d, prepared)
        s = state.weighted(weights)  # every statistic per replicate
        auc = [formulas.roc_auc(*(x[0] for x in s["auc"].one(r).dense))
               for r in range(replicates_)]
        reps[d] = np.stack([auc, s["correct"] / s["w"], formulas.precision(s["cm"][:, 0]),
                            s["loss"] / s["w"]], axis=1)
    lower, upper, _ = intervals.interval(method, level, values.ravel(),
                                         reps.transpose(1, 0, 2).reshape(replicates_, -1))
    lower, upper = lower.reshape(values.shape), upper.reshape(values.shape)
    true = np.array([truth[k] for k in names])
    rate = dict(zip(names, ((lower <= true) & (true <= upper)).mean(axis=0)))
    assert all(0.92 <= r <= 0.98 for r in rate.values()), (method, rate)
    # Not trivially wide: the accuracy's about 2 x 1.96 x its binomial standard error.
    acc = truth["accuracy"]
    width = np.mean(upper[:, 1] - lower[:, 1])
    assert 0.8 < width / (2 * 1.96 * math.sqrt(acc * (1 - acc) / N)) < 1.25, width
