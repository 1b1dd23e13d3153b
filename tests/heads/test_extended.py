"""extended_metrics=True: headeval's metrics beyond the estimator's, checked
against scikit-learn.

The key names of extended metrics are not fixed yet: every one is built from
KEYS below, the only place to change when they are. All tests carry the
`extended` marker (deselect with -m 'not extended').
"""
import numpy as np
import pytest
from sklearn.metrics import (confusion_matrix, mean_absolute_error, precision_recall_fscore_support,
                             r2_score, roc_auc_score, root_mean_squared_error,
                             top_k_accuracy_score)

import heads
from tests.heads.heads_oracle import pr_auc, result_value, sigmoid32

pytestmark = pytest.mark.extended

KEYS = {
    # {cls} is CLASS_ID % id, or the vocabulary word when there is a vocabulary.
    # MultiClassHead, one-vs-rest per class.
    "precision": "precision/{cls}",
    "recall": "recall/{cls}",
    "f1": "f1/{cls}",
    "auc": "auc/{cls}",
    "auc_pr": "auc_precision_recall/{cls}",
    "top_k": "accuracy/top_{k}",
    "confusion_matrix": "confusion_matrix",  # [label, predicted] weighted counts
    # MultiLabelHead, per class c and threshold t.
    "precision_at": "precision/positive_threshold_{t:g}/{cls}",
    "recall_at": "recall/positive_threshold_{t:g}/{cls}",
    "f1_at": "f1/positive_threshold_{t:g}/{cls}",
    # MultiLabelHead's class-based metrics, for every class.
    "probability_mean": "probability_mean/{cls}",
    # RegressionHead (averaged over label dimensions, sklearn's 'uniform_average').
    "mae": "mean_absolute_error",
    "rmse": "root_mean_squared_error",
    "r2": "r_squared",
    # Every head.
    "example_count": "example_count",
    "weighted_example_count": "weighted_example_count",
}

CLASS_ID = "class%d"

N = 400


def key(name, c=None, **kw):
    if c is not None:
        kw["cls"] = CLASS_ID % c if isinstance(c, (int, np.integer)) else c
    return KEYS[name].format(**kw)


def softmax32(logits):
    """float32 softmax probabilities (float64 softmax rounded to float32)."""
    z = np.asarray(logits, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def _value(metrics, name, **kw):
    k = key(name, **kw)
    assert k in metrics, "no %r among %s" % (k, sorted(metrics))
    return result_value(metrics[k])


@pytest.fixture(scope="module")
def multi_class():
    n_classes = 4
    rng = np.random.default_rng(11)
    y = rng.integers(0, n_classes, N)
    logits = (rng.normal(size=(N, n_classes)) + 1.2 * np.eye(n_classes)[y]).astype(np.float32)
    w = rng.uniform(0.1, 2.0, N).astype(np.float32)  # heads weigh in float32
    head = heads.MultiClassHead(n_classes, weight_column="w", extended_metrics=True)
    metrics = head.update_metrics(head.metrics(), {"w": w[:, None]}, logits, y[:, None])
    return n_classes, y, logits, w, metrics


def test_multi_class_keeps_the_estimator_keys(multi_class):
    _, _, _, _, metrics = multi_class
    assert {"average_loss", "accuracy"} <= set(metrics)


def test_multi_class_precision_recall_f1_per_class(multi_class):
    n_classes, y, logits, w, metrics = multi_class
    pred = logits.argmax(-1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, pred, labels=range(n_classes), sample_weight=w, zero_division=0)
    for c in range(n_classes):
        assert _value(metrics, "precision", c=c) == pytest.approx(precision[c], rel=1e-9)
        assert _value(metrics, "recall", c=c) == pytest.approx(recall[c], rel=1e-9)
        assert _value(metrics, "f1", c=c) == pytest.approx(f1[c], rel=1e-9)


def test_multi_class_one_vs_rest_auc(multi_class):
    n_classes, y, logits, w, metrics = multi_class
    p = softmax32(logits)
    for c in range(n_classes):
        expected = roc_auc_score(y == c, p[:, c], sample_weight=w)
        assert _value(metrics, "auc", c=c) == pytest.approx(expected, abs=1e-9)
        assert _value(metrics, "auc_pr", c=c) == pytest.approx(pr_auc(y == c, p[:, c], w),
                                                               abs=1e-9)


def test_multi_class_top_k_accuracy(multi_class):
    n_classes, y, logits, w, metrics = multi_class
    expected = top_k_accuracy_score(y, logits, k=2, labels=range(n_classes), sample_weight=w)
    assert _value(metrics, "top_k", k=2) == pytest.approx(expected, rel=1e-9)


def test_multi_class_confusion_matrix(multi_class):
    n_classes, y, logits, w, metrics = multi_class
    expected = confusion_matrix(y, logits.argmax(-1), labels=range(n_classes), sample_weight=w)
    np.testing.assert_allclose(_value(metrics, "confusion_matrix"), expected, rtol=1e-9)


def test_multi_class_vocabulary_names_the_classes():
    head = heads.MultiClassHead(3, label_vocabulary=["a", "b", "c"], extended_metrics=True)
    metrics = head.update_metrics(head.metrics(), {}, np.eye(3, dtype=np.float32),
                                  [[b"a"], [b"b"], [b"a"]])
    # Class "c" was never predicted nor a label: precision 0/0 -> 0.
    assert _value(metrics, "precision", c="c") == 0.
    # Class "a": predicted once (right), label twice.
    assert _value(metrics, "recall", c="a") == pytest.approx(0.5)


def test_multi_label_per_class_metrics_at_thresholds():
    n_classes, thresholds = 3, [0.3, 0.5]
    rng = np.random.default_rng(12)
    y = (rng.random((N, n_classes)) < 0.3).astype(np.int64)
    logits = (rng.normal(size=(N, n_classes)) + y).astype(np.float32)
    w = rng.uniform(0.1, 2.0, N).astype(np.float32)  # heads weigh in float32
    head = heads.MultiLabelHead(n_classes, weight_column="w", thresholds=thresholds,
                                extended_metrics=True)
    metrics = head.update_metrics(head.metrics(), {"w": w[:, None]}, logits, y)
    p = sigmoid32(logits)
    for t in thresholds:
        for c in range(n_classes):
            precision, recall, f1, _ = precision_recall_fscore_support(
                y[:, c], p[:, c] > t, average="binary", sample_weight=w, zero_division=0)
            assert _value(metrics, "precision_at", c=c, t=t) == pytest.approx(precision, rel=1e-9)
            assert _value(metrics, "recall_at", c=c, t=t) == pytest.approx(recall, rel=1e-9)
            assert _value(metrics, "f1_at", c=c, t=t) == pytest.approx(f1, rel=1e-9)


def test_multi_label_class_based_metrics_for_every_class():
    """Extended: the class-based metrics (probability mean, AUC, AUC-PR) for
    all classes, not only classes_for_class_based_metrics."""
    n_classes = 3
    rng = np.random.default_rng(13)
    y = (rng.random((N, n_classes)) < 0.3).astype(np.int64)
    logits = (rng.normal(size=(N, n_classes)) + y).astype(np.float32)
    w = rng.uniform(0.1, 2.0, N).astype(np.float32)  # heads weigh in float32
    head = heads.MultiLabelHead(n_classes, weight_column="w", extended_metrics=True)
    metrics = head.update_metrics(head.metrics(), {"w": w[:, None]}, logits, y)
    p = sigmoid32(logits)
    for c in range(n_classes):
        assert _value(metrics, "probability_mean", c=c) == pytest.approx(
            np.average(p[:, c], weights=w), rel=1e-6)
        assert _value(metrics, "auc", c=c) == pytest.approx(
            roc_auc_score(y[:, c], p[:, c], sample_weight=w), abs=1e-9)
        assert _value(metrics, "auc_pr", c=c) == pytest.approx(pr_auc(y[:, c], p[:, c], w),
                                                               abs=1e-9)


@pytest.mark.parametrize("label_dimension", [1, 2])
def test_regression_errors(label_dimension):
    rng = np.random.default_rng(14)
    y = rng.normal(size=(N, label_dimension))
    logits = (y + rng.normal(scale=0.5, size=y.shape)).astype(np.float32)
    y = y.astype(np.float32)
    w = rng.uniform(0.1, 2.0, N).astype(np.float32)  # heads weigh in float32
    head = heads.RegressionHead(label_dimension=label_dimension, weight_column="w",
                                extended_metrics=True)
    metrics = head.update_metrics(head.metrics(), {"w": w[:, None]}, logits, y)
    y64, p64 = y.astype(np.float64), logits.astype(np.float64)
    assert _value(metrics, "mae") == pytest.approx(
        mean_absolute_error(y64, p64, sample_weight=w), rel=1e-9)
    assert _value(metrics, "rmse") == pytest.approx(
        root_mean_squared_error(y64, p64, sample_weight=w), rel=1e-9)
    assert _value(metrics, "r2") == pytest.approx(r2_score(y64, p64, sample_weight=w), rel=1e-9)
    # The estimator's key is still there and unchanged: mean squared error
    # averaged over label dimensions, weighted by example.
    assert metrics["average_loss"].result() == pytest.approx(
        np.average(((y64 - p64) ** 2).mean(-1), weights=w), rel=1e-6)


@pytest.mark.parametrize("make_head, logits, labels", [
    (lambda: heads.BinaryClassHead(weight_column="w", extended_metrics=True),
     np.array([[1.], [-1.], [0.5]], np.float32), np.array([[1], [0], [0]])),
    (lambda: heads.MultiClassHead(3, weight_column="w", extended_metrics=True),
     np.eye(3, dtype=np.float32), np.array([[0], [2], [1]])),
    (lambda: heads.MultiLabelHead(2, weight_column="w", extended_metrics=True),
     np.zeros((3, 2), np.float32), np.array([[0, 1], [1, 1], [0, 0]])),
    (lambda: heads.RegressionHead(weight_column="w", extended_metrics=True),
     np.zeros((3, 1), np.float32), np.ones((3, 1), np.float32)),
], ids=["binary", "multi_class", "multi_label", "regression"])
def test_example_counts(make_head, logits, labels):
    head = make_head()
    w = np.array([[0.5], [2.], [1.25]])
    metrics = head.metrics()
    head.update_metrics(metrics, {"w": w}, logits, labels)
    head.update_metrics(metrics, {"w": w[:1]}, logits[:1], labels[:1])
    assert _value(metrics, "example_count") == 4
    assert _value(metrics, "weighted_example_count") == pytest.approx(0.5 + 2. + 1.25 + 0.5)
