"""MultiClassHead: softmax cross-entropy over n_classes logits."""
import tensorflow as tf

from heads import (auc, base, common, derived, keys, labels as labels_lib, losses,
                   metrics as M, option_specs, options as options_lib, segments, states)

K = keys.MetricKeys
P = keys.PredictionKeys

# Beyond this many classes the extended metrics leave out the confusion
# matrix: its n_classes^2 cells per slice (state, and as many report rows)
# outgrow the per-class metrics (256 classes: 65,536 cells; 10,000 classes:
# 10^8 cells, gigabytes per slice) and no one reads it.
MAX_CONFUSION_MATRIX_CLASSES = 256


class MultiClassHead(base.Head):
    """Single-label classification over `n_classes` > 2 with softmax
    cross-entropy.

    Logits `[D0, ..., DN, n_classes]`; labels `[D0, ..., DN, 1]` (or
    `[D0, ..., DN]`) of class ids in [0, n_classes), or strings of
    `label_vocabulary`. The predicted class is the argmax of the logits.

    `extended_metrics=True` adds per-class (one-vs-rest) precision, recall,
    F1, AUC and AUC-PR, top-k accuracy and, up to
    `MAX_CONFUSION_MATRIX_CLASSES` classes, the confusion matrix.
    `metric_options` (`heads.MetricOptions`, with `extended_metrics`):
    averages over classes, `top_k`, top-class `thresholds` and calibration.
    """

    def __init__(self, n_classes, weight_column=None, label_vocabulary=None,
                 loss_reduction=losses.SUM_OVER_BATCH_SIZE, loss_fn=None, name=None,
                 extended_metrics=False, auc_method=auc.HISTOGRAM, auc_buckets=None,
                 metric_options=None):
        n_classes = common.static_n_classes(n_classes)
        if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes <= 2:
            raise ValueError("n_classes must be > 2: %r. Use BinaryClassHead for two classes."
                             % (n_classes,))
        self._n_classes = n_classes
        if label_vocabulary is not None and not isinstance(label_vocabulary, (list, tuple)):
            raise ValueError("label_vocabulary should be a list or a tuple; got type %s"
                             % type(label_vocabulary).__name__)
        if label_vocabulary is not None and len(label_vocabulary) != n_classes:
            raise ValueError('"label_vocabulary" does not have "n_classes" items: '
                             "len(label_vocabulary)=%d, n_classes=%d, label_vocabulary=%r"
                             % (len(label_vocabulary), n_classes, list(label_vocabulary)))
        self._vocabulary = None if label_vocabulary is None else \
            labels_lib.Vocabulary(label_vocabulary, n_classes)
        self._options = options_lib.checked(metric_options, options_lib.MULTI_CLASS, n_classes,
                                            extended_metrics)
        options_lib.check_class_names(label_vocabulary, self._options.average)
        # The estimator's top-k accuracies (k = 2, 5) unless top_k names others.
        self._top_k = self._options.top_k or tuple(k for k in (2, 5) if k < n_classes)
        self._top_thresholds = common.validate_thresholds(self._options.thresholds)
        self._init_common(weight_column, loss_reduction, loss_fn, name, extended_metrics,
                          auc_method, auc_buckets)

    @property
    def logits_dimension(self) -> int:
        return self._n_classes

    @property
    def n_classes(self) -> int:
        return self._n_classes

    @property
    def has_confusion_matrix(self) -> bool:
        """Whether the extended metrics include the confusion matrix."""
        return self._extended and self._n_classes <= MAX_CONFUSION_MATRIX_CLASSES

    def _processed_labels(self, logits, labels):
        labels = labels_lib.check_dense_labels(labels, logits, 1)
        labels = labels_lib.through_vocabulary(labels, self._vocabulary, "class ids")
        if not labels.dtype.is_integer:
            raise ValueError("labels must be integer class ids in [0, %d) (or strings with "
                             "label_vocabulary); got dtype %s" % (self._n_classes, labels.dtype.name))
        labels = tf.cast(labels, tf.int64)
        return labels_lib.check_label_range(labels, self._n_classes)

    def _unweighted_loss(self, logits, labels, features):
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[..., 0],
                                                              logits=tf.cast(logits, tf.float64))
        return tf.expand_dims(loss, -1)

    def predictions(self, logits: base.TensorLike, keys: list | None = None) -> dict:
        """logits, probabilities, class_ids, classes, all_class_ids, all_classes."""
        valid = [P.LOGITS, P.PROBABILITIES, P.CLASS_IDS, P.CLASSES, P.ALL_CLASS_IDS,
                 P.ALL_CLASSES]
        keys = common.prediction_keys(keys, valid)
        logits = labels_lib.check_logits(logits, self._n_classes)
        out = {}
        if P.LOGITS in keys:
            out[P.LOGITS] = logits
        if P.PROBABILITIES in keys:
            out[P.PROBABILITIES] = tf.nn.softmax(logits)
        common.add_class_predictions(out, keys, logits, self._n_classes, self._vocabulary)
        return out

    def _export_outputs(self, predictions):
        output = base.ClassificationOutput(predictions[P.PROBABILITIES], predictions[P.ALL_CLASSES])
        return {keys.DEFAULT_SERVING_KEY: output, keys.CLASSIFY_SERVING_KEY: output,
                keys.PREDICT_SERVING_KEY: base.PredictOutput(predictions)}

    def _batch_stats(self, logits, labels, loss, weights):
        w = tf.cast(weights, tf.float64)[:, 0]
        label = labels[:, 0]
        pred = tf.argmax(logits, axis=-1)
        dense = {"w": w, "loss": w * tf.cast(loss[:, 0], tf.float64),
                 "correct": w * tf.cast(tf.equal(label, pred), tf.float64)}
        scores = {}
        if self._extended:
            n = self._n_classes
            z = tf.cast(logits, tf.float64)
            p = tf.nn.softmax(z)
            label_hot = tf.one_hot(label, n, dtype=tf.float64)
            pred_hot = tf.one_hot(pred, n, dtype=tf.float64)
            w_cols = w[:, None] * tf.ones_like(label_hot)
            dense["ovr"] = segments.confusion_binned(label_hot, pred_hot, w_cols, (0.5,),
                                                     per_class=True)
            if self.has_confusion_matrix:
                dense["confusion"] = segments.Binned(label * n + pred, w, (n, n))
            true_logit = tf.reduce_sum(z * label_hot, axis=-1, keepdims=True)
            rank = tf.reduce_sum(tf.cast(z > true_logit, tf.float64), axis=-1)
            dense["top_k"] = tf.stack([w * tf.cast(rank < k, tf.float64) for k in self._top_k], -1) \
                if self._top_k else tf.zeros_like(w)[:, None]
            if self._top_thresholds or self._options.calibration:
                top_p = tf.reduce_max(p, axis=-1)
                correct = tf.cast(tf.equal(label, pred), tf.float64)
            if self._top_thresholds:
                # Per threshold: the weight whose top probability is above it, and of those
                # the weight predicted right.
                t = tf.constant(self._top_thresholds, tf.float64)[None, :]
                covered = w[:, None] * tf.cast(top_p[:, None] > t, tf.float64)
                dense["top_t"] = tf.stack([covered, covered * correct[:, None]], -1)
            if self._options.calibration:
                dense["top_calibration"] = common.calibration_binned(top_p, correct, w)
            scores["ovr_auc"] = (common.probability_f32(p), w_cols * label_hot,
                                 w_cols * (1.0 - label_hot))
        return dense, scores

    def _metric_specs(self):
        S, info = base.MetricSpec, self._info
        specs = [
            S(self._key(K.LOSS_MEAN), lambda: M.Mean(info(K.LOSS_MEAN)), base.absorb_mean("loss", "w")),
            S(self._key(K.ACCURACY), lambda: M.Accuracy(info(K.ACCURACY)),
              base.absorb_mean("correct", "w")),
        ]
        if not self._extended:
            return specs
        for i, k in enumerate(self._top_k):
            inf = info(K.ACCURACY, key=keys.top_k(K.ACCURACY, k), k=k)
            specs.append(S(inf.key, lambda inf=inf: M.Mean(inf), base.absorb_mean("top_k", "w", i)))
        class_curves = []
        for c in range(self._n_classes):
            for metric_cls, base_key in ((M.Precision, K.PRECISION), (M.Recall, K.RECALL),
                                         (M.F1, K.F1)):
                inf = info(base_key, class_id=c)
                specs.append(S(inf.key, lambda cls_=metric_cls, inf=inf: cls_(inf),
                               base.absorb_confusion("ovr", (c, 0))))
            class_curves.append(self._curve("ovr_auc", c, class_id=c))
            specs.append(class_curves[-1])
        specs += self._option_specs(class_curves)
        if not self.has_confusion_matrix:
            return specs
        names = [keys.class_name(c, self._vocabulary_words()) for c in range(self._n_classes)]
        specs.append(S(self._key(K.CONFUSION_MATRIX),
                       lambda: M.ConfusionMatrix(info(K.CONFUSION_MATRIX), self._n_classes, names),
                       base.absorb_array("confusion", states.ConfusionMatrixState)))
        return specs

    def _option_specs(self, class_curves):
        """The specs of the metric options (`heads.options`): top-k precision
        and recall (Keras' `top_k`: the k highest classes predicted positive,
        pooled over classes, so precision@k = hits / (k * weight) and
        recall@k = hits / weight), averages over classes, the top class's
        coverage, precision and recall above each threshold, calibration."""
        S, info, options = base.MetricSpec, self._info, self._options
        specs = []
        if options.top_k:
            for i, k in enumerate(self._top_k):
                for name, scale in ((K.PRECISION, float(k)), (K.RECALL, 1.0)):
                    inf = info(name, key=keys.top_k(name, k), k=k)
                    specs.append(S(inf.key, lambda inf=inf: M.Mean(inf),
                                   option_specs.absorb_ratio("top_k", i, "w", (), scale)))
        specs += option_specs.class_average_specs(self, "ovr", 0, None, options.average,
                                                  self._n_classes)
        if "micro" in options.average:  # the pooled one-vs-rest scores: the classes' union
            specs.append(base.CurveSpec(info(K.AUC, average="micro"),
                                        info(K.AUC_PR, average="micro"), "ovr_auc", None,
                                        tuple(class_curves)))
        specs += option_specs.curve_average_specs(self, class_curves, options.average)
        for i, t in enumerate(self._top_thresholds):
            for name, total, count in ((K.COVERAGE, (i, 0), "w"), (K.PRECISION, (i, 1), "top_t"),
                                       (K.RECALL, (i, 1), "w")):
                inf = info(name, threshold=t)
                specs.append(S(inf.key, lambda inf=inf: M.Mean(inf), option_specs.absorb_ratio(
                    "top_t", total, count, (i, 0) if count == "top_t" else ())))
        if options.calibration:
            specs.append(S(self._key(K.CALIBRATION),
                           lambda: derived.TopClassCalibration(info(K.CALIBRATION)),
                           base.absorb_array("top_calibration", states.CalibrationState)))
        return specs
