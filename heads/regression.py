"""RegressionHead: mean squared error over label_dimension outputs."""
import tensorflow as tf

from heads import auc, base, keys, labels as labels_lib, losses, metrics as M, states

K = keys.MetricKeys
P = keys.PredictionKeys


class RegressionHead(base.Head):
    """Regression with squared error.

    Logits and labels `[D0, ..., DN, label_dimension]` (labels may be
    `[D0, ..., DN]` when label_dimension is 1); weights `[D0, ..., DN]`,
    `[D0, ..., DN, 1]` or `[D0, ..., DN, label_dimension]`. The loss is on the
    logits; `inverse_link_fn` maps logits to `predictions` (e.g. `tf.exp` for
    Poisson regression). "sum_over_batch_size" divides the weighted loss by
    batch size x label_dimension; `average_loss` divides it by the sum of the
    broadcast weights.
    """

    _allow_per_logit_weights = True

    def __init__(self, label_dimension=1, weight_column=None,
                 loss_reduction=losses.SUM_OVER_BATCH_SIZE, loss_fn=None, inverse_link_fn=None,
                 name=None, extended_metrics=False):
        if not isinstance(label_dimension, int) or isinstance(label_dimension, bool) \
                or label_dimension < 1:
            raise ValueError("Invalid label_dimension %r: label_dimension must be an int >= 1"
                             % (label_dimension,))
        if inverse_link_fn is not None and not callable(inverse_link_fn):
            raise ValueError("inverse_link_fn must be callable; got %r" % (inverse_link_fn,))
        self._label_dimension = label_dimension
        self._inverse_link_fn = inverse_link_fn
        self._init_common(weight_column, loss_reduction, loss_fn, name, extended_metrics,
                          auc.HISTOGRAM, None)

    @property
    def logits_dimension(self) -> int:
        return self._label_dimension

    def _loss_dimension(self):
        return self._label_dimension

    def _processed_labels(self, logits, labels):
        labels = labels_lib.check_dense_labels(labels, logits, self._label_dimension)
        if labels.dtype == tf.string:
            raise ValueError("regression labels must be numbers; got strings")
        return tf.cast(labels, tf.float32)

    def _unweighted_loss(self, logits, labels, features):
        return tf.math.squared_difference(tf.cast(logits, tf.float64), tf.cast(labels, tf.float64))

    def predictions(self, logits: base.TensorLike, keys: list | None = None) -> dict:
        """predictions (inverse_link_fn(logits), or logits), and logits when
        an inverse link is given."""
        logits = labels_lib.check_logits(logits, self._label_dimension)
        if self._inverse_link_fn is not None:
            out = {P.PREDICTIONS: tf.convert_to_tensor(self._inverse_link_fn(logits)),
                   P.LOGITS: logits}
        else:
            out = {P.PREDICTIONS: logits}
        if keys:
            out = {k: v for k, v in out.items() if k in keys}
        return out

    def _export_outputs(self, predictions):
        output = base.RegressionOutput(predictions[P.PREDICTIONS])
        return {keys.DEFAULT_SERVING_KEY: output, keys.REGRESS_SERVING_KEY: output,
                keys.PREDICT_SERVING_KEY: base.PredictOutput(predictions)}

    def _prediction_tensor(self, logits):
        if self._inverse_link_fn is None:
            return logits
        return tf.convert_to_tensor(self._inverse_link_fn(logits))

    def _batch_stats(self, logits, labels, loss, weights):
        w = tf.cast(weights, tf.float64) * tf.ones_like(tf.cast(logits, tf.float64))  # [n, D]
        y = tf.cast(labels, tf.float64)
        pred = tf.cast(self._prediction_tensor(logits), tf.float64)
        dense = {"w": tf.reduce_sum(w, -1), "loss": tf.reduce_sum(w * tf.cast(loss, tf.float64), -1),
                 "pred": tf.reduce_sum(w * pred, -1), "label": tf.reduce_sum(w * y, -1)}
        if self._extended:
            e = y - pred
            dense["moments"] = tf.stack([w, w * y, w * y * y, w * tf.abs(e), w * e * e], axis=1)
        return dense, {}

    def _metric_specs(self):
        S, info = base.MetricSpec, self._info
        specs = [
            S(self._key(K.LOSS_MEAN), lambda: M.Mean(info(K.LOSS_MEAN)), base.absorb_mean("loss", "w")),
            S(self._key(K.PREDICTION_MEAN), lambda: M.Mean(info(K.PREDICTION_MEAN)),
              base.absorb_mean("pred", "w")),
            S(self._key(K.LABEL_MEAN), lambda: M.Mean(info(K.LABEL_MEAN)),
              base.absorb_mean("label", "w")),
        ]
        if self._extended:
            d = self._label_dimension
            for kind, base_key in (("mae", K.MEAN_ABSOLUTE_ERROR), ("rmse", K.ROOT_MEAN_SQUARED_ERROR),
                                   ("r2", K.R_SQUARED)):
                specs.append(S(self._key(base_key),
                               lambda kind=kind, base_key=base_key: M.RegressionError(
                                   info(base_key), kind, d),
                               base.absorb_array("moments", states.RegressionState)))
        return specs
