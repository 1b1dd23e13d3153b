"""The Head base class: loss, predictions, mergeable metrics, estimator spec.

A head turns logits into a loss, predictions and metrics. Metrics are kept in
mergeable states (`heads.metrics`). Per batch, one compiled TensorFlow
function per head computes every metric's sums for every segment (slice) of
the batch at once; only those small sums (and, for AUC histograms, the
occupied buckets) cross to numpy.
"""
import collections

import numpy as np
import tensorflow as tf

from heads import buckets, keys, labels as labels_lib, losses, metrics as metrics_lib, states

EstimatorSpec = collections.namedtuple(
    "EstimatorSpec", ["mode", "predictions", "loss", "train_op", "eval_metric_ops",
                      "export_outputs"])
ClassificationOutput = collections.namedtuple("ClassificationOutput", ["scores", "classes"])
RegressionOutput = collections.namedtuple("RegressionOutput", ["value"])
PredictOutput = collections.namedtuple("PredictOutput", ["outputs"])

AUC_METHODS = ("histogram", "exact")


class MetricSpec(collections.namedtuple("MetricSpec", ["key", "make", "absorb"])):
    """How to build one metric object and how to add a segment's sums to it:
    `absorb(metric, stats, segment)`."""


def absorb_mean(total, count, index=()):
    """Mean sums from `stats[total][s][index]` and `stats[count][s]`."""
    def absorb(metric, stats, s):
        metric._add(states.MeanState(total=stats[total][s][index], count=stats[count][s]))
    return absorb


def absorb_confusion(name, index):
    """`stats[name]` is `[S, ..., 2, 2]`; `index` picks the threshold (and class)."""
    def absorb(metric, stats, s):
        matrix = stats[name][s][index]
        metric._add(states.ConfusionState(thresholds=(metric.threshold,), matrix=matrix[None]))
    return absorb


def absorb_array(name, state_cls, index=None):
    def absorb(metric, stats, s):
        value = stats[name][s] if index is None else stats[name][s][index]
        metric._add(state_cls(value))
    return absorb


def absorb_scores(name, column):
    """AUC from `stats[name]`: a `ScoreGroups` of this batch's scores."""
    def absorb(metric, stats, s):
        stats[name].add_to(metric, s, column)
    absorb.scores_source = (name, column)  # AUCs of one source may share states
    return absorb


class ScoreGroups:
    """One batch's scores per (segment, column), for AUC metrics.

    `scores`, `pos`, `neg` are `[n, C]` (float32 scores, their positive and
    negative weights) and `segments` `[n]`. One stable sort by group
    (segment, column), on small ints, lines each group up contiguously; the
    AUC metrics group equal scores themselves, so the scores are not sorted.
    """

    def __init__(self, segments, num_segments, scores, pos, neg):
        n, n_columns = scores.shape
        self.n_columns = n_columns
        groups = (np.asarray(segments, np.int64)[:, None] * n_columns
                  + np.arange(n_columns)).ravel()
        n_groups = num_segments * n_columns
        order = np.argsort(groups.astype(np.int16 if n_groups < 1 << 15 else np.int32),
                           kind="stable")
        self.scores = scores.ravel()[order]
        self.pos, self.neg = pos.ravel()[order], neg.ravel()[order]
        self.bounds = np.concatenate([[0], np.cumsum(np.bincount(groups, minlength=n_groups))])

    def add_segment_to(self, metric, segment):
        """Every column's scores of one segment (contiguous: groups are
        numbered segment * C + column), in one update."""
        lo, hi = self.bounds[segment * self.n_columns], self.bounds[(segment + 1) * self.n_columns]
        if hi > lo:
            metric._add_scores(self.scores[lo:hi].copy(), self.pos[lo:hi].copy(),
                               self.neg[lo:hi].copy())

    def add_to(self, metric, segment, column):
        group = segment * self.n_columns + column
        lo, hi = self.bounds[group], self.bounds[group + 1]
        if hi > lo:
            # Copies: a metric may buffer its scores for many batches, and a
            # view would keep this whole batch's arrays alive meanwhile.
            metric._add_scores(self.scores[lo:hi].copy(), self.pos[lo:hi].copy(),
                               self.neg[lo:hi].copy())


class DeferredSums:
    """Per-segment sums of a head's dense batch statistics over many batches,
    absorbed into their metric dicts in one pass (`apply`).

    Every dense metric state is a sum, so absorbing the sum of several
    batches equals absorbing each: an update then costs one numpy addition
    per statistic and segment instead of one state merge per metric and
    segment. AUC scores are not deferred (they fold in as they come). Until
    `apply()`, the dicts' dense metrics lack the deferred batches.
    """

    def __init__(self):
        self._entries = {}  # (id(head), id(metrics dict)) -> [head, metrics dict, {name: sum}]

    def add(self, head, eval_metrics_list, stats):
        dense = [(k, v) for k, v in stats.items() if isinstance(v, np.ndarray)]
        for s, eval_metrics in enumerate(eval_metrics_list):
            entry = self._entries.get((id(head), id(eval_metrics)))
            if entry is None:
                self._entries[(id(head), id(eval_metrics))] = [
                    head, eval_metrics, {k: np.array(v[s], np.float64) for k, v in dense}]
                continue
            sums = entry[2]
            for k, v in dense:
                sums[k] += v[s]

    def apply(self):
        """Absorbs the sums into their metric dicts and forgets them."""
        entries, self._entries = self._entries, {}
        for head, eval_metrics, sums in entries.values():
            head._absorb_dense(eval_metrics, {k: v[None] for k, v in sums.items()})


def add_regularization_loss(eval_metrics_list, key, regularization_losses, segment_ids):
    """The batch's regularization loss (one value) into the `key` metric of
    every segment the batch has examples in (every segment without
    `segment_ids`)."""
    value = float(tf.math.add_n(regularization_losses))
    present = range(len(eval_metrics_list)) if segment_ids is None else np.unique(segment_ids)
    for s in present:
        if key in eval_metrics_list[s]:
            eval_metrics_list[s][key].update_state(value)


def probability_f32(p64):
    """The float32 probability the estimator would report, from float64."""
    return tf.cast(p64, tf.float32)


class Binned(collections.namedtuple("Binned", ["index", "values", "shape", "finish"])):
    """Per-row contributions to a small fixed-shape array: `values[...]` adds
    to cell `index[...]` (flat, in `shape`) of the row's segment. One
    weighted bincount then fills `[num_segments, *shape]` without
    materialising one-hot rows. `values` may be a tuple of arrays shaped like
    `index`, each summed on its own: their sums stack along the first axis of
    `shape` (one index for several sums instead of an index per sum).
    `finish`, if given, maps the summed `[num_segments, *shape]` array to
    the statistic (in the traced function)."""

Binned.__new__.__defaults__ = (None,)


def confusion_binned(label_pos, scores, w, thresholds, per_class=False):
    """Weighted (label, score > t) counts: shape `(T, 2, 2)` pooled over the
    C columns of `[n, C]` inputs, or `(C, T, 2, 2)` with `per_class`.

    Each (row, column) is binned once, by its label and by how many of the
    thresholds its score exceeds (k): the count predicted positive at the
    j-th smallest threshold is then the sum over k > j, negative over
    k <= j (cumulative sums of a `(2, T + 1)` histogram), instead of T
    comparisons binned apiece."""
    thresholds = tuple(float(t) for t in thresholds)
    n_t = len(thresholds)
    order = sorted(range(n_t), key=thresholds.__getitem__)
    k = None
    for j in order:
        above = tf.cast(scores > tf.constant(thresholds[j], scores.dtype), tf.int32)
        k = above if k is None else k + above
    cell = (n_t + 1) * tf.cast(label_pos != 0, tf.int32) + k
    n_c = int(scores.shape[1])
    if per_class:
        cell = cell + 2 * (n_t + 1) * tf.range(n_c, dtype=tf.int32)[None, :]
    values = tf.broadcast_to(tf.cast(w, tf.float64), tf.shape(cell))
    # Position of each threshold (in the given order) among the sorted ones.
    rank = [order.index(i) for i in range(n_t)]

    def finish(histogram):  # [S, (C,) 2, T + 1] -> [S, (C,) T, 2, 2]
        negative = tf.cumsum(histogram, axis=-1)[..., :n_t]                 # k <= j
        positive = tf.cumsum(histogram, axis=-1, reverse=True, exclusive=True)[..., :n_t]
        cm = tf.stack([negative, positive], axis=-1)                        # [..., 2, T, 2]
        rank_axis = cm.shape.rank - 2
        perm = list(range(rank_axis - 1)) + [rank_axis, rank_axis - 1, rank_axis + 1]
        cm = tf.transpose(cm, perm)                                         # [..., T, 2, 2]
        if rank != list(range(n_t)):
            cm = tf.gather(cm, rank, axis=cm.shape.rank - 3)
        return cm

    shape = (n_c, 2, n_t + 1) if per_class else (2, n_t + 1)
    return Binned(cell, values, shape, finish)


def _bin_sum(index, values, size):
    """Sums `values` into `size` bins by flat int32 `index` (a weighted
    bincount: several times faster than unsorted_segment_sum on CPU)."""
    return tf.math.bincount(tf.reshape(index, [-1]),
                            weights=tf.reshape(tf.cast(values, tf.float64), [-1]),
                            minlength=size, maxlength=size)


class Head:
    """Shared behaviour of the five heads. Subclasses define label processing,
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
        if auc_method not in AUC_METHODS:
            raise ValueError("auc_method must be one of %s; got %r" % (AUC_METHODS, auc_method))
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
    def name(self):
        return self._name

    @property
    def loss_reduction(self):
        return self._loss_reduction

    @property
    def weight_column(self):
        return self._weight_column

    def _key(self, key):
        return keys.summary_key(key, self._name)

    def _info(self, base, class_id=None, threshold=None, key=None):
        """MetricInfo for a base name, optional class and threshold."""
        if key is None:
            key = base
            if threshold is not None:
                key = keys.at_threshold(base, threshold)
            if class_id is not None:
                key = keys.at_class(key, class_id, self._vocabulary_words())
        class_name = None if class_id is None else keys.class_name(class_id, self._vocabulary_words())
        return metrics_lib.MetricInfo(self._key(key), base, class_name, threshold)

    def _vocabulary_words(self):
        vocab = getattr(self, "_vocabulary", None)
        return None if vocab is None else vocab.words

    def _auc(self, info, curve):
        limit = None if self._auc_method == "exact" else metrics_lib.AUC.DEFAULT_EXACT_LIMIT
        return metrics_lib.AUC(info, curve=curve, max_buckets=self._auc_max_buckets,
                               exact_limit=limit)

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
        raise NotImplementedError

    # -- loss ---------------------------------------------------------------
    def _prepare(self, features, logits, labels):
        logits = labels_lib.check_logits(logits, self.logits_dimension)
        labels = self._processed_labels(logits, labels)
        if self._loss_fn is not None:
            unweighted = losses.call_loss_fn(self._loss_fn, labels, logits, features,
                                             self._loss_dimension())
        else:
            unweighted = self._compiled_loss(logits, labels)
        weights = labels_lib.get_weights(features, self._weight_column, logits,
                                         self._allow_per_logit_weights)
        return logits, labels, unweighted, weights

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
            # converting costs about a second per trace.
            concrete = tf.function(fn, autograph=False).get_concrete_function(*specs)
            self._stats_fns[key] = concrete
        return concrete(*tensors)

    def _loss_dimension(self):
        return 1

    def loss(self, labels, logits, features=None, mode=None, regularization_losses=None):
        """Regularized training loss: the reduced weighted loss plus the sum of
        `regularization_losses`."""
        del mode
        _, _, unweighted, weights = self._prepare(features, logits, labels)
        loss = losses.reduce_weighted_loss(unweighted, weights, self._loss_reduction)
        return losses.add_regularization(loss, regularization_losses)

    # -- metrics ------------------------------------------------------------
    @property
    def _specs(self):
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
            self.__specs = specs
        return self.__specs

    def metrics(self, regularization_losses=None):
        """Fresh metric objects, keyed by the estimator's metric keys."""
        out = {spec.key: spec.make() for spec in self._specs}
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
        # Bin indices are int32 (bincount's type): a statistic's dense
        # [num_segments, *shape] array must stay under 2**31 cells anyway.
        seg = tf.cast(segment_ids, tf.int32)
        cell_index = {}  # inner shape -> index of every cell of [n, *shape] rows

        def row_cells(shape):
            if shape not in cell_index:
                size = int(np.prod(shape))
                seg_b = tf.reshape(seg, [-1] + [1] * len(shape))
                cell_index[shape] = seg_b * size + tf.reshape(tf.range(size, dtype=tf.int32),
                                                              shape)
            return cell_index[shape]

        out = {}
        for k, v in dense.items():
            if isinstance(v, Binned):
                shape = tuple(v.shape)
                values = v.values if isinstance(v.values, tuple) else (v.values,)
                size = int(np.prod(shape[1:] if len(values) > 1 else shape))
                seg_b = tf.reshape(seg, [-1] + [1] * (v.index.shape.rank - 1))
                index = seg_b * size + tf.cast(v.index, tf.int32)  # any integer index
                sums = [_bin_sum(index, x, num_segments * size) for x in values]
                if len(values) > 1:
                    summed = tf.stack([tf.reshape(x, [num_segments] + list(shape[1:]))
                                       for x in sums], axis=1)
                else:
                    summed = tf.reshape(sums[0], [num_segments] + list(shape))
                out[k] = summed if v.finish is None else v.finish(summed)
            else:
                shape = tuple(v.shape[1:].as_list())
                summed = _bin_sum(row_cells(shape), v, num_segments * int(np.prod(shape)))
                out[k] = tf.reshape(summed, [num_segments] + list(shape))
        out = self._derived_stats(out)
        for name, (score, pos, neg) in scores.items():
            # Per-row scores and weights leave as they are: ScoreGroups
            # groups them by (segment, column) in numpy.
            out[name] = (segment_ids, tf.cast(score, tf.float32), tf.cast(pos, tf.float64),
                         tf.cast(neg, tf.float64), num_segments)
        return out

    def update_metrics(self, eval_metrics, features, logits, labels, regularization_losses=None):
        """Adds one batch to `eval_metrics` (from `metrics()`); returns it."""
        self.update_metrics_segmented([eval_metrics], features, logits, labels, None,
                                      regularization_losses)
        return eval_metrics

    def update_metrics_segmented(self, eval_metrics_list, features, logits, labels, segment_ids,
                                 regularization_losses=None, rows=None, deferred=None):
        """Adds one batch to several metric dicts at once: example i (along D0)
        goes to `eval_metrics_list[segment_ids[i]]`. With `rows`, entry j of
        `segment_ids` belongs to example `rows[j]` instead, so one example can
        count in several segments (overall and per slice) in one pass of
        TensorFlow per batch. With `deferred` (a `DeferredSums`), the dense
        metrics' sums go there until its `apply()`.

        It is `segmented_statistics` then `absorb_statistics`; a caller may
        run the first (TensorFlow, on any thread) for the next batch while
        it absorbs this one."""
        statistics = self.segmented_statistics(features, logits, labels, segment_ids,
                                               len(eval_metrics_list), rows)
        self.absorb_statistics(eval_metrics_list, statistics, deferred)
        if regularization_losses is not None:
            add_regularization_loss(eval_metrics_list,
                                    self._key(keys.MetricKeys.LOSS_REGULARIZATION),
                                    regularization_losses, segment_ids)
        return eval_metrics_list

    def segmented_statistics(self, features, logits, labels, segment_ids, num_segments,
                             rows=None):
        """One batch's per-segment metric sums (and grouped AUC scores), as
        numpy, for `absorb_statistics`. It only reads the head (its traced
        functions are built on first use), so it may run on another thread
        than the one that absorbs."""
        logits, labels, unweighted, weights = self._prepare(features, logits, labels)
        return self._batch_statistics(num_segments, logits, labels, unweighted, weights,
                                      segment_ids, rows)

    def _batch_statistics(self, num_segments, logits, labels, unweighted, weights, segment_ids,
                          rows=None):
        weights = tf.broadcast_to(weights, tf.concat([tf.shape(logits)[:-1],
                                                      tf.shape(weights)[-1:]], 0)) \
            if weights.shape.rank else tf.fill(tf.concat([tf.shape(logits)[:-1], [1]], 0), weights)
        if rows is not None:
            rows = tf.constant(np.asarray(rows, np.int64))
            logits, labels, unweighted, weights = (tf.gather(t, rows) for t in
                                                   (logits, labels, unweighted, weights))
        d0 = logits.shape[0]
        if segment_ids is None:
            segment_ids = np.zeros(d0, np.int32)
        segment_ids = np.asarray(segment_ids, np.int32).reshape(-1)
        if segment_ids.shape[0] != d0:
            raise ValueError("segment_ids must have one entry per example (%d); got %d"
                             % (d0, segment_ids.shape[0]))
        if d0 and (segment_ids.min() < 0 or segment_ids.max() >= num_segments):
            raise ValueError("segment_ids must be in [0, %d)" % num_segments)
        # Flatten [D0, ..., DN, k] to [n, k]; each row keeps its D0 segment.
        inner = int(np.prod(logits.shape[1:-1])) if logits.shape.rank > 2 else 1
        flat = lambda t: tf.reshape(t, [-1, t.shape[-1]])
        seg = np.repeat(segment_ids, inner)
        stats = self._stats(flat(logits), flat(labels), flat(unweighted), flat(weights),
                            tf.constant(seg), tf.constant(num_segments, tf.int32))
        return self._to_numpy(stats)

    def absorb_statistics(self, eval_metrics_list, stats, deferred=None):
        """Adds `segmented_statistics`' sums of segment s to
        `eval_metrics_list[s]` (or, for the dense metrics, to `deferred`)."""
        if deferred is not None:
            deferred.add(self, eval_metrics_list, stats)
        for s, eval_metrics in enumerate(eval_metrics_list):
            # ROC and PR AUC of the same scores hold the same state: the
            # second of a pair takes the first's new state instead of adding
            # the scores again, when both held the same state before.
            took = {}  # score source -> (AUC that took the batch, its refs before)
            partitions = self._auc_partitions(eval_metrics)
            derived = []
            for spec in self._specs:
                if spec.key not in eval_metrics:
                    continue
                metric = eval_metrics[spec.key]
                if spec.key in partitions and metric.derive_from(partitions[spec.key]):
                    derived.append(metric)  # its state is its parts' merge: no scores here
                    continue
                source = getattr(spec.absorb, "scores_source", None)
                if source is None or not isinstance(metric, metrics_lib.AUC):
                    if deferred is None:
                        spec.absorb(metric, stats, s)
                    continue
                twin = took.get(source)
                if twin is not None and metric.share_batch_from(*twin):
                    continue
                before = metric.state_refs()
                spec.absorb(metric, stats, s)
                took.setdefault(source, (metric, before))
            for metric in derived:
                metric.sources_settled()

    def _derived_stats(self, stats):
        """Segment sums computed from other segment sums (in the traced
        function, after summing): none by default."""
        return stats

    def _absorb_dense(self, eval_metrics, stats):
        """Absorbs segment 0 of dense `stats` into `eval_metrics`' metrics
        that take them (all but the AUCs of scores): `DeferredSums.apply`."""
        for spec in self._specs:
            metric = eval_metrics.get(spec.key)
            if metric is None or (getattr(spec.absorb, "scores_source", None) is not None and
                                  isinstance(metric, metrics_lib.AUC)):
                continue
            spec.absorb(metric, stats, 0)

    def _auc_partitions(self, eval_metrics):
        """{key of an AUC: the AUC metrics in `eval_metrics` whose scores
        partition its scores}; such an AUC is derived from them instead of
        taking the scores again (see MultiLabelHead)."""
        return {}

    def _stats(self, *tensors):
        """`_segment_stats` compiled once per kind of input, for any batch size:
        traced with the batch dimension unknown, so a short last batch does
        not trace it again (each trace costs about half a second)."""
        return self._compiled("stats", self._segment_stats, *tensors)

    def _to_numpy(self, stats):
        out = {}
        for name, value in stats.items():
            if isinstance(value, tuple):
                segments, scores, pos, neg, num_segments = (v.numpy() for v in value)
                out[name] = ScoreGroups(segments, int(num_segments), scores, pos, neg)
            else:
                out[name] = value.numpy()
        return out

    # -- estimator spec -----------------------------------------------------
    def _export_outputs(self, predictions):
        raise NotImplementedError

    def create_estimator_spec(self, features, mode, logits, labels=None, optimizer=None,
                              trainable_variables=None, train_op_fn=None, update_ops=None,
                              regularization_losses=None):
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


def make_train_op(loss, optimizer, trainable_variables, train_op_fn, update_ops):
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
        # As base_head.create_estimator_spec_train_op: trainable_variables are
        # only needed (and checked) with an optimizer.
        return train_op_fn(loss)
    if trainable_variables is None or not isinstance(trainable_variables, (list, tuple)):
        raise ValueError("trainable_variables must be a list or tuple of variables; got %r"
                         % (trainable_variables,))
    if not callable(loss):
        raise ValueError("With an optimizer in eager TensorFlow, gradients need the loss as a "
                         "callable: use train_op_fn, or compute gradients with tf.GradientTape "
                         "around head.loss(...) and call optimizer.apply_gradients.")
    return optimizer.minimize(loss, trainable_variables)
