"""The Head base class: loss, predictions, mergeable metrics, estimator spec.

A head turns logits into a loss, predictions and metrics. Metrics are kept in
mergeable states (`heads.metrics`, `heads.auc`). Per batch, one compiled
TensorFlow function per head computes every metric's sums for every segment
(slice) of the batch at once (`heads.segments`); only those small sums, and
the scores of the AUC curves, cross to numpy.
"""
import collections
from typing import Callable

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from heads import (auc, buckets, keys, labels as labels_lib, losses, metrics as metrics_lib,
                   segments, states)

EstimatorSpec = collections.namedtuple(
    "EstimatorSpec", ["mode", "predictions", "loss", "train_op", "eval_metric_ops",
                      "export_outputs"])
ClassificationOutput = collections.namedtuple("ClassificationOutput", ["scores", "classes"])
RegressionOutput = collections.namedtuple("RegressionOutput", ["value"])
PredictOutput = collections.namedtuple("PredictOutput", ["outputs"])
TensorLike = tf.types.experimental.TensorLike  # logits, labels: a tensor or array
Prepared = collections.namedtuple("Prepared", ["logits", "labels", "unweighted_loss", "weights"])


class MetricSpec(collections.namedtuple("MetricSpec", ["key", "make", "absorb"])):
    """How to build one metric object and how to add a segment's dense sums
    to it: `absorb(metric, stats, segment)`."""


class CurveSpec(collections.namedtuple("CurveSpec", ["roc", "pr", "scores", "column", "parts"])):
    """The ROC AUC and AUC-PR (`MetricInfo`s `roc` and `pr`) of one curve
    state, filled from column `column` of the `segments.ScoreGroups`
    statistic `scores` (every column with None); with `parts` (CurveSpecs of
    scores that partition these), the union of their states instead."""


CurveSpec.__new__.__defaults__ = ((),)


class ViewSpec(collections.namedtuple("ViewSpec", ["key", "make"])):
    """A metric that reads other metrics of its dict (`heads.derived`'s
    views): `make(metrics)` builds it from the dict built so far (the specs
    it reads come before it). It takes no batch sums."""


def absorb_mean(total: str, count: str, index: int | tuple = ()) -> Callable:
    """Mean sums from `stats[total][s][index]` and `stats[count][s]`."""
    def absorb(metric, stats, s):
        metric.add_state(states.MeanState(total=stats[total][s][index], count=stats[count][s]))
    return absorb


def absorb_confusion(name: str, index: int | tuple) -> Callable:
    """`stats[name]` is `[S, ..., 2, 2]`; `index` picks the threshold (and class)."""
    def absorb(metric, stats, s):
        matrix = stats[name][s][index]
        metric.add_state(states.ConfusionState(thresholds=(metric.threshold,),
                                               matrix=matrix[None]))
    return absorb


def absorb_array(name: str, state_cls: type, index: int | tuple | None = None) -> Callable:
    """A state `state_cls(stats[name][s][index])` (the whole segment's array
    without `index`)."""
    def absorb(metric, stats, s):
        value = stats[name][s] if index is None else stats[name][s][index]
        metric.add_state(state_cls(value))
    return absorb


class Head:
    """Shared behaviour of the heads. Subclasses define label processing,
    the unreduced loss, predictions and `_batch_stats`/`_metric_specs`."""

    _allow_per_logit_weights = False

    def _init_common(self, weight_column, loss_reduction, loss_fn, name, extended_metrics,
                     auc_method, auc_buckets):
        losses.validate_loss_reduction(loss_reduction)
        if loss_fn is not None:
            losses.validate_loss_fn_args(loss_fn)
        if weight_column is not None and not isinstance(weight_column, str):
            raise ValueError("weight_column must be a feature name (string) or None; got %r"
                             % (weight_column,))
        if name is not None and not isinstance(name, str):
            raise ValueError("name must be a string or None; got %r" % (name,))
        if auc_method not in auc.AUC_METHODS:
            raise ValueError("auc_method must be one of %s; got %r"
                             % (auc.AUC_METHODS, auc_method))
        self._weight_column = weight_column
        self._loss_reduction = loss_reduction
        self._loss_fn = loss_fn
        self._name = name
        self._extended = bool(extended_metrics)
        self._auc_method = auc_method
        self._auc_max_buckets = buckets.DEFAULT_MAX_BUCKETS if auc_buckets is None else \
            buckets.check_max_buckets(auc_buckets, argument="auc_buckets")
        self._stats_fns = {}  # (name, (dtype, inner shape) of each input) -> concrete function
        self.__specs = None

    # -- properties ---------------------------------------------------------
    @property
    def name(self) -> str | None:
        return self._name

    @property
    def loss_reduction(self) -> str:
        return self._loss_reduction

    @property
    def weight_column(self) -> str | None:
        return self._weight_column

    def _key(self, key):
        return keys.summary_key(key, self._name)

    def _info(self, base, class_id=None, threshold=None, key=None, average=None, k=None):
        """MetricInfo for a base name, optional class, threshold and average
        over classes (a key suffix: 'precision/macro'), and the k of a top-k
        metric (`key` gives its key)."""
        if key is None:
            key = base
            if threshold is not None:
                key = keys.at_threshold(base, threshold)
            if class_id is not None:
                key = keys.at_class(key, class_id, self._vocabulary_words())
            if average is not None:
                key = keys.averaged(key, average)
        class_name = None if class_id is None else keys.class_name(class_id, self._vocabulary_words())
        return metrics_lib.MetricInfo(self._key(key), base, class_name, threshold, average, k)

    def _curve(self, scores, column=None, class_id=None, parts=()):
        """The CurveSpec of `auc` and `auc_precision_recall` (of a class)."""
        return CurveSpec(self._info(keys.MetricKeys.AUC, class_id=class_id),
                         self._info(keys.MetricKeys.AUC_PR, class_id=class_id),
                         scores, column, tuple(parts))

    def _vocabulary_words(self):
        vocab = getattr(self, "_vocabulary", None)
        return None if vocab is None else vocab.words

    def _auc(self, info, curve):
        limit = None if self._auc_method == auc.EXACT else auc.AUC.DEFAULT_EXACT_LIMIT
        return auc.AUC(info, curve=curve, max_buckets=self._auc_max_buckets, exact_limit=limit)

    # -- to implement ---------------------------------------------------------
    def _processed_labels(self, logits, labels):
        raise NotImplementedError

    def _unweighted_loss(self, logits, labels, features):
        raise NotImplementedError

    def _batch_stats(self, logits, labels, loss, weights):
        """Per-row tensors (`dense`, summed per segment) and score groups
        (`scores`: name -> (float32 scores [n, C], pos weights, neg weights))."""
        raise NotImplementedError

    def _metric_specs(self):
        """MetricSpecs and CurveSpecs, in the order of the metric dict's keys."""
        raise NotImplementedError

    # -- loss ---------------------------------------------------------------
    def prepare(self, features: dict | None, logits: TensorLike,
                labels: TensorLike | tf.SparseTensor) -> Prepared:
        """Checked logits and labels, the unweighted loss per example (and
        loss dimension) and the weights: what the loss and the metrics of a
        batch start from."""
        logits = labels_lib.check_logits(logits, self.logits_dimension)
        labels = self._processed_labels(logits, labels)
        if self._loss_fn is not None:
            unweighted = losses.call_loss_fn(self._loss_fn, labels, logits, features,
                                             self._loss_dimension())
        else:
            unweighted = self._compiled_loss(logits, labels)
        weights = labels_lib.get_weights(features, self._weight_column, logits,
                                         self._allow_per_logit_weights)
        return Prepared(logits, labels, unweighted, weights)

    def _compiled_loss(self, logits, labels):
        """The built-in unweighted loss, run as one compiled function (eagerly
        it is a dozen ops on float64 copies of the batch), traced once per
        kind of input with the batch size unknown (as `_stats`). The
        built-in losses do not read the features."""
        return self._compiled("loss", lambda lo, la: self._unweighted_loss(lo, la, None),
                              logits, labels)

    def _compiled(self, name, fn, *tensors):
        """fn(*tensors) through a concrete function traced once per `name` and
        (dtype, shape past the batch dimension) of each tensor."""
        key = (name,) + tuple((t.dtype, tuple(t.shape[1:])) for t in tensors)
        concrete = self._stats_fns.get(key)
        if concrete is None:
            specs = [tf.TensorSpec([None] + t.shape[1:].as_list(), t.dtype) if t.shape.rank
                     else tf.TensorSpec([], t.dtype) for t in tensors]
            # No autograph: no tensor-dependent Python control flow here, and
            # converting costs time on every trace.
            concrete = tf.function(fn, autograph=False).get_concrete_function(*specs)
            self._stats_fns[key] = concrete
        return concrete(*tensors)

    def _loss_dimension(self):
        return 1

    def loss(self, labels: TensorLike | tf.SparseTensor, logits: TensorLike,
             features: dict | None = None, mode: str | None = None,
             regularization_losses: list | None = None) -> tf.Tensor:
        """Regularized training loss: the reduced weighted loss plus the sum of
        `regularization_losses`."""
        del mode
        _, _, unweighted, weights = self.prepare(features, logits, labels)
        loss = losses.reduce_weighted_loss(unweighted, weights, self._loss_reduction)
        return losses.add_regularization(loss, regularization_losses)

    # -- metrics ------------------------------------------------------------
    def _all_specs(self):
        """(every spec in key order, the MetricSpecs, the CurveSpecs)."""
        if self.__specs is None:
            specs = list(self._metric_specs())
            if self._extended:
                specs += [
                    MetricSpec(self._key(keys.MetricKeys.EXAMPLE_COUNT),
                               lambda: metrics_lib.Sum(self._info(keys.MetricKeys.EXAMPLE_COUNT)),
                               absorb_mean("_rows", "_rows")),
                    MetricSpec(self._key(keys.MetricKeys.WEIGHTED_EXAMPLE_COUNT),
                               lambda: metrics_lib.Sum(
                                   self._info(keys.MetricKeys.WEIGHTED_EXAMPLE_COUNT)),
                               absorb_mean("_row_weight", "_rows")),
                ]
            self.__specs = (specs, [s for s in specs if isinstance(s, MetricSpec)],
                            [s for s in specs if isinstance(s, CurveSpec)])
        return self.__specs

    def metrics(self, regularization_losses: list | None = None) -> dict:
        """Fresh metric objects, keyed by the estimator's metric keys. The
        ROC AUC and AUC-PR of the same scores are two views of one curve
        state (`heads.auc`)."""
        specs, _, curve_specs = self._all_specs()
        aucs = {}  # CurveSpec -> (ROC AUC, AUC-PR); unions after their parts
        for spec in sorted(curve_specs, key=lambda c: bool(c.parts)):
            if spec.parts:
                roc = auc.AUC.union(spec.roc, auc.ROC, [aucs[p][0] for p in spec.parts])
            else:
                roc = self._auc(spec.roc, auc.ROC)
            aucs[spec] = (roc, auc.AUC.reading(roc, spec.pr, auc.PR))
        out = {}
        for spec in specs:
            if isinstance(spec, CurveSpec):
                out[spec.roc.key], out[spec.pr.key] = aucs[spec]
            elif isinstance(spec, ViewSpec):
                out[spec.key] = spec.make(out)
            else:
                out[spec.key] = spec.make()
        if regularization_losses is not None:
            key = self._key(keys.MetricKeys.LOSS_REGULARIZATION)
            out[key] = metrics_lib.Mean(self._info(keys.MetricKeys.LOSS_REGULARIZATION))
        return out

    def _segment_stats(self, logits, labels, loss, weights, segment_ids, num_segments):
        dense, scores = self._batch_stats(logits, labels, loss, weights)
        dense = dict(dense)
        dense["_rows"] = tf.ones_like(segment_ids, tf.float64)
        dense["_row_weight"] = tf.reduce_mean(
            tf.cast(tf.broadcast_to(weights, tf.concat([tf.shape(logits)[:1],
                                                        tf.shape(weights)[1:]], 0)),
                    tf.float64), axis=-1)
        out = self._derived_stats(segments.segment_sums(dense, segment_ids, num_segments))
        out.update(segments.score_inputs(scores, segment_ids, num_segments))
        return out

    def update_metrics(self, eval_metrics: dict, features: dict | None, logits: TensorLike,
                       labels: TensorLike | tf.SparseTensor,
                       regularization_losses: list | None = None) -> dict:
        """Adds one batch to `eval_metrics` (from `metrics()`); returns it."""
        self.update_metrics_segmented([eval_metrics], features, logits, labels, None,
                                      regularization_losses)
        return eval_metrics

    def update_metrics_segmented(self, eval_metrics_list: list, features: dict | None,
                                 logits: TensorLike, labels: TensorLike | tf.SparseTensor,
                                 segment_ids: npt.ArrayLike | None,
                                 regularization_losses: list | None = None,
                                 rows: npt.ArrayLike | None = None,
                                 deferred: segments.DeferredSums | None = None) -> list:
        """Adds one batch to several metric dicts at once: example i (along D0)
        goes to `eval_metrics_list[segment_ids[i]]`. With `rows`, entry j of
        `segment_ids` belongs to example `rows[j]` instead, so one example can
        count in several segments (overall and per slice) in one pass of
        TensorFlow per batch. With `deferred` (a `segments.DeferredSums`),
        the dense metrics' sums go there until its `apply()`.

        It is `segmented_statistics` then `absorb_statistics`; a caller may
        run the first (TensorFlow, on any thread) for the next batch while
        it absorbs this one."""
        statistics = self.segmented_statistics(features, logits, labels, segment_ids,
                                               len(eval_metrics_list), rows)
        self.absorb_statistics(eval_metrics_list, statistics, deferred)
        if regularization_losses is not None:
            segments.add_regularization_loss(eval_metrics_list,
                                             self._key(keys.MetricKeys.LOSS_REGULARIZATION),
                                             regularization_losses, segment_ids)
        return eval_metrics_list

    def segmented_statistics(self, features: dict | None, logits: TensorLike,
                             labels: TensorLike | tf.SparseTensor,
                             segment_ids: npt.ArrayLike | None, num_segments: int,
                             rows: npt.ArrayLike | None = None) -> dict:
        """One batch's per-segment metric sums (and grouped AUC scores), as
        numpy, for `absorb_statistics`. It only reads the head (its traced
        functions are built on first use), so it may run on another thread
        than the one that absorbs."""
        return self.prepared_statistics(self.prepare(features, logits, labels), segment_ids,
                                        num_segments, rows)

    def prepared_statistics(self, prepared: Prepared, segment_ids: npt.ArrayLike | None,
                            num_segments: int, rows: npt.ArrayLike | None = None) -> dict:
        """`segmented_statistics` of a batch already `prepare`d."""
        logits, labels, unweighted, weights = prepared
        weights = tf.broadcast_to(weights, tf.concat([tf.shape(logits)[:-1],
                                                      tf.shape(weights)[-1:]], 0)) \
            if weights.shape.rank else tf.fill(tf.concat([tf.shape(logits)[:-1], [1]], 0), weights)
        if rows is not None:
            rows = tf.constant(np.asarray(rows, np.int64))
            logits, labels, unweighted, weights = (tf.gather(t, rows) for t in
                                                   (logits, labels, unweighted, weights))
        segment_ids = segments.checked_segment_ids(segment_ids, logits.shape[0], num_segments)
        # Flatten [D0, ..., DN, k] to [n, k]; each row keeps its D0 segment.
        inner = int(np.prod(logits.shape[1:-1])) if logits.shape.rank > 2 else 1
        flat = lambda t: tf.reshape(t, [-1, t.shape[-1]])  # noqa: E731
        seg = np.repeat(segment_ids, inner)
        stats = self._stats(flat(logits), flat(labels), flat(unweighted), flat(weights),
                            tf.constant(seg), tf.constant(num_segments, tf.int32))
        return segments.to_numpy(stats)

    def absorb_statistics(self, eval_metrics_list: list, stats: dict,
                          deferred: segments.DeferredSums | None = None) -> None:
        """Adds `segmented_statistics`' sums of segment s to
        `eval_metrics_list[s]` (or, for the dense metrics, to `deferred`),
        and its scores to the curve states the segment's AUCs read."""
        if deferred is not None:
            deferred.add(self, eval_metrics_list, stats)
        else:
            for s, eval_metrics in enumerate(eval_metrics_list):
                self.absorb_dense(eval_metrics, stats, s)
        _, _, curve_specs = self._all_specs()
        if curve_specs:
            for s, eval_metrics in enumerate(eval_metrics_list):
                self._absorb_curves(eval_metrics, stats, s, curve_specs)

    def absorb_dense(self, eval_metrics: dict, stats: dict, segment: int) -> None:
        """Adds segment `segment` of the dense sums `stats` to the metrics of
        `eval_metrics` that take them (all but the AUCs)."""
        _, dense_specs, _ = self._all_specs()
        for spec in dense_specs:
            metric = eval_metrics.get(spec.key)
            if metric is not None:
                spec.absorb(metric, stats, segment)

    @staticmethod
    def _absorb_curves(eval_metrics, stats, s, curve_specs):
        """Fills each curve state that the AUCs of `eval_metrics` read once
        with segment s's scores. A union takes none: its parts do, through
        their own AUCs, or here when the dict lacks those."""
        for spec in curve_specs:
            for state in _read_states(eval_metrics, spec):
                if isinstance(state, auc.CurveUnion):
                    for part_spec, part in zip(spec.parts, state.parts):
                        if part.curve_state not in _read_states(eval_metrics, part_spec):
                            stats[part_spec.scores].add_to(part.curve_state, s, part_spec.column)
                else:
                    stats[spec.scores].add_to(state, s, spec.column)

    def _derived_stats(self, stats):
        """Segment sums computed from other segment sums (in the traced
        function, after summing): none by default."""
        return stats

    def _stats(self, *tensors):
        """`_segment_stats` compiled once per kind of input, for any batch size:
        traced with the batch dimension unknown, so a short last batch does
        not trace it again."""
        return self._compiled("stats", self._segment_stats, *tensors)

    # -- estimator spec -----------------------------------------------------
    def _export_outputs(self, predictions):
        raise NotImplementedError

    def create_estimator_spec(self, features: dict | None, mode: str, logits: TensorLike,
                              labels: TensorLike | tf.SparseTensor | None = None,
                              optimizer: object = None, trainable_variables: list | None = None,
                              train_op_fn: Callable | None = None, update_ops: list | None = None,
                              regularization_losses: list | None = None) -> EstimatorSpec:
        """An `EstimatorSpec(mode, predictions, loss, train_op, eval_metric_ops,
        export_outputs)` for PREDICT, EVAL or TRAIN."""
        predictions = self.predictions(logits)
        if mode == keys.ModeKeys.PREDICT:
            return EstimatorSpec(mode, predictions, None, None, None,
                                 self._export_outputs(predictions))
        loss = self.loss(labels, logits, features=features, mode=mode,
                         regularization_losses=regularization_losses)
        if mode == keys.ModeKeys.EVAL:
            eval_metrics = self.metrics(regularization_losses=regularization_losses)
            self.update_metrics(eval_metrics, features, logits, labels,
                                regularization_losses=regularization_losses)
            return EstimatorSpec(mode, predictions, loss, None, eval_metrics, None)
        if mode != keys.ModeKeys.TRAIN:
            raise ValueError("mode must be one of ModeKeys.TRAIN, EVAL, PREDICT; got %r" % (mode,))
        train_op = make_train_op(loss, optimizer, trainable_variables, train_op_fn, update_ops)
        return EstimatorSpec(mode, predictions, loss, train_op, None, None)


def _read_states(eval_metrics, spec):
    """The distinct curve states that the AUCs of `spec` in `eval_metrics` read."""
    roc, pr = eval_metrics.get(spec.roc.key), eval_metrics.get(spec.pr.key)
    a = None if roc is None else roc.curve_state
    b = None if pr is None else pr.curve_state
    if a is None:
        return () if b is None else (b,)
    return (a,) if b is None or b is a else (a, b)


def make_train_op(loss: tf.Tensor | Callable, optimizer: object, trainable_variables: list | None,
                  train_op_fn: Callable | None, update_ops: list | None) -> object:
    """train_op_fn(loss), or (in eager TF) the optimizer's step on a loss
    callable; exactly one of the two must be given. `trainable_variables`
    is required with an optimizer only (the estimator's rule)."""
    if update_ops is not None and not isinstance(update_ops, (list, tuple)):
        raise ValueError("update_ops should be a list or a tuple; got %s"
                         % type(update_ops).__name__)
    if optimizer is not None and train_op_fn is not None:
        raise ValueError("train_op_fn and optimizer cannot both be set.")
    if optimizer is None and train_op_fn is None:
        raise ValueError("train_op_fn and optimizer cannot both be None.")
    if train_op_fn is not None:
        # As in the estimator, trainable_variables are only needed (and
        # checked) with an optimizer.
        return train_op_fn(loss)
    if trainable_variables is None or not isinstance(trainable_variables, (list, tuple)):
        raise ValueError("trainable_variables must be a list or tuple of variables; got %r"
                         % (trainable_variables,))
    if not callable(loss):
        raise ValueError("With an optimizer in eager TensorFlow, gradients need the loss as a "
                         "callable: use train_op_fn, or compute gradients with tf.GradientTape "
                         "around head.loss(...) and call optimizer.apply_gradients.")
    return optimizer.minimize(loss, trainable_variables)
