"""MultiLabelHead: independent sigmoid cross-entropy per class."""
import tensorflow as tf

from heads import (auc, base, common, keys, labels as labels_lib, losses, metrics as M,
                   option_specs, options as options_lib, segments, states)

K = keys.MetricKeys
P = keys.PredictionKeys
MICRO = "micro"  # the pooled metrics' average over classes


class MultiLabelHead(base.Head):
    """Multi-label classification: each of `n_classes` labels is a
    separate binary problem; the loss is sigmoid cross-entropy averaged over
    classes, then reduced over the batch.

    Labels: multi-hot `[D0, ..., DN, n_classes]`, or a `SparseTensor` of
    class ids (int) or of `label_vocabulary` strings. A custom `loss_fn`
    receives multi-hot int64 labels and must return `[D0, ..., DN, 1]`.
    `auc`, `auc_precision_recall` and the threshold metrics pool every
    (example, class) pair, the example weight broadcast over classes: they
    are the 'micro' averages (their rows say so).

    `metric_options` (`heads.MetricOptions`, with `extended_metrics`):
    averages over classes, `derived_rates` and the curves' operating points,
    pooled and per class.
    """

    def __init__(self, n_classes, weight_column=None, thresholds=None, label_vocabulary=None,
                 loss_reduction=losses.SUM_OVER_BATCH_SIZE, loss_fn=None,
                 classes_for_class_based_metrics=None, name=None, extended_metrics=False,
                 auc_method=auc.HISTOGRAM, auc_buckets=None, metric_options=None):
        n_classes = common.static_n_classes(n_classes)
        if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes < 2:
            raise ValueError("n_classes must be > 1 for multi-label classification. Given: %r"
                             % (n_classes,))
        self._n_classes = n_classes
        self._thresholds = common.validate_thresholds(thresholds)
        self._options = options_lib.checked(metric_options, options_lib.MULTI_LABEL, n_classes,
                                            extended_metrics)
        options_lib.check_class_names(label_vocabulary, self._options.average)
        self._vocabulary = None if label_vocabulary is None else \
            labels_lib.Vocabulary(label_vocabulary, n_classes)
        self._class_ids = self._validate_classes(classes_for_class_based_metrics)
        self._init_common(weight_column, loss_reduction, loss_fn, name, extended_metrics,
                          auc_method, auc_buckets)

    def _validate_classes(self, classes):
        if not classes:
            return tuple()
        ids = []
        for c in classes:
            if isinstance(c, str):
                if self._vocabulary is None:
                    raise ValueError("label_vocabulary must be provided when "
                                     "classes_for_class_based_metrics are strings; got %r" % (c,))
                if c not in self._vocabulary.words:
                    raise ValueError("classes_for_class_based_metrics entry %r is not in "
                                     "label_vocabulary %s" % (c, list(self._vocabulary.words)))
                ids.append(self._vocabulary.words.index(c))
            else:
                if not 0 <= int(c) < self._n_classes:
                    raise ValueError("All classes_for_class_based_metrics must be in range [0, %d]. "
                                     "Given: %r" % (self._n_classes - 1, c))
                ids.append(int(c))
        return tuple(ids)

    @property
    def logits_dimension(self) -> int:
        return self._n_classes

    @property
    def n_classes(self) -> int:
        return self._n_classes

    @property
    def thresholds(self) -> tuple:
        return self._thresholds

    def _processed_labels(self, logits, labels):
        if labels is None:
            raise ValueError(labels_lib.LABEL_NONE_MSG)
        if isinstance(labels, tf.SparseTensor):
            multi_hot = labels_lib.sparse_to_multi_hot(labels, self._n_classes, self._vocabulary)
        else:
            labels = tf.convert_to_tensor(labels)
            if labels.dtype == tf.string:
                if self._vocabulary is None:
                    raise ValueError("string labels need label_vocabulary")
                # Dense strings: one class name per entry, '' pads.
                multi_hot = labels_lib.sparse_to_multi_hot(
                    tf.sparse.from_dense(labels), self._n_classes, self._vocabulary)
            else:
                multi_hot = labels_lib.check_label_range(
                    labels, 2, "labels must be an integer indicator Tensor with values in [0, 1]; "
                    "labels")
        return labels_lib.check_dense_labels(tf.cast(multi_hot, tf.int64), logits, self._n_classes)

    def _unweighted_loss(self, logits, labels, features):
        loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float64),
                                                       logits=tf.cast(logits, tf.float64))
        return tf.reduce_mean(loss, axis=-1, keepdims=True)

    def predictions(self, logits: base.TensorLike, keys: list | None = None) -> dict:
        """logits, probabilities (sigmoid), classes (every class)."""
        valid = [P.LOGITS, P.PROBABILITIES, P.CLASSES]
        keys = common.prediction_keys(keys, valid)
        logits = labels_lib.check_logits(logits, self._n_classes)
        out = {}
        if P.LOGITS in keys:
            out[P.LOGITS] = logits
        if P.PROBABILITIES in keys:
            out[P.PROBABILITIES] = tf.math.sigmoid(logits)
        if P.CLASSES in keys:
            out[P.CLASSES] = common.all_classes(logits, self._n_classes, self._vocabulary)
        return out

    def _export_outputs(self, predictions):
        output = base.ClassificationOutput(predictions[P.PROBABILITIES], predictions[P.CLASSES])
        return {keys.DEFAULT_SERVING_KEY: output, keys.CLASSIFY_SERVING_KEY: output,
                keys.PREDICT_SERVING_KEY: base.PredictOutput(predictions)}

    def _per_class_ids(self):
        return tuple(range(self._n_classes)) if self._extended else self._class_ids

    def _batch_stats(self, logits, labels, loss, weights):
        w = tf.cast(weights, tf.float64)                  # [n, 1]
        y = tf.cast(labels, tf.float64)                   # [n, C]
        p = tf.math.sigmoid(tf.cast(logits, tf.float64))
        w_cols = w * tf.ones_like(y)
        dense = {"w": w[:, 0], "loss": (w * tf.cast(loss, tf.float64))[:, 0],
                 "w_cols": tf.reduce_sum(w_cols, -1), "prob_w": w_cols * p,
                 "label_w": w_cols * y, "w_class": w_cols}
        if self._thresholds:
            if self._extended:
                # The pooled confusion counts and accuracies are sums over
                # the classes of these: `_derived_stats` takes them from here.
                dense["cm_t_class"] = segments.confusion_binned(y, p, w_cols, self._thresholds,
                                                            per_class=True)
            else:
                t = tf.constant(self._thresholds, tf.float64)[None, None, :]
                correct = tf.cast(tf.equal(y[:, :, None], tf.cast(p[:, :, None] > t, tf.float64)),
                                  tf.float64) * w_cols[:, :, None]
                dense["acc_t"] = tf.reduce_sum(correct, axis=1)
                dense["cm_t"] = segments.confusion_binned(y, p, w_cols, self._thresholds)
        if self._extended:
            dense["calibration"] = common.calibration_binned(p, y, w_cols)
        scores = {"auc": (common.probability_f32(p), w_cols * y, w_cols * (1.0 - y))}
        return dense, scores

    def _derived_stats(self, stats):
        """Per segment, from the per-class confusion counts `[S, C, T, 2, 2]`:
        pooled counts `cm_t` `[S, T, 2, 2]` and weighted correct
        predictions `acc_t` `[S, T]` (label equals prediction)."""
        if "cm_t_class" in stats:
            cm = stats["cm_t_class"]
            stats["cm_t"] = tf.reduce_sum(cm, axis=1)
            stats["acc_t"] = tf.reduce_sum(cm[..., 0, 0] + cm[..., 1, 1], axis=1)
        return stats

    def _metric_specs(self):
        S, info = base.MetricSpec, self._info
        n = self._n_classes
        per_class = {c: self._curve("auc", c, class_id=c) for c in self._per_class_ids()}
        # The pooled `auc` and `auc_precision_recall` pool every (example,
        # class) pair: when every class has its own curve, the pooled curve
        # state is the union of theirs (exact), which saves adding every
        # score a second time.
        parts = [per_class[c] for c in range(n)] if len(per_class) == n else ()
        pooled = self._curve("auc", parts=parts)
        pooled = pooled._replace(roc=pooled.roc._replace(average=MICRO),
                                 pr=pooled.pr._replace(average=MICRO))
        specs = [
            S(self._key(K.LOSS_MEAN), lambda: M.Mean(info(K.LOSS_MEAN)), base.absorb_mean("loss", "w")),
            pooled,
        ]
        for i, t in enumerate(self._thresholds):
            for metric_cls, base_key, absorb in (
                    (M.Accuracy, K.ACCURACY, base.absorb_mean("acc_t", "w_cols", i)),
                    (M.Precision, K.PRECISION, base.absorb_confusion("cm_t", i)),
                    (M.Recall, K.RECALL, base.absorb_confusion("cm_t", i))):
                inf = info(base_key, threshold=t)._replace(average=MICRO)
                specs.append(S(inf.key, lambda c=metric_cls, inf=inf, t=t: c(inf, threshold=t), absorb))
        for c in self._per_class_ids():
            inf = info(K.PROBABILITY_MEAN, class_id=c)
            specs.append(S(inf.key, lambda inf=inf: M.Mean(inf),
                           _absorb_class_mean("prob_w", c)))
            specs.append(per_class[c])
        if self._extended:
            for c in range(n):
                inf = info(K.LABEL_MEAN, class_id=c)
                specs.append(S(inf.key, lambda inf=inf: M.Mean(inf), _absorb_class_mean("label_w", c)))
                for i, t in enumerate(self._thresholds):
                    for metric_cls, base_key in ((M.Precision, K.PRECISION), (M.Recall, K.RECALL),
                                                 (M.F1, K.F1)):
                        inf = info(base_key, class_id=c, threshold=t)
                        specs.append(S(inf.key, lambda cls_=metric_cls, inf=inf, t=t: cls_(inf, threshold=t),
                                       base.absorb_confusion("cm_t_class", (c, i))))
            specs.append(S(self._key(K.CALIBRATION), lambda: M.Calibration(info(K.CALIBRATION)),
                           base.absorb_array("calibration", states.CalibrationState)))
        return specs + self._option_specs(pooled, per_class)

    def _option_specs(self, pooled, per_class):
        """The specs of the metric options (`heads.options`): at each
        threshold, the pooled F1 (with derived_rates or a micro average) and
        rates, per class rates, macro and weighted precision, recall and F1;
        macro and weighted AUCs; the operating points, pooled and per class."""
        options, n = self._options, self._n_classes
        if options == options_lib.MetricOptions():
            return []  # (the options need extended_metrics: per_class holds every class)
        specs = []
        for i, t in enumerate(self._thresholds):
            pooled_rates = option_specs.rate_specs(self, "cm_t", i, t, average=MICRO, f1=True)
            if options.derived_rates:
                specs += pooled_rates
            elif MICRO in options.average:
                specs += pooled_rates[-1:]  # the micro F1
            specs += option_specs.class_average_specs(
                self, "cm_t_class", i, t, [a for a in options.average if a != MICRO], n)
            if options.derived_rates:
                for c in range(n):
                    specs += option_specs.rate_specs(self, "cm_t_class", (c, i), t, class_id=c)
        specs += option_specs.curve_average_specs(self, [per_class[c] for c in range(n)],
                                                  options.average)
        specs += option_specs.operating_point_specs(self, options, pooled, average=MICRO)
        for c in range(n):
            specs += option_specs.operating_point_specs(self, options, per_class[c], class_id=c)
        return specs


def _absorb_class_mean(total, c):
    def absorb(metric, stats, s):
        metric.add_state(states.MeanState(total=stats[total][s][c], count=stats["w_class"][s][c]))
    return absorb
