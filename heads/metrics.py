"""Metric objects: Keras-like `update_state`/`result`, over mergeable states.

Every object has `update_state(...)`, `result()`, `reset_state()`,
`merge_state(others)`, `get_state()` (a small dict of numpy arrays whose size
does not grow with the data) and `from_state()`. `info` says what the value
is, for reports: the metric key, the base metric name, the class and the
threshold. Heads fill states from one compiled TensorFlow function per batch
and hand the per-batch sums to `_add`; `update_state` is the numpy path for
using a metric on its own.
"""
import collections

import numpy as np

from heads import buckets, formulas, states

MetricInfo = collections.namedtuple("MetricInfo", ["key", "name", "class_name", "threshold"])
MetricInfo.__new__.__defaults__ = (None, None)

Row = collections.namedtuple("Row", ["metric", "class_name", "threshold", "value", "key"])


def _flat_weights(values, sample_weight):
    values = np.asarray(values, np.float64)
    if sample_weight is None:
        return values, np.ones_like(values)
    w = np.asarray(sample_weight, np.float64)
    while w.ndim < values.ndim:
        w = w[..., None]
    return values, np.broadcast_to(w, values.shape)


class Metric:
    """Base class: holds one state and turns it into a value."""

    def __init__(self, info):
        self.info = info if isinstance(info, MetricInfo) else MetricInfo(info, info)
        self.reset_state()

    @property
    def name(self):
        return self.info.key

    # -- state --------------------------------------------------------------
    def _empty(self):
        raise NotImplementedError

    def reset_state(self):
        self._state = self._empty()

    def _add(self, delta):
        self._state = self._state.merge(delta)

    def merge_state(self, others):
        """Adds the states of other metrics of the same kind into this one."""
        for other in others:
            if not isinstance(other, type(self)):
                raise states.IncompatibleStateError(
                    "cannot merge %s (%s) with %s" % (type(self).__name__, self.info.key,
                                                     type(other).__name__))
            self._state = self._state.merge(other._state)
        return self

    def get_state(self):
        return self._state.to_dict()

    def set_state(self, state_dict):
        self._state = type(self._empty()).from_dict(state_dict)
        return self

    @classmethod
    def from_state(cls, state_dict, info=None, **kwargs):
        """A new metric of this kind holding `state_dict`."""
        metric = cls(info or MetricInfo(cls.__name__.lower(), cls.__name__.lower()), **kwargs)
        return metric.set_state(state_dict)

    @property
    def state(self):
        return self._state

    # -- values -------------------------------------------------------------
    def result(self):
        raise NotImplementedError

    def rows(self):
        """Report rows: one per value this metric holds."""
        i = self.info
        return [Row(i.name, i.class_name, i.threshold, float(self.result()), i.key)]

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.info.key)


class Mean(Metric):
    """Weighted mean of values (Keras `Mean`; weights broadcast to values)."""

    def _empty(self):
        return states.MeanState.empty()

    def update_state(self, values, sample_weight=None):
        v, w = _flat_weights(values, sample_weight)
        self._add(states.MeanState(total=np.sum(v * w), count=np.sum(w)))

    def result(self):
        return float(formulas.mean(self._state))


class Sum(Mean):
    """Weighted total (example counts): `result()` is the sum, not the mean."""

    def result(self):
        return float(self._state.total)


class AccuracyBaseline(Mean):
    """max(label mean, 1 - label mean), from its own copy of the label sums."""

    def result(self):
        return float(formulas.accuracy_baseline(self._state))


class Accuracy(Mean):
    """Weighted fraction of predictions equal to labels (Keras `Accuracy`,
    or `BinaryAccuracy` when a threshold is given: prediction = score > t)."""

    def __init__(self, info, threshold=None):
        self.threshold = threshold
        super().__init__(info)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, np.float64)
        if self.threshold is not None:
            y_pred = (y_pred > self.threshold).astype(np.float64)
        correct = (np.asarray(y_true, np.float64) == y_pred).astype(np.float64)
        super().update_state(correct, sample_weight)


class _ConfusionMetric(Metric):
    """A metric computed from the confusion counts at one threshold."""

    formula = None

    def __init__(self, info, threshold=0.5):
        self.threshold = float(threshold)
        super().__init__(info)

    def _empty(self):
        return states.ConfusionState.empty((self.threshold,))

    @classmethod
    def from_state(cls, state_dict, info=None):
        threshold = float(np.asarray(state_dict["thresholds"]).ravel()[0])
        return super().from_state(state_dict, info, threshold=threshold)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, w = _flat_weights(y_true, sample_weight)
        label = (y_true != 0).astype(np.int64)
        pred = (np.asarray(y_pred, np.float64) > self.threshold).astype(np.int64)
        matrix = np.bincount((2 * label + pred).ravel(), w.ravel(), 4).reshape(1, 2, 2)
        self._add(states.ConfusionState(thresholds=(self.threshold,), matrix=matrix))

    def result(self):
        return float(type(self).formula(self._state.matrix[0]))


class Precision(_ConfusionMetric):
    formula = staticmethod(formulas.precision)


class Recall(_ConfusionMetric):
    formula = staticmethod(formulas.recall)


class F1(_ConfusionMetric):
    formula = staticmethod(formulas.f1)


class AUC(Metric):
    """ROC or interpolated-PR AUC over float32 probability scores.

    The state is exact (distinct scores with their weighted positives and
    negatives) while the scores seen number at most `exact_limit`; past
    that it becomes the fixed-size histogram of `heads.buckets` (under 1 MB).
    The switch depends only on the set of scores, not on how the data was
    split, so merged states give the same result as one pass. Small slices
    get the exact AUC; large ones are within ~1e-7 of it (bench_auc.py).
    `exact_limit=None` never switches (state grows with distinct scores).
    """

    DEFAULT_EXACT_LIMIT = 1 << 15

    def __init__(self, info, curve="ROC", mantissa_bits=buckets.DEFAULT_MANTISSA_BITS,
                 min_exponent=buckets.DEFAULT_MIN_EXPONENT, exact_limit=DEFAULT_EXACT_LIMIT):
        if curve not in ("ROC", "PR"):
            raise ValueError("curve must be 'ROC' or 'PR'; got %r" % (curve,))
        self.curve = curve
        self.mantissa_bits = int(mantissa_bits)
        self.min_exponent = int(min_exponent)
        self.exact_limit = exact_limit
        super().__init__(info)

    def _empty(self):
        self._pending = []
        self._pending_size = 0
        return states.ScoresState.empty()

    def _flush(self):
        """Folds buffered exact scores into the state. Buffering makes the
        exact phase cost one sort per `exact_limit` scores, not one per batch."""
        if self._pending:
            pending = self._pending
            self._pending, self._pending_size = [], 0
            chunk = states.ScoresState.from_values(*(np.concatenate(p) for p in zip(*pending)))
            self._state = self._combine(self._state, chunk)

    def __getstate__(self):
        self._flush()
        return self.__dict__

    def get_state(self):
        self._flush()
        return super().get_state()

    @property
    def state(self):
        self._flush()
        return self._state

    def _empty_histogram(self):
        return states.HistogramState.empty(self.mantissa_bits, self.min_exponent)

    @property
    def exact(self):
        """True while the state holds every distinct score."""
        self._flush()
        return isinstance(self._state, states.ScoresState)

    def _to_histogram(self, state):
        hist = self._empty_histogram()
        if len(state.scores):
            index = buckets.bucket_index(state.scores, self.mantissa_bits, self.min_exponent)
            n = len(hist.pos)
            hist = states.HistogramState(self.mantissa_bits, self.min_exponent,
                                         pos=np.bincount(index, state.pos, n),
                                         neg=np.bincount(index, state.neg, n))
        return hist

    def _combine(self, a, b):
        if isinstance(a, states.ScoresState) and isinstance(b, states.ScoresState):
            merged = a.merge(b)
            if self.exact_limit is None or len(merged.scores) <= self.exact_limit:
                return merged
            return self._to_histogram(merged)
        if isinstance(a, states.ScoresState):
            a = self._to_histogram(a)
        if isinstance(b, states.ScoresState):
            b = self._to_histogram(b)
        return a.merge(b)

    def _add(self, delta):
        self._flush()
        self._state = self._combine(self._state, delta)

    def merge_state(self, others):
        self._flush()
        for other in others:
            other._flush()
            if not isinstance(other, AUC):
                raise states.IncompatibleStateError(
                    "cannot merge AUC (%s) with %s" % (self.info.key, type(other).__name__))
            if (other.mantissa_bits, other.min_exponent) != (self.mantissa_bits, self.min_exponent):
                raise states.IncompatibleStateError(
                    "cannot merge AUC (%s): bucket layout %s != %s" % (
                        self.info.key, (self.mantissa_bits, self.min_exponent),
                        (other.mantissa_bits, other.min_exponent)))
            self._state = self._combine(self._state, other._state)
        return self

    def set_state(self, state_dict):
        self._pending, self._pending_size = [], 0
        if "scores" in state_dict:
            self._state = states.ScoresState.from_dict(state_dict)
        else:
            self._state = states.HistogramState.from_dict(state_dict)
        return self

    @classmethod
    def from_state(cls, state_dict, info=None, curve="ROC", exact_limit=DEFAULT_EXACT_LIMIT):
        kwargs = {}
        if "mantissa_bits" in state_dict:
            kwargs = dict(mantissa_bits=int(np.asarray(state_dict["mantissa_bits"])),
                          min_exponent=int(np.asarray(state_dict["min_exponent"])))
        return super().from_state(state_dict, info, curve=curve, exact_limit=exact_limit, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Labels count as positive where non-zero (Keras casts them to bool)."""
        y_true, w = _flat_weights(y_true, sample_weight)
        positive = (y_true != 0).astype(np.float64)
        self._add_scores(np.asarray(y_pred, np.float32).ravel(), (w * positive).ravel(),
                         (w * (1.0 - positive)).ravel())

    def _add_scores(self, scores, pos, neg):
        """Adds scores with their positive and negative weights."""
        if isinstance(self._state, states.ScoresState):
            self._pending.append((scores, pos, neg))
            self._pending_size += len(scores)
            if self._pending_size > (self.exact_limit or 1 << 20):
                self._flush()
        else:
            index = buckets.bucket_index(scores, self.mantissa_bits, self.min_exponent)
            np.add.at(self._state.pos, index, pos)
            np.add.at(self._state.neg, index, neg)

    def _weights(self):
        self._flush()
        return self._state.pos, self._state.neg

    def result(self):
        f = formulas.roc_auc if self.curve == "ROC" else formulas.pr_auc
        return f(*self._weights())

    def curve_points(self, max_points=1000):
        self._flush()
        if self.exact:
            edges = self._state.scores.astype(np.float64)
        else:
            edges = buckets.bucket_lower_edges(self.mantissa_bits, self.min_exponent)
        return formulas.curve_points(self._state.pos, self._state.neg, edges, max_points)


class ConfusionMatrix(Metric):
    """Weighted counts of (label, predicted class); `result()` is the matrix."""

    def __init__(self, info, n_classes, class_names=None):
        self.n_classes = int(n_classes)
        self.class_names = list(class_names or [str(i) for i in range(n_classes)])
        super().__init__(info)

    def _empty(self):
        return states.ConfusionMatrixState.empty(self.n_classes)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true, np.int64).ravel()
        y_pred = np.asarray(y_pred, np.int64).ravel()
        w = np.ones(len(y_true)) if sample_weight is None else \
            np.broadcast_to(np.asarray(sample_weight, np.float64).ravel(), y_true.shape)
        k = self.n_classes
        self._add(states.ConfusionMatrixState(
            np.bincount(y_true * k + y_pred, w, k * k).reshape(k, k)))

    def result(self):
        return self._state.matrix.copy()

    def rows(self):
        i, m = self.info, self._state.matrix
        return [Row(i.name, self.class_names[a], None, float(m[a, b]),
                    "%s/%s/%s" % (i.key, self.class_names[a], self.class_names[b]))
                for a in range(self.n_classes) for b in range(self.n_classes)]


class RegressionError(Metric):
    """Mean absolute error, root mean squared error or R² (averaged over
    label dimensions, as scikit-learn's 'uniform_average')."""

    KINDS = ("mae", "rmse", "r2")

    def __init__(self, info, kind, label_dimension=1):
        if kind not in self.KINDS:
            raise ValueError("kind must be one of %s; got %r" % (self.KINDS, kind))
        self.kind = kind
        self.label_dimension = int(label_dimension)
        super().__init__(info)

    def _empty(self):
        return states.RegressionState.empty(self.label_dimension)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y = np.asarray(y_true, np.float64).reshape(-1, self.label_dimension)
        p = np.asarray(y_pred, np.float64).reshape(-1, self.label_dimension)
        _, w = _flat_weights(y, None if sample_weight is None else
                             np.asarray(sample_weight, np.float64).reshape(len(y), -1))
        e = y - p
        self._add(states.RegressionState(np.stack([
            np.sum(w, 0), np.sum(w * y, 0), np.sum(w * y * y, 0),
            np.sum(w * np.abs(e), 0), np.sum(w * e * e, 0)])))

    def result(self):
        mae, rmse, r2 = formulas.regression_summary(self._state.sums)
        return float(np.mean({"mae": mae, "rmse": rmse, "r2": r2}[self.kind]))


class Calibration(Metric):
    """Mean prediction and mean label per equal-width probability bucket."""

    def __init__(self, info, n_buckets=20):
        self.n_buckets = int(n_buckets)
        super().__init__(info)

    def _empty(self):
        return states.CalibrationState.empty(self.n_buckets)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, w = _flat_weights(y_true, sample_weight)
        p = np.asarray(y_pred, np.float64).ravel()
        b = np.clip((p * self.n_buckets).astype(np.int64), 0, self.n_buckets - 1)
        w = w.ravel()
        self._add(states.CalibrationState(np.stack([
            np.bincount(b, w, self.n_buckets), np.bincount(b, w * p, self.n_buckets),
            np.bincount(b, w * y_true.ravel(), self.n_buckets)])))

    def result(self):
        weight, wp, wy = self._state.sums
        return np.stack([weight, formulas.div_no_nan(wp, weight), formulas.div_no_nan(wy, weight)])

    def rows(self):
        i = self.info
        weight, mean_p, mean_y = self.result()
        rows = []
        for b in range(self.n_buckets):
            lower = b / self.n_buckets
            for suffix, value in (("weight", weight[b]), ("prediction_mean", mean_p[b]),
                                  ("label_mean", mean_y[b])):
                rows.append(Row("%s/%s" % (i.name, suffix), i.class_name, lower, float(value),
                                "%s/%s/bucket_%g" % (i.key, suffix, lower)))
        return rows
