"""MultiHead, ported from the estimator's multi_head_test.py (eager cases).
Expected numbers and derivations are the estimator's; AUC values that relied
on Keras' 200-threshold approximation are recomputed exactly with
heads_oracle where they disagree.

Argument and input validation lives in test_validation.py.
"""
import numpy as np
import pytest
import tensorflow as tf

import heads
from tests.heads.heads_oracle import assert_metrics, pr_auc, roc_auc, sigmoid32

TOL = 1e-3  # the estimator's

LOGITS = {
    "head1": np.array([[-10., 10.], [-15., 10.]], dtype=np.float32),
    "head2": np.array([[20., -20., 20.], [-30., 20., -20.]], dtype=np.float32),
}
LABELS = {
    "head1": np.array([[1, 0], [1, 1]], dtype=np.int64),
    "head2": np.array([[0, 1, 0], [1, 1, 0]], dtype=np.int64),
}
FEATURES = {"x": np.array(((42,),), dtype=np.int32)}
# For large logits, sigmoid cross entropy loss is approximately
# loss = labels * (logits < 0) * (-logits) + (1 - labels) * (logits > 0) * logits =>
# head1: unweighted_loss = [[10., 10.], [15., 0.]]
#        loss1 = ((10 + 10) / 2 + (15 + 0) / 2) / 2 = 8.75
# head2: unweighted_loss = [[20., 20., 20.], [30., 0., 0]]
#        loss2 = ((20 + 20 + 20) / 3 + (30 + 0 + 0) / 3) / 2 = 15
LOSS_HEAD1 = 8.75
LOSS_HEAD2 = 15.


def _two_multi_label_heads(head_weights=None, **kwargs):
    head1 = heads.MultiLabelHead(n_classes=2, name="head1", **kwargs.get("head1", {}))
    head2 = heads.MultiLabelHead(n_classes=3, name="head2", **kwargs.get("head2", {}))
    return heads.MultiHead([head1, head2], head_weights=head_weights)


def test_name_and_logits_dimension():
    multi_head = _two_multi_label_heads()
    assert multi_head.name == "head1_head2"
    assert multi_head.logits_dimension == 5


# -- predictions ----------------------------------------------------------------

PREDICT_LOGITS1 = np.array([[-1., 1.], [-1.5, 1.]], dtype=np.float32)
PREDICT_LOGITS2 = np.array([[2., -2., 2.], [-3., 2., -2.]], dtype=np.float32)


@pytest.mark.parametrize("logits", [
    {"head1": PREDICT_LOGITS1, "head2": PREDICT_LOGITS2},
    np.concatenate([PREDICT_LOGITS1, PREDICT_LOGITS2], axis=-1),
], ids=["dict", "tensor"])
def test_predict_two_heads(logits):
    multi_head = _two_multi_label_heads()
    predictions = multi_head.predictions(logits)
    # Keys are (head name, prediction key) pairs.
    assert set(predictions) == {(h, k) for h in ("head1", "head2")
                                for k in ("logits", "probabilities", "classes")}
    np.testing.assert_allclose(predictions[("head1", "logits")], PREDICT_LOGITS1)
    np.testing.assert_allclose(predictions[("head2", "logits")], PREDICT_LOGITS2)
    np.testing.assert_allclose(predictions[("head1", "probabilities")],
                               sigmoid32(PREDICT_LOGITS1), rtol=1e-6)
    np.testing.assert_allclose(predictions[("head2", "probabilities")],
                               sigmoid32(PREDICT_LOGITS2), rtol=1e-6)


def test_predict_two_heads_logits_tensor_multi_dim():
    """Multi-dimensional logits of shape [2, 2, 5] split along the last axis."""
    head1 = heads.RegressionHead(label_dimension=2, name="head1")
    head2 = heads.RegressionHead(label_dimension=3, name="head2")
    multi_head = heads.MultiHead([head1, head2])
    logits = np.array([[[-1., 1., 2., -2., 2.], [-1., 1., 2., -2., 2.]],
                       [[-1.5, 1., -3., 2., -2.], [-1.5, 1., -3., 2., -2.]]], dtype=np.float32)
    predictions = multi_head.predictions(logits)
    np.testing.assert_allclose(predictions[("head1", "predictions")],
                               [[[-1., 1.], [-1., 1.]], [[-1.5, 1.], [-1.5, 1.]]])
    np.testing.assert_allclose(predictions[("head2", "predictions")],
                               [[[2., -2., 2.], [2., -2., 2.]], [[-3., 2., -2.], [-3., 2., -2.]]])


def test_predict_spec():
    multi_head = _two_multi_label_heads()
    spec = multi_head.create_estimator_spec(
        features=FEATURES, mode=heads.ModeKeys.PREDICT,
        logits={"head1": PREDICT_LOGITS1, "head2": PREDICT_LOGITS2})
    assert spec.loss is None and spec.train_op is None and not spec.eval_metric_ops
    # The first head is served by default; each head's outputs under its name.
    assert set(spec.export_outputs) == {"serving_default", "predict", "head1",
                                        "head1/classification", "head1/predict", "head2",
                                        "head2/classification", "head2/predict"}
    np.testing.assert_allclose(spec.predictions[("head2", "probabilities")],
                               sigmoid32(PREDICT_LOGITS2), rtol=1e-6)


# -- loss -----------------------------------------------------------------------

def test_loss_one_head():
    multi_head = heads.MultiHead([heads.MultiLabelHead(n_classes=2, name="head1")])
    loss = multi_head.loss(labels={"head1": LABELS["head1"]}, logits={"head1": LOGITS["head1"]},
                           features=FEATURES, mode=heads.ModeKeys.TRAIN)
    # Unreduced loss of the head is [[(10 + 10) / 2], [(15 + 0) / 2]]
    # loss = sum(unreduced_loss) / 2 = sum([10, 7.5]) / 2 = 8.75
    assert float(loss) == pytest.approx(8.75, rel=TOL, abs=TOL)


def test_loss_two_heads_with_head_weights():
    multi_head = _two_multi_label_heads(head_weights=[1., 2.])
    loss = multi_head.loss(LABELS, LOGITS, features=FEATURES, mode=heads.ModeKeys.TRAIN)
    # loss = 1 * 8.75 + 2 * 15 = 38.75
    assert float(loss) == pytest.approx(1. * LOSS_HEAD1 + 2. * LOSS_HEAD2, rel=TOL, abs=TOL)


def test_loss_without_head_weights_is_the_sum():
    multi_head = _two_multi_label_heads()
    loss = multi_head.loss(LABELS, LOGITS, features=FEATURES)
    # loss = 8.75 + 15 = 23.75
    assert float(loss) == pytest.approx(23.75, rel=TOL, abs=TOL)


@pytest.mark.parametrize("as_tensor", [False, True], ids=["logits_dict", "logits_tensor"])
def test_loss_two_heads_with_example_weights(as_tensor):
    # Different example weights for each head.
    multi_head = _two_multi_label_heads(head_weights=[1., 2.],
                                        head1=dict(weight_column="weights1"),
                                        head2=dict(weight_column="weights2"))
    logits = (np.concatenate([LOGITS["head1"], LOGITS["head2"]], axis=-1) if as_tensor
              else LOGITS)
    features = {"x": np.array(((42,),), np.int32),
                "weights1": np.array([[1.], [2.]], dtype=np.float32),
                "weights2": np.array([[2.], [3.]])}
    loss = multi_head.loss(LABELS, logits, features=features, mode=heads.ModeKeys.TRAIN)
    # loss of the first head is [[(10 + 10) / 2], [(15 + 0) / 2]] = [10, 7.5]
    # training_loss = (1 * 10 + 2 * 7.5) / 2 = 12.5
    # loss of the second head is [[(20 + 20 + 20) / 3], [(30 + 0 + 0) / 3]] = [20, 10]
    # training_loss = (2 * 20 + 3 * 10) / 2 = 35
    # head-weighted training_loss = 1 * 12.5 + 2 * 35 = 82.5
    assert float(loss) == pytest.approx(82.5, rel=TOL, abs=TOL)


def test_loss_logits_tensor_multi_dim():
    """Multi-dimensional logits of shape [2, 2, 5]."""
    head1 = heads.RegressionHead(label_dimension=2, name="head1")
    head2 = heads.RegressionHead(label_dimension=3, name="head2")
    multi_head = heads.MultiHead([head1, head2])
    logits = np.array([[[-1., 1., 2., -2., 2.], [-1., 1., 2., -2., 2.]],
                       [[-1.5, 1.5, -2., 2., -2.], [-1.5, 1.5, -2., 2., -2.]]], dtype=np.float32)
    labels = {
        "head1": np.array([[[1., 0.], [1., 0.]], [[1.5, 1.5], [1.5, 1.5]]], dtype=np.float32),
        "head2": np.array([[[0., 1., 0.], [0., 1., 0.]], [[2., 2., 0.], [2., 2., 0.]]],
                          dtype=np.float32),
    }
    # loss1 = ((1+1)^2 + (0-1)^2 + (1+1)^2 + (0-1)^2 +
    #          (1.5+1.5)^2 + (1.5-1.5)^2 + (1.5+1.5)^2 + (1.5-1.5)^2) / 8 = 3.5
    # loss2 = ((0-2)^2 + (1+2)^2 + (0-2)^2 + (0-2)^2 + (1+2)^2 + (0-2)^2 +
    #          (2+2)^2 + (2-2)^2 + (0+2)^2 + (2+2)^2 + (2-2)^2 + (0+2)^2) / 12 = 6.167
    loss = multi_head.loss(labels, logits, features={}, mode=heads.ModeKeys.TRAIN)
    assert float(loss) == pytest.approx(3.5 + 6.167, rel=TOL, abs=TOL)


def test_loss_with_regularization_losses():
    multi_head = _two_multi_label_heads(head_weights=[1., 2.])
    loss = multi_head.loss(LABELS, LOGITS, features=FEATURES, mode=heads.ModeKeys.TRAIN,
                           regularization_losses=[1.5, 0.5])
    # loss = 1. * loss1 + 2. * loss2 + sum([1.5, 0.5]) = 8.75 + 30 + 2
    assert float(loss) == pytest.approx(1. * LOSS_HEAD1 + 2. * LOSS_HEAD2 + 2.,
                                        rel=TOL, abs=TOL)


# -- eval -----------------------------------------------------------------------

def _expected_eval_metrics():
    p1, p2 = sigmoid32(LOGITS["head1"]), sigmoid32(LOGITS["head2"])
    return {
        "loss/head1": LOSS_HEAD1,
        "loss/head2": LOSS_HEAD2,
        # Average loss over examples.
        "average_loss/head1": LOSS_HEAD1,
        "average_loss/head2": LOSS_HEAD2,
        # head1: positives sigmoid(-10), sigmoid(-15), sigmoid(10); the negative
        # sigmoid(10) ties the last one: auc = 0.5 / 3 = 0.1667.
        "auc/head1": 0.1667,
        "auc_precision_recall/head1": 0.60228,
        # head2: the estimator's 0.3333 / 0.40152 came from Keras' 200
        # thresholds, which lump sigmoid(-20) (a positive and a negative) with
        # sigmoid(-30) (a positive); in float32 they are distinct, and the
        # exact values differ by more than 1e-3: computed independently.
        # Exact: positives 2e-9, 9e-14, 1.0; negatives 1.0, 1.0, 2e-9:
        # auc = (0.5 + 0 + (0.5 + 0.5 + 1)) / 9 = 2.5 / 9 = 0.2778
        "auc/head2": roc_auc(LABELS["head2"], p2),
        "auc_precision_recall/head2": pr_auc(LABELS["head2"], p2),
    }, p1


def test_eval_two_heads_with_weights():
    multi_head = _two_multi_label_heads(head_weights=[1., 2.])
    expected, p1 = _expected_eval_metrics()
    assert roc_auc(LABELS["head1"], p1) == pytest.approx(0.1667, abs=TOL)
    assert expected["auc/head2"] == pytest.approx(2.5 / 9)
    metrics = multi_head.metrics()
    updated = multi_head.update_metrics(metrics, FEATURES, LOGITS, LABELS)
    assert_metrics(expected, updated, rtol=TOL, atol=TOL)
    loss = multi_head.loss(LABELS, LOGITS, features=FEATURES, mode=heads.ModeKeys.EVAL)
    assert float(loss) == pytest.approx(1. * LOSS_HEAD1 + 2. * LOSS_HEAD2, rel=TOL, abs=TOL)


def test_eval_spec():
    multi_head = _two_multi_label_heads(head_weights=[1., 2.])
    expected, _ = _expected_eval_metrics()
    spec = multi_head.create_estimator_spec(features=FEATURES, mode=heads.ModeKeys.EVAL,
                                            logits=LOGITS, labels=LABELS)
    assert float(spec.loss) == pytest.approx(38.75, rel=TOL, abs=TOL)
    assert spec.train_op is None and spec.export_outputs is None
    assert_metrics(expected, spec.eval_metric_ops, rtol=TOL, atol=TOL)


def test_eval_mixed_heads_metric_keys():
    """Each head's own keys, suffixed with its name, plus loss/<name>."""
    multi_head = heads.MultiHead([heads.BinaryClassHead(name="b"),
                                  heads.MultiClassHead(3, name="m"),
                                  heads.RegressionHead(name="r")])
    logits = np.array([[1., 0.1, 0.2, 0.3, 2.], [-1., 1., 0., 0., 3.]], np.float32)
    labels = {"b": np.array([[1], [0]]), "m": np.array([[2], [1]]),
              "r": np.array([[2.], [1.]], np.float32)}
    metrics = multi_head.update_metrics(multi_head.metrics(), {}, logits, labels)
    assert sorted(metrics) == sorted(
        ["loss/b", "loss/m", "loss/r"]
        + ["%s/b" % k for k in ("average_loss", "accuracy", "precision", "recall",
                                "prediction/mean", "label/mean", "accuracy_baseline", "auc",
                                "auc_precision_recall")]
        + ["average_loss/m", "accuracy/m"]
        + ["average_loss/r", "prediction/mean/r", "label/mean/r"])
    # r: (2 - 2)^2 = 0, (1 - 3)^2 = 4: loss = 4 / 2 = 2
    assert metrics["loss/r"].result() == pytest.approx(2.)
    # m: argmax [0.1, 0.2, 0.3] = 2 (right), argmax [1, 0, 0] = 0 (wrong)
    assert metrics["accuracy/m"].result() == pytest.approx(0.5)


# -- train ----------------------------------------------------------------------

def test_train_one_head():
    multi_head = heads.MultiHead([heads.MultiLabelHead(n_classes=2, name="head1")])
    logits = {"head1": LOGITS["head1"]}
    labels = {"head1": LABELS["head1"]}
    # The estimator's MultiHead takes train_op_fn without trainable_variables
    # (base_head.create_estimator_spec_train_op checks trainable_variables only
    # when an optimizer is given).
    spec = multi_head.create_estimator_spec(
        features=FEATURES, mode=heads.ModeKeys.TRAIN, logits=logits, labels=labels,
        train_op_fn=lambda loss: tf.strings.join(["my_train_op",
                                                  tf.strings.as_string(loss, precision=3)]))
    # loss = ((10 + 10) / 2 + (15 + 0) / 2) / 2 = 8.75
    assert float(spec.loss) == pytest.approx(8.75, rel=TOL, abs=TOL)
    assert spec.train_op.numpy() == b"my_train_op8.750"
    assert spec.export_outputs is None
    np.testing.assert_allclose(spec.predictions[("head1", "logits")], logits["head1"])
    np.testing.assert_allclose(spec.predictions[("head1", "probabilities")],
                               sigmoid32(logits["head1"]), rtol=1e-6)


def test_train_two_heads_with_weights_and_regularization():
    multi_head = _two_multi_label_heads(head_weights=[1., 2.])
    spec = multi_head.create_estimator_spec(
        features=FEATURES, mode=heads.ModeKeys.TRAIN, logits=LOGITS, labels=LABELS,
        train_op_fn=lambda loss: tf.strings.join(["my_train_op",
                                                  tf.strings.as_string(loss, precision=3)]),
        trainable_variables=[tf.Variable([1.0, 2.0], dtype=tf.float32)],
        regularization_losses=[1.5, 0.5])
    # loss = 1. * 8.75 + 2. * 15 + (1.5 + 0.5) = 40.75
    assert float(spec.loss) == pytest.approx(40.75, rel=TOL, abs=TOL)
    assert spec.train_op.numpy() == b"my_train_op40.750"
    np.testing.assert_allclose(spec.predictions[("head2", "probabilities")],
                               sigmoid32(LOGITS["head2"]), rtol=1e-6)
