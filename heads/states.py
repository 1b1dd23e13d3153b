"""Mergeable metric states: frozen dataclasses of fixed-shape numpy arrays.

A state holds sums and counts, never means, so merging is elementwise addition:
associative and commutative by construction, and a state computed on any
partition of the data merges to the state of one pass over all of it.
`merge` first checks that the two states describe the same metric (same
thresholds, same bucket layout...) and says what differs.
"""
import dataclasses

import numpy as np


class IncompatibleStateError(ValueError):
    """Two states of different configuration were asked to merge."""


@dataclasses.dataclass(frozen=True)
class State:
    """Base: `CONFIG` fields must match to merge, `ARRAYS` fields add up."""

    CONFIG = ()
    ARRAYS = ()

    def merge(self, other):
        if type(other) is not type(self):
            raise IncompatibleStateError(
                "cannot merge %s with %s" % (type(self).__name__, type(other).__name__))
        for name in self.CONFIG:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                raise IncompatibleStateError("cannot merge %s: %s %r != %r" % (
                    type(self).__name__, name, mine, theirs))
        for name in self.ARRAYS:
            a, b = getattr(self, name), getattr(other, name)
            if a.shape != b.shape:
                raise IncompatibleStateError("cannot merge %s: %s shape %s != %s" % (
                    type(self).__name__, name, a.shape, b.shape))
        return dataclasses.replace(
            self, **{n: getattr(self, n) + getattr(other, n) for n in self.ARRAYS})

    def to_dict(self):
        """The state as a dict of numpy arrays (configuration included)."""
        out = {n: np.asarray(getattr(self, n)) for n in self.CONFIG}
        out.update({n: np.array(getattr(self, n), copy=True) for n in self.ARRAYS})
        return out

    @classmethod
    def from_dict(cls, d):
        kwargs = {}
        for f in dataclasses.fields(cls):
            value = d[f.name]
            if f.name in cls.ARRAYS:
                kwargs[f.name] = np.array(value, dtype=np.float64, copy=True)
            else:
                value = np.asarray(value)
                kwargs[f.name] = tuple(value.tolist()) if value.ndim else value.item()
        return cls(**kwargs)

    @property
    def nbytes(self):
        return sum(getattr(self, n).nbytes for n in self.ARRAYS)


def _zeros(shape):
    return np.zeros(shape, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class MeanState(State):
    """Weighted sum and sum of weights: mean = total / count."""

    total: np.ndarray
    count: np.ndarray
    ARRAYS = ("total", "count")

    @classmethod
    def empty(cls, shape=()):
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
    def empty(cls, thresholds):
        thresholds = tuple(float(t) for t in thresholds)
        return cls(thresholds=thresholds, matrix=_zeros((len(thresholds), 2, 2)))


@dataclasses.dataclass(frozen=True)
class HistogramState(State):
    """Weighted positives and negatives per score bucket (see `buckets`).

    Fixed size whatever the number of examples; AUC, AUC-PR and the curves are
    pure functions of it.
    """

    mantissa_bits: int
    min_exponent: int
    pos: np.ndarray
    neg: np.ndarray
    CONFIG = ("mantissa_bits", "min_exponent")
    ARRAYS = ("pos", "neg")

    @classmethod
    def empty(cls, mantissa_bits, min_exponent):
        from heads import buckets  # numpy-only helper, no cycle at import time
        n = buckets.num_buckets(mantissa_bits, min_exponent)
        return cls(mantissa_bits=int(mantissa_bits), min_exponent=int(min_exponent),
                   pos=_zeros(n), neg=_zeros(n))


@dataclasses.dataclass(frozen=True)
class ScoresState(State):
    """Exact AUC state: distinct float32 scores with their weighted positives
    and negatives. Grows with the number of distinct scores (opt-in only)."""

    scores: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    ARRAYS = ("pos", "neg")

    @classmethod
    def empty(cls):
        return cls(scores=np.zeros(0, np.float32), pos=_zeros(0), neg=_zeros(0))

    @classmethod
    def from_values(cls, scores, pos, neg):
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

    def merge(self, other):
        if type(other) is not type(self):
            raise IncompatibleStateError(
                "cannot merge ScoresState with %s" % type(other).__name__)
        return ScoresState.from_values(np.concatenate([self.scores, other.scores]),
                                       np.concatenate([self.pos, other.pos]),
                                       np.concatenate([self.neg, other.neg]))

    def to_dict(self):
        return {"scores": self.scores.copy(), "pos": self.pos.copy(), "neg": self.neg.copy()}

    @classmethod
    def from_dict(cls, d):
        return cls.from_values(d["scores"], d["pos"], d["neg"])


@dataclasses.dataclass(frozen=True)
class ConfusionMatrixState(State):
    """Weighted counts `matrix[label, predicted]` over classes."""

    matrix: np.ndarray
    ARRAYS = ("matrix",)

    @classmethod
    def empty(cls, n_classes):
        return cls(matrix=_zeros((n_classes, n_classes)))


@dataclasses.dataclass(frozen=True)
class RegressionState(State):
    """Weighted moments per label dimension for MAE, RMSE and R².

    `sums[k, d]`, k = (w, w*y, w*y^2, w*|y-p|, w*(y-p)^2).
    """

    sums: np.ndarray
    ARRAYS = ("sums",)

    @classmethod
    def empty(cls, label_dimension):
        return cls(sums=_zeros((5, label_dimension)))


@dataclasses.dataclass(frozen=True)
class CalibrationState(State):
    """Per probability bucket (equal width on [0, 1]): sum of weights,
    weighted predictions and weighted labels."""

    sums: np.ndarray
    ARRAYS = ("sums",)

    @classmethod
    def empty(cls, n_buckets=20):
        return cls(sums=_zeros((3, n_buckets)))
