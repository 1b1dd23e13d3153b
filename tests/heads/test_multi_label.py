"""MultiLabelHead, ported from the estimator's multi_label_head_test.py
(eager cases). Expected numbers and derivations are the estimator's; AUC
values that relied on Keras' 200-threshold approximation are recomputed
exactly with heads_oracle (scikit-learn / interpolated PR in numpy).

Argument and input validation lives in test_validation.py.
"""
import numpy as np
import pytest
import tensorflow as tf

import heads
from tests.heads.heads_oracle import (assert_metrics, broadcast_weights, evaluate, pr_auc, roc_auc,
                          sigmoid32)


def _sigmoid_cross_entropy(labels, logits):
    """Sigmoid cross entropy averaged over classes, in float64 numpy."""
    sigmoid_logits = 1 / (1 + np.exp(-np.asarray(logits, np.float64)))
    unreduced_result = (-labels * np.log(sigmoid_logits) -
                        (1 - labels) * np.log(1 - sigmoid_logits))
    return np.mean(unreduced_result, axis=-1, keepdims=True)


TOL = 1e-3  # the estimator's, for every eval case below

# The estimator's eval batch: 2 examples, 2 classes.
LOGITS = np.array([[-1., 1.], [-1.5, 1.5]], dtype=np.float32)
LABELS = np.array([[1, 0], [1, 1]], dtype=np.int64)
# Equivalent to LABELS as SparseTensors of class ids and of class names.
SPARSE_LABELS = tf.sparse.SparseTensor(values=[0, 0, 1], indices=[[0, 0], [1, 0], [1, 1]],
                                       dense_shape=[2, 2])
SPARSE_STRING_LABELS = tf.sparse.SparseTensor(values=["class0", "class0", "class1"],
                                              indices=[[0, 0], [1, 0], [1, 1]],
                                              dense_shape=[2, 2])
# loss = labels * -log(sigmoid(logits)) + (1 - labels) * -log(1 - sigmoid(logits)),
# averaged over classes, summed over examples, divided by batch_size.
EXPECTED_LOSS = 0.5 * np.sum(_sigmoid_cross_entropy(labels=LABELS, logits=LOGITS))
EXPECTED_METRICS = {
    # Average loss over examples.
    "average_loss": EXPECTED_LOSS,
    # Pooled over classes: positives at sigmoid(-1), sigmoid(-1.5), sigmoid(1.5),
    # the one negative at sigmoid(1): auc = 1 / 3.
    "auc": 0.3333,
    "auc_precision_recall": 0.7689,
}

# Large logits: sigmoid cross entropy is approximately
# loss = labels * (logits < 0) * (-logits) + (1 - labels) * (logits > 0) * logits
# => unweighted loss [[10, 10], [15, 0]], i.e. [[10], [7.5]] averaged over classes.
LARGE_LOGITS = np.array([[-10., 10.], [-15., 10.]], dtype=np.float32)
EXAMPLE_WEIGHTS = np.array([[1.], [2.]], dtype=np.float32)

MULTI_DIM_LOGITS = np.array([[[-10., 10., -10.], [10., -10., 10.]],
                             [[-12., 12., -12.], [12., -12., 12.]]], dtype=np.float32)
MULTI_DIM_LABELS = np.array([[[1, 0, 0], [1, 0, 0]], [[0, 1, 1], [0, 1, 1]]], dtype=np.int64)
MULTI_DIM_WEIGHTS = np.array([[1., 1.5], [2., 2.5]], dtype=np.float32)


# -- predictions ----------------------------------------------------------------

PREDICT_LOGITS = np.array([[0., 1., 2., -1.], [-1., -2., -3., 1.]], dtype=np.float32)


@pytest.mark.parametrize("kwargs, classes", [
    (dict(), [b"0", b"1", b"2", b"3"]),
    (dict(weight_column="example_weights"), [b"0", b"1", b"2", b"3"]),
    (dict(label_vocabulary=["foo", "bar", "foobar", "barfoo"]),
     [b"foo", b"bar", b"foobar", b"barfoo"]),
])
def test_predict(kwargs, classes):
    head = heads.MultiLabelHead(4, **kwargs)
    assert head.logits_dimension == 4
    preds = head.predictions(PREDICT_LOGITS)
    assert set(preds) == {"logits", "probabilities", "classes"}
    np.testing.assert_allclose(preds["logits"], PREDICT_LOGITS)
    np.testing.assert_allclose(preds["probabilities"], sigmoid32(PREDICT_LOGITS), rtol=1e-6)
    np.testing.assert_array_equal(preds["classes"], [classes] * 2)


def test_predict_spec():
    head = heads.MultiLabelHead(4, label_vocabulary=["foo", "bar", "foobar", "barfoo"])
    spec = head.create_estimator_spec(features={"x": np.array(((42,),), np.int32)},
                                      mode=heads.ModeKeys.PREDICT, logits=PREDICT_LOGITS)
    assert spec.loss is None and spec.train_op is None and not spec.eval_metric_ops
    assert set(spec.export_outputs) == {"serving_default", "predict", "classification"}
    np.testing.assert_array_equal(spec.predictions["classes"],
                                  [[b"foo", b"bar", b"foobar", b"barfoo"]] * 2)


# -- loss -----------------------------------------------------------------------

LOSS_CASES = {
    "eval": (dict(), LOGITS, LABELS, {"x": np.array(((42,),), np.int32)}, EXPECTED_LOSS, 1e-6),
    # loss = ((10 + 10) / 2 + (15 + 0) / 2) / 2 = 8.75
    "large_logits": (dict(), LARGE_LOGITS, LABELS, {}, 8.75, 1e-4),
    "sparse_labels": (dict(), LARGE_LOGITS, SPARSE_LABELS, {}, 8.75, 1e-4),
    "vocabulary": (dict(label_vocabulary=["class0", "class1"]), LARGE_LOGITS,
                   SPARSE_STRING_LABELS, {}, 8.75, 1e-4),
    # Average over classes, weighted sum over examples, divide by batch_size.
    # loss = (1 * (10 + 10) / 2 + 2 * (15 + 0) / 2) / 2 = 12.5
    "weights": (dict(weight_column="example_weights"), LARGE_LOGITS, LABELS,
                {"x": np.array([[41], [42]], np.int32), "example_weights": EXAMPLE_WEIGHTS},
                12.5, 1e-3),
    # loss_reduction=SUM: loss = 1 * (10 + 10) / 2 + 2 * (15 + 0) / 2 = 25
    "sum_reduction": (dict(weight_column="example_weights", loss_reduction="sum"),
                      LARGE_LOGITS, LABELS, {"example_weights": EXAMPLE_WEIGHTS}, 25., 1e-4),
    # Logits and labels [2, 2, 3], weights [2, 2]:
    # unreduced_loss = [[10 + 10 + 0, 0 + 0 + 10], [0 + 0 + 12, 12 + 12 + 0]] / 3
    #                = [[20/3, 10/3], [4, 8]]
    # loss = (1*20/3 + 1.5*10/3 + 2*4 + 2.5*8) / 4 = 9.9167
    "multi_dim": (dict(weight_column="weights"), MULTI_DIM_LOGITS, MULTI_DIM_LABELS,
                  {"weights": MULTI_DIM_WEIGHTS}, 9.9167, 1e-3),
}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_loss(case, mode):
    kwargs, logits, labels, features, expected, tol = LOSS_CASES[case]
    head = heads.MultiLabelHead(logits.shape[-1], **kwargs)
    mode = {"train": heads.ModeKeys.TRAIN, "eval": heads.ModeKeys.EVAL}[mode]
    loss = head.loss(labels, logits, features=features, mode=mode)
    assert np.shape(loss) == ()
    assert float(loss) == pytest.approx(expected, rel=tol, abs=tol)


def test_loss_with_regularization_losses():
    # loss = ((10 + 10) / 2 + (15 + 0) / 2) / 2 + (1.5 + 0.5) = 35 / 4 + 2
    loss = heads.MultiLabelHead(2).loss(LABELS, LARGE_LOGITS, {"x": np.array(((42,),), np.int32)},
                                        mode=heads.ModeKeys.TRAIN,
                                        regularization_losses=[1.5, 0.5])
    assert float(loss) == pytest.approx(35. / 4. + 2., rel=TOL, abs=TOL)


def test_loss_fn_gets_multi_hot_labels_and_logits():
    loss = np.array([[1.], [2.]], dtype=np.float32)
    logits_input = np.array([[-10., 10.], [-15., 10.]], dtype=np.float32)
    labels_input = np.array([[1, 0], [1, 1]], dtype=np.int64)
    seen = {}

    def _loss_fn(labels, logits):
        seen["labels"], seen["logits"] = np.asarray(labels), np.asarray(logits)
        return tf.constant(loss)

    head = heads.MultiLabelHead(n_classes=2, loss_fn=_loss_fn)
    actual = head.loss(labels_input, logits_input, {"x": np.array(((42,),), np.int32)},
                       mode=heads.ModeKeys.EVAL)
    np.testing.assert_array_equal(seen["labels"], labels_input)
    np.testing.assert_array_equal(seen["logits"], logits_input)
    assert float(actual) == pytest.approx(np.sum(loss) / 2.)
    # Sparse string labels reach loss_fn as the same multi-hot tensor.
    head = heads.MultiLabelHead(n_classes=2, loss_fn=_loss_fn,
                                label_vocabulary=["class0", "class1"])
    head.loss(SPARSE_STRING_LABELS, logits_input)
    np.testing.assert_array_equal(seen["labels"], labels_input)


# -- eval metrics ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs, labels", [
    (dict(), LABELS),
    (dict(), SPARSE_LABELS),
    (dict(label_vocabulary=["class0", "class1"]), SPARSE_STRING_LABELS),
    (dict(label_vocabulary=["class0", "class1"]), LABELS),  # multi-hot input with a vocabulary
], ids=["multi_hot", "sparse", "sparse_strings", "vocabulary_multi_hot"])
def test_eval(kwargs, labels):
    head = heads.MultiLabelHead(2, **kwargs)
    metrics = evaluate(head, {}, LOGITS, labels)
    assert_metrics(EXPECTED_METRICS, metrics, rtol=TOL, atol=TOL)
    assert float(head.loss(labels, LOGITS, {}, mode=heads.ModeKeys.EVAL)) == pytest.approx(
        EXPECTED_LOSS, rel=TOL, abs=TOL)


def test_eval_auc_is_pooled_over_classes():
    """The estimator's 0.3333 / 0.7689, confirmed with the exact oracles."""
    assert roc_auc(LABELS, sigmoid32(LOGITS)) == pytest.approx(1. / 3.)
    assert pr_auc(LABELS, sigmoid32(LOGITS)) == pytest.approx(0.7689, abs=TOL)


def test_eval_with_regularization_losses():
    head = heads.MultiLabelHead(2)
    metrics = evaluate(head, {}, LOGITS, LABELS, regularization_losses=[1.5, 0.5])
    assert_metrics(dict(EXPECTED_METRICS, regularization_loss=2.), metrics, rtol=TOL, atol=TOL)
    loss = head.loss(LABELS, LOGITS, {}, regularization_losses=[1.5, 0.5])
    assert float(loss) == pytest.approx(EXPECTED_LOSS + 2., rel=TOL, abs=TOL)


def test_eval_metric_keys_with_head_name():
    head = heads.MultiLabelHead(2, name="some_multilabel_head", thresholds=[0.5])
    metrics = evaluate(head, {}, LOGITS, LABELS)
    assert sorted(metrics) == sorted("%s/some_multilabel_head" % k for k in [
        "average_loss", "auc", "auc_precision_recall", "accuracy/positive_threshold_0.5",
        "precision/positive_threshold_0.5", "recall/positive_threshold_0.5"])


def test_eval_with_thresholds():
    thresholds = [0.25, 0.5, 0.75]
    head = heads.MultiLabelHead(2, thresholds=thresholds)
    # probabilities: [[0.269, 0.731], [0.182, 0.818]], labels [[1, 0], [1, 1]]
    expected = dict(EXPECTED_METRICS, **{
        # 0.25: predicted [[1, 1], [0, 1]]
        "accuracy/positive_threshold_0.25": 2. / 4.,
        "precision/positive_threshold_0.25": 2. / 3.,
        "recall/positive_threshold_0.25": 2. / 3.,
        # 0.5: predicted [[0, 1], [0, 1]]
        "accuracy/positive_threshold_0.5": 1. / 4.,
        "precision/positive_threshold_0.5": 1. / 2.,
        "recall/positive_threshold_0.5": 1. / 3.,
        # 0.75: predicted [[0, 0], [0, 1]]
        "accuracy/positive_threshold_0.75": 2. / 4.,
        "precision/positive_threshold_0.75": 1. / 1.,
        "recall/positive_threshold_0.75": 1. / 3.,
    })
    metrics = evaluate(head, {}, LOGITS, LABELS)
    assert_metrics(expected, metrics, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("kwargs, labels, names", [
    (dict(classes_for_class_based_metrics=[0, 1]), LABELS, ["class0", "class1"]),
    (dict(label_vocabulary=["a", "b"], classes_for_class_based_metrics=["a", "b"]),
     tf.sparse.SparseTensor(values=["a", "a", "b"], indices=[[0, 0], [1, 0], [1, 1]],
                            dense_shape=[2, 2]), ["a", "b"]),
], ids=["ids", "strings"])
def test_eval_with_classes_for_class_based_metrics(kwargs, labels, names):
    head = heads.MultiLabelHead(n_classes=2, **kwargs)
    probabilities = sigmoid32(LOGITS)
    expected = dict(EXPECTED_METRICS, **{
        "probability_mean/%s" % names[0]: np.sum(probabilities[:, 0]) / 2.,
        # Class 0 has no negatives: AUC 0, AUC-PR 1 (Keras' convention).
        "auc/%s" % names[0]: 0.,
        "auc_precision_recall/%s" % names[0]: 1.,
        "probability_mean/%s" % names[1]: np.sum(probabilities[:, 1]) / 2.,
        # Class 1: negative at sigmoid(1) < positive at sigmoid(1.5).
        "auc/%s" % names[1]: 1.,
        "auc_precision_recall/%s" % names[1]: 1.,
    })
    metrics = evaluate(head, {}, LOGITS, labels)
    assert_metrics(expected, metrics, rtol=TOL, atol=TOL)


def test_eval_with_weights():
    head = heads.MultiLabelHead(2, weight_column="example_weights")
    features = {"x": np.array([[41], [42]], np.int32), "example_weights": EXAMPLE_WEIGHTS}
    # expected_unweighted_loss = [[10., 10.], [15., 0.]]
    # Average over classes, weighted sum over examples, divide by batch_size.
    # loss = (1 * (10 + 10) / 2 + 2 * (15 + 0) / 2) / 2 = 12.5
    expected_loss = 12.5
    expected = {
        # Average loss over weighted examples (denominator is sum(weights)).
        "average_loss": expected_loss * (2. / 3.),
        # Pooled: positives sigmoid(-10) (w 1), sigmoid(-15) (w 2), sigmoid(10) (w 2);
        # the negative sigmoid(10) (w 1) ties the last one:
        # auc = (2 * 1 * 0.5) / (5 * 1) = 0.2
        "auc": 0.2000,
        "auc_precision_recall": 0.7280,
    }
    metrics = evaluate(head, features, LARGE_LOGITS, LABELS)
    assert_metrics(expected, metrics, rtol=TOL, atol=TOL)
    assert float(head.loss(LABELS, LARGE_LOGITS, features)) == pytest.approx(
        expected_loss, rel=TOL, abs=TOL)


def test_multi_dim_weighted_eval():
    """Logits and labels of shape [2, 2, 3], weights [2, 2]."""
    head = heads.MultiLabelHead(3, weight_column="weights")
    # loss = (1*20/3 + 1.5*10/3 + 2*4 + 2.5*8) / 4 = 9.9167
    expected_loss = 9.9167
    weights = broadcast_weights(MULTI_DIM_WEIGHTS, MULTI_DIM_LABELS)
    probabilities = sigmoid32(MULTI_DIM_LOGITS)
    expected = {
        "average_loss": expected_loss * (4. / np.sum(MULTI_DIM_WEIGHTS)),
        # The estimator's 0.4977 / 0.5461 came from Keras' 200 thresholds,
        # which lump sigmoid(10) with sigmoid(12) and sigmoid(-10) with
        # sigmoid(-12); these are distinct float32 values and the exact
        # values differ by more than the test's 1e-3: computed independently.
        "auc": roc_auc(MULTI_DIM_LABELS, probabilities, weights),
        "auc_precision_recall": pr_auc(MULTI_DIM_LABELS, probabilities, weights),
    }
    metrics = evaluate(head, {"weights": MULTI_DIM_WEIGHTS}, MULTI_DIM_LOGITS, MULTI_DIM_LABELS)
    assert_metrics(expected, metrics, rtol=TOL, atol=TOL)


# -- create_estimator_spec ------------------------------------------------------

def test_eval_spec():
    head = heads.MultiLabelHead(2)
    spec = head.create_estimator_spec(features={}, mode=heads.ModeKeys.EVAL, logits=LOGITS,
                                      labels=LABELS)
    assert float(spec.loss) == pytest.approx(EXPECTED_LOSS, rel=TOL, abs=TOL)
    assert spec.train_op is None and spec.export_outputs is None
    assert_metrics(EXPECTED_METRICS, spec.eval_metric_ops, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("labels", [LABELS, SPARSE_LABELS], ids=["multi_hot", "sparse"])
def test_train_spec(labels):
    head = heads.MultiLabelHead(2)
    spec = head.create_estimator_spec(
        features={"x": np.array(((42,),), np.int32)}, mode=heads.ModeKeys.TRAIN,
        logits=LARGE_LOGITS, labels=labels,
        train_op_fn=lambda loss: tf.strings.join(["my_train_op",
                                                  tf.strings.as_string(loss, precision=3)]),
        trainable_variables=[tf.Variable([1.0, 2.0], dtype=tf.float32)])
    # loss = ((10 + 10) / 2 + (15 + 0) / 2) / 2 = 8.75
    assert float(spec.loss) == pytest.approx(8.75, rel=TOL, abs=TOL)
    assert spec.train_op.numpy() == b"my_train_op8.750"
    assert not spec.eval_metric_ops
    assert spec.export_outputs is None
