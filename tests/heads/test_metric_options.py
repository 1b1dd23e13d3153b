"""Metric options (heads.MetricOptions) against scikit-learn and numpy on
the same arrays: averages over classes, top-k, multi-class thresholds and
calibration, derived rates, curve operating points."""
import pickle

import numpy as np
import pytest
from sklearn.metrics import (accuracy_score, confusion_matrix, precision_recall_curve,
                             precision_recall_fscore_support, precision_score, recall_score,
                             roc_auc_score, top_k_accuracy_score)

import heads
from heads import states
from heads.metrics import merge_metric_dicts
from tests.heads.heads_oracle import pr_auc, sigmoid32

N = 400
AVERAGES = ("micro", "macro", "weighted")
TARGETS = dict(precision_at_recall=(0.5, 0.9), recall_at_precision=(0.6, 0.99),
               threshold_at_recall=(0.3, 0.8))


def softmax(logits):
    z = np.asarray(logits, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def value(metrics, key):
    """(value, defined) of the one row of `metrics[key]`."""
    assert key in metrics, "no %r among %s" % (key, sorted(metrics))
    row, = metrics[key].rows()
    return row.value, row.defined


def check(metrics, key, expected, rel=1e-9):
    got, defined = value(metrics, key)
    assert defined, key
    assert got == pytest.approx(expected, rel=rel, abs=1e-12), key


# -- multi-class --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def multi_class():
    n_classes = 5
    rng = np.random.default_rng(21)
    y = rng.integers(0, n_classes, N)
    logits = (rng.normal(size=(N, n_classes)) + 1.5 * np.eye(n_classes)[y]).astype(np.float32)
    w = rng.uniform(0.1, 2.0, N).astype(np.float32)
    options = heads.MetricOptions(average=AVERAGES, top_k=(1, 3), thresholds=(0.4, 0.7),
                                  calibration=True)
    head = heads.MultiClassHead(n_classes, weight_column="w", extended_metrics=True,
                                metric_options=options)
    metrics = head.update_metrics(head.metrics(), {"w": w[:, None]}, logits, y[:, None])
    return n_classes, y, logits, w.astype(np.float64), metrics


@pytest.mark.parametrize("average", AVERAGES)
def test_multi_class_precision_recall_f1_averages(multi_class, average):
    n_classes, y, logits, w, metrics = multi_class
    expected = precision_recall_fscore_support(y, logits.argmax(-1), labels=range(n_classes),
                                               average=average, sample_weight=w,
                                               zero_division=np.nan)
    for name, e in zip(("precision", "recall", "f1"), expected):
        check(metrics, "%s/%s" % (name, average), e)
        assert metrics["%s/%s" % (name, average)].rows()[0].average == average


@pytest.mark.parametrize("average", AVERAGES)
def test_multi_class_auc_averages(multi_class, average):
    n_classes, y, logits, w, metrics = multi_class
    p = softmax(logits).astype(np.float32)  # the float32 probabilities the head scores
    onehot = np.eye(n_classes)[y]
    check(metrics, "auc/%s" % average, roc_auc_score(onehot, p, average=average, sample_weight=w))
    if average != "micro":
        check(metrics, "auc/%s" % average, roc_auc_score(
            y, p.astype(np.float64) / p.sum(-1, keepdims=True), multi_class="ovr",
            average=average, sample_weight=w))
        per_class = [pr_auc(onehot[:, c], p[:, c], w) for c in range(n_classes)]
        support = [w[y == c].sum() for c in range(n_classes)]
        expected = np.average(per_class, weights=None if average == "macro" else support)
    else:  # pooled (example, class) pairs
        expected = pr_auc(onehot.ravel(), p.ravel(), np.repeat(w, n_classes))
    check(metrics, "auc_precision_recall/%s" % average, expected, rel=1e-7)


@pytest.mark.parametrize("k", [1, 3])
def test_multi_class_top_k(multi_class, k):
    """accuracy@k as scikit-learn; precision and recall @k as Keras' top_k:
    the k highest classes of each example predicted positive, every (example,
    class) pair counted."""
    n_classes, y, logits, w, metrics = multi_class
    check(metrics, "accuracy/top_%d" % k,
          top_k_accuracy_score(y, logits, k=k, labels=range(n_classes), sample_weight=w))
    top = np.zeros(logits.shape, bool)
    np.put_along_axis(top, np.argsort(-logits, axis=1)[:, :k], True, axis=1)
    truth, pairs_w = np.eye(n_classes)[y].ravel(), np.repeat(w, n_classes)
    check(metrics, "precision/top_%d" % k, precision_score(truth, top.ravel(), sample_weight=pairs_w))
    check(metrics, "recall/top_%d" % k, recall_score(truth, top.ravel(), sample_weight=pairs_w))
    for key in ("accuracy/top_%d" % k, "precision/top_%d" % k):
        assert metrics[key].rows()[0].k == k
    assert "accuracy/top_2" not in metrics  # top_k replaces the estimator's 2 and 5


@pytest.mark.parametrize("t", [0.4, 0.7])
def test_multi_class_thresholds_on_the_top_probability(multi_class, t):
    n_classes, y, logits, w, metrics = multi_class
    top = softmax(logits).max(-1)
    covered, pred = top > t, logits.argmax(-1)
    assert 0 < covered.sum() < N
    check(metrics, "coverage/positive_threshold_%g" % t, w[covered].sum() / w.sum())
    check(metrics, "precision/positive_threshold_%g" % t,
          accuracy_score(y[covered], pred[covered], sample_weight=w[covered]))
    check(metrics, "recall/positive_threshold_%g" % t,
          w[covered & (pred == y)].sum() / w.sum())
    assert metrics["precision/positive_threshold_%g" % t].rows()[0].threshold == t


def test_multi_class_calibration_and_ece(multi_class):
    n_classes, y, logits, w, metrics = multi_class
    top = softmax(logits).max(-1)
    correct = (logits.argmax(-1) == y).astype(np.float64)
    bucket = np.minimum((top * 20).astype(int), 19)
    ece = sum(abs(np.sum(w[bucket == b] * (correct[bucket == b] - top[bucket == b])))
              for b in range(20)) / w.sum()
    rows = {r.key: r for r in metrics["calibration"].rows()}
    assert rows["expected_calibration_error"].value == pytest.approx(ece, rel=1e-9)
    b = int(np.bincount(bucket, w).argmax())
    assert rows["calibration/label_mean/bucket_%g" % (b / 20)].value == pytest.approx(
        np.average(correct[bucket == b], weights=w[bucket == b]), rel=1e-9)


def test_ece_by_hand():
    """Two examples, three classes: confidences 0.6 (right) and 0.9 (wrong):
    ECE = (|1 - 0.6| + |0 - 0.9|) / 2 = 0.65."""
    logits = np.log(np.array([[0.6, 0.3, 0.1], [0.05, 0.05, 0.9]], np.float64)).astype(np.float32)
    head = heads.MultiClassHead(3, extended_metrics=True,
                                metric_options=heads.MetricOptions(calibration=True))
    metrics = head.update_metrics(head.metrics(), {}, logits, [[0], [1]])
    ece = metrics["calibration"].expected_calibration_error()
    assert ece[0] == pytest.approx(0.65, rel=1e-6) and ece[1]


def test_multi_class_defaults_are_unchanged_and_options_only_add(multi_class):
    n_classes, y, logits, w, with_options = multi_class
    head = heads.MultiClassHead(n_classes, weight_column="w", extended_metrics=True)
    plain = head.update_metrics(head.metrics(), {"w": w[:, None].astype(np.float32)}, logits,
                                y[:, None])
    assert "accuracy/top_2" in plain and "calibration" not in plain
    assert not [k for k in plain if "/macro" in k or "/micro" in k]
    for key in set(plain) & set(with_options):
        np.testing.assert_allclose(plain[key].result(), with_options[key].result(), rtol=1e-12)
    assert plain["accuracy/top_2"].rows()[0].k == 2


def test_undefined_classes_are_left_out_of_macro_and_weighted():
    """Class 2 is never predicted (precision 0/0) and class 1 never
    predicted nor a label: scikit-learn's zero_division=np.nan leaves them
    out of the average; nothing defined -> undefined."""
    y, pred = np.array([0, 0, 2, 0]), np.array([0, 0, 0, 3])
    head = heads.MultiClassHead(4, extended_metrics=True,
                                metric_options=heads.MetricOptions(average=AVERAGES))
    metrics = head.update_metrics(head.metrics(), {}, np.eye(4, dtype=np.float32)[pred],
                                  y[:, None])
    for average in AVERAGES:
        expected = precision_recall_fscore_support(y, pred, labels=range(4), average=average,
                                                   zero_division=np.nan)
        for name, e in zip(("precision", "recall", "f1"), expected):
            check(metrics, "%s/%s" % (name, average), e)
    empty = head.metrics()
    assert value(empty, "precision/macro") == (0.0, False)
    assert value(empty, "auc/weighted") == (0.0, False)


# -- binary -----------------------------------------------------------------------------------

def _confusion_oracle(y, predicted, w):
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1], sample_weight=w).ravel()
    return {"false_positive_rate": fp / (fp + tn), "false_negative_rate": fn / (fn + tp),
            "specificity": tn / (tn + fp), "negative_predictive_value": tn / (tn + fn),
            "f1": 2 * tp / (2 * tp + fp + fn)}


def _operating_points_oracle(y, scores, w):
    """{key: value} from scikit-learn's precision-recall curve (a point per
    distinct score, predicting positive the scores >= it)."""
    precision, recall, thresholds = precision_recall_curve(y, scores, sample_weight=w)
    precision, recall = precision[:-1], recall[:-1]  # drop the (recall 0, precision 1) end
    out = {}
    for r in TARGETS["precision_at_recall"]:
        out["precision_at_recall/recall_%g" % r] = precision[recall >= r].max()
    for p in TARGETS["recall_at_precision"]:
        ok = precision >= p
        out["recall_at_precision/precision_%g" % p] = recall[ok].max() if ok.any() else None
    for r in TARGETS["threshold_at_recall"]:
        out["threshold_at_recall/recall_%g" % r] = thresholds[recall >= r].max()
    return out


def _check_points(metrics, expected, suffix=""):
    for key, e in expected.items():
        if e is None:  # no operating point reaches the target
            assert value(metrics, key + suffix) == (0.0, False)
        else:
            check(metrics, key + suffix, e)


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(22)
    y = (rng.random(N) < 0.35).astype(np.int64)
    logits = (rng.normal(size=N) + 1.2 * y).astype(np.float32)
    w = rng.uniform(0.1, 2.0, N).astype(np.float32)
    options = heads.MetricOptions(derived_rates=True, **TARGETS)
    head = heads.BinaryClassHead(weight_column="w", thresholds=[0.3, 0.7], extended_metrics=True,
                                 metric_options=options)
    metrics = head.update_metrics(head.metrics(), {"w": w[:, None]}, logits[:, None], y[:, None])
    return y, sigmoid32(logits), w.astype(np.float64), metrics


@pytest.mark.parametrize("t", [None, 0.3, 0.7])
def test_binary_derived_rates(binary, t):
    y, p, w, metrics = binary
    predicted = p > (0.5 if t is None else t)
    for name, e in _confusion_oracle(y, predicted, w).items():
        check(metrics, name if t is None else "%s/positive_threshold_%g" % (name, t), e)


def test_binary_operating_points(binary):
    y, p, w, metrics = binary
    _check_points(metrics, _operating_points_oracle(y, p, w))


def test_precision_at_recall_as_keras_documents():
    """tf.keras.metrics.PrecisionAtRecall(0.5)'s documented example: 0.5,
    and 1/3 with weights [2, 2, 2, 1, 1]."""
    head = heads.BinaryClassHead(weight_column="w", extended_metrics=True,
                                 metric_options=heads.MetricOptions(precision_at_recall=[0.5]))
    p = np.array([0.0, 0.3, 0.8, 0.3, 0.8])
    logits = np.log(np.maximum(p, 1e-30) / (1 - p)).astype(np.float32)[:, None]
    for weights, expected in ((np.ones(5), 0.5), (np.array([2., 2, 2, 1, 1]), 1 / 3)):
        metrics = head.update_metrics(head.metrics(), {"w": weights[:, None]}, logits,
                                      [[0], [0], [0], [1], [1]])
        check(metrics, "precision_at_recall/recall_0.5", expected, rel=1e-6)


def test_binary_rates_are_undefined_on_zero_denominators():
    """Every label positive: no negatives, so the false positive rate and
    specificity are 0/0; everything predicted positive: NPV is 0/0."""
    head = heads.BinaryClassHead(extended_metrics=True,
                                 metric_options=heads.MetricOptions(derived_rates=True))
    metrics = head.update_metrics(head.metrics(), {}, np.full((3, 1), 2.0, np.float32),
                                  [[1], [1], [1]])
    for key in ("false_positive_rate", "specificity", "negative_predictive_value"):
        assert value(metrics, key) == (0.0, False)
    assert value(metrics, "false_negative_rate") == (0.0, True)


# -- multi-label ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def multi_label():
    n_classes = 4
    rng = np.random.default_rng(23)
    y = (rng.random((N, n_classes)) < np.linspace(0.15, 0.5, n_classes)).astype(np.int64)
    logits = (rng.normal(size=(N, n_classes)) + 1.3 * y).astype(np.float32)
    w = rng.uniform(0.1, 2.0, N).astype(np.float32)
    options = heads.MetricOptions(average=AVERAGES, derived_rates=True, **TARGETS)
    head = heads.MultiLabelHead(n_classes, weight_column="w", thresholds=[0.3, 0.6],
                                extended_metrics=True, metric_options=options)
    metrics = head.update_metrics(head.metrics(), {"w": w[:, None]}, logits, y)
    return n_classes, y, sigmoid32(logits), w.astype(np.float64), metrics, (head, logits)


@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("t", [0.3, 0.6])
def test_multi_label_precision_recall_f1_averages(multi_label, average, t):
    _, y, p, w, metrics, _ = multi_label
    expected = precision_recall_fscore_support(y, (p > t).astype(int), average=average,
                                               sample_weight=w, zero_division=np.nan)
    for name, e in zip(("precision", "recall", "f1"), expected):
        # micro: the pooled metrics the head always had (F1 added), marked micro
        key = "%s/positive_threshold_%g" % (name, t) + ("" if average == "micro" else
                                                        "/" + average)
        check(metrics, key, e)
        assert metrics[key].rows()[0].average == average


@pytest.mark.parametrize("average", AVERAGES)
def test_multi_label_auc_averages(multi_label, average):
    n_classes, y, p, w, metrics, _ = multi_label
    suffix = "" if average == "micro" else "/" + average
    check(metrics, "auc" + suffix, roc_auc_score(y, p, average=average, sample_weight=w))
    if average == "micro":
        expected = pr_auc(y.ravel(), p.ravel(), np.repeat(w, n_classes))
    else:
        per_class = [pr_auc(y[:, c], p[:, c], w) for c in range(n_classes)]
        expected = np.average(per_class, weights=None if average == "macro"
                              else (y * w[:, None]).sum(0))
    check(metrics, "auc_precision_recall" + suffix, expected, rel=1e-7)
    assert metrics["auc" + suffix].rows()[0].average == average


@pytest.mark.parametrize("t", [0.3, 0.6])
def test_multi_label_derived_rates_pooled_and_per_class(multi_label, t):
    n_classes, y, p, w, metrics, _ = multi_label
    pooled = _confusion_oracle(y.ravel(), (p > t).ravel(), np.repeat(w, n_classes))
    for name, e in pooled.items():
        check(metrics, "%s/positive_threshold_%g" % (name, t), e)
    for c in range(n_classes):
        for name, e in _confusion_oracle(y[:, c], p[:, c] > t, w).items():
            check(metrics, "%s/positive_threshold_%g/class%d" % (name, t, c), e)


def test_multi_label_operating_points_pooled_and_per_class(multi_label):
    n_classes, y, p, w, metrics, _ = multi_label
    _check_points(metrics, _operating_points_oracle(y.ravel(), p.ravel(), np.repeat(w, n_classes)))
    for c in range(n_classes):
        _check_points(metrics, _operating_points_oracle(y[:, c], p[:, c], w), "/class%d" % c)


def test_multi_label_merged_halves_equal_one_pass(multi_label):
    """Views (averaged AUCs, operating points) merge through the AUCs they
    read, across a pickle as between workers; one merged alone refuses to read."""
    n_classes, y, p, w, one, (head, logits) = multi_label
    w = w.astype(np.float32)
    halves = [head.update_metrics(head.metrics(), {"w": w[rows, None]}, logits[rows], y[rows])
              for rows in (slice(0, N // 2), slice(N // 2, N))]
    merged = merge_metric_dicts(halves[0], pickle.loads(pickle.dumps(halves[1])))
    for key in one:
        np.testing.assert_allclose(merged[key].result(), one[key].result(), rtol=1e-9,
                                   err_msg=key)
    alone = head.metrics()["auc/macro"]
    alone.merge_state([head.metrics()["auc/macro"]])
    with pytest.raises(states.IncompatibleStateError, match="merged 1 times"):
        alone.result()


# -- options --------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,match", [
    (lambda: heads.BinaryClassHead(extended_metrics=True,
                                   metric_options=heads.MetricOptions(top_k=(1,))),
     "top_k does not apply to a binary head"),
    (lambda: heads.MultiClassHead(3, metric_options=heads.MetricOptions(average=("macro",))),
     "need extended_metrics=True"),
    (lambda: heads.MultiClassHead(3, extended_metrics=True,
                                  metric_options=heads.MetricOptions(top_k=(3,))),
     r"top_k must be integers in \[1, n_classes - 1 = 2\]"),
    (lambda: heads.MultiLabelHead(3, extended_metrics=True,
                                  metric_options=heads.MetricOptions(average=("mean",))),
     "average must list some of micro, macro, weighted"),
    (lambda: heads.MultiLabelHead(2, extended_metrics=True,
                                  metric_options=heads.MetricOptions(precision_at_recall=(0,))),
     r"precision_at_recall must be numbers in \(0, 1\]"),
    (lambda: heads.MultiClassHead(3, label_vocabulary=["a", "macro", "c"], extended_metrics=True,
                                  metric_options=heads.MetricOptions(average=("macro",))),
     "a class named 'macro'"),
])
def test_options_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make()
