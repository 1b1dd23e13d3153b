"""Mergeable metric states: frozen dataclasses of fixed-shape numpy arrays.

A state holds sums and counts, never means, so merging is elementwise addition:
associative and commutative by construction, and a state computed on any
partition of the data merges to the state of one pass over all of it.
`merge` first checks that the two states describe the same metric (same
thresholds, same bucket layout...) and says what differs.

Float addition is not associative, so plain sums would depend, in their
last bits, on how the batches fell into bundles and in which order Beam
merged those. `State.merge` adds compensated (`two_sum`): each array keeps
the rounding error of its additions beside it (`_lo`, carried by pickle),
and every merge folds the errors back, so an array holds the correctly
rounded sum of everything merged into it, whatever the grouping and order
(bar a sum within ~1e-30 relative of a rounding tie). Reports are then the
same tables on every path (docs/performance.md). `to_dict` leaves `_lo`
out. The AUC states (`HistogramState`, `ScoresState`) merge their own way
and are not compensated.
"""
import dataclasses

import numpy as np
import numpy.typing as npt

from heads import buckets


class IncompatibleStateError(ValueError):
    """Two states of different configuration were asked to merge."""


def two_sum(a, b) -> tuple:
    """(s, e) with s = fl(a + b) and e = a + b - s exactly (Knuth's TwoSum,
    elementwise); e is 0 where s is not finite (an infinite or NaN sum has
    no rounding error to keep)."""
    s, e = raw_two_sum(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return s, np.where(np.isfinite(s), e, 0.0)


def raw_two_sum(a: np.ndarray, b: np.ndarray) -> tuple:
    """`two_sum` of float64 arrays without the clean-up: e is NaN where s is
    not finite. A sum that is not finite stays so, so a caller adding many
    may zero those errors once, at the end (`heads.segments.DeferredSums`)."""
    s = a + b
    with np.errstate(invalid="ignore"):  # inf - inf where the sum overflowed
        virtual = s - a
        e = (a - (s - virtual)) + (b - virtual)
    return s, e


@dataclasses.dataclass(frozen=True)
class State:
    """Base: `CONFIG` fields must match to merge, `ARRAYS` fields add up
    (compensated: see the module docstring)."""

    CONFIG = ()
    ARRAYS = ()

    def low(self, name: str):
        """The rounding error kept beside array `name` (0 when none)."""
        return self.__dict__.get("_lo", {}).get(name, 0.0)

    def check_mergeable(self, other: "State") -> None:
        """Raises IncompatibleStateError, saying what differs, unless `other`
        is a state of the same kind and configuration."""
        if type(other) is not type(self):
            raise IncompatibleStateError(
                "cannot merge %s with %s" % (type(self).__name__, type(other).__name__))
        for name in self.CONFIG:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                raise IncompatibleStateError("cannot merge %s: %s %r != %r" % (
                    type(self).__name__, name, mine, theirs))

    def merge(self, other: "State") -> "State":
        self.check_mergeable(other)
        for name in self.ARRAYS:
            a, b = getattr(self, name), getattr(other, name)
            if a.shape != b.shape:
                raise IncompatibleStateError("cannot merge %s: %s shape %s != %s" % (
                    type(self).__name__, name, a.shape, b.shape))
        sums, lows = {}, {}
        for n in self.ARRAYS:
            total, error = two_sum(getattr(self, n), getattr(other, n))
            # the correctly rounded sum of the two, with their errors folded in
            sums[n], lows[n] = two_sum(total, error + self.low(n) + other.low(n))
        merged = dataclasses.replace(self, **sums)
        object.__setattr__(merged, "_lo", lows)
        return merged

    def to_dict(self) -> dict:
        """The state as a dict of numpy arrays (configuration included)."""
        out = {n: np.asarray(getattr(self, n)) for n in self.CONFIG}
        out.update({n: np.array(getattr(self, n), copy=True) for n in self.ARRAYS})
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "State":
        kwargs = {}
        for f in dataclasses.fields(cls):
            value = d[f.name]
            if f.name in cls.ARRAYS:
                kwargs[f.name] = np.array(value, dtype=np.float64, copy=True)
            else:
                value = np.asarray(value)
                kwargs[f.name] = tuple(value.tolist()) if value.ndim else value.item()
        return cls(**kwargs)


def merge_sorted(keys_a: np.ndarray, values_a: list, keys_b: np.ndarray,
                 values_b: list) -> tuple:
    """Two runs of distinct ascending keys, each with a list of value arrays,
    as one run: values of equal keys add up. Linear (a binary search per key
    of the shorter run, then one insertion pass per array), where grouping
    the concatenation would sort it again. Returns (keys, [values])."""
    if len(keys_b) > len(keys_a):
        keys_a, values_a, keys_b, values_b = keys_b, values_b, keys_a, values_a
    if not len(keys_b):
        return keys_a, list(values_a)
    at = np.searchsorted(keys_a, keys_b)  # b[j] goes before a[at[j]]
    # Row numbers rather than boolean masks throughout: selecting or
    # scattering through a mask that mixes True and False is several times slower.
    equal = keys_a[np.minimum(at, len(keys_a) - 1)] == keys_b  # at == len: above every a key
    same, new = np.flatnonzero(equal), np.flatnonzero(~equal)
    # Where b's new keys land in the output: after the a keys below them and
    # the new b keys before them (both runs ascending).
    landing = at[new] + np.arange(len(new))
    from_b = np.zeros(len(keys_a) + len(landing), bool)
    from_b[landing] = True
    from_a = np.flatnonzero(~from_b)
    into = at[same]  # distinct keys: each position at most once

    def interleave(a, b):
        out = np.empty(len(from_b), np.result_type(a, b))
        out[from_a] = a
        out[landing] = b
        return out

    out = []
    for va, vb in zip(values_a, values_b):
        va = va.copy()
        va[into] += vb[same]
        out.append(interleave(va, vb[new]))
    return interleave(keys_a, keys_b[new]), out


def _zeros(shape):
    return np.zeros(shape, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class MeanState(State):
    """Weighted sum and sum of weights: mean = total / count."""

    total: np.ndarray
    count: np.ndarray
    ARRAYS = ("total", "count")

    @classmethod
    def empty(cls, shape: tuple = ()) -> "MeanState":
        return cls(total=_zeros(shape), count=_zeros(shape))


@dataclasses.dataclass(frozen=True)
class ConfusionState(State):
    """Weighted counts `matrix[t, label, predicted]` at each threshold.

    `predicted` is 1 where `score > thresholds[t]` (the estimator's and Keras'
    rule); `label` is 1 where the label is non-zero.
    """

    thresholds: tuple
    matrix: np.ndarray
    CONFIG = ("thresholds",)
    ARRAYS = ("matrix",)

    @classmethod
    def empty(cls, thresholds: tuple) -> "ConfusionState":
        thresholds = tuple(float(t) for t in thresholds)
        return cls(thresholds=thresholds, matrix=_zeros((len(thresholds), 2, 2)))


_LOOKUP_LIMIT = 1 << 20  # layouts up to this many buckets get a bucket -> slot table


@dataclasses.dataclass(frozen=True)
class HistogramState(State):
    """The occupied score buckets (see `buckets`) with, per bucket, the
    weighted positives and negatives and the weighted sums of their positions
    in the bucket.

    Buckets are those of level `mantissa_bits`: the finest level (at most
    `buckets.MAX_MANTISSA_BITS`) at which the data occupies at most
    `max_buckets` buckets. Levels nest, so merging brings both states to the
    coarser level, adds, and coarsens while more than `max_buckets` buckets
    are occupied; the level reached is a function of the data alone (the
    occupancy only grows with the data and only shrinks with coarsening), so
    any partition merges to the state of one pass. At most `max_buckets`
    entries of 36 bytes: a fixed bound whatever the number of examples.
    """

    max_buckets: int
    min_exponent: int
    mantissa_bits: int
    index: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    pos_t: np.ndarray
    neg_t: np.ndarray
    CONFIG = ("max_buckets", "min_exponent")
    ARRAYS = ("pos", "neg", "pos_t", "neg_t")

    @classmethod
    def empty(cls, max_buckets: int, min_exponent: int) -> "HistogramState":
        return cls(max_buckets=int(max_buckets), min_exponent=int(min_exponent),
                   mantissa_bits=buckets.MAX_MANTISSA_BITS, index=np.zeros(0, np.int32),
                   pos=_zeros(0), neg=_zeros(0), pos_t=_zeros(0), neg_t=_zeros(0))

    def from_scores(self, scores: npt.ArrayLike, pos: npt.ArrayLike, neg: npt.ArrayLike,
                    mantissa_bits: int = None) -> "HistogramState":
        """A state of this configuration holding float32 `scores` with their
        positive and negative weights, at level `mantissa_bits` (default: this
        state's) or coarser if the scores occupy more than `max_buckets`."""
        bits = self.mantissa_bits if mantissa_bits is None else int(mantissa_bits)
        scores = np.asarray(scores, np.float32).ravel()
        index, t = buckets.index_and_position(scores, bits, self.min_exponent)
        return self._grouped(scores, index, t, np.asarray(pos, np.float64).ravel(),
                             np.asarray(neg, np.float64).ravel(), bits)

    def _grouped(self, scores, index, t, pos, neg, bits):
        """`from_scores` for scores whose bucket `index` and position `t` at
        level `bits` are known."""
        index, inverse = np.unique(index, return_inverse=True)
        coarse_bits = buckets.fitting_level(index, bits, self.max_buckets, self.min_exponent)
        if coarse_bits < bits:
            # Coarsening keeps the order of buckets: groups are runs.
            index, _ = buckets.coarsen(index, bits, self.min_exponent, bits - coarse_bits)
            first = np.r_[True, index[1:] != index[:-1]]
            inverse = (np.cumsum(first) - 1)[inverse]
            index = index[first]
            bits = coarse_bits
            t = buckets.position(scores, bits, self.min_exponent)
        inverse = inverse.ravel()
        n = len(index)
        return dataclasses.replace(
            self, mantissa_bits=bits, index=index.astype(np.int32),
            pos=np.bincount(inverse, pos, n), neg=np.bincount(inverse, neg, n),
            pos_t=np.bincount(inverse, pos * t, n), neg_t=np.bincount(inverse, neg * t, n))

    def add_scores(self, scores: npt.ArrayLike, pos: npt.ArrayLike,
                   neg: npt.ArrayLike) -> "HistogramState":
        """This state plus float32 `scores` with their weights: the same as
        `merge(from_scores(...))`, faster when the scores fall in buckets
        already occupied (no regrouping)."""
        if not len(self.index):
            return self.from_scores(scores, pos, neg)
        scores = np.asarray(scores, np.float32).ravel()
        bits = self.mantissa_bits
        index, t = buckets.index_and_position(scores, bits, self.min_exponent)
        size = buckets.num_buckets(bits, self.min_exponent)
        if size <= _LOOKUP_LIMIT:
            # A slot per bucket of the layout: one gather instead of a binary
            # search per score (unsorted scores make searchsorted slow).
            lookup = np.full(size, -1, np.int32)
            lookup[self.index] = np.arange(len(self.index), dtype=np.int32)
            at = lookup[index]
            found = at >= 0
        else:
            at = np.minimum(np.searchsorted(self.index, index), len(self.index) - 1)
            found = self.index[at] == index
        pos = np.asarray(pos, np.float64).ravel()
        neg = np.asarray(neg, np.float64).ravel()
        missing = None
        if not found.all():
            # Scores in buckets not occupied yet are grouped on their own and
            # merged in (which may coarsen); the others are added in place.
            new = np.flatnonzero(~found)
            missing = self._grouped(scores[new], index[new], t[new], pos[new], neg[new], bits)
            kept = np.flatnonzero(found)
            pos, neg, at, t = pos[kept], neg[kept], at[kept], t[kept]
        n = len(self.index)
        state = dataclasses.replace(
            self, pos=self.pos + np.bincount(at, pos, n), neg=self.neg + np.bincount(at, neg, n),
            pos_t=self.pos_t + np.bincount(at, pos * t, n),
            neg_t=self.neg_t + np.bincount(at, neg * t, n))
        return state if missing is None else state.merge(missing)

    def coarsened(self, mantissa_bits: int) -> "HistogramState":
        """This state at the (coarser or equal) level `mantissa_bits`, in one
        jump however many levels down."""
        levels = self.mantissa_bits - int(mantissa_bits)
        if levels <= 0:
            return self
        if not len(self.index):
            return dataclasses.replace(self, mantissa_bits=int(mantissa_bits))
        index, offset = buckets.coarsen(self.index, self.mantissa_bits, self.min_exponent, levels)
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        add = lambda values: np.add.reduceat(values, starts)
        # A position t in the finer bucket is (offset + t) / 2**levels in the coarser one.
        scale = 1.0 / (1 << levels)
        return dataclasses.replace(
            self, mantissa_bits=int(mantissa_bits), index=index[starts].astype(np.int32),
            pos=add(self.pos), neg=add(self.neg),
            pos_t=add((self.pos_t + offset * self.pos) * scale),
            neg_t=add((self.neg_t + offset * self.neg) * scale))

    def _fit(self):
        """This state at the finest level where it has at most `max_buckets`
        occupied buckets (itself if it fits)."""
        state = self.coarsened(buckets.fitting_level(self.index, self.mantissa_bits,
                                                     self.max_buckets, self.min_exponent))
        if len(state.index) > self.max_buckets:  # cannot happen: check_max_buckets
            raise ValueError("max_buckets %d is below the coarsest layout (%d buckets)"
                             % (self.max_buckets, buckets.num_buckets(0, self.min_exponent)))
        return state

    def merge(self, other: "HistogramState") -> "HistogramState":
        self.check_mergeable(other)
        # An empty state says nothing about the level.
        if not len(other.index):
            return self
        if not len(self.index):
            return other
        bits = min(self.mantissa_bits, other.mantissa_bits)
        a, b = self.coarsened(bits), other.coarsened(bits)
        index, sums = merge_sorted(a.index, [a.pos, a.neg, a.pos_t, a.neg_t],
                                   b.index, [b.pos, b.neg, b.pos_t, b.neg_t])
        return dataclasses.replace(self, mantissa_bits=bits, index=index.astype(np.int32),
                                   pos=sums[0], neg=sums[1], pos_t=sums[2], neg_t=sums[3])._fit()

    def to_dict(self) -> dict:
        out = {n: np.asarray(getattr(self, n)) for n in ("max_buckets", "min_exponent",
                                                         "mantissa_bits")}
        out["index"] = np.array(self.index, np.int32, copy=True)
        out.update({n: np.array(getattr(self, n), copy=True) for n in self.ARRAYS})
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "HistogramState":
        return cls(max_buckets=int(np.asarray(d["max_buckets"])),
                   min_exponent=int(np.asarray(d["min_exponent"])),
                   mantissa_bits=int(np.asarray(d["mantissa_bits"])),
                   index=np.array(d["index"], np.int32, copy=True),
                   **{n: np.array(d[n], np.float64, copy=True) for n in cls.ARRAYS})


@dataclasses.dataclass(frozen=True)
class ScoresState(State):
    """Exact AUC state: distinct float32 scores with their weighted positives
    and negatives. Grows with the number of distinct scores (opt-in only)."""

    scores: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    ARRAYS = ("pos", "neg")

    @classmethod
    def empty(cls) -> "ScoresState":
        return cls(scores=np.zeros(0, np.float32), pos=_zeros(0), neg=_zeros(0))

    @classmethod
    def from_values(cls, scores: npt.ArrayLike, pos: npt.ArrayLike,
                    neg: npt.ArrayLike) -> "ScoresState":
        """Groups equal scores; sorts (stable: already sorted runs merge in
        linear time)."""
        scores = np.asarray(scores, np.float32).ravel()
        pos = np.asarray(pos, np.float64).ravel()
        neg = np.asarray(neg, np.float64).ravel()
        order = np.argsort(scores, kind="stable")
        scores, pos, neg = scores[order], pos[order], neg[order]
        first = np.ones(len(scores), bool)
        first[1:] = scores[1:] != scores[:-1]
        starts = np.flatnonzero(first)
        return cls(scores=scores[starts], pos=np.add.reduceat(pos, starts) if len(starts) else pos,
                   neg=np.add.reduceat(neg, starts) if len(starts) else neg)

    def merge(self, other: "ScoresState") -> "ScoresState":
        """Both hold distinct ascending scores: `merge_sorted`, not a sort of
        the union."""
        self.check_mergeable(other)
        scores, (pos, neg) = merge_sorted(self.scores, [self.pos, self.neg],
                                          other.scores, [other.pos, other.neg])
        return ScoresState(scores=scores, pos=pos, neg=neg)

    def to_dict(self) -> dict:
        return {"scores": self.scores.copy(), "pos": self.pos.copy(), "neg": self.neg.copy()}

    @classmethod
    def from_dict(cls, d: dict) -> "ScoresState":
        return cls.from_values(d["scores"], d["pos"], d["neg"])


@dataclasses.dataclass(frozen=True)
class ConfusionMatrixState(State):
    """Weighted counts `matrix[label, predicted]` over classes."""

    matrix: np.ndarray
    ARRAYS = ("matrix",)

    @classmethod
    def empty(cls, n_classes: int) -> "ConfusionMatrixState":
        return cls(matrix=_zeros((n_classes, n_classes)))


@dataclasses.dataclass(frozen=True)
class ClassConfusionState(State):
    """Weighted counts `matrix[class, label, predicted]` of each class's
    one-vs-rest problem at one threshold: what averages over classes read."""

    matrix: np.ndarray
    ARRAYS = ("matrix",)

    @classmethod
    def empty(cls, n_classes: int) -> "ClassConfusionState":
        return cls(matrix=_zeros((n_classes, 2, 2)))


@dataclasses.dataclass(frozen=True)
class RegressionState(State):
    """Weighted moments per label dimension for MAE, RMSE and R².

    `sums[k, d]`, k = (w, w*y, w*y^2, w*|y-p|, w*(y-p)^2).
    """

    sums: np.ndarray
    ARRAYS = ("sums",)

    @classmethod
    def empty(cls, label_dimension: int) -> "RegressionState":
        return cls(sums=_zeros((5, label_dimension)))


@dataclasses.dataclass(frozen=True)
class CalibrationState(State):
    """Per probability bucket (equal width on [0, 1]): sum of weights,
    weighted predictions and weighted labels."""

    sums: np.ndarray
    ARRAYS = ("sums",)

    @classmethod
    def empty(cls, n_buckets: int) -> "CalibrationState":
        return cls(sums=_zeros((3, n_buckets)))
