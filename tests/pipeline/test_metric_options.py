"""Head metric options in the config (average, top_k, multi-class thresholds
and calibration, derived_rates, curve targets): parsing, schema, and one
in-process `headeval run` whose metrics.parquet rows carry the `average` and
`k` columns, checked against scikit-learn on the same arrays."""
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import (confusion_matrix, precision_recall_fscore_support, roc_auc_score,
                             top_k_accuracy_score)

from pipeline.config import head_options, parse_config
from pipeline.errors import ConfigError
from tests.support.example_records import example, write_tfrecords

N, C = 240, 4
REGIONS = ("north", "south")


def _config(pattern, mc=None, ml=None):
    return {
        "input": {"pattern": pattern, "features": {
            "y": {"dtype": "int64"}, "tags": {"dtype": "int64", "shape": [C]},
            "mc_logits": {"dtype": "float32", "shape": [C]},
            "ml_logits": {"dtype": "float32", "shape": [C]},
            "w": {"dtype": "float32"}, "region": {"dtype": "string"}}},
        "model": {"logits": {"mc": "mc_logits", "ml": "ml_logits"}},
        "heads": [dict({"name": "mc", "type": "multi_class", "n_classes": C, "label": "y",
                        "weight_column": "w"}, **(mc or {})),
                  dict({"name": "ml", "type": "multi_label", "n_classes": C, "label": "tags",
                        "weight_column": "w", "thresholds": [0.5]}, **(ml or {}))],
        "slices": [[], ["region"]],
    }


MC = {"average": ["micro", "macro", "weighted"], "top_k": [1, 3], "thresholds": [0.6],
      "calibration": True}
ML = {"average": ["macro", "weighted"], "derived_rates": True, "precision_at_recall": [0.5],
      "recall_at_precision": [0.7], "threshold_at_recall": [0.9]}


def test_the_options_parse_and_round_trip():
    config = parse_config(_config("x", MC, ML))
    mc, ml = config.heads
    assert (mc.average, mc.top_k, mc.thresholds, mc.calibration) == (
        ("micro", "macro", "weighted"), (1, 3), (0.6,), True)
    assert (ml.derived_rates, ml.precision_at_recall, ml.threshold_at_recall) == (
        True, (0.5,), (0.9,))
    assert parse_config(config.to_dict()) == config
    assert "average" not in parse_config(_config("x")).to_dict()["heads"][0]


@pytest.mark.parametrize("head,change,words", [
    (0, {"average": ["mean"]}, r"`heads\[0\].average` must be a non-empty list of micro, macro"),
    (0, {"top_k": [4]}, r"`heads\[0\].top_k` must be a non-empty list of integers in \[1, 3\]"),
    (0, {"top_k": [2, 2]}, r"`heads\[0\].top_k` must be a list of distinct integers"),
    (0, {"calibration": "yes"}, r"`heads\[0\].calibration` must be true or false"),
    (0, {"derived_rates": True}, r"`heads\[0\].derived_rates` must be absent for a multi_class"),
    (1, {"top_k": [1]}, r"`heads\[1\].top_k` must be absent for a multi_label head"),
    (1, {"precision_at_recall": [0]}, r"`heads\[1\].precision_at_recall` must be a non-empty "
                                      r"list of numbers in \(0, 1\]"),
    (1, {"thresholds": [1.5]}, r"`heads\[1\].thresholds` must be a list of numbers in \(0, 1\)"),
])
def test_bad_options_are_one_line_errors_naming_the_key(head, change, words):
    mc, ml = (change, None) if head == 0 else (None, change)
    with pytest.raises(ConfigError, match=words) as info:
        parse_config(_config("x", mc, ml))
    assert "\n" not in str(info.value)


def test_the_averages_are_the_heads():
    from heads import options
    assert head_options.AVERAGES == options.AVERAGES


# -- end to end ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import headeval

    folder = tmp_path_factory.mktemp("metric_options")
    rng = np.random.default_rng(31)
    y = rng.integers(0, C, N)
    mc_logits = (rng.normal(size=(N, C)) + 1.5 * np.eye(C)[y]).astype(np.float32)
    tags = (rng.random((N, C)) < 0.4).astype(np.int64)
    ml_logits = (rng.normal(size=(N, C)) + 1.3 * tags).astype(np.float32)
    w = rng.uniform(0.5, 2.0, N).astype(np.float32)
    region = np.array(REGIONS)[rng.integers(0, 2, N)]
    write_tfrecords(folder / "data.tfrecord", [
        example(y=[int(y[i])], tags=[int(t) for t in tags[i]], mc_logits=[float(v) for v in
                mc_logits[i]], ml_logits=[float(v) for v in ml_logits[i]], w=[float(w[i])],
                region=[str(region[i])]) for i in range(N)])
    report = headeval.evaluate(_config(str(folder / "data.tfrecord"), MC, ML),
                               output=str(folder / "out"))
    table = pq.read_table(folder / "out" / "metrics.parquet").to_pandas()
    arrays = dict(y=y, mc_logits=mc_logits, tags=tags, ml_logits=ml_logits,
                  w=w.astype(np.float64), region=region)
    return report, table, arrays


def _row(table, head, key, slice_=""):
    rows = table[(table["head"] == head) & (table["key"] == key) & (table["slice"] == slice_)]
    assert len(rows) == 1, (head, key, slice_, len(rows))
    return rows.iloc[0]


def _sigmoid32(z):
    return (1 / (1 + np.exp(-z.astype(np.float64)))).astype(np.float32)


@pytest.mark.parametrize("slice_", ["", "region=north"])
def test_run_writes_multi_class_averages_and_top_k(run, slice_):
    _, table, a = run
    rows = np.ones(N, bool) if not slice_ else a["region"] == slice_.split("=")[1]
    y, z, w = a["y"][rows], a["mc_logits"][rows], a["w"][rows]
    for average in ("micro", "macro", "weighted"):
        expected = precision_recall_fscore_support(y, z.argmax(-1), labels=range(C),
                                                   average=average, sample_weight=w,
                                                   zero_division=np.nan)
        for name, e in zip(("precision", "recall", "f1"), expected):
            row = _row(table, "mc", "%s/%s" % (name, average), slice_)
            assert (row["metric"], row["average"]) == (name, average)
            assert row["value"] == pytest.approx(e, rel=1e-6)
            assert pd.isna(row["class"]) and pd.isna(row["k"])
    row = _row(table, "mc", "accuracy/top_3", slice_)
    assert (row["metric"], row["k"]) == ("accuracy", 3) and pd.isna(row["average"])
    assert row["value"] == pytest.approx(top_k_accuracy_score(y, z, k=3, labels=range(C),
                                                              sample_weight=w), rel=1e-6)
    assert _row(table, "mc", "precision/top_3", slice_)["k"] == 3
    assert not len(table[(table["head"] == "mc") & (table["key"] == "accuracy/top_2")])
    assert _row(table, "mc", "coverage/positive_threshold_0.6", slice_)["threshold"] == 0.6
    assert _row(table, "mc", "expected_calibration_error", slice_)["value"] >= 0


def test_run_writes_multi_label_averages_rates_and_targets(run):
    _, table, a = run
    tags, p, w = a["tags"], _sigmoid32(a["ml_logits"]), a["w"]
    for average in ("macro", "weighted"):
        row = _row(table, "ml", "auc/%s" % average)
        assert row["average"] == average
        assert row["value"] == pytest.approx(roc_auc_score(tags, p, average=average,
                                                           sample_weight=w), rel=1e-6)
    pooled = _row(table, "ml", "auc")
    assert pooled["average"] == "micro"
    assert pooled["value"] == pytest.approx(roc_auc_score(tags, p, average="micro",
                                                          sample_weight=w), rel=1e-6)
    tn, fp, fn, tp = confusion_matrix(tags[:, 2], p[:, 2] > 0.5, sample_weight=w).ravel()
    row = _row(table, "ml", "false_positive_rate/positive_threshold_0.5/class2")
    assert (row["metric"], row["class"], row["threshold"]) == ("false_positive_rate", "2", 0.5)
    assert row["value"] == pytest.approx(fp / (fp + tn), rel=1e-6)
    assert _row(table, "ml", "negative_predictive_value/positive_threshold_0.5/class2")[
        "value"] == pytest.approx(tn / (tn + fn), rel=1e-6)
    for key in ("precision_at_recall/recall_0.5", "recall_at_precision/precision_0.7/class1",
                "threshold_at_recall/recall_0.9"):
        assert 0 < _row(table, "ml", key)["value"] <= 1
    # per-class rows carry no average
    assert pd.isna(_row(table, "ml", "auc/class0")["average"])
