"""MultiClassHead, ported from the estimator's multi_class_head_test.py
(eager cases); expected numbers and derivations are the estimator's.

Argument and input validation lives in test_validation.py.
"""
import numpy as np
import pytest
import tensorflow as tf

import heads
from tests.heads.heads_oracle import assert_metrics, evaluate

# Two examples, label 1 twice: the first is a confident miss, the second a hit.
LOGITS = np.array(((10, 0, 0), (0, 10, 0)), dtype=np.float32)
LABELS = np.array(((1,), (1,)), dtype=np.int64)
FEATURES = {"x": np.array(((42,),), dtype=np.int32)}
# loss = sum(cross_entropy(labels, logits)) / batch_size = sum(10, 0) / 2 = 5.
EXPECTED_METRICS = {"average_loss": 5., "accuracy": 0.5}  # 1 of 2 labels is correct.
TOL = 1e-2  # the estimator's: its derivation rounds log(1 + 2 exp(-10)) to 0

PROBABILITIES = [[0.576117, 0.2119416, 0.2119416], [0.2119416, 0.2119416, 0.576117]]


# -- predictions ----------------------------------------------------------------

@pytest.mark.parametrize("n_classes", [3, tf.constant(3, dtype=tf.int32)],
                         ids=["int", "tensor"])
def test_predict(n_classes):
    head = heads.MultiClassHead(n_classes)
    assert head.logits_dimension == 3
    logits = [[1., 0., 0.], [0., 0., 1.]]
    preds = head.predictions(logits)

    assert set(preds) == {"logits", "probabilities", "class_ids", "classes", "all_class_ids",
                          "all_classes"}
    np.testing.assert_allclose(preds["logits"], logits)
    np.testing.assert_allclose(preds["probabilities"], PROBABILITIES, rtol=1e-5)
    np.testing.assert_array_equal(preds["class_ids"], [[0], [2]])
    np.testing.assert_array_equal(preds["classes"], [[b"0"], [b"2"]])
    np.testing.assert_array_equal(preds["all_class_ids"], [[0, 1, 2]] * 2)
    np.testing.assert_array_equal(preds["all_classes"], [[b"0", b"1", b"2"]] * 2)


@pytest.mark.parametrize("n_classes", [tf.constant(2), tf.constant(1, tf.int64), np.int64(2)],
                         ids=["tensor2", "tensor1", "numpy2"])
def test_n_classes_as_tensor_or_numpy_is_validated(n_classes):
    # base_head.validate_n_classes: a tensor is checked (at run time there); here
    # its value is known eagerly, so <= 2 fails at construction.
    with pytest.raises(ValueError, match="n_classes"):
        heads.MultiClassHead(n_classes)


def test_predict_with_vocabulary_list():
    head = heads.MultiClassHead(3, label_vocabulary=["aang", "iroh", "zuko"])
    preds = head.predictions([[1., 0., 0.], [0., 0., 1.]], ["classes", "all_classes"])
    assert set(preds) == {"classes", "all_classes"}
    np.testing.assert_array_equal(preds["classes"], [[b"aang"], [b"zuko"]])
    np.testing.assert_array_equal(preds["all_classes"], [[b"aang", b"iroh", b"zuko"]] * 2)


def test_weight_should_not_impact_prediction():
    head = heads.MultiClassHead(3, weight_column="label_weights")
    logits = [[1., 0., 0.], [0., 0., 1.]]
    preds = head.predictions(logits, ["logits", "probabilities"])
    np.testing.assert_allclose(preds["logits"], logits)
    np.testing.assert_allclose(preds["probabilities"], PROBABILITIES, rtol=1e-5)
    spec = head.create_estimator_spec(
        features={"x": np.array(((42,),), np.int32), "label_weights": [[1.], [2.]]},
        mode=heads.ModeKeys.PREDICT, logits=logits)
    np.testing.assert_allclose(spec.predictions["probabilities"], PROBABILITIES, rtol=1e-5)


def test_predict_spec():
    head = heads.MultiClassHead(3, label_vocabulary=["aang", "iroh", "zuko"])
    spec = head.create_estimator_spec(features={"x": np.array(((42,),), np.int32)},
                                      mode=heads.ModeKeys.PREDICT,
                                      logits=[[1., 0., 0.], [0., 0., 1.]])
    assert spec.loss is None and spec.train_op is None and not spec.eval_metric_ops
    assert set(spec.export_outputs) == {"serving_default", "predict", "classification"}
    np.testing.assert_array_equal(spec.predictions["classes"], [[b"aang"], [b"zuko"]])


# -- loss -----------------------------------------------------------------------

WEIGHTED_LOGITS = np.array(((10, 0, 0), (0, 10, 0), (0, 0, 10)), dtype=np.float32)
MULTI_DIM_LOGITS = np.array([[[10, 0, 0], [12, 0, 0]], [[0, 10, 0], [0, 15, 0]]], np.float32)
MULTI_DIM_LABELS = np.array([[[0], [1]], [[1], [2]]], dtype=np.int64)
MULTI_DIM_WEIGHTS = np.array([[1., 1.5], [2., 2.5]], dtype=np.float32)

LOSS_CASES = {
    # loss = sum(cross_entropy(labels, logits)) / batch_size = 10 / 2 = 5.
    "eval": (dict(), LOGITS, LABELS, FEATURES, 5.),
    # loss_reduction=SUM: training_loss = 1 * 10 + 1 * 0 = 10
    "sum_reduction": (dict(loss_reduction="sum"), LOGITS, LABELS, FEATURES, 10.),
    "vocabulary": (dict(label_vocabulary=["aang", "iroh", "zuko"]), [[10., 0, 0], [0, 10, 0]],
                   [[b"iroh"], [b"iroh"]], FEATURES, 5.),
    # loss = sum(cross_entropy(labels, logits) * [1, 2, 3]) / batch_size
    #      = sum([10, 10, 0] * [1, 2, 3]) / 3 = 30 / 3 = 10
    "weighted_multi_example": (dict(weight_column="label_weights"), WEIGHTED_LOGITS,
                               np.array(((1,), (2,), (2,)), np.int64),
                               {"x": np.array(((42,),), np.float32),
                                "label_weights": np.array(((1.,), (2.,), (3.,)), np.float64)},
                               10.),
    # 1D labels and weights (shape [batch_size]); weights reshaped to [3, 1]:
    # training_loss = (1 * 10 + 2 * 10 + 3 * 0) / 3 = 10.
    "one_dim": (dict(weight_column="label_weights"), WEIGHTED_LOGITS,
                np.array((1, 2, 2), np.int64),
                {"x": np.array(((42,),), np.float32),
                 "label_weights": np.array((1., 2., 3.), np.float64)}, 10.),
    # Logits [2, 2, 3], labels [2, 2, 1], weights [2, 2]:
    # unreduced_loss = [[0, 12], [0, 15]]
    # training_loss = (1*0 + 1.5*12 + 2*0 + 2.5*15) / (2*2) = 55.5 / 4 = 13.875
    "multi_dim": (dict(weight_column="weights"), MULTI_DIM_LOGITS, MULTI_DIM_LABELS,
                  {"weights": MULTI_DIM_WEIGHTS}, 13.875),
}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_loss(case, mode):
    kwargs, logits, labels, features, expected = LOSS_CASES[case]
    head = heads.MultiClassHead(3, **kwargs)
    mode = {"train": heads.ModeKeys.TRAIN, "eval": heads.ModeKeys.EVAL}[mode]
    loss = head.loss(labels, logits, features=features, mode=mode)
    assert np.shape(loss) == ()
    assert float(loss) == pytest.approx(expected, rel=TOL, abs=TOL)


def test_loss_is_softmax_cross_entropy():
    """Tighter than the estimator's 1e-2: log-sum-exp written out."""
    logits = np.array([[1., 2., 3.], [-1., 0.5, 0.]], np.float64)
    labels = np.array([[2], [0]])
    # loss_i = logsumexp(logits_i) - logits_i[label_i]; mean over the batch.
    expected = np.mean(np.log(np.exp(logits).sum(-1)) - logits[[0, 1], [2, 0]])
    loss = heads.MultiClassHead(3).loss(labels, logits.astype(np.float32))
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_loss_with_regularization_losses():
    # unregularized_loss = sum(10, 0) / 2 = 5.
    # loss = unregularized_loss + regularization_loss = 5 + (1.5 + 0.5) = 7.
    loss = heads.MultiClassHead(3).loss(LABELS, LOGITS, FEATURES, mode=heads.ModeKeys.TRAIN,
                                        regularization_losses=[1.5, 0.5])
    assert float(loss) == pytest.approx(7., rel=TOL, abs=TOL)


def test_loss_fn_gets_label_ids_and_logits():
    loss = np.array([[1.], [2.]], dtype=np.float32)
    logits_input = np.array([[-10., 10., 0.], [-15., 10., 0]], dtype=np.float32)
    labels_input = np.array([[1], [2]], dtype=np.int64)
    seen = {}

    def _loss_fn(labels, logits):
        seen["labels"], seen["logits"] = np.asarray(labels), np.asarray(logits)
        return tf.constant(loss)

    head = heads.MultiClassHead(n_classes=3, loss_fn=_loss_fn)
    actual = head.loss(labels_input, logits_input, features={"x": np.array(((42,),), np.int32)},
                       mode=heads.ModeKeys.EVAL)
    np.testing.assert_array_equal(seen["labels"], labels_input)
    np.testing.assert_array_equal(seen["logits"], logits_input)
    # loss = (1 + 2) / batch_size
    assert float(actual) == pytest.approx(np.sum(loss) / 2.)


def test_loss_fn_gets_ids_of_string_labels():
    seen = {}

    def _loss_fn(labels, logits):
        seen["labels"] = np.asarray(labels)
        return tf.zeros_like(logits[..., :1])

    head = heads.MultiClassHead(3, label_vocabulary=["aang", "iroh", "zuko"], loss_fn=_loss_fn)
    head.loss([[b"zuko"], [b"aang"]], np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(seen["labels"], [[2], [0]])


# -- eval metrics ---------------------------------------------------------------

def test_eval():
    head = heads.MultiClassHead(3)
    metrics = evaluate(head, FEATURES, LOGITS, LABELS)
    assert_metrics(EXPECTED_METRICS, metrics, rtol=TOL, atol=TOL)
    assert float(head.loss(LABELS, LOGITS, FEATURES, mode=heads.ModeKeys.EVAL)) \
        == pytest.approx(5., rel=TOL, abs=TOL)


def test_eval_metric_keys_with_head_name():
    head = heads.MultiClassHead(3, name="some_multiclass_head")
    metrics = evaluate(head, FEATURES, LOGITS, LABELS)
    assert sorted(metrics) == ["accuracy/some_multiclass_head",
                               "average_loss/some_multiclass_head"]


def test_eval_with_regularization_losses():
    head = heads.MultiClassHead(3)
    metrics = evaluate(head, FEATURES, LOGITS, LABELS, regularization_losses=[1.5, 0.5])
    assert_metrics(dict(EXPECTED_METRICS, regularization_loss=2.), metrics, rtol=TOL, atol=TOL)


def test_eval_with_label_vocabulary():
    head = heads.MultiClassHead(3, label_vocabulary=["aang", "iroh", "zuko"])
    logits = [[10., 0, 0], [0, 10, 0]]
    labels = [[b"iroh"], [b"iroh"]]
    metrics = evaluate(head, FEATURES, logits, labels)
    assert_metrics(EXPECTED_METRICS, metrics, rtol=TOL, atol=TOL)


def test_weighted_multi_example_eval():
    head = heads.MultiClassHead(3, weight_column="label_weights")
    labels = np.array(((1,), (2,), (2,)), dtype=np.int64)
    weights_3x1 = np.array(((1.,), (2.,), (3.,)), dtype=np.float64)
    features = {"x": np.array(((42,),), np.int32), "label_weights": weights_3x1}
    # weighted_loss = sum([10, 10, 0] * [1, 2, 3]) = 30.
    # loss = weighted_loss / batch_size = 30 / 3 = 10
    # loss_mean = weighted_loss / sum(weights) = 30 / 6 = 5
    expected = {
        "average_loss": 30. / np.sum(weights_3x1),
        # Weighted accuracy is 1 * 3.0 / sum weights = 0.5
        "accuracy": 0.5,
    }
    metrics = evaluate(head, features, WEIGHTED_LOGITS, labels)
    assert_metrics(expected, metrics, rtol=TOL, atol=TOL)
    assert float(head.loss(labels, WEIGHTED_LOGITS, features)) == pytest.approx(
        10., rel=TOL, abs=TOL)


def test_multi_dim_weighted_eval():
    """Logits [2, 2, 3], labels [2, 2, 1], weights [2, 2]."""
    head = heads.MultiClassHead(3, weight_column="weights")
    # weighted_sum_loss = 1*0 + 1.5*12 + 2*0 + 2.5*15 = 55.5
    expected = {
        "average_loss": 55.5 / np.sum(MULTI_DIM_WEIGHTS),
        "accuracy": (1. * 1. + 1.5 * 0. + 2. * 1. + 2.5 * 0.) / np.sum(MULTI_DIM_WEIGHTS),
    }
    metrics = evaluate(head, {"weights": MULTI_DIM_WEIGHTS}, MULTI_DIM_LOGITS, MULTI_DIM_LABELS)
    assert_metrics(expected, metrics, rtol=TOL, atol=TOL)


# -- create_estimator_spec ------------------------------------------------------

def test_eval_spec():
    head = heads.MultiClassHead(3)
    spec = head.create_estimator_spec(features=FEATURES, mode=heads.ModeKeys.EVAL,
                                      logits=LOGITS, labels=LABELS,
                                      regularization_losses=[1.5, 0.5])
    # loss = 5 + 2 = 7
    assert float(spec.loss) == pytest.approx(7., rel=TOL, abs=TOL)
    assert spec.train_op is None and spec.export_outputs is None
    assert_metrics(dict(EXPECTED_METRICS, regularization_loss=2.), spec.eval_metric_ops,
                   rtol=TOL, atol=TOL)


def test_train_spec():
    head = heads.MultiClassHead(3)
    spec = head.create_estimator_spec(
        features=FEATURES, mode=heads.ModeKeys.TRAIN, logits=LOGITS, labels=LABELS,
        train_op_fn=lambda loss: tf.strings.join(["my_train_op",
                                                  tf.strings.as_string(loss, precision=2)]),
        trainable_variables=[tf.Variable([1.0, 2.0], dtype=tf.float32)])
    assert float(spec.loss) == pytest.approx(5., rel=TOL, abs=TOL)
    assert spec.train_op.numpy() == b"my_train_op5.00"
    assert not spec.eval_metric_ops
    assert spec.export_outputs is None


def test_the_confusion_matrix_stops_at_its_class_limit():
    """Beyond MAX_CONFUSION_MATRIX_CLASSES the extended metrics leave out the
    n^2 confusion matrix (10,000 classes: 10^8 cells per slice)."""
    from heads.multi_class import MAX_CONFUSION_MATRIX_CLASSES as limit
    at = heads.MultiClassHead(limit, extended_metrics=True)
    past = heads.MultiClassHead(limit + 1, extended_metrics=True)
    assert at.has_confusion_matrix and "confusion_matrix" in at.metrics()
    assert not past.has_confusion_matrix and "confusion_matrix" not in past.metrics()
    assert "precision/class_%d" % limit in past.metrics() or any(
        k.startswith("precision") for k in past.metrics())
