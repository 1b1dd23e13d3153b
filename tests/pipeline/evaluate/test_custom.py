"""Custom metrics (heads/custom.py, pipeline/evaluate/custom.py): per slice
against numpy on the same arrays, merged across evaluators and pickles, and
the one-line errors of factories that do not fit the interface."""
import math
import pickle

import numpy as np
import pytest

from pipeline.config import ConfigError, parse_config
from pipeline.evaluate.build import build_report_head
from pipeline.evaluate.evaluator import Evaluator
from heads.metrics import merge_metric_dicts
from pipeline.report.rows import metric_rows

PKG = "tests.support.custom_metric_pkg"
N = 600


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    y = (rng.random(N) < 0.3).astype(np.int64)
    z = (rng.normal(-0.5, 1.3, N) + 1.8 * y).astype(np.float32)
    w = rng.uniform(0.2, 3.0, N).astype(np.float32)
    x = rng.normal(5.0, 2.0, N).astype(np.float32)
    r = rng.normal(0.0, 1.0, N).astype(np.float32)
    country = rng.choice(np.array([b"BR", b"FR", b"US"]), N)
    features = {"y": y, "z": z[:, None], "w": w, "x": x, "r": r, "rz": r[:, None] + 0.5,
                "country": country}
    return features


def _config(custom, two_heads=True):
    heads = [{"name": "b", "type": "binary", "label": "y", "weight_column": "w"}]
    logits = "z"
    if two_heads:
        heads.append({"name": "r", "type": "regression", "label": "r"})
        logits = {"b": "z", "r": "rz"}
    return parse_config({
        "input": {"pattern": "unused-*.tfrecord", "features": {
            "y": {"dtype": "int64"}, "z": {"dtype": "float32", "shape": [1]},
            "w": {"dtype": "float32"}, "x": {"dtype": "float32"}, "r": {"dtype": "float32"},
            "rz": {"dtype": "float32", "shape": [1]}, "country": {"dtype": "string"}}},
        "model": {"logits": logits}, "heads": heads, "slices": [[], ["country"]],
        "metrics": {"custom": custom}})


SPECS = [PKG + ":weighted_brier", PKG + ":high_score_lift", PKG + ":x_mean"]


def _take(features, rows):
    return {k: v[rows] for k, v in features.items()}


def _evaluate(config, features, parts=1, batch=97):
    """Metric dicts per slice: one accumulator dict per consecutive part,
    pickled and merged (as bundles on several workers are)."""
    merged, evaluator = {}, Evaluator(config)
    for part in np.array_split(np.arange(N), parts):
        acc = {}
        for start in range(0, len(part), batch):
            evaluator.add_batch(_take(features, part[start:start + batch]), acc)
        evaluator.finish(acc)
        for key, metrics in pickle.loads(pickle.dumps(acc)).items():
            merged[key] = merge_metric_dicts(merged.setdefault(key, {}), metrics)
    return merged


def _oracle(f, rows):
    y, w, x = f["y"][rows].astype(float), f["w"][rows].astype(float), f["x"][rows].astype(float)
    p = 1.0 / (1.0 + np.exp(-f["z"][rows, 0].astype(float)))
    high = p > 0.8
    lift = (np.sum(w * y * high) / np.sum(w * high)) / (np.sum(w * y) / np.sum(w))
    return {"weighted_brier": np.sum(w * (p - y) ** 2) / np.sum(w),
            "high_score_lift/lift": lift, "high_score_lift/coverage": np.sum(w * high) / np.sum(w),
            "x_mean/b": np.sum(w * x) / np.sum(w), "x_mean/r": float(np.mean(x))}


def _values(metrics):
    out = {}
    for row in metric_rows("", metrics, ["b", "r"]):
        if row["metric"].startswith(("weighted_brier", "high_score_lift", "x_mean")):
            out[row["metric"] if row["metric"] != "x_mean" else "x_mean/" + row["head"]] = \
                row["value"]
    return out


def test_custom_metrics_per_slice_match_numpy_merged_across_evaluators(data):
    merged = _evaluate(_config(SPECS), data, parts=2)
    country = data["country"]
    for key, rows in [("", np.arange(N))] + [("country=%s" % c.decode(), np.flatnonzero(
            country == c)) for c in (b"BR", b"FR", b"US")]:
        got, want = _values(merged[key]), _oracle(data, rows)
        assert sorted(got) == sorted(want), key
        for name, value in want.items():
            assert got[name] == pytest.approx(value, rel=1e-9), (key, name)


def test_rows_keys_heads_and_direction(data):
    names, empty = build_report_head(_config(SPECS))
    assert {k for k in empty if k.startswith(("weighted_brier", "high", "x_mean"))} == {
        "weighted_brier/b", "high_score_lift/b", "x_mean/b", "x_mean/r"}
    rows = {(r["head"], r["metric"], r["key"]): r for r in metric_rows("", empty, names)}
    assert ("b", "high_score_lift/lift", "high_score_lift/lift") in rows
    assert math.isnan(rows[("b", "weighted_brier", "weighted_brier")]["value"])  # no data
    assert empty["weighted_brier/b"].direction == "lower"
    assert empty["x_mean/r"].direction is None


@pytest.mark.parametrize("spec, words", [
    ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
    (PKG + ":missing", "has no callable 'missing'"),
    (PKG + ":not_callable", "has no callable 'not_callable'"),
    (PKG + ":no_result", "has no batch_statistics() method"),
    (PKG + ":raises_in_factory", "the factory raised RuntimeError: cannot build"),
    (PKG + ":growing_state", "has shape [2], but an earlier (or empty) batch gave [0]"),
])
def test_a_factory_that_does_not_fit_fails_at_config_time_in_one_line(spec, words):
    with pytest.raises(ConfigError) as e:
        build_report_head(_config([PKG + ":x_mean", spec], two_heads=False))
    message = str(e.value)
    assert "`metrics.custom[1]`" in message and spec in message and words in message, message
    assert "\n" not in message


def test_a_name_taken_by_a_head_metric_is_refused(monkeypatch):
    import tests.support.custom_metric_pkg as pkg
    monkeypatch.setattr(pkg.FeatureMean, "name", "auc")
    with pytest.raises(ConfigError, match=r"metric name 'auc' is taken"):
        build_report_head(_config([PKG + ":x_mean"], two_heads=False))


def test_a_metric_that_raises_on_a_batch_is_one_line_naming_its_entry(data):
    from pipeline.errors import CustomMetricError
    evaluator = Evaluator(_config([PKG + ":x_mean", PKG + ":fails_on_big_batches"],
                                  two_heads=False))
    with pytest.raises(CustomMetricError) as e:
        evaluator.add_batch(_take(data, np.arange(50)), {})
    message = str(e.value)
    assert message.startswith("metrics.custom[1]: ") and "raised ZeroDivisionError: too many" \
        in message and "\n" not in message, message
