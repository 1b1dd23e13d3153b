"""Per-row statistics and checks shared by the classification heads (TensorFlow)."""
from typing import Sequence

import numpy as np
import tensorflow as tf

from heads import keys as keys_lib, labels, metrics, segments


def calibration_binned(p64: tf.Tensor, label: tf.Tensor, w: tf.Tensor,
                       n_buckets: int = metrics.CALIBRATION_BUCKETS) -> segments.Binned:
    """Weight, weighted prediction and weighted label per equal-width
    probability bucket, pooled over the columns of `[n, C]` inputs: (3, B)."""
    index = tf.clip_by_value(tf.cast(tf.floor(p64 * n_buckets), tf.int32), 0, n_buckets - 1)
    return segments.Binned(index, (w, w * p64, w * label), (3, n_buckets))


def probability_f32(p64: tf.Tensor) -> tf.Tensor:
    """The float32 probability the estimator would report, from float64:
    what the AUC curves score."""
    return tf.cast(p64, tf.float32)


def static_n_classes(n_classes: object) -> object:
    """`n_classes` as a Python int when it is an integer: a Python or numpy
    integer, or a scalar integer tensor whose value is known (the estimator
    accepts a tensor too). Anything else comes back unchanged for the caller's
    check to reject."""
    if isinstance(n_classes, bool):
        return n_classes
    if isinstance(n_classes, (int, np.integer)):
        return int(n_classes)
    if isinstance(n_classes, (tf.Tensor, tf.Variable, np.ndarray)):
        dtype = tf.as_dtype(n_classes.dtype)
        value = tf.get_static_value(n_classes)
        if dtype.is_integer and value is not None and np.ndim(value) == 0:
            return int(value)
    return n_classes


def validate_thresholds(thresholds: Sequence[float] | None) -> tuple:
    """The thresholds as floats, each in (0, 1). Two different thresholds
    must differ in their metric keys (`%g`, as the estimator prints them)
    and as float32 (the probabilities they are compared with): otherwise
    their rows would share a key and blend two numbers into one."""
    thresholds = tuple(thresholds) if thresholds else tuple()
    for t in thresholds:
        if not isinstance(t, (int, float)) or not 0.0 < float(t) < 1.0:
            raise ValueError("thresholds must be in (0, 1) range; got %r" % (t,))
    seen = {}
    for t in (float(t) for t in thresholds):
        for twin in (seen.get(keys_lib.format_threshold(t)), seen.get(np.float32(t))):
            if twin is not None and twin != t:
                raise ValueError(
                    "thresholds %r and %r are too close: both would be reported as threshold "
                    "%s (positive_threshold_%s in the metric keys, or the same float32); give "
                    "thresholds that differ in their first 6 significant digits"
                    % (twin, t, keys_lib.format_threshold(twin), keys_lib.format_threshold(twin)))
        seen[keys_lib.format_threshold(t)] = seen[np.float32(t)] = t
    return tuple(float(t) for t in thresholds)


def all_class_ids(logits: tf.Tensor, n_classes: int) -> tf.Tensor:
    batch = tf.shape(logits)[0]
    return tf.tile(tf.range(n_classes, dtype=tf.int64)[None, :], [batch, 1])


def all_classes(logits: tf.Tensor, n_classes: int,
                vocabulary: labels.Vocabulary | None = None) -> tf.Tensor:
    batch = tf.shape(logits)[0]
    if vocabulary is not None:
        classes = tf.constant([list(vocabulary.words)])
    else:
        classes = tf.strings.as_string(tf.range(n_classes)[None, :])
    return tf.tile(classes, [batch, 1])


def check_prediction_keys(keys: Sequence[str], valid_keys: Sequence[str]) -> None:
    for key in keys:
        if key not in valid_keys:
            raise ValueError("Prediction key must be in PredictionKeys, given: %r. Valid "
                             "prediction keys include %s." % (key, list(valid_keys)))


def prediction_keys(keys: Sequence[str] | None, valid_keys: Sequence[str]) -> Sequence[str]:
    """The prediction keys asked for, checked against `valid_keys`; all of
    `valid_keys` when none are named."""
    if not keys:
        return valid_keys
    check_prediction_keys(keys, valid_keys)
    return keys


def add_class_predictions(out: dict, keys: Sequence[str], scores: tf.Tensor, n_classes: int,
                          vocabulary: labels.Vocabulary | None = None) -> dict:
    """Adds to `out` the class predictions that `keys` ask for, from
    `scores` `[batch, n_classes]` (logits or anything with the same argmax):
    class_ids (the argmax, `[batch, 1]`), classes (its name), all_class_ids
    and all_classes. Returns `out`."""
    P = keys_lib.PredictionKeys
    class_ids = tf.expand_dims(tf.argmax(scores, axis=-1), -1)
    if P.CLASS_IDS in keys:
        out[P.CLASS_IDS] = class_ids
    if P.CLASSES in keys:
        out[P.CLASSES] = vocabulary.strings(class_ids) if vocabulary \
            else tf.strings.as_string(class_ids)
    if P.ALL_CLASS_IDS in keys:
        out[P.ALL_CLASS_IDS] = all_class_ids(scores, n_classes)
    if P.ALL_CLASSES in keys:
        out[P.ALL_CLASSES] = all_classes(scores, n_classes, vocabulary)
    return out
