"""Custom metrics: a user's metric as a mergeable state of numpy sums.

The interface (what `metrics: {custom: ["package.module:factory"]}` names):

    factory() or factory(head)   -> an object (or None: not for this head)
      .batch_statistics(batch)   -> {name: numpy array}, sums over the batch
      .result(state)             -> a number, or {name: number}
      .name       (optional)     -> the report's metric name (default: the
                                    factory's name)
      .direction  (optional)     -> "higher" or "lower" is better (gates)

`batch` is a `Batch` of whole-batch numpy arrays of one slice of one batch
(`labels`, `predictions`, `logits`, `weights`, `features`); the arrays it
returns must keep their shapes from batch to batch (and for an empty batch):
they are the state, and states merge by adding, so a metric computed on any
split of the data is the one of a single pass. `result` gets the merged
state (the same dict of arrays) and must accept one of zeros (return NaN).
A factory that takes a parameter is given the head's `HeadInfo`.
"""
import collections
import importlib
import inspect
import math
import re
from typing import Callable, Mapping, Optional

import numpy as np

from heads import keys, metrics as metrics_lib, states

DIRECTIONS = ("higher", "lower")
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

# What a factory may learn about the head it measures: `type` is one of
# binary, multi_class, multi_label, regression; `n_classes` the logits
# dimension (label dimension of a regression head); `class_names` the
# vocabulary (or None).
HeadInfo = collections.namedtuple("HeadInfo", ["type", "name", "n_classes", "class_names",
                                               "thresholds"])

# One slice of one batch, as numpy arrays with one row per example:
# labels: binary [n] float (0/1 or soft), multi_class [n] int64 class ids,
#   multi_label [n, k] 0/1, regression [n, d];
# predictions: binary [n] P(positive), multi_class/multi_label [n, k]
#   probabilities, regression [n, d]; logits [n, d] as given;
# weights: [n] (or [n, d] for per-logit weights); features: {name: rows of
#   the parsed feature} (numpy arrays, or tf.RaggedTensor for var-length).
Batch = collections.namedtuple("Batch", ["labels", "predictions", "logits", "weights",
                                         "features"])


class CustomMetricError(ValueError):
    """A custom metric's factory, object or output is not what the interface
    asks for, or its code raised. The message is one line naming it."""


def load_factory(spec: str) -> Callable:
    """'package.module:factory' -> the factory (imports user code)."""
    module, _, attr = str(spec).partition(":")
    if not module or not attr or " " in str(spec):
        raise CustomMetricError("%r: expected 'package.module:factory'" % (spec,))
    try:
        loaded = importlib.import_module(module)
    except Exception as e:  # user code: any error on import is the spec's
        raise CustomMetricError("%r: cannot import module %r: %s: %s"
                                % (spec, module, type(e).__name__, _line(e))) from e
    factory = loaded
    for part in attr.split("."):
        factory = getattr(factory, part, None)
    if not callable(factory):
        raise CustomMetricError("%r: module %r has no callable %r" % (spec, module, attr))
    return factory


def _line(e: BaseException, limit: int = 300) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _takes_argument(factory) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in params)


def make(factory: Callable, head: HeadInfo, spec: str):
    """The user's object for `head` (None: the factory leaves this head out),
    its interface checked; `spec` names it in messages."""
    try:
        obj = factory(head) if _takes_argument(factory) else factory()
    except Exception as e:
        raise CustomMetricError("%r: the factory raised %s: %s"
                                % (spec, type(e).__name__, _line(e))) from e
    if obj is None:
        return None
    for method in ("batch_statistics", "result"):
        if not callable(getattr(obj, method, None)):
            raise CustomMetricError("%r: the factory returned %s, which has no %s() method "
                                    "(see heads/custom.py)" % (spec, type(obj).__name__, method))
    direction = getattr(obj, "direction", None)
    if direction is not None and direction not in DIRECTIONS:
        raise CustomMetricError("%r: direction must be one of %s or None; got %r"
                                % (spec, DIRECTIONS, direction))
    return obj


def metric_name(obj, spec: str) -> str:
    """The object's `name`, else the factory's (the text after ':')."""
    name = getattr(obj, "name", None) or str(spec).rpartition(":")[2].rpartition(".")[2]
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise CustomMetricError("%r: the metric name must be letters, digits, '_', '.' or '-' "
                                "(no '/'); got %r" % (spec, name))
    return name


def checked_state(obj, batch: Batch, spec: str, expected: Optional[dict] = None) -> dict:
    """obj.batch_statistics(batch) as {name: float64 array}, checked: a dict
    of finite numbers, with the names and shapes of `expected` when given."""
    try:
        with np.errstate(all="ignore"):
            out = obj.batch_statistics(batch)
    except Exception as e:
        raise CustomMetricError("%r: batch_statistics raised %s: %s"
                                % (spec, type(e).__name__, _line(e))) from e
    if not isinstance(out, Mapping) or not out:
        raise CustomMetricError("%r: batch_statistics must return a non-empty dict "
                                "{name: numpy array}; got %s" % (spec, type(out).__name__))
    state = {}
    for name, value in out.items():
        try:
            array = np.array(value, np.float64)
        except (TypeError, ValueError) as e:
            raise CustomMetricError("%r: batch_statistics[%r] is not numeric: %s"
                                    % (spec, name, _line(e))) from e
        if not np.all(np.isfinite(array)):
            raise CustomMetricError("%r: batch_statistics[%r] holds NaN or infinity; a "
                                    "state is sums" % (spec, name))
        state[str(name)] = array
    if expected is not None:
        if sorted(state) != sorted(expected):
            raise CustomMetricError("%r: batch_statistics returned keys %s, but an earlier "
                                    "batch gave %s" % (spec, sorted(state), sorted(expected)))
        for name, array in state.items():
            if array.shape != expected[name].shape:
                raise CustomMetricError(
                    "%r: batch_statistics[%r] has shape %s, but an earlier (or empty) batch "
                    "gave %s: a state must keep its shape" % (spec, name, list(array.shape),
                                                             list(expected[name].shape)))
    return state


def checked_result(obj, state: dict, spec: str):
    """obj.result(state) as a float or {str: float}."""
    try:
        with np.errstate(all="ignore"):
            value = obj.result({k: v.copy() for k, v in state.items()})
    except Exception as e:
        raise CustomMetricError("%r: result raised %s: %s (it must also accept a state of "
                                "zeros: return nan)" % (spec, type(e).__name__, _line(e))) from e
    try:
        if isinstance(value, Mapping):
            return {str(k): float(v) for k, v in value.items()}
        return float(value)
    except (TypeError, ValueError) as e:
        raise CustomMetricError("%r: result must return a number or {name: number}; got %s"
                                % (spec, clip_repr(value))) from e


def clip_repr(value, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class CustomMetric(metrics_lib.Metric):
    """A user's metric in a head's metric dict: its state is the dict of
    arrays `batch_statistics` returns, added up. `zeros` is the state of no
    data (the statistics of an empty batch), which fixes the names and
    shapes; None when unknown: the first statistics added fix them, and a
    metric that never had any reports NaN. Pickles its spec and state, not
    the user's object, when it has a `spec` ('package.module:factory') to
    rebuild that from where it is unpickled."""

    def __init__(self, info, obj, zeros: Optional[dict], spec: str, head: HeadInfo):
        self.obj, self.spec, self.head = obj, spec, head
        self.zeros = None if zeros is None else {k: np.zeros_like(v) for k, v in zeros.items()}
        super().__init__(info)

    @property
    def direction(self) -> Optional[str]:
        return getattr(self.obj, "direction", None)

    def _empty(self):
        return None if self.zeros is None else {k: v.copy() for k, v in self.zeros.items()}

    def add_state(self, delta: Optional[dict]) -> None:
        """Adds a state (a dict of arrays of this metric's names and shapes)."""
        if delta is None:
            return
        if self._state is None:
            self._state = {k: np.array(v, np.float64) for k, v in delta.items()}
            return
        shapes = {k: v.shape for k, v in self._state.items()}
        if {k: np.shape(v) for k, v in delta.items()} != shapes:
            raise CustomMetricError("%r: statistics of names and shapes %s cannot be added to "
                                    "a state of %s" % (self.spec, {k: list(np.shape(v)) for k, v
                                                                   in delta.items()},
                                                       {k: list(v) for k, v in shapes.items()}))
        for name, array in delta.items():
            self._state[name] += array

    def add_batch(self, batch: Batch) -> None:
        """Adds the statistics of a batch (of this slice), checked."""
        self.add_state(checked_state(self.obj, batch, self.spec, self._state))

    def merge_state(self, others: list) -> "CustomMetric":
        for other in others:
            if not isinstance(other, CustomMetric) or other.spec != self.spec:
                raise states.IncompatibleStateError(
                    "cannot merge custom metric %s with %r" % (self.info.key, other))
            self.add_state(other._state)
        return self

    def get_state(self) -> Optional[dict]:
        return None if self._state is None else {k: v.copy() for k, v in self._state.items()}

    def set_state(self, state_dict: Optional[dict]) -> "CustomMetric":
        self._state = None if state_dict is None else \
            {k: np.array(v, np.float64) for k, v in state_dict.items()}
        return self

    def result(self):
        if self._state is None:
            return math.nan
        return checked_result(self.obj, self._state, self.spec)

    def rows(self) -> list:
        i, value = self.info, self.result()
        if not isinstance(value, dict):
            return [metrics_lib.Row(i.name, None, None, value, i.key, not math.isnan(value))]
        return [metrics_lib.Row(keys.sub_name(i.name, part), None, None, v,
                                keys.sub_key(i.key, i.name, part), not math.isnan(v))
                for part, v in value.items()]

    def __getstate__(self):
        state = dict(self.__dict__)
        if isinstance(self.spec, str):
            state["obj"] = None  # rebuilt from the spec where it is unpickled
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.obj is None:
            self.obj = _rebuilt(self.spec, self.head)


_REBUILT = {}  # (spec, head) -> the user's object, once per process


def _rebuilt(spec: str, head: HeadInfo):
    key = (spec, head)
    if key not in _REBUILT:
        _REBUILT[key] = make(load_factory(spec), head, spec)
    return _REBUILT[key]


class _RowFeatures(Mapping):
    """The rows `rows` of each parsed feature, taken when first read."""

    def __init__(self, features: Mapping, rows: np.ndarray):
        self._features, self._rows, self._taken = features, rows, {}

    def __getitem__(self, name):
        if name not in self._taken:
            value = self._features[name]
            if isinstance(value, np.ndarray):
                self._taken[name] = value[self._rows]
            else:  # tf.RaggedTensor / tf.SparseTensor (TensorFlow only when present)
                import tensorflow as tf
                if isinstance(value, tf.SparseTensor):
                    value = tf.RaggedTensor.from_sparse(value)
                self._taken[name] = tf.gather(value, self._rows)
        return self._taken[name]

    def __iter__(self):
        return iter(self._features)

    def __len__(self):
        return len(self._features)


def head_type(head) -> str:
    """binary, multi_class, multi_label or regression: the kind of `head`."""
    from heads.binary import BinaryClassHead
    from heads.multi_class import MultiClassHead
    from heads.multi_label import MultiLabelHead
    for cls, name in ((BinaryClassHead, "binary"), (MultiClassHead, "multi_class"),
                      (MultiLabelHead, "multi_label")):
        if isinstance(head, cls):
            return name
    return "regression"


def head_batch(head, features: Mapping, logits, labels) -> Batch:
    """One (single) head's `Batch` of a whole batch: its checked labels,
    predictions and weights, as `head.prepare` makes them for its metrics."""
    import tensorflow as tf
    logits, labels, _, weights = head.prepare(features, logits, labels)
    kind = head_type(head)
    z = np.asarray(logits.numpy(), np.float64)
    n = z.shape[0]
    y = np.asarray(labels.numpy())
    w = np.asarray(tf.cast(weights, tf.float64).numpy())
    w = w.reshape(-1, 1) if w.ndim < 2 else w  # a scalar, or [n]
    w = np.broadcast_to(w, (n, w.shape[1]))
    w = w[:, 0] if w.shape[1] == 1 else w
    if kind == "binary":
        y, p = y.reshape(n).astype(np.float64), 1.0 / (1.0 + np.exp(-z[:, 0]))
    elif kind == "multi_class":
        y = y.reshape(n).astype(np.int64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    elif kind == "multi_label":
        y, p = y.astype(np.float64), 1.0 / (1.0 + np.exp(-z))
    else:
        y = y.astype(np.float64)
        p = np.asarray(head.predictions(logits)[keys.PredictionKeys.PREDICTIONS], np.float64)
    return Batch(y, p, z, np.array(w, np.float64), features)


def take(batch: Batch, rows: np.ndarray) -> Batch:
    """The rows `rows` of a whole batch."""
    return Batch(batch.labels[rows], batch.predictions[rows], batch.logits[rows],
                 batch.weights[rows], _RowFeatures(batch.features, rows))


def segment_states(obj, spec: str, batch: Batch, segment_ids: np.ndarray,
                   rows: Optional[np.ndarray] = None, expected: Optional[dict] = None) -> list:
    """[(segment, state)]: `obj`'s statistics of each segment's rows of
    `batch`, one `batch_statistics` call per segment present, each checked
    against `expected` (names and shapes) when given. `rows[j]` is the
    example of entry j of `segment_ids` (None: j itself)."""
    segment_ids = np.asarray(segment_ids)
    order = np.argsort(segment_ids, kind="stable")
    examples = order if rows is None else np.asarray(rows)[order]
    present, starts = np.unique(segment_ids[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    out = []
    for s, a, b in zip(present, starts, ends):
        state = checked_state(obj, take(batch, examples[a:b]), spec, expected)
        expected = state if expected is None else expected
        out.append((int(s), state))
    return out
