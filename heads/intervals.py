"""Confidence intervals from replicate values: the math, on plain arrays.

The examples are split into G replicate groups (by a hash of each record's
identity: `pipeline.evaluate.groups`). Every metric state is a sum over
examples, so a replicate's state is a weighted sum of the G group states:

* Poisson bootstrap: replicate r weighs group g by m_rg ~ Poisson(1), drawn
  from a hash of (seed, r, g) (`replicate_weights`), with G =
  `BOOTSTRAP_GROUPS_PER_REPLICATE` x R groups: a record's weight in replicate
  r is m_{r, g(record)}, a function of the seed and the record alone.
  stderr = the standard deviation of the R replicate values (ddof=1).
* Jackknife (delete-a-group): G = R groups, replicate g is every group but
  g. stderr = sqrt((G - 1) / G * sum_g (theta_g - mean theta)^2).

The interval is value +- t_{R-1}((1 + level) / 2) x stderr (as TFMA). The
interval of an undefined (NaN) value, or of a value with an undefined
replicate (a bootstrap replicate of a small slice with no positives, say),
is NaN: too little data for an interval. `paired_difference` gives the
interval of the change between two models scored on the same replicates.
"""
import functools
import math

import numpy as np
import numpy.typing as npt

POISSON_BOOTSTRAP = "poisson_bootstrap"
JACKKNIFE = "jackknife"
METHODS = (POISSON_BOOTSTRAP, JACKKNIFE)
# Bootstrap groups per replicate: with G groups the bootstrap variance is
# itself an estimate with about G degrees of freedom, on top of the R - 1 of
# the replicates that the t quantile allows for; 5 R keeps that part small
# (tests/heads/test_intervals.py checks the coverage).
BOOTSTRAP_GROUPS_PER_REPLICATE = 5

_MASK = (1 << 64) - 1


def num_groups(method: str, replicates: int) -> int:
    """G, the replicate groups the examples are split into."""
    check_method(method)
    return replicates if method == JACKKNIFE else BOOTSTRAP_GROUPS_PER_REPLICATE * replicates


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError("method must be one of %s; got %r" % (METHODS, method))


def splitmix64(x: npt.ArrayLike) -> np.ndarray:
    """The splitmix64 finalizer of uint64 values: a fixed, well-mixed hash
    (wrapping uint64 arithmetic, the same on every platform)."""
    x = np.array(x, dtype=np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _poisson1_cdf():
    k = np.arange(40)
    pmf = np.exp(-1.0 - np.array([math.lgamma(i + 1) for i in k]))
    return np.cumsum(pmf)


_POISSON1_CDF = _poisson1_cdf()


def replicate_weights(method: str, replicates: int, seed: int = 0) -> np.ndarray:
    """[R, G] weight of group g in replicate r (float64)."""
    groups = num_groups(method, replicates)
    if method == JACKKNIFE:
        return 1.0 - np.eye(groups)
    r, g = np.meshgrid(np.arange(replicates, dtype=np.uint64),
                       np.arange(groups, dtype=np.uint64), indexing="ij")
    key = splitmix64(splitmix64(splitmix64(np.uint64(seed & _MASK)) ^ r) ^ g)
    u = (key >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # uniform [0, 1)
    return np.searchsorted(_POISSON1_CDF, u, side="right").astype(np.float64)


@functools.lru_cache(maxsize=64)
def t_quantile(p: float, dof: int) -> float:
    """The p-quantile of Student's t with `dof` degrees of freedom (p > 0.5):
    the CDF integrated numerically (Simpson on a fine grid of the arctan-
    transformed axis), then bisected. Accurate to ~1e-9; no scipy needed."""
    if not 0.5 < p < 1 or dof < 1:
        raise ValueError("t_quantile needs 0.5 < p < 1 and dof >= 1; got %r, %r" % (p, dof))
    log_c = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)

    def upper_tail(x):  # P(T > x), x >= 0, with t = tan(u)
        u = np.linspace(math.atan(x), math.pi / 2, 4001)
        t = np.tan(u[:-1])
        f = np.exp(log_c - (dof + 1) / 2 * np.log1p(t * t / dof)) * (1 + t * t)
        f = np.append(f, 0.0 if dof > 1 else math.exp(log_c) * dof)  # the integrand at pi/2
        h = u[1] - u[0]
        return h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())

    lo, hi = 0.0, 1.0
    while upper_tail(hi) > 1 - p:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if upper_tail(mid) > 1 - p else (lo, mid)
    return (lo + hi) / 2


def stderr(method: str, replicate_values: npt.ArrayLike) -> np.ndarray:
    """Standard error per column of `replicate_values` [R, M]; NaN where a
    replicate is NaN."""
    check_method(method)
    v = np.asarray(replicate_values, np.float64)
    if v.shape[0] < 2:
        raise ValueError("an interval needs at least 2 replicates; got %d" % v.shape[0])
    if method == POISSON_BOOTSTRAP:
        return np.std(v, axis=0, ddof=1)
    g = v.shape[0]
    return np.sqrt((g - 1) / g * np.sum((v - v.mean(axis=0)) ** 2, axis=0))


def interval(method: str, level: float, value: npt.ArrayLike,
             replicate_values: npt.ArrayLike) -> tuple:
    """(lower, upper, stderr) arrays per metric: `value` [M] (the point
    estimates) +- t_{R-1} x stderr of `replicate_values` [R, M]. NaN where
    the value or a replicate is NaN."""
    value = np.asarray(value, np.float64)
    reps = np.asarray(replicate_values, np.float64).reshape(-1, value.size)
    se = stderr(method, reps).reshape(value.shape)
    se = np.where(np.isnan(value), np.nan, se)
    half = t_quantile((1 + level) / 2, reps.shape[0] - 1) * se
    return value - half, value + half, se


def paired_difference(method: str, level: float, value_a: npt.ArrayLike,
                      replicates_a: npt.ArrayLike, value_b: npt.ArrayLike,
                      replicates_b: npt.ArrayLike) -> tuple:
    """The change a - b of two models scored on the same examples with the
    same replicate weights (replicate r of a and of b weigh every record
    alike): (delta, lower, upper, stderr), each [M]. Pairing cancels the
    variation the two models share, so the interval is much narrower than
    one made from the two intervals."""
    delta = np.asarray(value_a, np.float64) - np.asarray(value_b, np.float64)
    reps = np.asarray(replicates_a, np.float64) - np.asarray(replicates_b, np.float64)
    lower, upper, se = interval(method, level, delta, reps)
    return delta, lower, upper, se
