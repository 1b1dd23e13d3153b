"""Argument and input validation of all heads, ported from the estimator's
head tests (and the checks in base_head.py they exercise).

Invalid arguments raise ValueError; invalid inputs raise ValueError or
tf.errors.InvalidArgumentError. Each regex checks that the message names
the offending argument or input (and, where the estimator's did, the value
or the expected range); the exact wording is free.
"""
import numpy as np
import pytest
import tensorflow as tf

import heads
from tests.heads.heads_oracle import names

INPUT_ERRORS = (ValueError, tf.errors.InvalidArgumentError)

# One constructor per head kind, taking extra keyword arguments.
HEAD_MAKERS = {
    "binary": lambda **kw: heads.BinaryClassHead(**kw),
    "multi_class": lambda **kw: heads.MultiClassHead(3, **kw),
    "multi_label": lambda **kw: heads.MultiLabelHead(3, **kw),
    "regression": lambda **kw: heads.RegressionHead(**kw),
}
ALL_HEADS = pytest.mark.parametrize("make_head", list(HEAD_MAKERS.values()),
                                    ids=list(HEAD_MAKERS))

# A valid 2-example batch for each head kind (logits, labels).
VALID_BATCH = {
    "binary": (np.array([[1.], [-1.]], np.float32), np.array([[1], [0]])),
    "multi_class": (np.array([[1., 0., 0.], [0., 1., 0.]], np.float32), np.array([[0], [2]])),
    "multi_label": (np.array([[1., 0., -1.], [0., 1., 0.]], np.float32),
                    np.array([[1, 0, 1], [0, 0, 1]])),
    "regression": (np.array([[1.], [-1.]], np.float32), np.array([[0.5], [2.]], np.float32)),
}
WITH_BATCH = pytest.mark.parametrize("kind", list(HEAD_MAKERS))


# -- constructor arguments shared by all heads -----------------------------------

@ALL_HEADS
@pytest.mark.parametrize("reduction", ["invalid_loss_reduction", "none", "auto",
                                       "sum_by_nonzero_weights"])
def test_invalid_loss_reduction(make_head, reduction):
    with pytest.raises(ValueError, match=names("loss_reduction", reduction)):
        make_head(loss_reduction=reduction)


@ALL_HEADS
@pytest.mark.parametrize("reduction", ["sum", "sum_over_batch_size"])
def test_valid_loss_reduction(make_head, reduction):
    assert make_head(loss_reduction=reduction).loss_reduction == reduction


@ALL_HEADS
def test_loss_fn_arg_labels_missing(make_head):
    def _loss_fn(logits):
        del logits

    # Estimator: "loss_fn must contain argument: labels. Given arguments: ('logits',)"
    with pytest.raises(ValueError, match=names("loss_fn", "labels")):
        make_head(loss_fn=_loss_fn)


@ALL_HEADS
def test_loss_fn_arg_logits_missing(make_head):
    def _loss_fn(labels):
        del labels

    with pytest.raises(ValueError, match=names("loss_fn", "logits")):
        make_head(loss_fn=_loss_fn)


@ALL_HEADS
def test_loss_fn_arg_features_ok(make_head):
    def _loss_fn(labels, logits, features):
        del labels, logits, features

    make_head(loss_fn=_loss_fn)


@ALL_HEADS
def test_loss_fn_arg_invalid(make_head):
    def _loss_fn(labels, logits, name=None):
        del labels, logits, name

    # Estimator: "loss_fn has unexpected args: ['name']"
    with pytest.raises(ValueError, match=names("loss_fn", "name")):
        make_head(loss_fn=_loss_fn)


# -- head-specific constructor arguments -----------------------------------------

@pytest.mark.parametrize("make_head", [
    lambda t: heads.BinaryClassHead(thresholds=t),
    lambda t: heads.MultiLabelHead(n_classes=2, thresholds=t),
], ids=["binary", "multi_label"])
@pytest.mark.parametrize("thresholds, bad", [((0., 0.5), r"0\.0"), ((0.5, 1.), r"1\.0"),
                                             ((0.5, -0.1), r"-0\.1")])
def test_thresholds_not_in_open_unit_interval(make_head, thresholds, bad):
    with pytest.raises(ValueError, match=names("thresholds", bad)):
        make_head(thresholds)


@pytest.mark.parametrize("n_classes, shown", [(None, "None"), (2, r"\b2\b"), (1, r"\b1\b")])
def test_multi_class_n_classes(n_classes, shown):
    # Estimator: "n_classes cannot be None" / "n_classes must be > 2: 2."
    with pytest.raises(ValueError, match=names("n_classes", shown)):
        heads.MultiClassHead(n_classes=n_classes)


@pytest.mark.parametrize("n_classes, shown", [(None, "None"), (1, r"\b1\b"), (0, r"\b0\b")])
def test_multi_label_n_classes(n_classes, shown):
    # Estimator: "n_classes must be > 1 for multi-label classification. Given: 1"
    with pytest.raises(ValueError, match=names("n_classes", shown)):
        heads.MultiLabelHead(n_classes=n_classes)


@pytest.mark.parametrize("label_dimension", [-1, 0])
def test_regression_label_dimension(label_dimension):
    # Estimator: "Invalid label_dimension"
    with pytest.raises(ValueError, match=names("label_dimension", str(label_dimension))):
        heads.RegressionHead(label_dimension=label_dimension)


@pytest.mark.parametrize("make_head", [
    lambda v: heads.BinaryClassHead(label_vocabulary=v),
    lambda v: heads.MultiClassHead(3, label_vocabulary=v),
    lambda v: heads.MultiLabelHead(n_classes=2, label_vocabulary=v),
], ids=["binary", "multi_class", "multi_label"])
def test_label_vocabulary_must_be_a_list(make_head):
    # Estimator: "label_vocabulary must be a list or tuple. Given type: <class 'dict'>"
    with pytest.raises(ValueError, match=names("label_vocabulary", "dict")):
        make_head({"foo": "bar"})


def test_multi_class_label_vocabulary_wrong_size():
    with pytest.raises(ValueError, match=names("label_vocabulary", r"\b3\b", r"\b4\b")):
        heads.MultiClassHead(n_classes=3, label_vocabulary=["a", "b", "c", "d"])


def test_multi_label_label_vocabulary_wrong_size():
    # Estimator: "Length of label_vocabulary must be n_classes (3). Given: 2"
    with pytest.raises(ValueError, match=names("label_vocabulary", r"\b3\b", r"\b2\b")):
        heads.MultiLabelHead(n_classes=3, label_vocabulary=["foo", "bar"])


def test_classes_for_class_based_metrics_out_of_range():
    # Estimator: "All classes_for_class_based_metrics must be in range [0, 2]. Given: -1"
    with pytest.raises(ValueError, match=names("classes_for_class_based_metrics", "-1")):
        heads.MultiLabelHead(n_classes=3, classes_for_class_based_metrics=[2, -1])


def test_classes_for_class_based_metrics_string_not_in_vocabulary():
    # Estimator: "'z' is not in list"
    with pytest.raises(ValueError, match=names(r"\bz\b")):
        heads.MultiLabelHead(n_classes=3, label_vocabulary=["a", "b", "c"],
                             classes_for_class_based_metrics=["c", "z"])


def test_classes_for_class_based_metrics_strings_need_vocabulary():
    with pytest.raises(ValueError, match=names("label_vocabulary")):
        heads.MultiLabelHead(n_classes=3, classes_for_class_based_metrics=["a"])


# -- MultiHead arguments -------------------------------------------------------

def test_multi_head_no_heads():
    # Estimator: "Must specify heads. Given: []"
    with pytest.raises(ValueError, match=names("heads")):
        heads.MultiHead(heads=[])


def test_multi_head_head_name_missing():
    head1 = heads.MultiLabelHead(n_classes=2, name="head1")
    head2 = heads.MultiLabelHead(n_classes=3)
    # Estimator: "All given heads must have name specified."
    with pytest.raises(ValueError, match=names("name")):
        heads.MultiHead([head1, head2])


def test_multi_head_head_weights_wrong_size():
    head1 = heads.MultiLabelHead(n_classes=2, name="head1")
    head2 = heads.MultiLabelHead(n_classes=3, name="head2")
    # Estimator: "heads and head_weights must have the same size.
    #             Given len(heads): 2. Given len(head_weights): 1."
    with pytest.raises(ValueError, match=names("head_weights", r"\b2\b", r"\b1\b")):
        heads.MultiHead([head1, head2], head_weights=[1.])


def test_multi_head_loss_reduction_must_be_the_same():
    head1 = heads.MultiLabelHead(n_classes=2, name="head1", loss_reduction="sum_over_batch_size")
    head2 = heads.MultiLabelHead(n_classes=3, name="head2", loss_reduction="sum")
    logits = {"head1": np.array([[-10., 10.], [-15., 10.]], np.float32),
              "head2": np.array([[20., -20., 20.], [-30., 20., -20.]], np.float32)}
    labels = {"head1": np.array([[1, 0], [1, 1]]), "head2": np.array([[0, 1, 0], [1, 1, 0]])}
    # The estimator raises when training ("The loss_reduction must be the same
    # for different heads"); raising when the MultiHead is built is fine too.
    with pytest.raises(ValueError, match=names("(?i:reduction)")):
        multi_head = heads.MultiHead([head1, head2])
        multi_head.create_estimator_spec(features={}, mode=heads.ModeKeys.TRAIN, logits=logits,
                                         labels=labels, train_op_fn=lambda loss: loss,
                                         trainable_variables=[])


@pytest.mark.parametrize("shape", [(2, 4), (2, 6)])
def test_multi_head_logits_tensor_wrong_size(shape):
    head1 = heads.MultiLabelHead(n_classes=2, name="head1")
    head2 = heads.MultiLabelHead(n_classes=3, name="head2")
    multi_head = heads.MultiHead([head1, head2])
    labels = {"head1": np.array([[1, 0], [1, 1]]), "head2": np.array([[0, 1, 0], [1, 1, 0]])}
    # Estimator: "Could not split logits of shape [2, 6] among the heads with
    # individual logits dimensions: [2, 3]. ..."
    with pytest.raises(INPUT_ERRORS, match=names("logits", str(shape[-1]))):
        multi_head.loss(labels, np.zeros(shape, np.float32), features={})


def test_multi_head_logits_tensor_multi_dim_wrong_size():
    head1 = heads.RegressionHead(label_dimension=2, name="head1")
    head2 = heads.RegressionHead(label_dimension=3, name="head2")
    multi_head = heads.MultiHead([head1, head2])
    labels = {"head1": np.zeros((2, 2, 2), np.float32), "head2": np.zeros((2, 2, 3), np.float32)}
    # logits tensor is 2x2x4 instead of 2x2x5
    with pytest.raises(INPUT_ERRORS, match=names("logits", r"\b4\b")):
        multi_head.loss(labels, np.zeros((2, 2, 4), np.float32), features={},
                        mode=heads.ModeKeys.TRAIN)


def test_multi_head_labels_must_be_a_dict():
    multi_head = heads.MultiHead([heads.MultiLabelHead(n_classes=2, name="head1")])
    # Estimator: "labels must be a dict. Given: ..."
    with pytest.raises(INPUT_ERRORS, match=names("labels", "dict")):
        multi_head.loss(np.array([[1, 0], [1, 1]]), {"head1": np.zeros((2, 2), np.float32)})


def test_multi_head_missing_logits_and_labels():
    head1 = heads.MultiLabelHead(n_classes=2, name="head1")
    head2 = heads.MultiLabelHead(n_classes=3, name="head2")
    multi_head = heads.MultiHead([head1, head2])
    logits = {"head1": np.zeros((2, 2), np.float32), "head2": np.zeros((2, 3), np.float32)}
    labels = {"head1": np.array([[1, 0], [1, 1]]), "head2": np.array([[0, 1, 0], [1, 1, 0]])}
    # Estimator: "logits has missing values for head(s): ['head2']"
    with pytest.raises(INPUT_ERRORS, match=names("logits", "head2")):
        multi_head.loss(labels, {"head1": logits["head1"]})
    with pytest.raises(INPUT_ERRORS, match=names("labels", "head1")):
        multi_head.loss({"head2": labels["head2"]}, logits)


# -- inputs shared by all heads ------------------------------------------------

@WITH_BATCH
def test_labels_none(kind):
    head = HEAD_MAKERS[kind]()
    logits, _ = VALID_BATCH[kind]
    # Estimator: "You must provide a labels Tensor. Given: None."
    with pytest.raises(ValueError, match=names("labels", "None")):
        head.loss(None, logits, features={"x": np.array(((42,),), np.int32)},
                  mode=heads.ModeKeys.TRAIN)


@WITH_BATCH
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_labels_none_in_estimator_spec(kind, mode):
    head = HEAD_MAKERS[kind]()
    logits, _ = VALID_BATCH[kind]
    mode = {"train": heads.ModeKeys.TRAIN, "eval": heads.ModeKeys.EVAL}[mode]
    with pytest.raises(ValueError, match=names("labels", "None")):
        head.create_estimator_spec(features={}, mode=mode, logits=logits, labels=None,
                                   train_op_fn=lambda loss: loss,
                                   trainable_variables=[tf.Variable([1.0, 2.0])])


@pytest.mark.parametrize("make_head, logits", [
    (lambda: heads.BinaryClassHead(), np.array(((45., 44.), (41., 42.)))),
    (lambda: heads.MultiClassHead(3), np.array(((45., 44.), (41., 42.)))),
    (lambda: heads.MultiLabelHead(3), np.array(((45., 44.), (41., 42.)))),
    (lambda: heads.RegressionHead(label_dimension=3), np.array(((45.,), (41.,)))),
], ids=list(HEAD_MAKERS))
def test_invalid_logits_shape(make_head, logits):
    # Estimator: "logits shape must be [D0, D1, ... DN, logits_dimension], got (2, 2)."
    with pytest.raises(INPUT_ERRORS, match=names("logits", "shape")):
        make_head().predictions(logits)


@WITH_BATCH
def test_logits_rank_1(kind):
    head = HEAD_MAKERS[kind]()
    # Estimator: "logits must have rank at least 2. Received rank 1, shape (2,)"
    with pytest.raises(INPUT_ERRORS, match=names("logits", "(rank|shape)")):
        head.predictions(np.array([1., 2.], np.float32))


@pytest.mark.parametrize("make_head, logits, labels", [
    # Labels [2, 2] for logits [2, 1]: "Mismatched label shape. Expected labels
    # dimension=1. Received 2."
    (lambda: heads.BinaryClassHead(), np.array(((45.,), (41.,))),
     np.array(((45., 44.), (41., 42.)))),
    (lambda: heads.MultiClassHead(3), np.array(((1., 2., 3.), (1., 2., 3.))),
     np.array(((1, 2), (0, 1)))),
    (lambda: heads.RegressionHead(label_dimension=3), np.array(((45., 46., 47.), (41., 42., 43.))),
     np.array(((43.,), (44.,)))),
    # Multi-hot labels with the wrong number of classes: "Expected labels dimension=2"
    (lambda: heads.MultiLabelHead(2), np.array([[-1., 1.], [-1.5, 1.]], np.float32),
     np.array([[1], [1]])),
    (lambda: heads.MultiLabelHead(2), np.array([[-1., 1.], [-1.5, 1.]], np.float32),
     np.array([1, 1])),
], ids=["binary", "multi_class", "regression", "multi_label_2x1", "multi_label_rank1"])
def test_mismatched_label_shape(make_head, logits, labels):
    with pytest.raises(INPUT_ERRORS, match=names("(?i:label)", "(?i:(shape|dimension))")):
        make_head().loss(labels, logits, features={"x": np.array(((42.,),))},
                         mode=heads.ModeKeys.EVAL)


@pytest.mark.parametrize("make_head, logits, labels", [
    (lambda: heads.BinaryClassHead(), np.array(((0.,), (1.,))), np.array(((0.,), (1.,), (0.,)))),
    (lambda: heads.BinaryClassHead(), np.array(((0.,), (1.,), (0.,))), np.array(((0.,), (1.,)))),
    (lambda: heads.MultiClassHead(3), np.array(((1., 2., 3.), (1., 2., 3.))),
     np.array(((1,), (1,), (1,)))),
    (lambda: heads.MultiLabelHead(2), np.zeros((2, 2), np.float32), np.array([[1, 0]] * 3)),
    (lambda: heads.RegressionHead(), np.zeros((3, 1), np.float32), np.zeros((2, 1), np.float32)),
], ids=["binary_more_labels", "binary_fewer_labels", "multi_class", "multi_label",
        "regression"])
def test_incompatible_batch_sizes(make_head, logits, labels):
    # Estimator: "labels shape must be [D0, D1, ... DN, 1] ..., expected_labels_shape:
    # (2, 1). labels_shape: (3, 1)."
    with pytest.raises(INPUT_ERRORS, match=names("(?i:labels?)", "shape")):
        make_head().loss(labels, logits, features={"x": logits}, mode=heads.ModeKeys.EVAL)


@WITH_BATCH
def test_loss_fn_returns_wrong_shape(kind):
    def _loss_fn(labels, logits):
        del labels, logits
        return tf.constant([1., 2.])  # [2] instead of [2, 1] (or [2, label_dimension])

    head = HEAD_MAKERS[kind](loss_fn=_loss_fn)
    logits, labels = VALID_BATCH[kind]
    # Estimator: "loss_fn must return Tensor of shape [D0, D1, ... DN, 1].
    # logits_shape: (2, 1) loss_shape: (2,)"
    with pytest.raises(INPUT_ERRORS, match=names("loss_fn", "shape")):
        head.loss(labels, logits, features={"x": np.array(((42,),), np.int32)},
                  mode=heads.ModeKeys.EVAL)


def test_regression_loss_fn_must_return_label_dimension():
    def _loss_fn(labels, logits):
        del labels, logits
        return tf.constant([[1.], [2.]])  # [2, 1] instead of [2, 2]

    head = heads.RegressionHead(label_dimension=2, loss_fn=_loss_fn)
    with pytest.raises(INPUT_ERRORS, match=names("loss_fn", "shape")):
        head.loss(np.array([[1., 0.], [2., -1.]], np.float32),
                  np.array([[-1., 1.], [-2., 2.]], np.float32))


# Weights for logits [2, 2, k] must be [2, 2] or [2, 2, 1] (regression also
# [2, 2, label_dimension]).
MULTI_DIM = {
    "binary": (lambda: heads.BinaryClassHead(weight_column="weights"),
               np.array([[[10], [-10]], [[12], [-12]]], np.float32),
               np.array([[[0], [0]], [[1], [1]]], np.float64), 2),
    "multi_class": (lambda: heads.MultiClassHead(3, weight_column="weights"),
                    np.array([[[10, 0, 0], [12, 0, 0]], [[0, 10, 0], [0, 15, 0]]], np.float32),
                    np.array([[[0], [1]], [[1], [2]]], np.int64), 3),
    "multi_label": (lambda: heads.MultiLabelHead(3, weight_column="weights"),
                    np.array([[[-10., 10., -10.], [10., -10., 10.]],
                              [[-12., 12., -12.], [12., -12., 12.]]], np.float32),
                    np.array([[[1, 0, 0], [1, 0, 0]], [[0, 1, 1], [0, 1, 1]]], np.int64), 3),
    "regression": (lambda: heads.RegressionHead(label_dimension=3, weight_column="weights"),
                   np.arange(12, dtype=np.float32).reshape(2, 2, 3),
                   np.arange(12, dtype=np.float32).reshape(2, 2, 3) + 1, 2),
}


@pytest.mark.parametrize("kind", sorted(MULTI_DIM))
@pytest.mark.parametrize("which", ["inner", "outer"])
def test_multi_dim_weights_wrong_shape(kind, which):
    make_head, logits, labels, outer = MULTI_DIM[kind]
    # inner: [2, 1]; outer: the estimator's [2, 2, 2] or [2, 2, 3], a last
    # dimension that is neither 1 nor (for regression) label_dimension.
    weights = (np.array([[1.], [2.]], np.float32) if which == "inner"
               else np.ones((2, 2, outer), np.float32))
    # Estimator: "weights shape must be [D0, D1, ... DN] or [D0, D1, ... DN, 1],
    # logits_shape: (2, 2, 1). weights_shape: (2, 1)."
    with pytest.raises(INPUT_ERRORS, match=names("weights", "shape")):
        make_head().loss(labels, logits, features={"weights": weights},
                         mode=heads.ModeKeys.TRAIN)


def test_weight_column_missing_from_features():
    head = heads.BinaryClassHead(weight_column="w")
    with pytest.raises((ValueError, KeyError, tf.errors.InvalidArgumentError),
                       match=names(r"\bw\b")):
        head.loss(np.array([[1], [0]]), np.array([[1.], [-1.]], np.float32), features={"x": 1})


def test_invalid_prediction_key():
    head = heads.MultiClassHead(3)
    # Estimator: "Prediction key must be in PredictionKeys, given: some_invalid_key"
    with pytest.raises(ValueError, match=names("some_invalid_key")):
        head.predictions([[1., 0., 0.], [0., 0., 1.]], ["some_invalid_key"])


# -- label values and types ------------------------------------------------------

LABEL_LOGITS_3 = np.array(((1., 2., 4.), (1., 2., 3.)))


@pytest.mark.parametrize("labels, shown", [
    # Estimator: "Labels must be <= 3 - 1"
    (np.array(((45,), (1,))), r"(45|3 - 1|\b2\b|\b3\b)"),
    # Estimator: "Labels must be >= 0"
    (np.array(((-5,), (1,))), r"(-5|>= ?0|\b0\b)"),
], ids=["too_large", "negative"])
def test_multi_class_label_values_out_of_range(labels, shown):
    head = heads.MultiClassHead(3)
    with pytest.raises(INPUT_ERRORS, match=names("(?i:label)", shown)):
        head.loss(labels, LABEL_LOGITS_3, features={"x": np.array(((42.,),))},
                  mode=heads.ModeKeys.EVAL)


def test_multi_class_float_labels():
    # Estimator: "Labels dtype should be integer. Instead got <dtype: 'float64'>."
    with pytest.raises(INPUT_ERRORS, match=names("(?i:label)", "(?i:(dtype|int))")):
        heads.MultiClassHead(3).loss(np.array(((1.,), (1.,))), LABEL_LOGITS_3)


def test_multi_class_sparse_labels():
    labels = tf.sparse.SparseTensor(values=["english", "italian"], indices=[[0, 0], [1, 0]],
                                    dense_shape=[2, 1])
    # Estimator: "SparseTensor labels are not supported."
    with pytest.raises(INPUT_ERRORS, match=names("(?i:sparse)")):
        heads.MultiClassHead(3).loss(labels, LABEL_LOGITS_3)


@pytest.mark.parametrize("make_head, logits", [
    (lambda: heads.BinaryClassHead(label_vocabulary=["aang", "iroh"]), np.array([[1.], [0.]])),
    (lambda: heads.MultiClassHead(3, label_vocabulary=["aang", "iroh", "zuko"]), LABEL_LOGITS_3),
], ids=["binary", "multi_class"])
def test_vocabulary_needs_string_labels(make_head, logits):
    # Estimator: "Labels dtype should be string if there is a vocabulary."
    with pytest.raises(INPUT_ERRORS, match=names("(?i:label)", "(?i:str)")):
        make_head().loss(np.array([[1], [0]]), logits)


@pytest.mark.parametrize("make_head, logits", [
    (lambda: heads.BinaryClassHead(label_vocabulary=["aang", "iroh"]), np.array([[1.], [0.]])),
    (lambda: heads.MultiClassHead(3, label_vocabulary=["aang", "iroh", "zuko"]), LABEL_LOGITS_3),
], ids=["binary", "multi_class"])
def test_string_label_not_in_vocabulary(make_head, logits):
    # The estimator's lookup maps it to -1: "Labels must be >= 0".
    with pytest.raises(INPUT_ERRORS, match=names("(?i:label)")):
        make_head().loss([[b"aang"], [b"toph"]], logits)


def test_strings_without_vocabulary():
    with pytest.raises(INPUT_ERRORS, match=names("(?i:label)")):
        heads.BinaryClassHead().loss([[b"1"], [b"0"]], np.array([[1.], [0.]], np.float32))


@pytest.mark.parametrize("labels", [np.array([[1.2], [0.4]], np.float32),
                                    np.array([[-0.2], [0.4]], np.float32)],
                         ids=["above_1", "below_0"])
def test_binary_float_labels_out_of_range(labels):
    # Estimator: "Labels must be <= 2 - 1" / "Labels must be >= 0"
    with pytest.raises(INPUT_ERRORS, match=names("(?i:label)")):
        heads.BinaryClassHead().loss(labels, np.array([[0.5], [-0.3]], np.float32),
                                     features={"x": np.array([[42]], np.float32)},
                                     mode=heads.ModeKeys.TRAIN)


def test_binary_integer_label_2():
    with pytest.raises(INPUT_ERRORS, match=names("(?i:label)")):
        heads.BinaryClassHead().loss(np.array([[2], [0]]), np.array([[0.5], [-0.3]], np.float32))


def test_multi_label_invalid_indicator_labels():
    logits = np.array([[-10., 10.], [-15., 10.]], dtype=np.float32)
    # The value 2 is outside the allowed range. Estimator: "labels must be an
    # integer indicator Tensor with values in [0, 1]"
    with pytest.raises(INPUT_ERRORS, match=names("(?i:labels?)", r"(\[0, ?1\]|0 or 1|0/1|\b2\b)")):
        heads.MultiLabelHead(n_classes=2).loss(np.array([[2, 0], [1, 1]]), logits, features={},
                                              mode=heads.ModeKeys.TRAIN)


def test_multi_label_invalid_sparse_labels():
    logits = np.array([[-10., 10.], [-15., 10.]], dtype=np.float32)
    labels = tf.sparse.SparseTensor(values=[2, 0, 1], indices=[[0, 0], [1, 0], [1, 1]],
                                    dense_shape=[2, 2])
    # Estimator: "labels must be an integer SparseTensor with values in [0, 2)"
    with pytest.raises(INPUT_ERRORS, match=names("(?i:labels?)", r"(\[0, ?2\)|\b2\b)")):
        heads.MultiLabelHead(n_classes=2).loss(labels, logits, features={},
                                              mode=heads.ModeKeys.TRAIN)


def test_multi_label_sparse_float_labels():
    labels = tf.sparse.SparseTensor(values=[1., 0., 1.], indices=[[0, 0], [1, 0], [1, 1]],
                                    dense_shape=[2, 2])
    # Estimator: "Labels dtype should be integer. Instead got <dtype: 'float32'>."
    with pytest.raises(INPUT_ERRORS, match=names("(?i:label)", "(?i:(dtype|int))")):
        heads.MultiLabelHead(n_classes=2).loss(labels, np.zeros((2, 2), np.float32))


# -- create_estimator_spec arguments -------------------------------------------

TRAIN_ARGS = dict(features={"x": np.array(((42,),), np.int32)},
                  logits=np.array(((45,), (-41,)), np.float32),
                  labels=np.array(((1,), (1,)), np.float64))


def test_train_needs_train_op_fn_or_optimizer():
    # Estimator: "train_op_fn and optimizer cannot both be None."
    with pytest.raises(ValueError, match=names("train_op_fn", "optimizer")):
        heads.BinaryClassHead().create_estimator_spec(
            mode=heads.ModeKeys.TRAIN, trainable_variables=[tf.Variable([1.0, 2.0])],
            **TRAIN_ARGS)


def test_train_op_fn_and_optimizer_exclusive():
    # Estimator: "train_op_fn and optimizer cannot both be set."
    with pytest.raises(ValueError, match=names("train_op_fn", "optimizer")):
        heads.BinaryClassHead().create_estimator_spec(
            mode=heads.ModeKeys.TRAIN, optimizer=tf.keras.optimizers.SGD(),
            train_op_fn=lambda loss: loss, trainable_variables=[tf.Variable([1.0, 2.0])],
            **TRAIN_ARGS)


@pytest.mark.parametrize("trainable_variables", [None, {"var_list": [1.]}], ids=["none", "dict"])
def test_optimizer_needs_trainable_variables_list(trainable_variables):
    # Estimator: "trainable_variables cannot be None" / "trainable_variables
    # should be a list or a tuple"
    with pytest.raises(ValueError, match=names("trainable_variables")):
        heads.BinaryClassHead().create_estimator_spec(
            mode=heads.ModeKeys.TRAIN, optimizer=tf.keras.optimizers.SGD(),
            trainable_variables=trainable_variables, **TRAIN_ARGS)


def test_update_ops_must_be_a_list():
    with pytest.raises(ValueError, match=names("update_ops")):
        heads.BinaryClassHead().create_estimator_spec(
            mode=heads.ModeKeys.TRAIN, train_op_fn=lambda loss: loss,
            trainable_variables=[tf.Variable([1.0, 2.0])], update_ops="not a list",
            **TRAIN_ARGS)
