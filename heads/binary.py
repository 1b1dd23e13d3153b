"""BinaryClassHead: sigmoid cross-entropy over one logit per example."""
import tensorflow as tf

from heads import (auc, base, common, keys, labels as labels_lib, losses, metrics as M,
                   option_specs, options as options_lib, segments, states)

K = keys.MetricKeys
P = keys.PredictionKeys


class BinaryClassHead(base.Head):
    """Binary classification with sigmoid cross-entropy.

    Logits `[D0, ..., DN, 1]`; labels `[D0, ..., DN, 1]` (or `[D0, ..., DN]`)
    holding 0/1, soft labels in [0, 1], or strings of `label_vocabulary`.
    A prediction is positive at threshold t when `sigmoid(logit) > t`, so a
    logit of exactly 0 predicts class 0.

    Example: logits [[45.], [-41.]], labels [[1], [1]] ->
    loss = (0 + 41) / 2 = 20.5 ("sum_over_batch_size").

    `metric_options` (`heads.MetricOptions`, with `extended_metrics`):
    `derived_rates` and the curve's operating points.
    """

    def __init__(self, weight_column=None, thresholds=None, label_vocabulary=None,
                 loss_reduction=losses.SUM_OVER_BATCH_SIZE, loss_fn=None, name=None,
                 extended_metrics=False, auc_method=auc.HISTOGRAM, auc_buckets=None,
                 metric_options=None):
        self._options = options_lib.checked(metric_options, options_lib.BINARY, 2,
                                            extended_metrics)
        self._thresholds = common.validate_thresholds(thresholds)
        if label_vocabulary is not None and not isinstance(label_vocabulary, (list, tuple)):
            raise ValueError("label_vocabulary should be a list or tuple; got type %s"
                             % type(label_vocabulary).__name__)
        self._vocabulary = None if label_vocabulary is None else \
            labels_lib.Vocabulary(label_vocabulary, 2)
        self._init_common(weight_column, loss_reduction, loss_fn, name, extended_metrics,
                          auc_method, auc_buckets)

    @property
    def logits_dimension(self) -> int:
        return 1

    @property
    def thresholds(self) -> tuple:
        return self._thresholds

    def _processed_labels(self, logits, labels):
        labels = labels_lib.check_dense_labels(labels, logits, 1)
        labels = labels_lib.through_vocabulary(labels, self._vocabulary, "classes")
        labels = tf.cast(labels, tf.float32)
        return labels_lib.check_label_range(labels, 2)

    def _unweighted_loss(self, logits, labels, features):
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float64),
                                                       logits=tf.cast(logits, tf.float64))

    def predictions(self, logits: base.TensorLike, keys: list | None = None) -> dict:
        """logits, logistic, probabilities, class_ids, classes, all_class_ids,
        all_classes (or the subset named by `keys`)."""
        valid = [P.LOGITS, P.LOGISTIC, P.PROBABILITIES, P.CLASS_IDS, P.CLASSES,
                 P.ALL_CLASS_IDS, P.ALL_CLASSES]
        keys = common.prediction_keys(keys, valid)
        logits = labels_lib.check_logits(logits, 1)
        out = {}
        if P.LOGITS in keys:
            out[P.LOGITS] = logits
        if P.LOGISTIC in keys:
            out[P.LOGISTIC] = tf.math.sigmoid(logits)
        two_class = tf.concat([tf.zeros_like(logits), logits], axis=-1)
        if P.PROBABILITIES in keys:
            out[P.PROBABILITIES] = tf.nn.softmax(two_class)
        common.add_class_predictions(out, keys, two_class, 2, self._vocabulary)
        return out

    def _export_outputs(self, predictions):
        # The estimator's: classification by default and under 'classification',
        # the logistic under 'regression', every prediction under 'predict'.
        scores = predictions[P.PROBABILITIES]
        output = base.ClassificationOutput(scores, predictions[P.ALL_CLASSES])
        return {keys.DEFAULT_SERVING_KEY: output, keys.CLASSIFY_SERVING_KEY: output,
                keys.REGRESS_SERVING_KEY: base.RegressionOutput(predictions[P.LOGISTIC]),
                keys.PREDICT_SERVING_KEY: base.PredictOutput(predictions)}

    def _batch_stats(self, logits, labels, loss, weights):
        z = tf.cast(logits, tf.float64)                       # [n, 1]
        y = tf.cast(labels, tf.float64)
        w = tf.cast(weights, tf.float64)                      # [n, 1]
        p = tf.math.sigmoid(z)
        class_id = tf.cast(z > 0, tf.float64)
        positive = tf.cast(y != 0, tf.float64)
        dense = {
            "w": w[:, 0], "loss": (w * tf.cast(loss, tf.float64))[:, 0],
            "correct": (w * tf.cast(tf.equal(y, class_id), tf.float64))[:, 0],
            "cm": segments.confusion_binned(positive, class_id, w, (0.5,)),
            "pred": (w * p)[:, 0], "label": (w * y)[:, 0],
        }
        if self._thresholds:
            t = tf.constant(self._thresholds, tf.float64)[None, :]
            dense["acc_t"] = w * tf.cast(tf.equal(y, tf.cast(p > t, tf.float64)), tf.float64)
            dense["cm_t"] = segments.confusion_binned(positive, p, w, self._thresholds)
        if self._extended:
            dense["calibration"] = common.calibration_binned(p, y, w)
        scores = {"auc": (common.probability_f32(p), w * positive, w * (1.0 - positive))}
        return dense, scores

    def _metric_specs(self):
        S, info = base.MetricSpec, self._info
        curve = self._curve("auc", 0)
        specs = [
            S(self._key(K.LOSS_MEAN), lambda: M.Mean(info(K.LOSS_MEAN)), base.absorb_mean("loss", "w")),
            S(self._key(K.ACCURACY), lambda: M.Accuracy(info(K.ACCURACY)),
              base.absorb_mean("correct", "w")),
            S(self._key(K.PRECISION), lambda: M.Precision(info(K.PRECISION)),
              base.absorb_confusion("cm", 0)),
            S(self._key(K.RECALL), lambda: M.Recall(info(K.RECALL)), base.absorb_confusion("cm", 0)),
            S(self._key(K.PREDICTION_MEAN), lambda: M.Mean(info(K.PREDICTION_MEAN)),
              base.absorb_mean("pred", "w")),
            S(self._key(K.LABEL_MEAN), lambda: M.Mean(info(K.LABEL_MEAN)),
              base.absorb_mean("label", "w")),
            S(self._key(K.ACCURACY_BASELINE), lambda: M.AccuracyBaseline(info(K.ACCURACY_BASELINE)),
              base.absorb_mean("label", "w")),
            curve,
        ]
        for i, t in enumerate(self._thresholds):
            for metric_cls, base_key, absorb in (
                    (M.Accuracy, K.ACCURACY, base.absorb_mean("acc_t", "w", i)),
                    (M.Precision, K.PRECISION, base.absorb_confusion("cm_t", i)),
                    (M.Recall, K.RECALL, base.absorb_confusion("cm_t", i))):
                inf = info(base_key, threshold=t)
                make = (lambda c=metric_cls, inf=inf, t=t: c(inf, threshold=t))
                specs.append(S(inf.key, make, absorb))
        if self._extended:
            specs.append(S(self._key(K.F1), lambda: M.F1(info(K.F1)), base.absorb_confusion("cm", 0)))
            for i, t in enumerate(self._thresholds):
                inf = info(K.F1, threshold=t)
                specs.append(S(inf.key, lambda inf=inf, t=t: M.F1(inf, threshold=t),
                               base.absorb_confusion("cm_t", i)))
            specs.append(S(self._key(K.CALIBRATION), lambda: M.Calibration(info(K.CALIBRATION)),
                           base.absorb_array("calibration", states.CalibrationState)))
        if self._options.derived_rates:
            specs += option_specs.rate_specs(self, "cm", 0, None)
            for i, t in enumerate(self._thresholds):
                specs += option_specs.rate_specs(self, "cm_t", i, t)
        return specs + option_specs.operating_point_specs(self, self._options, curve)
