"""MultiHead: several named heads over one model, losses summed with weights."""
from typing import Callable

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from heads import base, keys, losses, metrics as M, segments, states

K = keys.MetricKeys


class MultiHead:
    """Combines named heads: the loss is `sum(head_weight * head.loss)` plus
    regularization (added once); metrics are each head's (keys suffixed with
    the head name) plus `loss/<head name>` per head, which ignores
    `head_weights`.

    Logits: a dict keyed by head name, or one Tensor
    `[D0, ..., DN, sum of logits dimensions]` split along the last axis in the
    order of `heads`. Labels: a dict keyed by head name.
    """

    def __init__(self, heads, head_weights=None):
        if not heads:
            raise ValueError("Must specify heads. Given: %r" % (heads,))
        heads = tuple(heads)
        if head_weights:
            if len(head_weights) != len(heads):
                raise ValueError("heads and head_weights must have the same size. Given "
                                 "len(heads): %d. Given len(head_weights): %d."
                                 % (len(heads), len(head_weights)))
        for head in heads:
            if head.name is None:
                raise ValueError("All given heads must have name specified. Given: %r" % (head,))
        names = [h.name for h in heads]
        if len(set(names)) != len(names):
            raise ValueError("heads must have distinct names; got %s" % names)
        self._heads = heads
        self._head_weights = tuple(float(w) for w in head_weights) if head_weights else tuple()
        self._loss_keys = tuple(keys.summary_key(K.LOSS, h.name) for h in heads)

    @property
    def name(self) -> str:
        return "_".join(h.name for h in self._heads)

    @property
    def heads(self) -> tuple:
        return self._heads

    @property
    def head_weights(self) -> tuple:
        return self._head_weights

    @property
    def logits_dimension(self) -> int:
        return sum(h.logits_dimension for h in self._heads)

    @property
    def loss_reduction(self) -> str:
        reductions = [h.loss_reduction for h in self._heads]
        if len(set(reductions)) > 1:
            raise ValueError("The loss_reduction must be the same for different heads. Given: %s"
                             % reductions)
        return reductions[0]

    def _split_logits(self, logits):
        logits = tf.convert_to_tensor(logits)
        dims = [h.logits_dimension for h in self._heads]
        if logits.shape[-1] != sum(dims):
            raise ValueError("Could not split logits of shape %s among the heads with individual "
                             "logits dimensions: %s. The last dimension of the logits tensor "
                             "should equal %d but is %s."
                             % (logits.shape.as_list(), dims, sum(dims), logits.shape[-1]))
        return dict(zip([h.name for h in self._heads], tf.split(logits, dims, axis=-1)))

    def split_logits(self, logits: dict | base.TensorLike, labels: dict | None = None) -> dict:
        """{head name: that head's logits} (a dict as given, or the columns of
        one array in head order); `labels`, when given, checked to be a dict
        with every head's."""
        return self._check_logits_and_labels(logits, labels)

    def _check_logits_and_labels(self, logits, labels=None):
        names = [h.name for h in self._heads]
        if isinstance(logits, dict):
            missing = sorted(set(names) - set(logits))
            if missing:
                raise ValueError("logits has missing values for head(s): %s" % missing)
            logits_dict = logits
        else:
            logits_dict = self._split_logits(logits)
        if labels is not None:
            if not isinstance(labels, dict):
                raise ValueError("labels must be a dict keyed by head name. Given: %r" % (labels,))
            missing = sorted(set(names) - set(labels))
            if missing:
                raise ValueError("labels has missing values for head(s): %s" % missing)
        return logits_dict

    def loss(self, labels: dict, logits: dict | base.TensorLike, features: dict | None = None,
             mode: str | None = None,
             regularization_losses: list | None = None) -> tf.Tensor:
        logits_dict = self._check_logits_and_labels(logits, labels)
        total = []
        for i, head in enumerate(self._heads):
            loss = head.loss(labels[head.name], logits_dict[head.name], features=features, mode=mode)
            total.append(loss * self._head_weights[i] if self._head_weights else loss)
        return losses.add_regularization(tf.math.add_n(total), regularization_losses)

    def predictions(self, logits: dict | base.TensorLike, keys: list | None = None) -> dict:
        """Every head's predictions, keyed by `(head name, prediction key)`."""
        logits_dict = self._check_logits_and_labels(logits)
        out = {}
        for head in self._heads:
            for k, v in head.predictions(logits_dict[head.name], keys).items():
                out[(head.name, k)] = v
        return out

    def metrics(self, regularization_losses: list | None = None) -> dict:
        out = {}
        if regularization_losses is not None:
            key = keys.summary_key(K.LOSS_REGULARIZATION, self.name)
            out[key] = M.Mean(M.MetricInfo(key, K.LOSS_REGULARIZATION))
        for head, key in zip(self._heads, self._loss_keys):
            out[key] = M.Mean(M.MetricInfo(key, K.LOSS))
            out.update(head.metrics())
        return out

    def update_metrics(self, eval_metrics: dict, features: dict | None,
                       logits: dict | base.TensorLike, labels: dict,
                       regularization_losses: list | None = None) -> dict:
        self.update_metrics_segmented([eval_metrics], features, logits, labels, None,
                                      regularization_losses)
        return eval_metrics

    def update_metrics_segmented(self, eval_metrics_list: list, features: dict | None,
                                 logits: dict | base.TensorLike, labels: dict,
                                 segment_ids: npt.ArrayLike | None,
                                 regularization_losses: list | None = None,
                                 rows: npt.ArrayLike | None = None,
                                 deferred: segments.DeferredSums | None = None) -> list:
        """Adds one batch to one metric dict per segment (see `Head`)."""
        statistics = self.segmented_statistics(features, logits, labels, segment_ids,
                                               len(eval_metrics_list), rows)
        self.absorb_statistics(eval_metrics_list, statistics, deferred)
        if regularization_losses is not None:
            segments.add_regularization_loss(eval_metrics_list,
                                             keys.summary_key(K.LOSS_REGULARIZATION,
                                                              self.name),
                                             regularization_losses, segment_ids)
        return eval_metrics_list

    def segmented_statistics(self, features: dict | None, logits: dict | base.TensorLike,
                             labels: dict,
                             segment_ids: npt.ArrayLike | None, num_segments: int,
                             rows: npt.ArrayLike | None = None) -> list:
        """Every head's `segmented_statistics`, with its weighted loss sums
        and counts per segment (for the MultiHead's per-head loss keys)."""
        logits_dict = self._check_logits_and_labels(logits, labels)
        out = []
        for head in self._heads:
            prepared = head.prepare(features, logits_dict[head.name], labels[head.name])
            stats = head.prepared_statistics(prepared, segment_ids, num_segments, rows)
            _, _, unweighted, weights = prepared
            weighted = (tf.cast(unweighted, tf.float64) * tf.cast(weights, tf.float64)).numpy()
            if rows is not None:
                weighted = weighted[np.asarray(rows)]
            d0 = weighted.shape[0]
            per_row = weighted.reshape(d0, -1).sum(axis=1).astype(np.float64)
            elements = np.full(d0, weighted[0].size if d0 else 0, np.float64)
            if head.loss_reduction == losses.SUM:
                elements = np.ones(d0)
            seg = np.zeros(d0, np.int64) if segment_ids is None else np.asarray(segment_ids)
            totals = np.bincount(seg, per_row, num_segments)
            counts = np.bincount(seg, elements, num_segments) if head.loss_reduction != losses.SUM \
                else (np.bincount(seg, minlength=num_segments) > 0).astype(np.float64)
            out.append((stats, totals, counts))
        return out

    def absorb_statistics(self, eval_metrics_list: list, statistics: list,
                          deferred: segments.DeferredSums | None = None) -> None:
        """Each head absorbs its statistics; the per-head loss keys take the
        loss sums."""
        for head, loss_key, (stats, totals, counts) in zip(self._heads, self._loss_keys,
                                                           statistics):
            head.absorb_statistics(eval_metrics_list, stats, deferred)
            for s, eval_metrics in enumerate(eval_metrics_list):
                if loss_key in eval_metrics and counts[s] > 0:
                    eval_metrics[loss_key].add_state(states.MeanState(total=totals[s],
                                                                      count=counts[s]))

    def create_estimator_spec(self, features: dict | None, mode: str,
                              logits: dict | base.TensorLike, labels: dict | None = None,
                              optimizer: object = None, trainable_variables: list | None = None,
                              train_op_fn: Callable | None = None,
                              update_ops: list | None = None,
                              regularization_losses: list | None = None) -> base.EstimatorSpec:
        logits_dict = self._check_logits_and_labels(logits, labels)
        predictions = self.predictions(logits_dict)
        if mode == keys.ModeKeys.PREDICT:
            return base.EstimatorSpec(mode, predictions, None, None, None,
                                      self._merged_export_outputs(logits_dict))
        loss = self.loss(labels, logits_dict, features=features, mode=mode,
                         regularization_losses=regularization_losses)
        if mode == keys.ModeKeys.EVAL:
            eval_metrics = self.metrics(regularization_losses)
            self.update_metrics(eval_metrics, features, logits_dict, labels, regularization_losses)
            return base.EstimatorSpec(mode, predictions, loss, None, eval_metrics, None)
        if mode != keys.ModeKeys.TRAIN:
            raise ValueError("mode must be one of ModeKeys.TRAIN, EVAL, PREDICT; got %r" % (mode,))
        # The estimator creates the train op with `loss_reduction=self.loss_reduction`,
        # which raises when the heads' reductions differ.
        _ = self.loss_reduction
        train_op = base.make_train_op(loss, optimizer, trainable_variables, train_op_fn, update_ops)
        return base.EstimatorSpec(mode, predictions, loss, train_op, None, None)

    def _merged_export_outputs(self, logits_dict):
        """The first head serves by default; every head's outputs under its name."""
        export_outputs, merged = {}, {}
        for i, head in enumerate(self._heads):
            outputs = head.create_estimator_spec(None, keys.ModeKeys.PREDICT,
                                                 logits_dict[head.name]).export_outputs
            if i == 0:
                export_outputs[keys.DEFAULT_SERVING_KEY] = outputs[keys.DEFAULT_SERVING_KEY]
            for k, v in outputs.items():
                export_outputs[head.name if k == keys.DEFAULT_SERVING_KEY
                               else keys.head_scoped(head.name, k)] = v
                if k == keys.PREDICT_SERVING_KEY:
                    merged.update({keys.head_scoped(head.name, kp): vp
                                   for kp, vp in v.outputs.items()})
        export_outputs[keys.PREDICT_SERVING_KEY] = base.PredictOutput(merged)
        return export_outputs
