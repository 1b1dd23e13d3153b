"""Checks and conversions of logits, labels and weights, in eager TensorFlow.

Each check raises `ValueError` naming the argument, what was expected and
what was got (TF 2.21 is eager: one code path, no graph twin).
"""
import numpy as np
import tensorflow as tf

LABEL_NONE_MSG = ("labels must be given (a Tensor, or a SparseTensor where the head "
                  "accepts one); got None. Check that the data contains the label feature.")


def _shape(t):
    return tuple(t.shape.as_list())


def _preview(values, limit=5):
    values = np.asarray(values).ravel()[:limit]
    return ", ".join(repr(v.decode() if isinstance(v, bytes) else v.item()
                         if hasattr(v, "item") else v) for v in values)


def check_logits(logits: tf.types.experimental.TensorLike, logits_dimension: int) -> tf.Tensor:
    """Logits as float32 `[D0, ..., DN, logits_dimension]`, N >= 0."""
    if logits is None:
        raise ValueError("logits must be given; got None")
    logits = tf.cast(tf.convert_to_tensor(logits), tf.float32)
    if logits.shape.rank is None or logits.shape.rank < 2:
        raise ValueError("logits must have rank at least 2, [D0, ..., DN, %d]; got shape %s"
                         % (logits_dimension, _shape(logits)))
    if logits.shape[-1] != logits_dimension:
        raise ValueError("logits shape must be [D0, D1, ... DN, logits_dimension] with "
                         "logits_dimension=%d; got %s" % (logits_dimension, _shape(logits)))
    return logits


def check_dense_labels(labels: tf.types.experimental.TensorLike | tf.SparseTensor,
                       logits: tf.Tensor, expected_dim: int) -> tf.Tensor:
    """Dense labels shaped `[D0, ..., DN, expected_dim]` (`[D0, ..., DN]` is
    accepted when `expected_dim` is 1 and reshaped)."""
    if labels is None:
        raise ValueError(LABEL_NONE_MSG)
    if isinstance(labels, tf.SparseTensor):
        raise ValueError("SparseTensor labels are not supported by this head: labels must "
                         "be a Tensor of shape [D0, D1, ..., DN, %d]; use tf.sparse.to_dense "
                         "first" % expected_dim)
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == logits.shape.rank - 1:
        labels = tf.expand_dims(labels, -1)
    if labels.shape.rank < 2:
        raise ValueError("labels must have rank at least 2; got rank %d, shape %s"
                         % (labels.shape.rank, _shape(labels)))
    if labels.shape[-1] != expected_dim:
        raise ValueError("Mismatched label shape: expected labels dimension=%d, got %d "
                         "(labels shape %s). Check n_classes / label_dimension and the "
                         "shape of the label." % (expected_dim, labels.shape[-1], _shape(labels)))
    expected = _shape(logits)[:-1] + (expected_dim,)
    if _shape(labels) != expected:
        raise ValueError("labels shape must be [D0, D1, ... DN, %d], expected_labels_shape: "
                         "%s; got labels_shape: %s" % (expected_dim, expected, _shape(labels)))
    return labels


def check_label_range(labels: tf.types.experimental.TensorLike, n_classes: int,
                      what: str = "labels") -> tf.types.experimental.TensorLike:
    """Values must lie in [0, n_classes - 1]; the error shows offending values."""
    values = labels.numpy() if hasattr(labels, "numpy") else np.asarray(labels)
    bad = (values < 0) | (values > n_classes - 1) | np.isnan(values.astype(np.float64))
    if bad.any():
        raise ValueError("%s must be in [0, %d] (n_classes=%d); got %s"
                         % (what, n_classes - 1, n_classes, _preview(values[bad])))
    return labels


class Vocabulary:
    """String label -> class id lookup; unknown strings are errors."""

    def __init__(self, label_vocabulary, n_classes, argument="label_vocabulary"):
        if not isinstance(label_vocabulary, (list, tuple)):
            raise ValueError("%s must be a list or tuple of strings; got %s"
                             % (argument, type(label_vocabulary).__name__))
        if len(label_vocabulary) != n_classes:
            raise ValueError("Length of %s must be n_classes (%d); got %d"
                             % (argument, n_classes, len(label_vocabulary)))
        if len(set(label_vocabulary)) != len(label_vocabulary):
            raise ValueError("%s must hold distinct strings; got %r" % (argument, label_vocabulary))
        self.words = tuple(str(v) for v in label_vocabulary)
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(self.words),
                                                tf.range(len(self.words), dtype=tf.int64)),
            default_value=-1)
        self._words = tf.constant(self.words)

    def lookup(self, labels: tf.Tensor) -> tf.Tensor:
        """Ids of string labels (dense Tensor of any shape)."""
        if labels.dtype != tf.string:
            raise ValueError("labels must be strings when label_vocabulary is given; got "
                             "dtype %s" % labels.dtype.name)
        ids = self._table.lookup(labels)
        unknown = (ids < 0).numpy()
        if unknown.any():
            raise ValueError("labels must be in label_vocabulary %s; got %s"
                             % (list(self.words), _preview(labels.numpy()[unknown])))
        return ids

    def strings(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.gather(self._words, ids)


def get_weights(features: dict | None, weight_column: str | None, logits: tf.Tensor,
                allow_per_logit_weights: bool = False) -> tf.Tensor:
    """Weights `[D0, ..., DN, 1]` (or per logit) as float32, or 1.0 without
    a weight column."""
    if weight_column is None:
        return tf.constant(1.0)
    if not isinstance(weight_column, str):
        raise ValueError("weight_column must be a feature name (string); got %s"
                         % type(weight_column).__name__)
    if not features or weight_column not in features:
        raise ValueError("weight_column %r is not in features (keys: %s)"
                         % (weight_column, sorted(features or {})))
    weights = tf.convert_to_tensor(features[weight_column])
    if isinstance(features[weight_column], tf.SparseTensor):
        raise ValueError("weight_column %r must be a dense Tensor" % weight_column)
    if not (weights.dtype.is_floating or weights.dtype.is_integer):
        raise ValueError("Weight column should be castable to float; weight_column %r has "
                         "dtype %s" % (weight_column, weights.dtype.name))
    weights = tf.cast(weights, tf.float32)
    logits_shape, weights_shape = _shape(logits), _shape(weights)
    if allow_per_logit_weights:
        msg = "weights shape must be [D0, D1, ... DN], [D0, D1, ... DN, 1] or [D0, D1, ... DN, logits_dimension]"
    else:
        msg = "weights shape must be [D0, D1, ... DN] or [D0, D1, ... DN, 1]"
    if weights.shape.rank == logits.shape.rank - 1:
        if weights_shape != logits_shape[:-1]:
            raise ValueError("%s, logits_shape: %s. weights_shape: %s."
                             % (msg, logits_shape, weights_shape))
        return tf.expand_dims(weights, -1)
    ok = weights_shape == logits_shape[:-1] + (1,) or (
        allow_per_logit_weights and weights_shape == logits_shape)
    if not ok:
        raise ValueError("%s, logits_shape: %s. weights_shape: %s."
                         % (msg, logits_shape, weights_shape))
    return weights


def sparse_to_multi_hot(labels: tf.SparseTensor, n_classes: int,
                        vocabulary: "Vocabulary" = None) -> tf.Tensor:
    """Integer or string SparseTensor of class indices -> int64 multi-hot."""
    values = labels.values
    if values.dtype == tf.string:
        if vocabulary is None:
            raise ValueError("string SparseTensor labels need label_vocabulary")
        values = vocabulary.lookup(values)
    elif not values.dtype.is_integer:
        raise ValueError("Labels dtype should be integer; got %s" % values.dtype.name)
    else:
        check_label_range(values, n_classes,
                          "labels must be an integer SparseTensor with values in [0, %d); "
                          "labels" % n_classes)
    ids = tf.SparseTensor(labels.indices, tf.cast(values, tf.int64), labels.dense_shape)
    return tf.cast(tf.sparse.to_indicator(ids, n_classes), tf.int64)


def through_vocabulary(labels: tf.Tensor, vocabulary, what: str) -> tf.Tensor:
    """`labels` mapped to class ids by `vocabulary` (a `Vocabulary`), or as
    given without one; string labels without a vocabulary are a ValueError
    (`what` the labels would be mapped to, for the message)."""
    if vocabulary is not None:
        return vocabulary.lookup(labels)
    if labels.dtype == tf.string:
        raise ValueError("labels are strings but label_vocabulary is None: give "
                         "label_vocabulary to map strings to %s" % what)
    return labels
