"""BinaryClassHead, ported from the estimator's binary_class_head_test.py
(eager cases). Expected numbers and their derivations are the estimator's;
AUC values that relied on Keras' 200-threshold approximation are recomputed
exactly with heads_oracle (scikit-learn / interpolated PR in numpy).

Argument and input validation lives in test_validation.py.
"""
import numpy as np
import pytest
import tensorflow as tf

import heads
from tests.heads.heads_oracle import assert_metrics, evaluate, pr_auc, roc_auc, sigmoid32

# The estimator's two-example batch: one confident hit, one confident miss.
LOGITS = np.array(((45,), (-41,)), dtype=np.float32)
LABELS = np.array(((1,), (1,)), dtype=np.int32)
FEATURES = {"x": np.array(((42,),), dtype=np.int32)}

# loss = sum(cross_entropy(labels, logits)) / batch_size
#      = sum(0, 41) / 2 = 41 / 2 = 20.5
EXPECTED_METRICS = {
    "average_loss": 20.5,
    "accuracy": 1. / 2,
    "precision": 1.,
    "recall": 1. / 2,
    "prediction/mean": 1. / 2,
    "label/mean": 2. / 2,
    "accuracy_baseline": 2. / 2,
    # No negatives: AUC is 0 and AUC-PR is 1 (Keras' divide-no-nan convention).
    "auc": 0.,
    "auc_precision_recall": 1.,
}


# -- predictions ----------------------------------------------------------------

def test_logits_dimension():
    assert heads.BinaryClassHead().logits_dimension == 1


def test_predict():
    head = heads.BinaryClassHead()
    logits = [[0.3], [-0.4]]
    keys = ["logits", "logistic", "probabilities", "class_ids", "classes", "all_class_ids",
            "all_classes"]
    preds = head.predictions(logits, keys)

    assert set(preds) == set(keys)
    np.testing.assert_allclose(preds["logits"], logits, rtol=1e-6)
    np.testing.assert_allclose(preds["logistic"], [[0.574443], [0.401312]], rtol=1e-5)
    np.testing.assert_allclose(preds["probabilities"],
                               [[0.425557, 0.574443], [0.598688, 0.401312]], rtol=1e-5)
    np.testing.assert_array_equal(preds["class_ids"], [[1], [0]])
    np.testing.assert_array_equal(preds["classes"], [[b"1"], [b"0"]])
    np.testing.assert_array_equal(preds["all_class_ids"], [[0, 1]] * 2)
    np.testing.assert_array_equal(preds["all_classes"], [[b"0", b"1"]] * 2)


def test_predict_all_keys_by_default():
    preds = heads.BinaryClassHead().predictions([[0.3], [-0.4]])
    assert set(preds) == {"logits", "logistic", "probabilities", "class_ids", "classes",
                          "all_class_ids", "all_classes"}


def test_predict_only_requested_keys():
    preds = heads.BinaryClassHead().predictions([[0.3], [-0.4]], ["classes"])
    assert set(preds) == {"classes"}


def test_predict_with_vocabulary_list():
    head = heads.BinaryClassHead(label_vocabulary=["aang", "iroh"])
    preds = head.predictions([[1.], [0.]], ["classes", "all_classes"])
    # A logit of exactly 0 is a tie of the two-class logits [0, 0]: argmax -> class 0.
    np.testing.assert_array_equal(preds["classes"], [[b"iroh"], [b"aang"]])
    np.testing.assert_array_equal(preds["all_classes"], [[b"aang", b"iroh"]] * 2)


def test_weighted_multi_example_predict():
    """3 examples, 1 batch; int32 logits are cast to float32."""
    head = heads.BinaryClassHead(weight_column="label_weights")
    logits = np.array(((45,), (-41,), (44,)), dtype=np.int32)
    preds = head.predictions(logits, ["logits", "logistic", "probabilities", "class_ids",
                                      "classes"])
    assert preds["logits"].dtype == tf.float32
    np.testing.assert_allclose(preds["logits"], logits.astype(np.float32))
    np.testing.assert_allclose(preds["logistic"], sigmoid32(logits))
    np.testing.assert_allclose(preds["probabilities"], [[0., 1.], [1., 0.], [0., 1.]],
                               atol=1e-6)
    np.testing.assert_array_equal(preds["class_ids"], [[1], [0], [1]])
    np.testing.assert_array_equal(preds["classes"], [[b"1"], [b"0"], [b"1"]])


# -- loss -----------------------------------------------------------------------

LOSS_CASES = {
    # loss = sum(cross_entropy(labels, logits)) / batch_size = sum([0, 41]) / 2 = 20.5
    "eval": (dict(), LOGITS, LABELS, FEATURES, 20.5),
    "float64_labels": (dict(), LOGITS, LABELS.astype(np.float64), FEATURES, 20.5),
    # loss_reduction=SUM: training loss = 1 * 0 + 1 * 41 = 41
    "sum_reduction": (dict(loss_reduction="sum"), LOGITS, LABELS.astype(np.float64),
                      FEATURES, 41.),
    "vocabulary": (dict(label_vocabulary=["aang", "iroh"]), LOGITS, [[b"iroh"], [b"iroh"]],
                   FEATURES, 20.5),
    # probabilities = [1/(1 + exp(1)), 1/(1 + exp(-1))] = [0.269, 0.731]
    # unreduced_loss = -ln(probabilities[label[i]]) = [1.31326169, 0.31326169]
    # loss = 1.62652338 / 2 = 0.81326169
    "thresholds": (dict(thresholds=[0.25, 0.5, 0.75]), np.array(((-1,), (1,)), np.float32),
                   np.array(((1,), (1,)), np.int32), FEATURES, 1.62652338 / 2),
    # 1D labels and weights (shape [batch_size]); weights reshaped to [3, 1].
    # unreduced_loss = [0, 41, 44]
    # loss = (1 * 0 + .1 * 41 + 1.5 * 44) / 3 = 70.1 / 3 = 23.366666667
    "one_dim": (dict(weight_column="label_weights"),
                np.array(((45,), (-41,), (44,)), np.float32), np.array((1., 1., 0.)),
                {"x": np.array(((42.,), (43.,), (44.,)), np.float32),
                 "label_weights": np.array((1., .1, 1.5), np.float64)}, 23.366666667),
    "weighted_multi_example": (dict(weight_column="label_weights"),
                               np.array(((45,), (-41,), (44,)), np.float32),
                               np.array(((1.,), (1.,), (0.,))),
                               {"x": np.array(((42.,), (43.,), (44.,)), np.float32),
                                "label_weights": np.array(((1.,), (.1,), (1.5,)), np.float64)},
                               23.366666667),
    # Soft labels:
    # loss = [-0.8 * log(sigmoid(0.5)) - 0.2 * log(sigmoid(-0.5)),
    #         -0.4 * log(sigmoid(-0.3)) - 0.6 * log(sigmoid(0.3))]
    #      = [0.57407698418, 0.67435524446]
    # training_loss = (0.57407698418 + 0.67435524446) / 2 = 0.62421611432
    "float_labels": (dict(), np.array([[0.5], [-0.3]], np.float32),
                     np.array([[0.8], [0.4]], np.float32), {"x": np.array([[42]], np.float32)},
                     0.62421611432),
    # Logits and labels [2, 2, 1], weights [2, 2]:
    # unreduced_loss = [[10, 0], [0, 12]]
    # loss = (1*10 + 1.5*0 + 2*0 + 2.5*12) / (2*2) = 40 / 4 = 10
    "multi_dim": (dict(weight_column="weights"),
                  np.array([[[10], [-10]], [[12], [-12]]], np.float32),
                  np.array([[[0], [0]], [[1], [1]]], np.float64),
                  {"weights": np.array([[1., 1.5], [2., 2.5]], np.float32)}, 10.),
}
# The estimator's tolerance where its derivation drops the log(1 + exp(-|x|)) terms.
LOSS_TOL = {"multi_dim": 1e-2}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_loss(case, mode):
    kwargs, logits, labels, features, expected = LOSS_CASES[case]
    head = heads.BinaryClassHead(**kwargs)
    mode = {"train": heads.ModeKeys.TRAIN, "eval": heads.ModeKeys.EVAL}[mode]
    loss = head.loss(labels, logits, features=features, mode=mode)
    assert np.shape(loss) == ()
    tol = LOSS_TOL.get(case, 1e-6)
    assert float(loss) == pytest.approx(expected, rel=tol, abs=tol)


def test_loss_positional_arguments():
    # head.loss(labels, logits, features) as the estimator's train tests call it.
    loss = heads.BinaryClassHead().loss(LABELS.astype(np.float64), LOGITS,
                                        {"x": np.array(((42,),), np.float32)})
    assert float(loss) == pytest.approx(20.5)


def test_loss_with_regularization_losses():
    # unregularized_loss = sum(0, 41) / 2 = 20.5
    # loss = unregularized_loss + regularization_loss = 20.5 + (1.5 + 0.5) = 22.5
    loss = heads.BinaryClassHead().loss(LABELS.astype(np.float64), LOGITS, FEATURES,
                                        mode=heads.ModeKeys.TRAIN,
                                        regularization_losses=[1.5, 0.5])
    assert float(loss) == pytest.approx(22.5)


def test_loss_fn_gets_processed_labels_and_logits():
    loss = np.array([[1.], [2.]], dtype=np.float32)
    logits_input = np.array([[-10.], [10.]], dtype=np.float32)
    labels_input = np.array([[1], [0]], dtype=np.int64)
    seen = {}

    def _loss_fn(labels, logits):
        seen["labels"], seen["logits"] = np.asarray(labels), np.asarray(logits)
        return tf.constant(loss)

    head = heads.BinaryClassHead(loss_fn=_loss_fn)
    actual = head.loss(labels_input, logits_input, features={"x": np.array(((42,),), np.int32)},
                       mode=heads.ModeKeys.EVAL)
    np.testing.assert_array_equal(seen["labels"], labels_input)
    np.testing.assert_array_equal(seen["logits"], logits_input)
    # loss = sum([1, 2]) / batch_size = 3 / 2
    assert float(actual) == pytest.approx(np.sum(loss) / 2.)


def test_loss_fn_with_features():
    features = {"x": np.array([[3.], [4.]], np.float32)}

    def _loss_fn(labels, logits, features):
        del labels, logits
        return tf.constant(features["x"])

    head = heads.BinaryClassHead(loss_fn=_loss_fn)
    # loss = (3 + 4) / 2 = 3.5
    loss = head.loss(np.array([[1], [0]]), np.array([[1.], [2.]], np.float32), features)
    assert float(loss) == pytest.approx(3.5)


# -- eval metrics ---------------------------------------------------------------

def test_eval():
    head = heads.BinaryClassHead()
    metrics = evaluate(head, FEATURES, LOGITS, LABELS)
    assert_metrics(EXPECTED_METRICS, metrics)
    assert float(head.loss(LABELS, LOGITS, features=FEATURES, mode=heads.ModeKeys.EVAL)) \
        == pytest.approx(20.5)


def test_update_metrics_returns_the_given_dict():
    head = heads.BinaryClassHead()
    metrics = head.metrics()
    updated = head.update_metrics(metrics, FEATURES, LOGITS, LABELS)
    assert set(updated) == set(metrics)
    for key in metrics:
        assert updated[key] is metrics[key]


def test_eval_metric_keys_with_head_name():
    head = heads.BinaryClassHead(name="some_binary_head")
    metrics = evaluate(head, FEATURES, LOGITS, LABELS)
    assert sorted(metrics) == sorted("%s/some_binary_head" % k for k in EXPECTED_METRICS)


def test_eval_with_regularization_losses():
    head = heads.BinaryClassHead()
    regularization_losses = [1.5, 0.5]
    expected = dict(EXPECTED_METRICS, regularization_loss=2.)  # 1.5 + 0.5
    metrics = evaluate(head, FEATURES, LOGITS, LABELS, regularization_losses)
    assert_metrics(expected, metrics)


def test_eval_with_vocabulary_list():
    head = heads.BinaryClassHead(label_vocabulary=["aang", "iroh"])
    metrics = evaluate(head, FEATURES, LOGITS, [[b"iroh"], [b"iroh"]])
    assert_metrics({"accuracy": 1. / 2}, metrics, exact_keys=False)


def test_eval_with_thresholds():
    thresholds = [0.25, 0.5, 0.75]
    head = heads.BinaryClassHead(thresholds=thresholds)
    logits = np.array(((-1,), (1,)), dtype=np.float32)
    labels = np.array(((1,), (1,)), dtype=np.int32)
    # probabilities = [1/(1 + exp(1)), 1/(1 + exp(-1))] = [0.269, 0.731]
    # loss = -sum(ln(probabilities[label[i]])) / batch_size
    #      = (-ln(0.269) - ln(0.731)) / 2 = 1.62652338 / 2
    expected = {
        "average_loss": 1.62652338 / 2.,
        "accuracy": 1. / 2,
        "precision": 1.,
        "recall": .5,
        "prediction/mean": 1. / 2,
        "label/mean": 2. / 2,
        "accuracy_baseline": 2. / 2,
        "auc": 0.,
        "auc_precision_recall": 1.,
        # 0.25: both predicted positive.
        "accuracy/positive_threshold_0.25": 1.,
        "precision/positive_threshold_0.25": 1.,
        "recall/positive_threshold_0.25": 1.,
        # 0.5: only 0.731.
        "accuracy/positive_threshold_0.5": .5,
        "precision/positive_threshold_0.5": 1.,
        "recall/positive_threshold_0.5": .5,
        # 0.75: none (precision 0/0 -> 0).
        "accuracy/positive_threshold_0.75": 0.,
        "precision/positive_threshold_0.75": 0.,
        "recall/positive_threshold_0.75": 0.,
    }
    metrics = evaluate(head, FEATURES, logits, labels)
    assert_metrics(expected, metrics, rtol=1e-2, atol=1e-2)
    assert float(head.loss(labels, logits, FEATURES)) == pytest.approx(1.62652338 / 2.)


def test_threshold_is_strict():
    """A prediction is positive when probability > threshold: sigmoid(0) = 0.5
    is not positive at threshold 0.5."""
    head = heads.BinaryClassHead(thresholds=[0.5])
    logits = np.array([[0.], [0.]], np.float32)
    labels = np.array([[1], [0]])
    metrics = evaluate(head, {}, logits, labels)
    # Nothing predicted positive: tp = fp = 0, fn = 1, tn = 1.
    assert_metrics({"accuracy/positive_threshold_0.5": 0.5,
                    "precision/positive_threshold_0.5": 0.,
                    "recall/positive_threshold_0.5": 0.,
                    "accuracy": 0.5, "precision": 0., "recall": 0.},
                   metrics, exact_keys=False)


def test_float_labels_eval():
    head = heads.BinaryClassHead()
    logits = np.array([[0.5], [-0.3]], dtype=np.float32)
    labels = np.array([[0.8], [0.4]], dtype=np.float32)
    features = {"x": np.array([[42]], dtype=np.float32)}
    # loss_sum = -0.8 * log(sigmoid(0.5)) - 0.2 * log(sigmoid(-0.5))
    #            -0.4 * log(sigmoid(-0.3)) - 0.6 * log(sigmoid(0.3)) = 1.2484322
    # loss = loss_sum / batch_size = 1.2484322 / 2 = 0.6242161
    metrics = evaluate(head, features, logits, labels)
    assert metrics["average_loss"].result() == pytest.approx(0.6242161, abs=1e-5)
    assert float(head.loss(labels, logits, features)) == pytest.approx(0.6242161, abs=1e-5)


def test_weighted_multi_example_eval():
    """3 examples, 1 batch."""
    head = heads.BinaryClassHead(weight_column="label_weights")
    logits = np.array(((45,), (-41,), (44,)), dtype=np.int32)
    labels = np.array(((1,), (1,), (0,)), dtype=np.int32)
    features = {
        "x": np.array(((42,), (43,), (44,)), dtype=np.int32),
        "label_weights": np.array(((1.,), (.1,), (1.5,)), dtype=np.float32),
    }
    # label_mean = (1*1 + .1*1 + 1.5*0)/(1 + .1 + 1.5) = 1.1/2.6 = .42307692307
    expected_label_mean = .42307692307
    expected = {
        # loss_mean = loss/sum(label_weights) = (1*0 + .1*41 + 1.5*44)/(1 + .1 + 1.5)
        #           = 70.1/2.6 = 26.9615384615
        "average_loss": 26.9615384615,
        # accuracy = (1*1 + .1*0 + 1.5*0)/(1 + .1 + 1.5) = 1/2.6 = .38461538461
        "accuracy": .38461538461,
        "precision": 1. / 2.5,
        "recall": 1. / 1.1,
        # prediction_mean = (1*1 + .1*0 + 1.5*1)/(1 + .1 + 1.5) = 2.5/2.6 = .96153846153
        "prediction/mean": .96153846153,
        "label/mean": expected_label_mean,
        "accuracy_baseline": 1 - expected_label_mean,
        # sigmoid(45) and sigmoid(44) are both 1.0 in float32: the positive
        # with weight 1 ties the negative (weight 1.5), the other positive
        # (weight .1) ranks below it:
        # auc = (1 * 1.5 * 0.5 + .1 * 1.5 * 0) / (1.1 * 1.5) = .454545
        "auc": .45454565,
        "auc_precision_recall": .4010627,
    }
    metrics = evaluate(head, features, logits, labels)
    assert_metrics(expected, metrics)
    # loss = (1*0 + .1*41 + 1.5*44) / batch_size = 70.1 / 3 = 23.36667
    assert float(head.loss(labels, logits, features=features, mode=heads.ModeKeys.EVAL)) \
        == pytest.approx(23.366666667)


def test_multi_dim_weighted_eval():
    """Logits and labels of shape [2, 2, 1], weights [2, 2]."""
    head = heads.BinaryClassHead(weight_column="weights")
    logits = np.array([[[10], [-10]], [[12], [-12]]], dtype=np.float32)
    labels = np.array([[[0], [0]], [[1], [1]]], dtype=np.float64)
    weights = np.array([[1., 1.5], [2., 2.5]], dtype=np.float32)
    # losses = cross_entropy(labels, logits) = [[10, 0], [0, 12]].
    # weighted_sum_loss = 1*10 + 1.5*0 + 2*0 + 2.5*12 = 40
    # loss = weighted_sum_loss / batch_size = 40 / (2*2) = 10.
    expected = {
        "average_loss": 40. / np.sum(weights),
        "accuracy": (1. * 0. + 1.5 * 1. + 2. * 1. + 2.5 * 0.) / np.sum(weights),
        "precision": 2.0 / 3.0,
        "recall": 2.0 / 4.5,
        "prediction/mean": (1. * 1 + 1.5 * 0 + 2. * 1 + 2.5 * 0) / np.sum(weights),
        "label/mean": (1. * 0 + 1.5 * 0 + 2. * 1 + 2.5 * 1) / np.sum(weights),
        "accuracy_baseline": (1. * 0 + 1.5 * 0 + 2. * 1 + 2.5 * 1) / np.sum(weights),
        # The estimator's 0.5222 / 0.6582 came from Keras' 200 thresholds,
        # which lump sigmoid(10) with sigmoid(12) and sigmoid(-10) with
        # sigmoid(-12); all four are distinct float32 values, so the exact
        # values differ by more than the test's 1e-2: computed independently.
        # Exact: positives (w 2, 2.5) at sigmoid(12), sigmoid(-12); negatives
        # (w 1, 1.5) at sigmoid(10), sigmoid(-10):
        # auc = (2*1 + 2*1.5 + 2.5*0 + 2.5*0) / (4.5 * 2.5) = 5 / 11.25 = 0.4444
        "auc": roc_auc(labels, sigmoid32(logits), weights[..., None]),
        "auc_precision_recall": pr_auc(labels, sigmoid32(logits), weights[..., None]),
    }
    assert expected["auc"] == pytest.approx(5 / 11.25)
    metrics = evaluate(head, {"weights": weights}, logits, labels)
    assert_metrics(expected, metrics, rtol=1e-2, atol=1e-2)
    assert float(head.loss(labels, logits, {"weights": weights}, mode=heads.ModeKeys.TRAIN)) \
        == pytest.approx(10., rel=1e-2, abs=1e-2)


def test_metrics_accumulate_over_batches():
    """Two batches into the same metric objects == one batch of both."""
    head = heads.BinaryClassHead(weight_column="w")
    logits = np.array([[1.], [-2.], [0.5], [3.]], np.float32)
    labels = np.array([[1], [0], [0], [1]])
    weights = np.array([[1.], [2.], [0.5], [1.5]], np.float32)
    one = evaluate(head, {"w": weights}, logits, labels)
    two = head.metrics()
    head.update_metrics(two, {"w": weights[:2]}, logits[:2], labels[:2])
    head.update_metrics(two, {"w": weights[2:]}, logits[2:], labels[2:])
    assert_metrics({k: np.asarray(m.result()) for k, m in one.items()}, two, rtol=1e-9, atol=1e-12)


# -- create_estimator_spec ------------------------------------------------------

def test_predict_spec():
    head = heads.BinaryClassHead()
    logits = [[0.3], [-0.4]]
    spec = head.create_estimator_spec(features={"x": np.array(((42,),), np.int32)},
                                      mode=heads.ModeKeys.PREDICT, logits=logits)
    assert spec.mode == heads.ModeKeys.PREDICT
    assert spec.loss is None
    assert not spec.eval_metric_ops
    assert spec.train_op is None
    assert set(spec.export_outputs) == {"serving_default", "classification", "regression",
                                        "predict"}
    np.testing.assert_allclose(spec.predictions["logistic"], [[0.574443], [0.401312]], rtol=1e-5)
    np.testing.assert_array_equal(spec.predictions["classes"], [[b"1"], [b"0"]])
    # binary_class_head: RegressionOutput(value=logistic) under 'regression'.
    np.testing.assert_allclose(spec.export_outputs["regression"].value, [[0.574443], [0.401312]],
                               rtol=1e-5)


def test_eval_spec():
    head = heads.BinaryClassHead()
    spec = head.create_estimator_spec(features=FEATURES, mode=heads.ModeKeys.EVAL,
                                      logits=LOGITS, labels=LABELS,
                                      regularization_losses=[1.5, 0.5])
    assert spec.mode == heads.ModeKeys.EVAL
    # regularized loss = 20.5 + 2 = 22.5
    assert float(spec.loss) == pytest.approx(22.5)
    assert spec.train_op is None
    assert spec.export_outputs is None
    assert_metrics(dict(EXPECTED_METRICS, regularization_loss=2.), spec.eval_metric_ops)


def test_train_spec():
    head = heads.BinaryClassHead()
    seen = []

    def _train_op_fn(loss):
        seen.append(float(loss))
        return "my_train_op"

    spec = head.create_estimator_spec(
        features=FEATURES, mode=heads.ModeKeys.TRAIN, logits=LOGITS,
        labels=LABELS.astype(np.float64), train_op_fn=_train_op_fn,
        trainable_variables=[tf.Variable([1.0, 2.0], dtype=tf.float32)],
        regularization_losses=[1.5, 0.5])
    assert spec.mode == heads.ModeKeys.TRAIN
    # loss = 20.5 + (1.5 + 0.5) = 22.5, handed to train_op_fn
    assert seen == [pytest.approx(22.5)]
    assert float(spec.loss) == pytest.approx(22.5)
    assert spec.train_op == "my_train_op"
    assert not spec.eval_metric_ops
    assert spec.export_outputs is None


def test_train_spec_one_dim():
    """1D labels and weights (shape [batch_size])."""
    head = heads.BinaryClassHead(weight_column="label_weights")
    features = {"x": np.array(((42.,), (43.,), (44.,)), np.float32),
                "label_weights": np.array((1., .1, 1.5), np.float64)}
    spec = head.create_estimator_spec(
        features=features, mode=heads.ModeKeys.TRAIN,
        logits=np.array(((45,), (-41,), (44,)), np.float32), labels=np.array((1., 1., 0.)),
        train_op_fn=lambda loss: loss * 2,
        trainable_variables=[tf.Variable([1.0, 2.0], dtype=tf.float32)])
    # loss = (1*0 + .1*41 + 1.5*44) / 3 = 23.366666667
    assert float(spec.loss) == pytest.approx(23.366666667)
    assert float(spec.train_op) == pytest.approx(2 * 23.366666667)


def test_train_spec_with_train_op_fn_needs_no_trainable_variables():
    """base_head.create_estimator_spec_train_op validates trainable_variables
    only when an optimizer is given; train_op_fn alone is enough."""
    spec = heads.BinaryClassHead().create_estimator_spec(
        features=FEATURES, mode=heads.ModeKeys.TRAIN, logits=LOGITS,
        labels=LABELS.astype(np.float64), train_op_fn=lambda loss: loss + 1.)
    # loss = 20.5; train_op = 21.5
    assert float(spec.train_op) == pytest.approx(21.5)
