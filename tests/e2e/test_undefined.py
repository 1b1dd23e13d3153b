"""End to end: metrics that are undefined on a slice (a zero denominator)
are NaN in metrics.parquet, not the estimator's 0, and run.json counts them.

One real run of the CLI (Beam, TFRecords) on data with three groups: mixed
labels, positives only (one class present: roc_auc_score warns "not
defined" and gives NaN; nothing predicted positive: precision is 0/0) and weight zero (every mean is
0/0). Every row is checked against the scikit-learn/numpy oracle of
test_e2e_sklearn (NaN where sklearn's zero_division applies or it says undefined),
and the run.json count against the oracle's NaN among the reported rows.
"""
import json
import math
import os
import re
from collections import Counter

import numpy as np
import pytest
import yaml
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import roc_auc_score

from pipeline.io.writer import write_examples
from tests.e2e.test_e2e_sklearn import (compare, expected_binary, expected_multi_class,
                                        oracle_key, read_metrics, required_keys, with_counts)

VOCABULARY = ("ant", "bee", "cat")
GROUPS = ("mixed", "positive", "weightless")


def _arrays():
    rng = np.random.default_rng(17)
    group = np.repeat(np.array(GROUPS), [120, 40, 30])
    n = len(group)
    y_bin = (rng.random(n) < 0.4).astype(np.int64)
    z_bin = (rng.normal(-0.3, 1.2, n) + 1.5 * y_bin).astype(np.float32)
    y_mc = rng.integers(0, 3, n)
    positive = group == "positive"
    y_bin[positive] = 1                   # one class present
    z_bin[positive] = -3.0 - rng.random(positive.sum()).astype(np.float32)  # none predicted positive
    y_mc[positive] = 0                    # classes bee and cat absent
    z_mc = (rng.normal(0, 1.0, (n, 3)) + 1.5 * np.eye(3)[y_mc]).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, n).astype(np.float32)
    weight[group == "weightless"] = 0.0
    return dict(group=group, weight=weight, y_bin=y_bin, z_bin=z_bin, y_mc=y_mc, z_mc=z_mc)


@pytest.fixture(scope="module")
def report(tmp_path_factory, headeval_cli):
    a = _arrays()
    folder = tmp_path_factory.mktemp("undefined")
    write_examples(folder / "data.tfrecord", {
        "group": a["group"], "weight": a["weight"], "bin_label": a["y_bin"],
        "bin_logits": a["z_bin"][:, None], "mc_label": np.array(VOCABULARY)[a["y_mc"]],
        "mc_logits": a["z_mc"]})
    config = {
        "input": {"pattern": str(folder / "data.tfrecord"), "features": {
            "group": {"dtype": "string"}, "weight": {"dtype": "float32"},
            "bin_label": {"dtype": "int64"}, "bin_logits": {"dtype": "float32", "shape": [1]},
            "mc_label": {"dtype": "string"}, "mc_logits": {"dtype": "float32", "shape": [3]}}},
        "model": {"logits": {"bin": "bin_logits", "mc": "mc_logits"}},
        "heads": [
            {"name": "bin", "type": "binary", "label": "bin_label", "weight_column": "weight",
             "thresholds": [0.5]},
            {"name": "mc", "type": "multi_class", "n_classes": 3, "label": "mc_label",
             "label_vocabulary": list(VOCABULARY), "weight_column": "weight"}],
        "slices": [[], ["group"]],
    }
    (folder / "eval.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    out = folder / "out"
    proc = headeval_cli.run("run", folder / "eval.yaml", "--output", out, "--report",
                            headeval_cli.runner_flag)
    return a, out, proc.stdout


def _oracle(a):
    slices = [("", np.ones(len(a["group"]), bool))] + [
        ("group=" + g, a["group"] == g) for g in GROUPS]
    expected = {}
    for name, m in slices:
        w = a["weight"][m].astype(np.float64)
        expected[("bin", name)] = with_counts(
            expected_binary(a["y_bin"][m], a["z_bin"][m], w, (0.5,)), w)
        expected[("mc", name)] = with_counts(
            expected_multi_class(a["y_mc"][m], a["z_mc"][m], w, VOCABULARY), w)
    return expected, [s for s, _ in slices]


@pytest.mark.e2e
def test_undefined_metrics_are_nan_and_counted(report):
    a, out, stdout = report
    rows = read_metrics(out)
    expected, slices = _oracle(a)
    required = {"bin": required_keys("binary", (0.5,)), "mc": required_keys("multi_class")}
    failures, unchecked = compare(rows, expected, required, slices)
    assert not failures, "%d mismatches:\n%s" % (len(failures), "\n".join(failures[:40]))
    assert not unchecked, unchecked  # every row has an oracle: the count below is complete

    # The one-class slice: sklearn's AUC is NaN (with a warning); the report's too, not 0.
    positive = a["group"] == "positive"
    with pytest.warns(UndefinedMetricWarning, match="Only one class"):
        assert math.isnan(roc_auc_score(a["y_bin"][positive], a["z_bin"][positive]))
    by_key = {(r["head"], r["slice"], r["key"]): r["value"] for r in rows}
    for key in ("auc", "precision"):
        assert math.isnan(by_key[("bin", "group=positive", key)]), key
    assert by_key[("bin", "group=positive", "recall")] == 0.0  # defined: 0 of the positives
    assert math.isnan(by_key[("mc", "group=positive", "recall/bee")])
    assert math.isnan(by_key[("bin", "group=weightless", "average_loss")])

    # run.json: the oracle's NaN among the reported rows, in all and per metric name.
    def oracle(r):
        return expected.get((r["head"], r["slice"]), {}).get(oracle_key(r["key"], r["head"]))
    nan_rows = [r for r in rows if oracle(r) is not None and math.isnan(oracle(r))]
    with open(os.path.join(out, "run.json")) as f:
        undefined = json.load(f)["undefined_metrics"]
    assert undefined["rows"] == len(nan_rows) > 0
    assert undefined["by_metric"] == dict(Counter(r["metric"] for r in nan_rows))
    assert "; %d metric values undefined (NaN" % len(nan_rows) in stdout.splitlines()[0]


@pytest.mark.e2e
def test_show_and_page_say_undefined(report, headeval_cli):
    _, out, _ = report
    shown = headeval_cli.run("show", out, "--slice", "group=positive", "--metric", "auc",
                             "--head", "bin").stdout
    line = next(x for x in shown.splitlines() if x.strip().startswith("auc "))
    assert line.split() == ["auc", "undefined"], shown
    assert "nan" not in shown
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        page = f.read()
    assert "undefined metric values" in page
    assert not re.search(r"\bnan\b", page, re.I)
