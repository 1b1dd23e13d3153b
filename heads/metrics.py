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
import threading

import numpy as np

from heads import buckets, formulas, states

MetricInfo = collections.namedtuple("MetricInfo", ["key", "name", "class_name", "threshold"])
MetricInfo.__new__.__defaults__ = (None, None)

Row = collections.namedtuple("Row", ["metric", "class_name", "threshold", "value", "key"])


def sub_key(info, *parts):
    """The key of one value of a composite metric: `parts` follow the base
    name, and whatever followed it in `info.key` (a MultiHead's `/<head name>`)
    stays last: 'calibration/bin' + ('weight', 'bucket_0.05') ->
    'calibration/weight/bucket_0.05/bin'."""
    key = info.key
    tail = key[len(info.name):] if info.name and key.startswith(info.name) else ""
    base = key[:len(key) - len(tail)]
    return "/".join((base,) + tuple(str(p) for p in parts)) + tail


def _flat_weights(values, sample_weight):
    values = np.asarray(values, np.float64)
    if sample_weight is None:
        return values, np.ones_like(values)
    w = np.asarray(sample_weight, np.float64)
    while w.ndim < values.ndim:
        w = w[..., None]
    return values, np.broadcast_to(w, values.shape)


def merge_metric_dicts(accumulator, metrics):
    """Merges the metric dict `metrics` ({key: metric}, as `head.metrics()`)
    into `accumulator`, key by key; a key only `metrics` has is taken over
    (the object itself). A metric derived from others in its dict (a
    multi-label head's pooled AUC) first takes their state (`settle`), so
    merging its parts later cannot count them twice. Returns `accumulator`."""
    for metric_dict in (accumulator, metrics):
        for metric in metric_dict.values():
            if hasattr(metric, "settle"):
                metric.settle()
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


def _same_state(a, b):
    """The same immutable state object, or two empty ones."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, states.ScoresState):
        return not len(a.scores) and not len(b.scores)
    return (not len(a.index) and not len(b.index) and a.mantissa_bits == b.mantissa_bits and
            a.max_buckets == b.max_buckets and a.min_exponent == b.min_exponent)


class AUC(Metric):
    """ROC or interpolated-PR AUC over float32 probability scores.

    The state has two parts, both fixed in size:

    * the `exact_limit` highest distinct scores, exactly (each with its
      weighted positives and negatives): while the data has no more distinct
      scores than that, the AUC is exact;
    * every lower score in a `states.HistogramState`: at most `max_buckets`
      occupied buckets of the finest level of `heads.buckets` the data
      allows, with the positions of the scores in their buckets.

    The top of the ranking, where the PR curve is most sensitive (few
    predicted positives), stays exact; below it the histogram's estimate of
    how positives and negatives are ordered inside each bucket keeps ROC AUC
    within ~1e-7 and AUC-PR within a few 1e-7 of the exact values on 35k to 1M
    examples (tests/heads/test_auc_accuracy.py, benchmarks/bench_auc.py).
    With the defaults the state is under 0.5 MB: 8,192 x 20 bytes + 9,000 x 36
    (32,768 exact scores halved the AUC-PR error, 7e-8 -> 2e-8 on 1M typical
    scores, for twice the memory and ~10% of the pipeline's time).
    Which scores are exact, and the histogram's level, depend only on the set
    of scores, not on how the data was split, so merged states give the same
    result as one pass. `exact_limit=None` keeps every score exact (the state
    grows with the distinct scores).

    `get_state()` holds the configuration too (`curve`, `exact_limit`, -1 for
    None, `max_buckets`, `min_exponent`), so `AUC.from_state(state)` restores
    the same metric.
    """

    DEFAULT_EXACT_LIMIT = 1 << 13
    DEFAULT_MAX_BUCKETS = buckets.DEFAULT_MAX_BUCKETS
    _MIN_FLUSH = 1 << 14
    _RECENT = 24
    _recent_by_thread = threading.local()  # .results: see `_same_as_last`
    _CONFIG = ("curve", "exact_limit", "max_buckets", "min_exponent")
    _BUCKET_PREFIX = "bucket_"

    def __init__(self, info, curve="ROC", max_buckets=DEFAULT_MAX_BUCKETS,
                 min_exponent=buckets.DEFAULT_MIN_EXPONENT, exact_limit=DEFAULT_EXACT_LIMIT):
        if curve not in ("ROC", "PR"):
            raise ValueError("curve must be 'ROC' or 'PR'; got %r" % (curve,))
        if exact_limit is not None and (isinstance(exact_limit, bool) or
                                        not isinstance(exact_limit, (int, np.integer)) or
                                        exact_limit < 0):
            raise ValueError("exact_limit must be None or an integer >= 0; got %r"
                             % (exact_limit,))
        if isinstance(min_exponent, bool) or not isinstance(min_exponent, (int, np.integer)) \
                or not 2 <= min_exponent <= 126:
            raise ValueError("min_exponent must be an integer in [2, 126] (q = min(p, 1 - p) "
                             "is bucketed down to 2**-min_exponent); got %r" % (min_exponent,))
        self.curve = curve
        self.min_exponent = int(min_exponent)
        self.max_buckets = buckets.check_max_buckets(max_buckets, self.min_exponent)
        self.exact_limit = None if exact_limit is None else int(exact_limit)
        super().__init__(info)

    def _config(self):
        return (self.curve, self.exact_limit, self.max_buckets, self.min_exponent)

    # -- state ------------------------------------------------------------------
    def _empty(self):
        self._pending = []
        self._pending_size = 0
        self._rest = self._empty_histogram()
        self._sources = self._source_versions = None
        self._changed()
        return states.ScoresState.empty()

    def _changed(self):
        """Counts changes of the data this metric holds (not flushes), so a
        metric derived from it can tell whether it changed behind its back."""
        self._version = getattr(self, "_version", 0) + 1

    def _empty_histogram(self):
        return states.HistogramState.empty(self.max_buckets, self.min_exponent)

    def _split(self, top, rest):
        """Keeps the `exact_limit` highest distinct scores of `top`; the lower
        ones join the histogram `rest`."""
        if self.exact_limit is None or len(top.scores) <= self.exact_limit:
            return top, rest
        cut = len(top.scores) - self.exact_limit
        rest = rest.add_scores(top.scores[:cut], top.pos[:cut], top.neg[:cut])
        top = states.ScoresState(scores=top.scores[cut:], pos=top.pos[cut:], neg=top.neg[cut:])
        return top, rest

    def _merge_parts(self, top, rest):
        """Adds another state's (top scores, histogram) to this one. The top
        scores of the union are among the two tops (a score with fewer than
        `exact_limit` higher distinct scores in the union has fewer in each
        part), so the split is the one of a single pass."""
        def merge():
            return self._split(self._state.merge(top), self._rest.merge(rest))
        self._state, self._rest = self._same_as_last("merge", (top, rest), merge)

    def _same_as_last(self, kind, inputs, compute):
        """compute() -> (top, histogram) from this state and `inputs`, or the
        result of a recent call of `kind` with the same configuration (curve
        aside), state and inputs. States are immutable and the ROC and PR AUC
        of the same scores hold the same ones, so the twin that folds in the
        same data after the other takes its result instead of doing the work
        again. The last `_RECENT` results are kept (each under 1 MB), per
        thread: metrics absorbed on different threads share none."""
        def token(obj):
            if isinstance(obj, (states.ScoresState, states.HistogramState)) and \
                    not len(obj.pos):  # empty states of one configuration are alike
                return ("empty", type(obj).__name__, getattr(obj, "mantissa_bits", None))
            return id(obj)
        key = (kind, self._config()[1:], token(self._state), token(self._rest)) + \
            tuple(id(x) for x in inputs)
        recent = getattr(AUC._recent_by_thread, "results", None)
        if recent is None:
            recent = AUC._recent_by_thread.results = collections.OrderedDict()
        if key in recent:
            recent.move_to_end(key)
            return recent[key][1]
        result = compute()
        # The entry holds its inputs, so their ids cannot be reused while it is kept.
        recent[key] = ((self._state, self._rest, tuple(inputs)), result)
        while len(recent) > self._RECENT:
            recent.popitem(last=False)
        return result

    def _flush(self):
        """Folds buffered scores into the state: one sort per `exact_limit`
        (at least 16,384) scores, not one per batch. A derived metric
        (`derive_from`) takes its sources' merged state here."""
        if self._sources is not None:
            self._materialize()
        if self._pending:
            pending = self._pending
            self._pending, self._pending_size = [], 0
            self._state, self._rest = self._same_as_last(
                "flush", pending, lambda: self._folded(pending))

    def _folded(self, pending):
        """(top, histogram): this state with the buffered `pending` scores.
        Scores below a full exact part, and those the new scores push out of
        it, join the histogram in one update."""
        top, rest = self._state, self._rest
        scores, pos, neg = (np.concatenate(p) for p in zip(*pending))
        limit = self.exact_limit
        lower = []  # (scores, pos, neg) for the histogram
        if limit is not None and len(top.scores) >= limit:
            # The exact part is full: a score below its lowest has `exact_limit`
            # higher ones and goes straight to the histogram, unsorted.
            below = scores < top.scores[0] if limit else np.ones(len(scores), bool)
            if below.any():
                # Row numbers, then gathers: a boolean mask that mixes True
                # and False selects 2-8x slower (16k scores: 90-440 us for
                # the six selections, 45-52 us this way).
                rows, kept = np.flatnonzero(below), np.flatnonzero(~below)
                lower.append((scores.take(rows), pos.take(rows), neg.take(rows)))
                scores, pos, neg = scores.take(kept), pos.take(kept), neg.take(kept)
        if len(scores):
            top = top.merge(states.ScoresState.from_values(scores, pos, neg))
            if limit is not None and len(top.scores) > limit:
                cut = len(top.scores) - limit
                lower.append((top.scores[:cut], top.pos[:cut], top.neg[:cut]))
                top = states.ScoresState(scores=top.scores[cut:], pos=top.pos[cut:],
                                         neg=top.neg[cut:])
        if lower:
            rest = rest.add_scores(*(np.concatenate(p) for p in zip(*lower)))
        return top, rest

    def _add(self, delta):
        self._flush()
        self._changed()
        if isinstance(delta, states.HistogramState):
            self._merge_parts(states.ScoresState.empty(), delta)
        else:
            self._merge_parts(delta, self._empty_histogram())

    def __getstate__(self):
        self._flush()
        return self.__dict__

    @property
    def exact(self):
        """True while the state holds every distinct score."""
        self._flush()
        return not len(self._rest.index)

    def get_state(self):
        self._flush()
        out = self._state.to_dict()
        out.update({self._BUCKET_PREFIX + k if k in ("index", "pos", "neg", "pos_t", "neg_t")
                    else k: v for k, v in self._rest.to_dict().items()})
        out.update(curve=np.asarray(self.curve),
                   exact_limit=np.asarray(-1 if self.exact_limit is None else self.exact_limit),
                   max_buckets=np.asarray(self.max_buckets),
                   min_exponent=np.asarray(self.min_exponent))
        return out

    def set_state(self, state_dict):
        """Restores the state arrays of `get_state()` (its configuration
        entries are `from_state`'s business)."""
        self._pending, self._pending_size = [], 0
        self._sources = self._source_versions = None
        self._changed()
        top = states.ScoresState.from_dict(state_dict)
        if self._BUCKET_PREFIX + "index" in state_dict:
            d = {k[len(self._BUCKET_PREFIX):] if k.startswith(self._BUCKET_PREFIX) else k: v
                 for k, v in state_dict.items()}
            rest = states.HistogramState.from_dict(d)
            if (rest.max_buckets, rest.min_exponent) != (self.max_buckets, self.min_exponent):
                raise states.IncompatibleStateError(
                    "AUC (%s): a state of max_buckets %d, min_exponent %d for a metric of "
                    "max_buckets %d, min_exponent %d" % (self.info.key, rest.max_buckets,
                                                         rest.min_exponent, self.max_buckets,
                                                         self.min_exponent))
        else:
            rest = self._empty_histogram()
        self._state, self._rest = states.ScoresState.empty(), rest
        self._merge_parts(top, self._empty_histogram())  # re-splits for this exact_limit
        return self

    @classmethod
    def from_state(cls, state_dict, info=None, **kwargs):
        """A new AUC holding `state_dict`, configured as the state says
        (keyword arguments override)."""
        config = {}
        if "curve" in state_dict:
            config["curve"] = str(np.asarray(state_dict["curve"]))
        if "exact_limit" in state_dict:
            limit = int(np.asarray(state_dict["exact_limit"]))
            config["exact_limit"] = None if limit < 0 else limit
        for name in ("max_buckets", "min_exponent"):
            if name in state_dict:
                config[name] = int(np.asarray(state_dict[name]))
        config.update(kwargs)
        return super().from_state(state_dict, info, **config)

    def merge_state(self, others):
        for other in others:
            if not isinstance(other, AUC):
                raise states.IncompatibleStateError(
                    "cannot merge AUC (%s) with %s" % (self.info.key, type(other).__name__))
            for name, mine, theirs in zip(self._CONFIG, self._config(), other._config()):
                if mine != theirs:
                    raise states.IncompatibleStateError(
                        "cannot merge AUC (%s): %s %r != %r" % (self.info.key, name, mine, theirs))
        self._flush()
        self._changed()
        for other in others:
            other._flush()
            self._merge_parts(other._state, other._rest)
        return self

    # -- sharing one batch between the ROC and PR AUC of the same scores --------
    def state_refs(self):
        """The (immutable) objects the state consists of, for `share_batch_from`."""
        return (self._state, self._rest, tuple(self._pending), self._pending_size)

    def share_batch_from(self, twin, twin_refs_before):
        """Takes `twin`'s state after a batch instead of adding the batch's
        scores again, when this metric held exactly the twin's state before it
        (the same objects: states are immutable) and both are configured
        alike (the curve aside). Returns whether it did."""
        mine = self.state_refs()
        if twin is self or self._config()[1:] != twin._config()[1:] or \
                mine[3] != twin_refs_before[3] or len(mine[2]) != len(twin_refs_before[2]) or \
                not _same_state(mine[0], twin_refs_before[0]) or \
                not _same_state(mine[1], twin_refs_before[1]) or \
                not all(a is b for a, b in zip(mine[2], twin_refs_before[2])):
            return False
        self._state, self._rest = twin._state, twin._rest
        self._pending, self._pending_size = list(twin._pending), twin._pending_size
        self._changed()
        return True

    # -- a state derived from metrics that partition the scores ----------------
    def derive_from(self, sources):
        """Makes this metric's state the merge of `sources`' states, taken when
        it is next read: for an AUC whose scores are exactly the union of
        theirs (a multi-label head's pooled AUC and its per-class AUCs), which
        merging gives exactly (any partition merges to the one-pass state),
        without adding every score twice. Only for a metric that is empty or
        already derived from the same sources; returns whether it applies.
        The head calls `sources_settled()` once the sources took the batch."""
        sources = list(sources)
        if self._sources is None:
            if self._pending or len(self._state.scores) or len(self._rest.index):
                return False
            if any(s is self or not isinstance(s, AUC) or s._config()[1:] != self._config()[1:]
                   for s in sources):
                return False
            self._sources = sources
        elif len(sources) != len(self._sources) or \
                any(a is not b for a, b in zip(sources, self._sources)):
            return False
        return True

    def settle(self):
        """Takes the sources' merged state now, if derived: before the sources
        themselves are merged with other metrics (MergeMetrics calls it)."""
        if self._sources is not None:
            self._materialize()

    def sources_settled(self):
        """Records the sources' data versions after a batch: any change to
        them after this and before this metric is read is an error."""
        self._source_versions = [s._version for s in self._sources]

    def _materialize(self):
        sources, versions = self._sources, self._source_versions
        self._sources = self._source_versions = None
        if versions is None or [s._version for s in sources] != versions:
            raise states.IncompatibleStateError(
                "AUC (%s) is the merge of %d other AUC metrics, which were updated after the "
                "head last updated it; update metrics through the head only"
                % (self.info.key, len(sources)))
        self._changed()
        for source in sources:
            source._flush()
            self._merge_parts(source._state, source._rest)

    # -- updates ------------------------------------------------------------------
    def update_state(self, y_true, y_pred, sample_weight=None):
        """Labels count as positive where non-zero (Keras casts them to bool)."""
        y_true, w = _flat_weights(y_true, sample_weight)
        positive = (y_true != 0).astype(np.float64)
        self._add_scores(np.asarray(y_pred, np.float32).ravel(), (w * positive).ravel(),
                         (w * (1.0 - positive)).ravel())

    def _add_scores(self, scores, pos, neg):
        """Adds scores with their positive and negative weights."""
        self._changed()
        self._pending.append((np.asarray(scores, np.float32), np.asarray(pos, np.float64),
                              np.asarray(neg, np.float64)))
        self._pending_size += len(scores)
        if self._pending_size > max(self.exact_limit or 1 << 20, self._MIN_FLUSH):
            self._flush()

    # -- values -------------------------------------------------------------------
    def _entries(self):
        """pos, neg (and positions, or None) per ascending score bucket: the
        histogram's buckets, then the exact scores (each its own bucket, of
        ties: position 1/2)."""
        self._flush()
        top, rest = self._state, self._rest
        if not len(rest.index):
            return top.pos, top.neg, None, None
        return (np.concatenate([rest.pos, top.pos]), np.concatenate([rest.neg, top.neg]),
                np.concatenate([rest.pos_t, 0.5 * top.pos]),
                np.concatenate([rest.neg_t, 0.5 * top.neg]))

    def result(self):
        f = formulas.roc_auc if self.curve == "ROC" else formulas.pr_auc
        return f(*self._entries())

    def curve_points(self, max_points=1000):
        pos, neg, _, _ = self._entries()
        rest = self._rest
        edges = np.concatenate([
            buckets.lower_edges(rest.index, rest.mantissa_bits, rest.min_exponent),
            self._state.scores.astype(np.float64)])
        return formulas.curve_points(pos, neg, edges, max_points)


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

    def get_state(self):
        out = super().get_state()
        out["class_names"] = np.asarray(self.class_names, dtype=str)
        return out

    @classmethod
    def from_state(cls, state_dict, info=None, **kwargs):
        config = {"n_classes": np.shape(state_dict["matrix"])[0]}
        if "class_names" in state_dict:
            config["class_names"] = [str(n) for n in np.asarray(state_dict["class_names"])]
        config.update(kwargs)
        return super().from_state(state_dict, info, **config)

    def result(self):
        return self._state.matrix.copy()

    def rows(self):
        i, m = self.info, self._state.matrix
        return [Row(i.name, self.class_names[a], None, float(m[a, b]),
                    sub_key(i, self.class_names[a], self.class_names[b]))
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

    def get_state(self):
        out = super().get_state()
        out["kind"] = np.asarray(self.kind)
        return out

    @classmethod
    def from_state(cls, state_dict, info=None, **kwargs):
        config = {"label_dimension": np.shape(state_dict["sums"])[1]}
        if "kind" in state_dict:
            config["kind"] = str(np.asarray(state_dict["kind"]))
        config.update(kwargs)
        if "kind" not in config:
            raise ValueError("RegressionError.from_state needs kind (one of %s): the state "
                             "has none" % (cls.KINDS,))
        return super().from_state(state_dict, info, **config)

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

    @classmethod
    def from_state(cls, state_dict, info=None, **kwargs):
        config = {"n_buckets": np.shape(state_dict["sums"])[1]}
        config.update(kwargs)
        return super().from_state(state_dict, info, **config)

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
                                sub_key(i, suffix, "bucket_%g" % lower)))
        return rows
