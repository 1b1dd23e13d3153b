"""The Evaluator (heads + slices, no Beam) against scikit-learn and numpy."""
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import (accuracy_score, f1_score, mean_absolute_error, precision_score,
                             r2_score, recall_score, roc_auc_score)

from pipeline.config import parse_config
from pipeline.evaluate.evaluator import Evaluator
from pipeline.evaluate.features import made_up_record
from pipeline.io.parse import Parser
from pipeline.report.rows import metric_rows

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


# The parse spec of `data`'s features, as a config's `input.features`.
DATA_FEATURES = {
    "y_bin": {"dtype": "int64"}, "z_bin": {"dtype": "float32", "shape": [1]},
    "y_mc": {"dtype": "string"}, "z_mc": {"dtype": "float32", "shape": [4]},
    "y_ml": {"dtype": "int64", "varlen": True}, "z_ml": {"dtype": "float32", "shape": [3]},
    "y_reg": {"dtype": "float32"}, "z_reg": {"dtype": "float32", "shape": [1]},
    "w": {"dtype": "float32", "default": 1.0}, "country": {"dtype": "string"},
}


def _config(features, **sections):
    """A config parsed from YAML data (as `headeval run` reads its file),
    with `features` as its parse spec; the input files are never read."""
    return parse_config({"input": {"pattern": "unused-*.tfrecord", "features": features},
                         **sections})


def _four_heads():
    """A binary, a multi-class (string labels), a multi-label and a
    regression head over `data`'s features, sliced by country."""
    return _config(
        DATA_FEATURES,
        heads=[{"name": "bin", "type": "binary", "label": "y_bin", "weight_column": "w",
                "thresholds": [0.3, 0.5]},
               {"name": "mc", "type": "multi_class", "n_classes": 4, "label": "y_mc",
                "weight_column": "w", "label_vocabulary": ["a", "b", "c", "d"]},
               {"name": "ml", "type": "multi_label", "n_classes": 3, "label": "y_ml",
                "weight_column": "w", "thresholds": [0.5],
                "classes_for_class_based_metrics": [0, 2]},
               {"name": "reg", "type": "regression", "label": "y_reg", "weight_column": "w"}],
        model={"logits": {"bin": "z_bin", "mc": "z_mc", "ml": "z_ml", "reg": "z_reg"}},
        slices=[[], ["country"]])


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
    # "sum_over_batch_size": the weighted sum of squared errors over the number of examples.
    assert result[("reg", "", "loss")] == pytest.approx(np.sum(w * (y - p) ** 2) / len(y), rel=1e-6)


def test_multi_head_loss_per_head_is_batch_size_independent(data, result):
    _, t = data
    y, p, w = t["y_reg"].astype(np.float32).astype(np.float64), t["z_reg"].astype(np.float64), t["w"]
    # loss/<head> with "sum_over_batch_size": sum(w * l) / number of examples, whatever the batching.
    assert result[("reg", "", "loss")] == pytest.approx(np.sum(w * (y - p) ** 2) / N, rel=1e-6)


def test_warm_up_traces_what_real_batches_use_for_every_head_type(data):
    # Evaluator.warm_up (run by the Beam stage before the first batch) must
    # trace the functions real batches call, or it saves nothing: after it,
    # a real batch adds no trace. The made-up examples must also pass every
    # head's label checks (string labels through a vocabulary, var-length
    # ids, 0/1, numbers).
    features, _ = data
    config = _four_heads()
    spec = config.input.features
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
