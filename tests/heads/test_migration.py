"""The TF 1.x head factories (heads/migration.py): each gives the head it maps
onto, checked by running both on the same batch and comparing every metric
key and value; the tf.contrib.learn names land where they should; what our
heads cannot honour is refused in one line."""
import pickle

import numpy as np
import pytest
import tensorflow as tf

import heads
from tests.heads.heads_oracle import evaluate, results

RNG = np.random.default_rng(21)
N = 64


def _batch(logits_dim):
    logits = RNG.normal(0, 2, (N, logits_dim)).astype(np.float32)
    weights = RNG.uniform(0.1, 3.0, (N, 1)).astype(np.float32)
    return logits, {"w": weights}


def _assert_same_metrics(got_head, want_head, features, logits, labels):
    """Both heads' metrics on one batch: the same keys, the same values
    (bit for bit: the same computation), and the same training loss."""
    got = results(evaluate(got_head, features, logits, labels))
    want = results(evaluate(want_head, features, logits, labels))
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    np.testing.assert_array_equal(got_head.loss(labels, logits, features),
                                  want_head.loss(labels, logits, features))
    return got


def _one_line(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


# -- tf.contrib.estimator forms -------------------------------------------------------
def test_binary_classification_head():
    logits, features = _batch(1)
    labels = RNG.integers(0, 2, (N, 1))
    got = heads.binary_classification_head(weight_column="w", thresholds=[0.3, 0.7],
                                           loss_reduction="weighted_sum", name="click")
    want = heads.BinaryClassHead(weight_column="w", thresholds=(0.3, 0.7),
                                 loss_reduction="sum", name="click")
    assert type(got) is heads.BinaryClassHead and got.loss_reduction == "sum"
    metrics = _assert_same_metrics(got, want, features, logits, labels)
    assert "precision/positive_threshold_0.3/click" in metrics


def test_binary_classification_head_positional_and_string_labels():
    logits, _ = _batch(1)
    labels = np.where(RNG.integers(0, 2, (N, 1)) == 1, b"yes", b"no")
    got = heads.binary_classification_head(None, [0.5], ["no", "yes"])
    want = heads.BinaryClassHead(thresholds=(0.5,), label_vocabulary=["no", "yes"])
    _assert_same_metrics(got, want, None, logits, labels)


def test_multi_class_head():
    logits, features = _batch(4)
    vocab = ["a", "b", "c", "d"]
    labels = np.array(vocab)[RNG.integers(0, 4, N)][:, None]
    got = heads.multi_class_head(4, weight_column="w", label_vocabulary=vocab,
                                 loss_reduction=tf.compat.v1.losses.Reduction.SUM_OVER_BATCH_SIZE,
                                 name="letter")
    want = heads.MultiClassHead(4, weight_column="w", label_vocabulary=vocab, name="letter")
    assert type(got) is heads.MultiClassHead
    _assert_same_metrics(got, want, features, logits, labels)


def test_multi_label_head():
    logits, features = _batch(3)
    labels = RNG.integers(0, 2, (N, 3))
    got = heads.multi_label_head(3, weight_column="w", thresholds=[0.4],
                                 label_vocabulary=["x", "y", "z"],
                                 loss_reduction=tf.compat.v1.losses.Reduction.SUM,
                                 classes_for_class_based_metrics=["x", "z"], name="tags")
    want = heads.MultiLabelHead(3, weight_column="w", thresholds=(0.4,),
                                label_vocabulary=["x", "y", "z"], loss_reduction="sum",
                                classes_for_class_based_metrics=["x", "z"], name="tags")
    metrics = _assert_same_metrics(got, want, features, logits, labels)
    assert "auc/x/tags" in metrics and "auc/y/tags" not in metrics


def test_regression_head():
    logits, features = _batch(2)
    labels = RNG.normal(0, 1, (N, 2)).astype(np.float32)
    got = heads.regression_head(weight_column="w", label_dimension=2,
                                loss_reduction="sum", inverse_link_fn=tf.exp, name="y")
    want = heads.RegressionHead(2, weight_column="w", loss_reduction="sum",
                                inverse_link_fn=tf.exp, name="y")
    _assert_same_metrics(got, want, features, logits, labels)


def test_weight_column_as_numeric_column():
    logits, features = _batch(1)
    labels = RNG.integers(0, 2, (N, 1))
    got = heads.binary_classification_head(weight_column=tf.feature_column.numeric_column("w"))
    assert got.weight_column == "w"
    _assert_same_metrics(got, heads.BinaryClassHead(weight_column="w"), features, logits, labels)
    with pytest.raises(ValueError, match="normalizer_fn") as e:
        heads.binary_classification_head(
            weight_column=tf.feature_column.numeric_column("w", normalizer_fn=lambda x: x / 2))
    _one_line(e)


def _two_heads():
    return [heads.BinaryClassHead(weight_column="w", name="click"),
            heads.MultiLabelHead(3, thresholds=(0.5,), name="tags")]


@pytest.mark.parametrize("weights", [{"head_weights": [1.0, 3.0]}, {"loss_weights": [1.0, 3.0]}])
def test_multi_head(weights):
    """tf.contrib.estimator's head_weights and tf.contrib.learn's loss_weights."""
    l1, features = _batch(1)
    l3, _ = _batch(3)
    logits = {"click": l1, "tags": l3}
    labels = {"click": RNG.integers(0, 2, (N, 1)), "tags": RNG.integers(0, 2, (N, 3))}
    got = heads.multi_head(_two_heads(), **weights)
    want = heads.MultiHead(_two_heads(), head_weights=[1.0, 3.0])
    assert got.head_weights == (1.0, 3.0)
    _assert_same_metrics(got, want, features, logits, labels)


def test_multi_head_factory_shadows_module_but_classes_still_import():
    from heads.multi_head import MultiHead
    assert heads.multi_head is heads.migration.multi_head and MultiHead is heads.MultiHead
    head = heads.multi_head(_two_heads())
    assert type(pickle.loads(pickle.dumps(head))) is heads.MultiHead


# -- tf.contrib.learn forms ------------------------------------------------------------
def test_learn_multi_label_head_names_land():
    """metric_class_ids -> class-based metrics, weight_column_name -> weights,
    head_name -> the key suffix; thresholds=None -> [0.5] (its default)."""
    logits, features = _batch(3)
    labels = RNG.integers(0, 2, (N, 3))
    got = heads.multi_label_head(n_classes=3, label_name=None, weight_column_name="w",
                                 enable_centered_bias=False, head_name="tags", thresholds=None,
                                 metric_class_ids=[0, 2], loss_fn=None)
    want = heads.MultiLabelHead(3, weight_column="w", thresholds=(0.5,),
                                classes_for_class_based_metrics=[0, 2], name="tags")
    metrics = _assert_same_metrics(got, want, features, logits, labels)
    assert all(k.endswith("/tags") for k in metrics)
    assert {"auc/class0/tags", "auc/class2/tags", "auc_precision_recall/class2/tags",
            "precision/positive_threshold_0.5/tags"} <= set(metrics)
    assert "auc/class1/tags" not in metrics
    # The weights are used: average_loss is the weighted mean of the
    # per-example loss (numpy oracle: sigmoid cross-entropy averaged over classes).
    z, y, w = logits.astype(np.float64), labels, features["w"][:, 0].astype(np.float64)
    per_example = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), axis=1)
    np.testing.assert_allclose(metrics["average_loss/tags"], np.sum(w * per_example) / np.sum(w),
                               rtol=1e-6)


def test_learn_multi_label_head_loss_fn_in_our_convention():
    def loss_fn(labels, logits):
        return tf.reduce_mean(tf.abs(tf.cast(labels, tf.float32) - tf.sigmoid(logits)), -1,
                              keepdims=True)
    logits, features = _batch(2)
    labels = RNG.integers(0, 2, (N, 2))
    got = heads.multi_label_head(2, head_name="t", thresholds=[0.2], loss_fn=loss_fn)
    want = heads.MultiLabelHead(2, thresholds=(0.2,), loss_fn=loss_fn, name="t")
    _assert_same_metrics(got, want, features, logits, labels)


def test_learn_multi_class_head_two_classes_is_binary():
    logits, features = _batch(1)
    labels = RNG.integers(0, 2, (N, 1))
    got = heads.multi_class_head(2, weight_column_name="w", head_name="b")
    want = heads.BinaryClassHead(weight_column="w", thresholds=(0.5,), name="b")
    assert type(got) is heads.BinaryClassHead
    _assert_same_metrics(got, want, features, logits, labels)


def test_learn_multi_class_head_label_keys():
    logits, features = _batch(3)
    labels = np.array(["r", "g", "b"])[RNG.integers(0, 3, N)][:, None]
    got = heads.multi_class_head(3, weight_column_name="w", head_name="c", label_keys=["r", "g", "b"])
    want = heads.MultiClassHead(3, weight_column="w", label_vocabulary=["r", "g", "b"], name="c")
    _assert_same_metrics(got, want, features, logits, labels)


def test_learn_regression_head():
    logits, features = _batch(1)
    labels = RNG.normal(0, 1, (N, 1)).astype(np.float32)
    got = heads.regression_head(label_name=None, weight_column_name="w", label_dimension=1,
                                head_name="r", link_fn=tf.exp)
    want = heads.RegressionHead(1, weight_column="w", inverse_link_fn=tf.exp, name="r")
    _assert_same_metrics(got, want, features, logits, labels)


# -- refusals -------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [
    lambda: heads.multi_label_head(3, enable_centered_bias=True),
    lambda: heads.multi_class_head(3, enable_centered_bias=True),
    lambda: heads.regression_head(enable_centered_bias=True),
])
def test_enable_centered_bias_refused(factory):
    with pytest.raises(ValueError, match="enable_centered_bias=True trains a bias variable, "
                                         "and evaluation trains nothing") as e:
        factory()
    _one_line(e)


@pytest.mark.parametrize("factory, match", [
    (lambda: heads.multi_label_head(3, label_name="tags"), "label_name 'tags' picks a label"),
    (lambda: heads.multi_label_head(3, "w"), "by keyword"),
    (lambda: heads.regression_head("w"), "by keyword"),
    (lambda: heads.multi_label_head(3, weight_column="w", head_name="t"),
     r"mixes tf.contrib.estimator argument\(s\) \['weight_column'\] with tf.contrib.learn"),
    (lambda: heads.multi_label_head(3, foo=1), r"unexpected argument\(s\) \['foo'\]"),
    (lambda: heads.multi_class_head(3, thresholds=[0.5], head_name="c"),
     "thresholds .* no meaning for n_classes=3"),
    (lambda: heads.multi_class_head(3, metric_class_ids=[0]), "metric_class_ids has no counterpart"),
    (lambda: heads.multi_class_head(2, label_keys=["a", "b"]), "label_keys is not supported"),
    (lambda: heads.multi_label_head(3, head_name="t", loss_fn=lambda labels, logits, weights=None: 0),
     "returns the reduced loss"),
    (lambda: heads.multi_head(_two_heads(), head_weights=[1, 2], loss_weights=[1, 2]), "not both"),
    (lambda: heads.binary_classification_head(loss_reduction="none"), "'none' has no counterpart"),
    (lambda: heads.multi_class_head(3, loss_reduction="weighted_mean"), "sum of the weights"),
    (lambda: heads.multi_label_head(
        3, loss_reduction=tf.compat.v1.losses.Reduction.SUM_BY_NONZERO_WEIGHTS), "non-zero"),
    (lambda: heads.regression_head(loss_reduction="auto"), "'auto' has no counterpart"),
    (lambda: heads.regression_head(loss_reduction=3), "must be a tf.losses.Reduction"),
    (lambda: heads.binary_classification_head(weight_column=3), "weight_column must be"),
])
def test_refused_in_one_line(factory, match):
    with pytest.raises(ValueError, match=match) as e:
        factory()
    _one_line(e)


def test_learn_loss_fn_returning_a_scalar_fails_with_a_message():
    """A tf.contrib.learn loss_fn(labels, logits) returned one reduced number:
    our head checks the shape it returns rather than averaging it wrongly."""
    logits, _ = _batch(2)
    head = heads.multi_label_head(2, head_name="t", loss_fn=lambda labels, logits: tf.reduce_mean(
        tf.cast(labels, tf.float32) - logits))
    with pytest.raises(ValueError, match=r"loss_fn must return Tensor of shape"):
        head.loss(RNG.integers(0, 2, (N, 2)), logits)
