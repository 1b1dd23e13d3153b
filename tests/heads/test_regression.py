"""RegressionHead, ported from the estimator's regression_head_test.py
(eager cases); expected numbers and derivations are the estimator's. The
estimator's PoissonRegressionHead and LogisticRegressionHead are ported as a
RegressionHead with the same `loss_fn` and `inverse_link_fn`.

Argument and input validation lives in test_validation.py.
"""
import numpy as np
import pytest
import tensorflow as tf

import heads
from tests.heads.heads_oracle import assert_metrics, evaluate

LOGITS = np.array(((45,), (41,)), dtype=np.float32)
LABELS = np.array(((43,), (44,)), dtype=np.int32)
FEATURES = {"x": np.array(((42,),), dtype=np.float32)}

# 3 examples, weights 1, .1, 1.5:
# weighted_loss = 1*(35-45)^2 + .1*(42-41)^2 + 1.5*(45-44)^2 = 100 + .1 + 1.5 = 101.6
WEIGHTED_LOGITS = np.array(((45,), (41,), (44,)), dtype=np.float32)
WEIGHTED_LABELS = np.array(((35,), (42,), (45,)), dtype=np.int32)
WEIGHTS_3x1 = np.array(((1.,), (.1,), (1.5,)), dtype=np.float32)
WEIGHTED_METRICS = {
    # loss_mean = weighted_loss / (1 + .1 + 1.5) = 101.6 / 2.6 = 39.0769231
    "average_loss": 39.0769231,
    "prediction/mean": (45 + 41 * 0.1 + 44 * 1.5) / 2.6,
    "label/mean": (35 + 42 * 0.1 + 45 * 1.5) / 2.6,
}

MULTI_DIM_LOGITS = np.array([[[00., 01., 02.], [10., 11., 12.]],
                             [[20., 21., 22.], [30., 31., 32.]]])
MULTI_DIM_LABELS = np.array([[[01., 02., 03.], [12., 13., 14.]],
                             [[23., 24., 25.], [34., 35., 36.]]])
MULTI_DIM_WEIGHTS = np.array([[1., 1.5], [2., 2.5]])


# -- predictions ----------------------------------------------------------------

def test_predict():
    head = heads.RegressionHead()
    assert head.logits_dimension == 1
    logits = np.array(((45,), (41,)), dtype=np.int32)
    preds = head.predictions(logits)
    assert set(preds) == {"predictions"}
    assert preds["predictions"].dtype == tf.float32
    np.testing.assert_allclose(preds["predictions"], logits)


def test_predict_with_inverse_link_fn():
    head = heads.RegressionHead(inverse_link_fn=lambda logits: logits - 10.)
    logits = np.array(((45,), (41,)), dtype=np.int32)
    preds = head.predictions(logits)
    assert set(preds) == {"predictions", "logits"}
    assert preds["predictions"].dtype == tf.float32
    assert preds["logits"].dtype == tf.float32
    np.testing.assert_allclose(preds["predictions"], [[35.], [31.]])
    np.testing.assert_allclose(preds["logits"], logits)


def test_predict_spec():
    head = heads.RegressionHead(inverse_link_fn=lambda logits: logits - 10.)
    spec = head.create_estimator_spec(features={"x": np.array(((42.,),), np.int32)},
                                      mode=heads.ModeKeys.PREDICT,
                                      logits=np.array(((45,), (41,)), dtype=np.int32))
    assert spec.loss is None and spec.train_op is None and not spec.eval_metric_ops
    assert set(spec.export_outputs) == {"serving_default", "predict", "regression"}
    np.testing.assert_allclose(spec.predictions["predictions"], [[35.], [31.]])


# -- loss -----------------------------------------------------------------------

LOSS_CASES = {
    # loss = ((43-45)^2 + (44-41)^2) / batch_size = (4 + 9) / 2 = 6.5
    "eval": (dict(), LOGITS, LABELS, FEATURES, 6.5),
    "float64_labels": (dict(), LOGITS, LABELS.astype(np.float64), FEATURES, 6.5),
    # loss_reduction=SUM: training_loss = 1 * 4 + 1 * 9 = 13
    "sum_reduction": (dict(loss_reduction="sum"), LOGITS, LABELS, FEATURES, 13.),
    # loss = weighted_loss / batch_size = 101.6 / 3 = 33.8666667
    "weighted_multi_example": (dict(weight_column="label_weights"), WEIGHTED_LOGITS,
                               WEIGHTED_LABELS,
                               {"x": np.array(((42,), (43,), (44,)), np.int32),
                                "label_weights": WEIGHTS_3x1}, 33.8666667),
    # 1D labels and weights (shape [batch_size]):
    # training_loss = (100 * 1 + 1 * .1 + 1.5 * 1) / 3 = 101.6 / 3 = 33.8666667
    "one_dim": (dict(weight_column="label_weights"), WEIGHTED_LOGITS,
                np.array((35., 42., 45.)),
                {"x": np.array((42., 43., 44.), np.float32),
                 "label_weights": np.array((1., .1, 1.5), np.float64)}, 33.8666667),
    # 3d label, 1 example, per-logit weights [1, .1, 1.5]:
    # loss = [(35-45)^2, (42-41)^2, (45-44)^2] = [100, 1, 1]
    # weighted_sum_loss = 1 * 100 + .1 * 1 + 1.5 * 1 = 101.6
    # training_loss = weighted_sum_loss / (batch_size * label_dimension) = 101.6 / 3
    "multi_value": (dict(weight_column="label_weights", label_dimension=3),
                    np.array(((45., 41., 44.),)), np.array(((35., 42., 45.),)),
                    {"x": np.array(((42., 43., 44.),)),
                     "label_weights": np.array(((1., .1, 1.5),))}, 33.8666667),
    # Logits, labels [2, 2, 3], weights [2, 2]:
    # weighted_loss_sum = 1*3*1^2 + 1.5*3*2^2 + 2*3*3^2 + 2.5*3*4^2 = 195
    # loss = weighted_loss_sum / batch_size = 195 / (2*2*3) = 16.25
    "multi_dim": (dict(weight_column="label_weights", label_dimension=3), MULTI_DIM_LOGITS,
                  MULTI_DIM_LABELS, {"label_weights": MULTI_DIM_WEIGHTS}, 16.25),
}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_loss(case, mode):
    kwargs, logits, labels, features, expected = LOSS_CASES[case]
    head = heads.RegressionHead(**kwargs)
    mode = {"train": heads.ModeKeys.TRAIN, "eval": heads.ModeKeys.EVAL}[mode]
    loss = head.loss(labels, logits, features=features, mode=mode)
    assert np.shape(loss) == ()
    assert loss.dtype == tf.float32
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_loss_with_regularization_losses():
    # unregularized_loss = ((43-45)^2 + (44-41)^2) / batch_size = (4 + 9) / 2 = 6.5
    # loss = unregularized_loss + regularization_loss = 6.5 + (1.5 + 0.5) = 8.5
    loss = heads.RegressionHead().loss(LABELS.astype(np.float64), LOGITS, FEATURES,
                                       mode=heads.ModeKeys.TRAIN,
                                       regularization_losses=[1.5, 0.5])
    assert float(loss) == pytest.approx(8.5)


def test_loss_fn_gets_float_labels_and_logits():
    loss = np.array([[0., 1.], [2., 3.]], dtype=np.float32)
    logits_input = np.array([[-1., 1.], [-2., 2.]], dtype=np.float32)
    labels_input = np.array([[1., 0.], [2., -1.]], dtype=np.float32)
    seen = {}

    def _loss_fn(labels, logits):
        seen["labels"], seen["logits"] = np.asarray(labels), np.asarray(logits)
        return tf.constant(loss)

    head = heads.RegressionHead(label_dimension=2, loss_fn=_loss_fn)
    actual = head.loss(labels_input, logits_input, features={"x": np.array(((42,),), np.int32)})
    np.testing.assert_array_equal(seen["labels"], labels_input)
    np.testing.assert_array_equal(seen["logits"], logits_input)
    # loss = sum(loss) / (batch_size * label_dimension) = 6 / 4
    assert float(actual) == pytest.approx(np.sum(loss) / 4.)


def test_weighted_multi_batch_train():
    """1d label, 1 example, 3 batches: one loss per batch."""
    head = heads.RegressionHead(weight_column="label_weights")
    logits = np.array(((45.,), (41.,), (44.,)))
    weights = np.array(((1.,), (.1,), (1.5,)))
    labels = np.array(((35.,), (42.,), (45.,)))
    # losses = [1*(35-45)^2, .1*(42-41)^2, 1.5*(45-44)^2] = [100, .1, 1.5]
    for i, expected in enumerate((100, .1, 1.5)):
        loss = head.loss(labels[i:i + 1], logits[i:i + 1],
                         features={"label_weights": weights[i:i + 1]})
        assert float(loss) == pytest.approx(expected, rel=1e-6)


# -- eval metrics ---------------------------------------------------------------

def test_eval():
    head = heads.RegressionHead()
    # weighted_loss = (43-45)^2 + (44-41)^2 = 13; loss_mean = 13 / 2 = 6.5
    expected = {"average_loss": 6.5,
                "prediction/mean": (45 + 41) / 2.0,
                "label/mean": (43 + 44) / 2.0}
    metrics = evaluate(head, FEATURES, LOGITS, LABELS)
    assert_metrics(expected, metrics)
    # loss = weighted_loss / batch_size = 13 / 2 = 6.5
    assert float(head.loss(LABELS, LOGITS, FEATURES, mode=heads.ModeKeys.EVAL)) \
        == pytest.approx(6.5)


def test_eval_metric_keys_with_head_name():
    head = heads.RegressionHead(name="some_regression_head")
    metrics = evaluate(head, {"x": np.array(((42,),), np.int32)},
                       np.array(((1,), (9,)), np.float32), np.array(((1,), (1,)), np.int64))
    assert sorted(metrics) == ["average_loss/some_regression_head",
                               "label/mean/some_regression_head",
                               "prediction/mean/some_regression_head"]


def test_eval_with_regularization_losses():
    head = heads.RegressionHead()
    # unregularized_loss = ((43-45)^2 + (44-41)^2) / batch_size = (4 + 9) / 2 = 6.5
    expected = {
        "average_loss": 6.5,
        "regularization_loss": 2.,  # 1.5 + 0.5
        "prediction/mean": (45 + 41) / 2.0,
        "label/mean": (43 + 44) / 2.0,
    }
    metrics = evaluate(head, FEATURES, LOGITS, LABELS, regularization_losses=[1.5, 0.5])
    assert_metrics(expected, metrics)


def test_weighted_multi_example_eval():
    """1d label, 3 examples, 1 batch."""
    head = heads.RegressionHead(weight_column="label_weights")
    features = {"x": np.array(((42,), (43,), (44,)), np.int32), "label_weights": WEIGHTS_3x1}
    metrics = evaluate(head, features, WEIGHTED_LOGITS.astype(np.int32), WEIGHTED_LABELS)
    assert_metrics(WEIGHTED_METRICS, metrics)


def test_weighted_multi_value_eval():
    """3d label, 1 example, 1 batch; weights per logit."""
    head = heads.RegressionHead(weight_column="label_weights", label_dimension=3)
    assert head.logits_dimension == 3
    logits = np.array(((45., 41., 44.),))
    labels = np.array(((35., 42., 45.),))
    features = {"x": np.array(((42., 43., 44.),)), "label_weights": np.array(((1., .1, 1.5),))}
    preds = head.predictions(logits)
    assert set(preds) == {"predictions"}
    np.testing.assert_allclose(preds["predictions"], logits)
    # Per-logit weights make this the 3-example case above:
    # loss_mean = 101.6 / 2.6 = 39.0769231; prediction and label means alike.
    metrics = evaluate(head, features, logits, labels)
    assert_metrics(WEIGHTED_METRICS, metrics)


def test_weighted_multi_batch_eval():
    """1d label, 1 example, 3 batches into the same metrics."""
    head = heads.RegressionHead(weight_column="label_weights")
    logits = np.array(((45.,), (41.,), (44.,)))
    weights = np.array(((1.,), (.1,), (1.5,)))
    labels = np.array(((35.,), (42.,), (45.,)))
    # losses = [1*(35-45)^2, .1*(42-41)^2, 1.5*(45-44)^2] = [100, .1, 1.5]
    # loss = sum(losses) = 100+.1+1.5 = 101.6
    # loss_mean = loss/(1+.1+1.5) = 101.6/2.6 = 39.076923
    metrics = head.metrics()
    for i in range(3):
        metrics = head.update_metrics(metrics, {"label_weights": weights[i:i + 1]},
                                      logits[i:i + 1], labels[i:i + 1])
    assert_metrics(WEIGHTED_METRICS, metrics)


def test_multi_dim_weighted_eval():
    """Logits, labels [2, 2, 3], weights [2, 2]."""
    head = heads.RegressionHead(weight_column="label_weights", label_dimension=3)
    w = MULTI_DIM_WEIGHTS[..., None] * np.ones(3)
    # weighted_loss_sum = 195 (above); sum of broadcast weights = 3 * 7 = 21
    expected = {"average_loss": 195. / 21.,
                "prediction/mean": np.sum(w * MULTI_DIM_LOGITS) / np.sum(w),
                "label/mean": np.sum(w * MULTI_DIM_LABELS) / np.sum(w)}
    metrics = evaluate(head, {"label_weights": MULTI_DIM_WEIGHTS}, MULTI_DIM_LOGITS,
                       MULTI_DIM_LABELS)
    assert_metrics(expected, metrics)


# -- create_estimator_spec ------------------------------------------------------

def test_eval_spec():
    head = heads.RegressionHead()
    spec = head.create_estimator_spec(features=FEATURES, mode=heads.ModeKeys.EVAL,
                                      logits=LOGITS, labels=LABELS,
                                      regularization_losses=[1.5, 0.5])
    assert spec.loss.dtype == tf.float32
    # loss = 6.5 + 2 = 8.5
    assert float(spec.loss) == pytest.approx(8.5)
    assert spec.train_op is None and spec.export_outputs is None
    assert_metrics({"average_loss": 6.5, "regularization_loss": 2., "prediction/mean": 43.,
                    "label/mean": 43.5}, spec.eval_metric_ops)
    np.testing.assert_allclose(spec.predictions["predictions"], LOGITS)


def test_train_spec():
    head = heads.RegressionHead(weight_column="label_weights")
    spec = head.create_estimator_spec(
        features={"label_weights": WEIGHTS_3x1}, mode=heads.ModeKeys.TRAIN,
        logits=WEIGHTED_LOGITS, labels=WEIGHTED_LABELS.astype(np.float32),
        train_op_fn=lambda loss: loss * -7.,
        trainable_variables=[tf.Variable([1.0, 2.0], dtype=tf.float32)])
    # loss = 101.6 / 3 = 33.8666667
    assert float(spec.loss) == pytest.approx(33.8666667)
    assert float(spec.train_op) == pytest.approx(33.8666667 * -7.)
    assert not spec.eval_metric_ops
    assert spec.export_outputs is None
    np.testing.assert_allclose(spec.predictions["predictions"], WEIGHTED_LOGITS)


# -- the estimator's Poisson and logistic regression heads, composed ------------

LINK_LOGITS = np.array([[0], [-1], [1]], dtype=np.float32)


def test_poisson_regression():
    def _poisson_loss(labels, logits):
        return tf.nn.log_poisson_loss(targets=labels, log_input=logits, compute_full_loss=True)

    head = heads.RegressionHead(loss_fn=_poisson_loss, inverse_link_fn=tf.math.exp)
    labels = np.array([[1], [2], [3]], dtype=np.int32)
    # With x = exp(logits), z = labels:
    # loss = -ln(exp(-x) * (x^z) / z!) = exp(logits) - labels * logits + ln(labels!)
    # with Stirling's ln(z!) = z*ln(z) - z + 0.5*ln(2*pi*z) for z > 1:
    # loss = [exp(0) - 1 * 0 + ln(1!),
    #         exp(-1) - 2 * (-1) + 2*ln(2) - 2 + 0.5*ln(2*pi*2),
    #         exp(1) - 3 * 1 + 3*ln(3) - 3 + 0.5*ln(2*pi*3)]
    #      = [1.0, 3.020, 1.482]
    # training_loss = (1.0 + 3.020 + 1.482) / 3 = 1.834
    loss = head.loss(labels, LINK_LOGITS, features={"x": np.array(((42.,),), np.int32)},
                     mode=heads.ModeKeys.TRAIN)
    assert float(loss) == pytest.approx(1.834, abs=0.001)
    preds = head.predictions(LINK_LOGITS)
    np.testing.assert_allclose(preds["predictions"], np.exp(LINK_LOGITS), rtol=1e-6)
    np.testing.assert_allclose(preds["logits"], LINK_LOGITS)


def test_logistic_regression():
    def _sigmoid_loss(labels, logits):
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)

    head = heads.RegressionHead(loss_fn=_sigmoid_loss, inverse_link_fn=tf.math.sigmoid)
    labels = np.array([[.4], [.6], [.8]], dtype=np.float32)
    # With x = logits, z = labels:
    # loss = max(x, 0) - x * z + log(1 + exp(-abs(x)))
    #      = [0 - 0 * 0.4 + ln(1 + exp(-0)),
    #         0 + 1 * 0.6 + ln(1 + exp(-1)),
    #         1 - 1 * 0.8 + ln(1 + exp(-1))]
    #      = [0.6931, 0.9133, 0.5133]
    # training_loss = (0.6931 + 0.9133 + 0.5133) / 3 = 0.7066
    loss = head.loss(labels, LINK_LOGITS, features={"x": np.array(((42.,),), np.int32)},
                     mode=heads.ModeKeys.TRAIN)
    assert float(loss) == pytest.approx(0.7066, abs=0.001)
    np.testing.assert_allclose(head.predictions(LINK_LOGITS)["predictions"],
                               1. / (1. + np.exp(-LINK_LOGITS)), rtol=1e-6)
