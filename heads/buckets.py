"""Score buckets that keep their resolution where the scores are.

A score is a float32 probability p. Equal-width buckets on [0, 1] lose the
tails: rare events cluster near 1e-4, near-certain ones near 1 - 1e-4. Here a
bucket is read off the float32 bits of q = p (for p < 0.5) or q = 1 - p (for
p >= 0.5, exact in float32): its exponent and top `mantissa_bits` mantissa bits.
Every bucket then spans a relative width of at most 2**-mantissa_bits in q,
i.e. about that much in logit, from p = 2**-min_exponent up to 1 - 2**-min_exponent.
Scores further out share the end buckets. Equal float32 probabilities always
share a bucket, so ties stay ties, as in the estimator.

The default min_exponent, 126, reaches the smallest normal float32: every
probability a float32 sigmoid of a logit down to about -87 has its own octave
(near 1, float32 itself stops at 1 - 2**-24). Level m then has
2 * (125 * 2**m + 1) buckets, far too many to store densely at fine levels,
but the layouts nest: dropping one mantissa bit merges buckets in pairs
(`coarsen`), so a histogram keeps only its occupied buckets, starts at the
finest level and coarsens while more than its budget are occupied
(`states.HistogramState`).

`position` places a score inside its bucket (0 at the low edge, 1 at the high
edge, ascending with the score); a histogram keeps the weighted sum of the
positions per bucket, which lets AUC and AUC-PR estimate how positives and
negatives are ordered inside a bucket (`formulas`).
"""
import numpy as np
import numpy.typing as npt

MAX_MANTISSA_BITS = 22          # the finest level a histogram starts from
DEFAULT_MIN_EXPONENT = 126
# Occupied buckets a histogram keeps at most: 36 bytes each, 324,000 bytes.
DEFAULT_MAX_BUCKETS = 9_000
_FLOAT32_MANTISSA = 23


def _key_base(mantissa_bits, min_exponent):
    return int(np.float32(2.0 ** -min_exponent).view(np.int32)) >> (_FLOAT32_MANTISSA - mantissa_bits)


def keys_per_side(mantissa_bits: int, min_exponent: int) -> int:
    """Distinct keys for q in [2**-min_exponent, 0.5]: (min_exponent - 1) octaves
    of 2**mantissa_bits keys each, plus q = 0.5."""
    return (min_exponent - 1) * (1 << mantissa_bits) + 1


def num_buckets(mantissa_bits: int, min_exponent: int = DEFAULT_MIN_EXPONENT) -> int:
    """Buckets of the layout of level `mantissa_bits`."""
    return 2 * keys_per_side(mantissa_bits, min_exponent)


def check_max_buckets(max_buckets: int, min_exponent: int = DEFAULT_MIN_EXPONENT,
                      argument: str = "max_buckets") -> int:
    """`max_buckets` as an int, if the coarsest layout (level 0) fits in it."""
    if isinstance(max_buckets, bool) or not isinstance(max_buckets, (int, np.integer)):
        raise ValueError("%s must be an integer; got %r" % (argument, max_buckets))
    smallest = num_buckets(0, min_exponent)
    if max_buckets < smallest:
        raise ValueError("%s must be >= %d (the coarsest bucket layout); got %d"
                         % (argument, smallest, max_buckets))
    return int(max_buckets)


def _q(probabilities, min_exponent):
    p = np.asarray(probabilities, dtype=np.float32)
    low = p < np.float32(0.5)
    # min(p, 1 - p) is q on both sides: below 0.5, 1 - p (rounded) is still
    # above p; from 0.5 up, 1 - p is exact and at most p.
    q = np.minimum(p, np.float32(1.0) - p)
    return low, np.maximum(q, np.float32(2.0 ** -min_exponent), out=q)


def _index_of(low, bits, mantissa_bits, min_exponent):
    """int32 bucket index from `_q`'s side and q's float32 bits."""
    key = bits >> (_FLOAT32_MANTISSA - mantissa_bits)
    key -= _key_base(mantissa_bits, min_exponent)
    top = num_buckets(mantissa_bits, min_exponent) - 1
    return np.where(low, key, top - key)


def _position_of(low, bits, mantissa_bits):
    shift = _FLOAT32_MANTISSA - mantissa_bits
    t = (bits & ((1 << shift) - 1)).astype(np.float64)
    t += 0.5
    t /= float(1 << shift)
    return np.where(low, t, 1.0 - t)


def position(probabilities: npt.ArrayLike, mantissa_bits: int,
             min_exponent: int = DEFAULT_MIN_EXPONENT) -> np.ndarray:
    """Where each probability lies in its bucket, in (0, 1), ascending with the
    score: the mantissa bits below the bucket's, as a fraction (+ half a step).
    Linear in the score within a bucket; equal scores get equal positions."""
    low, q = _q(probabilities, min_exponent)
    return _position_of(low, q.view(np.int32), mantissa_bits)


def index_and_position(probabilities: npt.ArrayLike, mantissa_bits: int,
                       min_exponent: int = DEFAULT_MIN_EXPONENT) -> tuple:
    """(int32 bucket index of each float32 probability, ascending with the
    score; `position`) from one pass over the scores: a histogram update
    needs both."""
    low, q = _q(probabilities, min_exponent)
    bits = q.view(np.int32)
    return (_index_of(low, bits, mantissa_bits, min_exponent),
            _position_of(low, bits, mantissa_bits))


def coarsen(index: npt.ArrayLike, mantissa_bits: int, min_exponent: int = DEFAULT_MIN_EXPONENT,
            levels: int = 1) -> tuple:
    """Bucket indices at level `mantissa_bits` -> (indices at `levels` bits
    less, offset): `offset` (float64, in [0, 2**levels)) numbers the fine
    buckets inside their coarse one in ascending score order, so a position t
    becomes (offset + t) / 2**levels. With one level, `offset` is 1 where the
    bucket is the higher-scoring half of its coarser bucket.

    One jump, not `levels` steps: a key (the bucket's place on its side, q
    ascending) at level m - d is the key at level m shifted right by d bits,
    since the layouts' base keys are multiples of 2**m."""
    levels = int(levels)
    if levels < 0 or levels > mantissa_bits:
        raise ValueError("cannot coarsen %d mantissa bits by %d" % (mantissa_bits, levels))
    index = np.asarray(index, np.int64)
    k = keys_per_side(mantissa_bits, min_exponent)
    k_coarse = keys_per_side(mantissa_bits - levels, min_exponent)
    low = index < k
    key = np.where(low, index, 2 * k - 1 - index)
    below = key & ((1 << levels) - 1)
    coarse = key >> levels
    return (np.where(low, coarse, 2 * k_coarse - 1 - coarse),
            np.where(low, below, (1 << levels) - 1 - below).astype(np.float64))


def occupancy(index: np.ndarray, mantissa_bits: int, levels: int,
              min_exponent: int = DEFAULT_MIN_EXPONENT) -> int:
    """How many buckets the sorted distinct `index` (level `mantissa_bits`)
    occupies `levels` bits coarser."""
    if not len(index):
        return 0
    coarse, _ = coarsen(index, mantissa_bits, min_exponent, levels)
    return 1 + int(np.count_nonzero(coarse[1:] != coarse[:-1]))


def fitting_level(index: np.ndarray, mantissa_bits: int, max_buckets: int,
                  min_exponent: int = DEFAULT_MIN_EXPONENT) -> int:
    """The finest level, at most `mantissa_bits`, at which the sorted
    distinct `index` (level `mantissa_bits`) occupies at most `max_buckets`
    buckets: a binary search, since occupancy only shrinks with coarsening."""
    if len(index) <= max_buckets:
        return int(mantissa_bits)
    fits, too_fine = 0, int(mantissa_bits)  # level 0 always fits: check_max_buckets
    while too_fine - fits > 1:
        middle = (fits + too_fine) // 2
        if occupancy(index, mantissa_bits, mantissa_bits - middle, min_exponent) <= max_buckets:
            fits = middle
        else:
            too_fine = middle
    return fits


def lower_edges(index: npt.ArrayLike, mantissa_bits: int,
                min_exponent: int = DEFAULT_MIN_EXPONENT) -> np.ndarray:
    """The smallest probability of each given bucket (float64), for curve
    thresholds."""
    index = np.asarray(index, np.int64)
    k = keys_per_side(mantissa_bits, min_exponent)
    shift = _FLOAT32_MANTISSA - mantissa_bits
    base = _key_base(mantissa_bits, min_exponent)
    low = index < k
    key = np.where(low, index, 2 * k - 1 - index)

    def q_of(keys):
        return ((keys + base) << shift).astype(np.int32).view(np.float32).astype(np.float64)

    # Low side: q in [q(key), q(key + 1)); the first bucket also holds everything below.
    low_edge = np.where(index == 0, 0.0, q_of(key))
    # High side: p in (1 - q(key + 1), 1 - q(key)]; the bucket of p = 0.5
    # (q = 0.5 exactly) would otherwise start below 0.5.
    high_edge = np.maximum(1.0 - q_of(key + 1), 0.5)
    return np.where(low, low_edge, high_edge)
