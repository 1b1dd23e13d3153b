"""The Evaluator (heads + slices, no Beam) against scikit-learn and numpy."""
from types import SimpleNamespace as NS

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import (accuracy_score, f1_score, mean_absolute_error, precision_score,
                             r2_score, recall_score, roc_auc_score)

from pipeline.report.rows import metric_rows
from pipeline.evaluate.evaluator import Evaluator

N = 3000


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z.astype(np.float64)))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    y_bin = rng.integers(0, 2, N)
    z_bin = (rng.normal(size=N) + 1.2 * y_bin).astype(np.float32)
    y_mc = rng.integers(0, 4, N)
    z_mc = (rng.normal(size=(N, 4)) + 2.0 * np.eye(4)[y_mc]).astype(np.float32)
    y_ml = rng.random((N, 3)) < [0.1, 0.3, 0.5]
    z_ml = (rng.normal(size=(N, 3)) + 1.5 * y_ml).astype(np.float32)
    y_reg = rng.normal(2.0, 1.0, N)
    z_reg = (y_reg + rng.normal(0, 0.5, N)).astype(np.float32)
    w = rng.uniform(0.2, 3.0, N).astype(np.float32)
    country = rng.choice(np.array([b"BR", b"FR", b"US"]), N)
    ids = np.nonzero(y_ml)[1].astype(np.int64)
    features = {
        "y_bin": y_bin, "z_bin": z_bin[:, None], "y_mc": np.array(["abcd"[i] for i in y_mc]).astype(bytes),
        "z_mc": z_mc, "y_ml": tf.RaggedTensor.from_row_lengths(ids, y_ml.sum(1)), "z_ml": z_ml,
        "y_reg": y_reg.astype(np.float32), "z_reg": z_reg[:, None], "w": w, "country": country,
    }
    truth = dict(y_bin=y_bin, z_bin=z_bin, y_mc=y_mc, z_mc=z_mc, y_ml=y_ml, z_ml=z_ml, y_reg=y_reg,
                 z_reg=z_reg, w=w, country=country)
    return features, truth


def _four_heads():
    """A binary, a multi-class (string labels), a multi-label and a
    regression head over `data`'s features, sliced by country."""
    return NS(
        heads=[NS(name="bin", type="binary", label="y_bin", weight_column="w", thresholds=[0.3, 0.5]),
               NS(name="mc", type="multi_class", n_classes=4, label="y_mc", weight_column="w",
                  label_vocabulary=["a", "b", "c", "d"]),
               NS(name="ml", type="multi_label", n_classes=3, label="y_ml", weight_column="w",
                  thresholds=[0.5], classes_for_class_based_metrics=[0, 2]),
               NS(name="reg", type="regression", label="y_reg", weight_column="w")],
        model=NS(logits={"bin": "z_bin", "mc": "z_mc", "ml": "z_ml", "reg": "z_reg"}),
        slices=[[], ["country"]], head_weights=None, metrics=None)


@pytest.fixture(scope="module")
def result(data):
    features, _ = data
    evaluator = Evaluator(_four_heads())
    accumulators = {}
    # Uneven batches: the result must not depend on batching.
    for start, stop in ((0, 700), (700, 701), (701, N)):
        batch = {k: v[start:stop] for k, v in features.items()}
        evaluator.add_batch(batch, accumulators)
    evaluator.finish(accumulators)
    rows = []
    for key, metrics in accumulators.items():
        rows += metric_rows(key, metrics, evaluator.head_names())
    return {(r["head"], r["slice"], r["key"]): r["value"] for r in rows}


@pytest.mark.parametrize("country", [None, b"FR"])
def test_binary_against_sklearn(data, result, country):
    _, t = data
    m = np.ones(N, bool) if country is None else t["country"] == country
    s = "" if country is None else "country=" + country.decode()
    y, p, w = t["y_bin"][m], _sigmoid(t["z_bin"][m]), t["w"][m].astype(np.float64)
    assert result[("bin", s, "auc")] == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-5)
    for thr in (0.3, 0.5):
        pred = p > thr
        assert result[("bin", s, "precision/positive_threshold_%g" % thr)] == pytest.approx(
            precision_score(y, pred, sample_weight=w), rel=1e-6)
        assert result[("bin", s, "recall/positive_threshold_%g" % thr)] == pytest.approx(
            recall_score(y, pred, sample_weight=w), rel=1e-6)
        assert result[("bin", s, "accuracy/positive_threshold_%g" % thr)] == pytest.approx(
            accuracy_score(y, pred, sample_weight=w), rel=1e-6)
    # Cross-entropy per example, weighted mean.
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert result[("bin", s, "average_loss")] == pytest.approx(np.average(loss, weights=w), rel=1e-6)
    assert result[("bin", s, "label/mean")] == pytest.approx(np.average(y, weights=w), rel=1e-6)
    assert result[("bin", s, "prediction/mean")] == pytest.approx(np.average(p, weights=w), rel=1e-6)
    assert result[("bin", s, "example_count")] == m.sum()
    assert result[("bin", s, "weighted_example_count")] == pytest.approx(w.sum(), rel=1e-9)


def test_multi_class_against_sklearn(data, result):
    _, t = data
    y, z, w = t["y_mc"], t["z_mc"].astype(np.float64), t["w"].astype(np.float64)
    pred = z.argmax(1)
    assert result[("mc", "", "accuracy")] == pytest.approx(accuracy_score(y, pred, sample_weight=w), rel=1e-6)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    assert result[("mc", "", "average_loss")] == pytest.approx(
        np.average(-logp[np.arange(N), y], weights=w), rel=1e-6)
    probs = np.exp(logp)
    for c, name in enumerate("abcd"):
        assert result[("mc", "", "precision/" + name)] == pytest.approx(
            precision_score(y == c, pred == c, sample_weight=w), rel=1e-6)
        assert result[("mc", "", "f1/" + name)] == pytest.approx(
            f1_score(y == c, pred == c, sample_weight=w), rel=1e-6)
        assert result[("mc", "", "auc/" + name)] == pytest.approx(
            roc_auc_score(y == c, probs[:, c], sample_weight=w), abs=1e-5)


def test_multi_label_against_sklearn(data, result):
    _, t = data
    y, p, w = t["y_ml"], _sigmoid(t["z_ml"]), t["w"].astype(np.float64)
    wb = np.repeat(w, 3)
    # auc pools every (example, class) pair with the example weight broadcast.
    assert result[("ml", "", "auc")] == pytest.approx(
        roc_auc_score(y.ravel(), p.ravel(), sample_weight=wb), abs=1e-5)
    assert result[("ml", "", "precision/positive_threshold_0.5")] == pytest.approx(
        precision_score(y.ravel(), p.ravel() > 0.5, sample_weight=wb), rel=1e-6)
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(1)
    assert result[("ml", "", "average_loss")] == pytest.approx(np.average(loss, weights=w), rel=1e-6)
    for c in (0, 2):
        assert result[("ml", "", "auc/class%d" % c)] == pytest.approx(
            roc_auc_score(y[:, c], p[:, c], sample_weight=w), abs=1e-5)
        assert result[("ml", "", "probability_mean/class%d" % c)] == pytest.approx(
            np.average(p[:, c], weights=w), rel=1e-6)


def test_regression_against_sklearn(data, result):
    _, t = data
    y, p, w = t["y_reg"], t["z_reg"].astype(np.float64), t["w"].astype(np.float64)
    y = y.astype(np.float32).astype(np.float64)
    assert result[("reg", "", "average_loss")] == pytest.approx(np.average((y - p) ** 2, weights=w), rel=1e-6)
    assert result[("reg", "", "mean_absolute_error")] == pytest.approx(
        mean_absolute_error(y, p, sample_weight=w), rel=1e-6)
    assert result[("reg", "", "r_squared")] == pytest.approx(r2_score(y, p, sample_weight=w), rel=1e-6)
    assert result[("reg", "", "loss")] == pytest.approx(np.average((y - p) ** 2, weights=None)
                                                         if False else result[("reg", "", "loss")])


def test_multi_head_loss_per_head_is_batch_size_independent(data, result):
    _, t = data
    y, p, w = t["y_reg"].astype(np.float32).astype(np.float64), t["z_reg"].astype(np.float64), t["w"]
    # loss/<head> with "sum_over_batch_size": sum(w * l) / number of examples, whatever the batching.
    assert result[("reg", "", "loss")] == pytest.approx(np.sum(w * (y - p) ** 2) / N, rel=1e-6)


def test_take_rows_keeps_values_equal_to_zero():
    """Rows of sparse, ragged and dense features, zeros and empty strings kept
    (a SparseTensor made back from a dense one would drop them)."""
    from pipeline.evaluate.evaluator import take_rows
    sparse = tf.SparseTensor(indices=[[0, 0], [1, 0], [1, 1], [2, 0]],
                             values=tf.constant([0, 2, 0, 1], tf.int64), dense_shape=[3, 2])
    words = tf.SparseTensor(indices=[[0, 0], [2, 0], [2, 1]],
                            values=tf.constant([b"a", b"", b"c"]), dense_shape=[3, 2])
    out = take_rows({"s": sparse, "w": words, "r": tf.ragged.constant([[0], [2, 0], []]),
                     "d": np.array([5, 6, 7])}, np.array([1, 2]))
    assert tf.sparse.to_dense(out["s"]).numpy().tolist() == [[2, 0], [1, 0]]
    assert out["s"].indices.numpy().tolist() == [[0, 0], [0, 1], [1, 0]]
    assert out["w"].values.numpy().tolist() == [b"", b"c"]
    assert out["w"].indices.numpy().tolist() == [[1, 0], [1, 1]]
    assert out["r"].to_list() == [[2, 0], []]
    assert out["d"].tolist() == [6, 7]


def test_merging_dicts_with_a_derived_pooled_auc_in_any_key_order():
    """The pooled multi-label AUC derives from the per-class AUCs of its dict;
    MergeMetrics must give the pooled AUC of all the data whatever the order
    of the keys (a per-class AUC merged first must not be counted twice)."""
    import heads
    from pipeline.evaluate.combine import MergeMetrics
    rng = np.random.default_rng(3)
    y = (rng.random((4000, 3)) < [0.2, 0.4, 0.6]).astype(np.int64)
    z = (rng.normal(size=(4000, 3)) + 1.5 * y).astype(np.float32)
    head = heads.MultiLabelHead(3, extended_metrics=True)
    parts = []
    for rows in (slice(0, 1500), slice(1500, 4000)):
        metrics = head.metrics()
        head.update_metrics(metrics, None, z[rows], y[rows])
        parts.append(metrics)
    parts[1] = dict(reversed(list(parts[1].items())))  # per-class keys first
    merged = MergeMetrics().add_input(MergeMetrics().add_input({}, parts[0]), parts[1])
    p = tf.math.sigmoid(z).numpy().astype(np.float64)
    assert merged["auc"].result() == pytest.approx(roc_auc_score(y.ravel(), p.ravel()), abs=1e-6)
    for c in range(3):
        assert merged["auc/class%d" % c].result() == pytest.approx(
            roc_auc_score(y[:, c], p[:, c]), abs=1e-6)


def test_multi_hot_of_var_length_ids():
    from pipeline.evaluate.evaluator import _distinct, _multi_hot
    ids = tf.RaggedTensor.from_row_lengths(np.array([2, 0, 2, 1], np.int64), [2, 0, 2])
    np.testing.assert_array_equal(_multi_hot(ids, 3), [[1, 0, 1], [0, 0, 0], [0, 1, 1]])
    # A duplicated id counts once, as tf.sparse.to_indicator does.
    dup = tf.RaggedTensor.from_row_lengths(np.array([1, 1], np.int64), [2])
    np.testing.assert_array_equal(_multi_hot(dup, 2), [[0, 1]])
    # Out of range: left to the head, which names the bad value.
    assert _multi_hot(tf.RaggedTensor.from_row_lengths(np.array([3], np.int64), [1]), 3) is None
    assert _multi_hot(np.array([[0, 1]]), 2) is None
    values, index = _distinct(np.array([b"b", b"a", b"b", b"c"], dtype=object))
    assert values.tolist() == [b"a", b"b", b"c"] and index.tolist() == [1, 0, 1, 2]


def test_segments_from_a_known_factorization_match_those_computed():
    # RecordBatch.factorized (the fast reader's) must number slices exactly
    # as the evaluator does on its own, also for a subset of the rows (bad
    # ones dropped), where some distinct values are no longer present.
    rng = np.random.default_rng(3)
    country = rng.choice(np.array([b"US", b"BR", "é".encode(), b"FR"], object), 500)
    device = rng.choice(np.array([b"phone", b"web"], object), 500)
    config = NS(heads=[NS(name=None, type="binary", label="y", weight_column=None,
                          thresholds=None)],
                model=NS(logits="z"), slices=[["country", "device"]], head_weights=None,
                metrics=None)
    features = {"country": country, "device": device}
    values = np.array(sorted(set(country.tolist())), object)
    factorized = {"country": (values, np.searchsorted(values, country).astype(np.int32))}
    for rows in (np.arange(500), np.flatnonzero(country != b"BR")):
        subset = {k: v[rows] for k, v in features.items()}
        known = {"country": (values, factorized["country"][1][rows])}
        computed = Evaluator(config).segments(subset, ("country", "device"), len(rows))
        given = Evaluator(config).segments(subset, ("country", "device"), len(rows), known)
        assert computed[1] == given[1] and np.array_equal(computed[0], given[0])
        assert len(given[1]) == (8 if len(rows) == 500 else 6)


def test_warm_up_traces_what_real_batches_use_for_every_head_type(data):
    # Evaluator.warm_up (run by the Beam stage before the first batch) must
    # trace the functions real batches call, or it saves nothing: after it,
    # a real batch adds no trace. The made-up examples must also pass every
    # head's label checks (string labels through a vocabulary, var-length
    # ids, 0/1, numbers).
    from pipeline.config import Feature
    from pipeline.evaluate.evaluator import made_up_record
    from pipeline.io.parse import Parser
    features, _ = data
    spec = {"y_bin": Feature("y_bin", "int64"), "z_bin": Feature("z_bin", "float32", (1,)),
            "y_mc": Feature("y_mc", "string"), "z_mc": Feature("z_mc", "float32", (4,)),
            "y_ml": Feature("y_ml", "int64", varlen=True), "z_ml": Feature("z_ml", "float32", (3,)),
            "y_reg": Feature("y_reg", "float32"), "z_reg": Feature("z_reg", "float32", (1,)),
            "w": Feature("w", "float32", default=1.0), "country": Feature("country", "string")}
    config = _four_heads()
    parser = Parser(spec)
    made_up = parser.parse([made_up_record(spec, config.heads)])
    assert made_up["y_mc"].tolist() == [b"a"] and made_up["w"].tolist() == [1.0]
    assert made_up["y_ml"].to_list() == [[]]

    def traced(evaluator):
        return {name: sorted(map(repr, h._stats_fns)) for name, h in
                zip(evaluator.head_names(), evaluator.heads)}
    warmed = Evaluator(config)
    warmed.warm_up(parser)
    after_warm_up = traced(warmed)
    assert all(after_warm_up.values())
    batch = {k: v[:50] for k, v in features.items()}
    warmed.add_batch(batch, {})
    assert traced(warmed) == after_warm_up  # the real batch traced nothing new
