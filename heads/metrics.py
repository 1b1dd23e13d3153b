"""Metric objects: Keras-like `update_state`/`result`, over mergeable states.

Every object has `update_state(...)`, `result()`, `reset_state()`,
`merge_state(others)`, `get_state()` (a small dict of numpy arrays whose size
does not grow with the data) and `from_state()`. `info` says what the value
is, for reports: the metric key, the base metric name, the class and the
threshold. Heads fill states from one compiled TensorFlow function per batch
and hand the per-batch sums to `add_state`; `update_state` is the numpy path
for using a metric on its own. The AUCs are in `heads.auc`.
"""
import collections

import numpy as np
import numpy.typing as npt

from heads import formulas, keys, states

# Equal-width probability buckets of the calibration metric.
CALIBRATION_BUCKETS = 20

# `average` ('micro', 'macro', 'weighted') marks an aggregate over classes,
# `k` the k of a top-k metric; None where neither applies (SPEC §6 columns).
MetricInfo = collections.namedtuple("MetricInfo", ["key", "name", "class_name", "threshold",
                                                   "average", "k"])
MetricInfo.__new__.__defaults__ = (None, None, None, None)

# `value` is the estimator's number (0 for 0/0); `defined` is False where
# that 0 stands for a zero denominator (`Metric.defined`).
Row = collections.namedtuple("Row", ["metric", "class_name", "threshold", "value", "key",
                                     "defined", "average", "k"])
Row.__new__.__defaults__ = (True, None, None)


def flat_weights(values: npt.ArrayLike, sample_weight: npt.ArrayLike = None) -> tuple:
    """`values` as float64 and `sample_weight` (None: ones) broadcast to them."""
    values = np.asarray(values, np.float64)
    if sample_weight is None:
        return values, np.ones_like(values)
    w = np.asarray(sample_weight, np.float64)
    while w.ndim < values.ndim:
        w = w[..., None]
    return values, np.broadcast_to(w, values.shape)


def merge_metric_dicts(accumulator: dict, metrics: dict) -> dict:
    """Merges the metric dict `metrics` ({key: metric}, as `head.metrics()`)
    into `accumulator`, key by key; a key only `metrics` has is taken over
    (the object itself). Metrics that read a state held by others of their
    dict (`heads.auc`) are merged through those. Returns `accumulator`."""
    for key, metric in metrics.items():
        if key in accumulator:
            accumulator[key].merge_state([metric])
        else:
            accumulator[key] = metric
    return accumulator


class Metric:
    """Base class: holds one state and turns it into a value."""

    def __init__(self, info):
        self.info = info if isinstance(info, MetricInfo) else MetricInfo(info, info)
        self.reset_state()

    @property
    def name(self) -> str:
        return self.info.key

    # -- state --------------------------------------------------------------
    def _empty(self):
        raise NotImplementedError

    def reset_state(self) -> None:
        self._state = self._empty()

    def add_state(self, delta: states.State) -> None:
        """Adds a state of this metric's kind (a batch's sums, say)."""
        self._state = self._state.merge(delta)

    def merge_state(self, others: list) -> "Metric":
        """Adds the states of other metrics of the same kind into this one."""
        for other in others:
            if not isinstance(other, type(self)):
                raise states.IncompatibleStateError(
                    "cannot merge %s (%s) with %s" % (type(self).__name__, self.info.key,
                                                     type(other).__name__))
            self._state = self._state.merge(other._state)
        return self

    def get_state(self) -> dict:
        return self._state.to_dict()

    def set_state(self, state_dict: dict) -> "Metric":
        self._state = type(self._empty()).from_dict(state_dict)
        return self

    @classmethod
    def from_state(cls, state_dict: dict, info: MetricInfo | str | None = None,
                   **kwargs) -> "Metric":
        """A new metric of this kind holding `state_dict`."""
        metric = cls(info or MetricInfo(cls.__name__.lower(), cls.__name__.lower()), **kwargs)
        return metric.set_state(state_dict)

    # -- values -------------------------------------------------------------
    def result(self) -> float | np.ndarray:
        """The value: a float, or an array for a composite metric."""
        raise NotImplementedError

    def defined(self) -> bool:
        """Whether `result()` is a value: False where its denominator is zero
        (no weight, no positives...) and `result()` gives the estimator's 0
        (`div_no_nan`). Reports say "undefined" there; `result()` does not
        change."""
        return True

    def rows(self) -> list:
        """Report rows: one per value this metric holds."""
        i = self.info
        return [Row(i.name, i.class_name, i.threshold, float(self.result()), i.key,
                    bool(self.defined()), i.average, i.k)]

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.info.key)


class Mean(Metric):
    """Weighted mean of values (Keras `Mean`; weights broadcast to values)."""

    def _empty(self):
        return states.MeanState.empty()

    def update_state(self, values: npt.ArrayLike, sample_weight: npt.ArrayLike = None) -> None:
        v, w = flat_weights(values, sample_weight)
        self.add_state(states.MeanState(total=np.sum(v * w), count=np.sum(w)))

    def result(self) -> float:
        return float(formulas.mean(self._state))

    def defined(self) -> bool:
        return bool(formulas.mean_defined(self._state))


class Sum(Mean):
    """Weighted total (example counts): `result()` is the sum, not the mean."""

    def result(self) -> float:
        return float(self._state.total)

    def defined(self) -> bool:
        return True  # a sum over nothing is 0


class AccuracyBaseline(Mean):
    """max(label mean, 1 - label mean), from its own copy of the label sums."""

    def result(self) -> float:
        return float(formulas.accuracy_baseline(self._state))


class Accuracy(Mean):
    """Weighted fraction of predictions equal to labels (Keras `Accuracy`,
    or `BinaryAccuracy` when a threshold is given: prediction = score > t)."""

    def __init__(self, info, threshold=None):
        self.threshold = threshold
        super().__init__(info)

    def update_state(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike,
                     sample_weight: npt.ArrayLike = None) -> None:
        y_pred = np.asarray(y_pred, np.float64)
        if self.threshold is not None:
            y_pred = (y_pred > self.threshold).astype(np.float64)
        correct = (np.asarray(y_true, np.float64) == y_pred).astype(np.float64)
        super().update_state(correct, sample_weight)


class _ConfusionMetric(Metric):
    """A metric computed from the confusion counts at one threshold."""

    formula = None
    defined_formula = None

    def __init__(self, info, threshold=0.5):
        self.threshold = float(threshold)
        super().__init__(info)

    def _empty(self):
        return states.ConfusionState.empty((self.threshold,))

    @classmethod
    def from_state(cls, state_dict: dict, info: MetricInfo | str | None = None) -> "Metric":
        threshold = float(np.asarray(state_dict["thresholds"]).ravel()[0])
        return super().from_state(state_dict, info, threshold=threshold)

    def update_state(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike,
                     sample_weight: npt.ArrayLike = None) -> None:
        y_true, w = flat_weights(y_true, sample_weight)
        label = (y_true != 0).astype(np.int64)
        pred = (np.asarray(y_pred, np.float64) > self.threshold).astype(np.int64)
        matrix = np.bincount((2 * label + pred).ravel(), w.ravel(), 4).reshape(1, 2, 2)
        self.add_state(states.ConfusionState(thresholds=(self.threshold,), matrix=matrix))

    def result(self) -> float:
        return float(type(self).formula(self._state.matrix[0]))

    def defined(self) -> bool:
        return bool(type(self).defined_formula(self._state.matrix[0]))


class Precision(_ConfusionMetric):
    formula = staticmethod(formulas.precision)
    defined_formula = staticmethod(formulas.precision_defined)


class Recall(_ConfusionMetric):
    formula = staticmethod(formulas.recall)
    defined_formula = staticmethod(formulas.recall_defined)


class F1(_ConfusionMetric):
    formula = staticmethod(formulas.f1)
    defined_formula = staticmethod(formulas.f1_defined)


class FalsePositiveRate(_ConfusionMetric):
    formula = staticmethod(formulas.false_positive_rate)
    defined_formula = staticmethod(formulas.negatives_defined)


class FalseNegativeRate(_ConfusionMetric):
    formula = staticmethod(formulas.false_negative_rate)
    defined_formula = staticmethod(formulas.recall_defined)


class Specificity(_ConfusionMetric):
    formula = staticmethod(formulas.specificity)
    defined_formula = staticmethod(formulas.negatives_defined)


class NegativePredictiveValue(_ConfusionMetric):
    formula = staticmethod(formulas.negative_predictive_value)
    defined_formula = staticmethod(formulas.predicted_negatives_defined)


class ConfusionMatrix(Metric):
    """Weighted counts of (label, predicted class); `result()` is the matrix."""

    def __init__(self, info, n_classes, class_names=None):
        self.n_classes = int(n_classes)
        self.class_names = list(class_names or [str(i) for i in range(n_classes)])
        super().__init__(info)

    def _empty(self):
        return states.ConfusionMatrixState.empty(self.n_classes)

    def update_state(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike,
                     sample_weight: npt.ArrayLike = None) -> None:
        y_true = np.asarray(y_true, np.int64).ravel()
        y_pred = np.asarray(y_pred, np.int64).ravel()
        w = np.ones(len(y_true)) if sample_weight is None else \
            np.broadcast_to(np.asarray(sample_weight, np.float64).ravel(), y_true.shape)
        k = self.n_classes
        self.add_state(states.ConfusionMatrixState(
            np.bincount(y_true * k + y_pred, w, k * k).reshape(k, k)))

    def get_state(self) -> dict:
        out = super().get_state()
        out["class_names"] = np.asarray(self.class_names, dtype=str)
        return out

    @classmethod
    def from_state(cls, state_dict: dict, info: MetricInfo | str | None = None,
                   **kwargs) -> "Metric":
        config = {"n_classes": np.shape(state_dict["matrix"])[0]}
        if "class_names" in state_dict:
            config["class_names"] = [str(n) for n in np.asarray(state_dict["class_names"])]
        config.update(kwargs)
        return super().from_state(state_dict, info, **config)

    def result(self) -> np.ndarray:
        return self._state.matrix.copy()

    def rows(self) -> list:
        i, m = self.info, self._state.matrix
        return [Row(i.name, self.class_names[a], None, float(m[a, b]),
                    keys.sub_key(i.key, i.name, self.class_names[a], self.class_names[b]))
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

    def get_state(self) -> dict:
        out = super().get_state()
        out["kind"] = np.asarray(self.kind)
        return out

    @classmethod
    def from_state(cls, state_dict: dict, info: MetricInfo | str | None = None,
                   **kwargs) -> "Metric":
        config = {"label_dimension": np.shape(state_dict["sums"])[1]}
        if "kind" in state_dict:
            config["kind"] = str(np.asarray(state_dict["kind"]))
        config.update(kwargs)
        if "kind" not in config:
            raise ValueError("RegressionError.from_state needs kind (one of %s): the state "
                             "has none" % (cls.KINDS,))
        return super().from_state(state_dict, info, **config)

    def update_state(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike,
                     sample_weight: npt.ArrayLike = None) -> None:
        y = np.asarray(y_true, np.float64).reshape(-1, self.label_dimension)
        p = np.asarray(y_pred, np.float64).reshape(-1, self.label_dimension)
        _, w = flat_weights(y, None if sample_weight is None else
                             np.asarray(sample_weight, np.float64).reshape(len(y), -1))
        e = y - p
        self.add_state(states.RegressionState(np.stack([
            np.sum(w, 0), np.sum(w * y, 0), np.sum(w * y * y, 0),
            np.sum(w * np.abs(e), 0), np.sum(w * e * e, 0)])))

    def result(self) -> float:
        mae, rmse, r2 = formulas.regression_summary(self._state.sums)
        return float(np.mean({"mae": mae, "rmse": rmse, "r2": r2}[self.kind]))

    def defined(self) -> bool:
        """Defined in every label dimension (the value averages them)."""
        defined = dict(zip(self.KINDS, formulas.regression_defined(self._state.sums)))
        return bool(np.all(defined[self.kind]))


class Calibration(Metric):
    """Mean prediction and mean label per equal-width probability bucket."""

    def __init__(self, info, n_buckets=CALIBRATION_BUCKETS):
        self.n_buckets = int(n_buckets)
        super().__init__(info)

    def _empty(self):
        return states.CalibrationState.empty(self.n_buckets)

    @classmethod
    def from_state(cls, state_dict: dict, info: MetricInfo | str | None = None,
                   **kwargs) -> "Metric":
        config = {"n_buckets": np.shape(state_dict["sums"])[1]}
        config.update(kwargs)
        return super().from_state(state_dict, info, **config)

    def update_state(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike,
                     sample_weight: npt.ArrayLike = None) -> None:
        y_true, w = flat_weights(y_true, sample_weight)
        p = np.asarray(y_pred, np.float64).ravel()
        b = np.clip((p * self.n_buckets).astype(np.int64), 0, self.n_buckets - 1)
        w = w.ravel()
        self.add_state(states.CalibrationState(np.stack([
            np.bincount(b, w, self.n_buckets), np.bincount(b, w * p, self.n_buckets),
            np.bincount(b, w * y_true.ravel(), self.n_buckets)])))

    def result(self) -> np.ndarray:
        weight, wp, wy = self._state.sums
        return np.stack([weight, formulas.div_no_nan(wp, weight), formulas.div_no_nan(wy, weight)])

    def rows(self) -> list:
        i = self.info
        weight, mean_p, mean_y = self.result()
        rows = []
        for b in range(self.n_buckets):
            lower = b / self.n_buckets
            occupied = bool(weight[b] != 0)  # the means of an empty bucket are 0/0
            for suffix, value, defined in (("weight", weight[b], True),
                                           ("prediction_mean", mean_p[b], occupied),
                                           ("label_mean", mean_y[b], occupied)):
                rows.append(Row(keys.sub_name(i.name, suffix), i.class_name, lower,
                                float(value), keys.sub_key(i.key, i.name, suffix,
                                                           keys.bucket(lower)), defined))
        return rows
