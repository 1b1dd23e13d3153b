"""A custom metric from a user's package and the fairness view, end to end:
`headeval run` in this process, and the same config on two worker
processes (the package reaches them through PYTHONPATH, as it would on
Dataflow through an installed package). Expected values from numpy on the
arrays the records were written from."""
import math
import os
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from tests.support import REPO

from pipeline import cli
from pipeline.config import load_config
from pipeline.io.writer import write_examples
from pipeline.run import run_pipeline

SUPPORT = os.path.join(REPO, "tests", "support")
N = 800
COUNTRIES = np.array(["BR", "FR", "US"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("custom")
    rng = np.random.default_rng(11)
    y = (rng.random(N) < 0.35).astype(np.int64)
    z = (rng.normal(-0.5, 1.3, N) + 1.8 * y).astype(np.float32)
    w = rng.uniform(0.2, 3.0, N).astype(np.float32)
    country = rng.choice(COUNTRIES, N, p=[0.5, 0.3, 0.2])
    for i, part in enumerate(np.array_split(np.arange(N), 2)):
        write_examples(str(folder / ("data-%d.tfrecord" % i)),
                       {"y": y[part], "z": z[part], "w": w[part], "country": country[part]})
    config = {
        "input": {"pattern": str(folder / "data-*.tfrecord"), "features": {
            "y": {"dtype": "int64"}, "z": {"dtype": "float32"}, "w": {"dtype": "float32"},
            "country": {"dtype": "string"}}},
        "model": {"logits": "z"},
        "heads": [{"type": "binary", "label": "y", "weight_column": "w", "thresholds": [0.5]}],
        "slices": [[], ["country"]], "batch_size": 64,
        "metrics": {"custom": ["custom_metric_pkg:weighted_brier",
                               "custom_metric_pkg:high_score_lift"],
                    "fairness": {"rates": ["fnr", "tpr", "weighted_brier"],
                                 "thresholds": [0.5]}}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    # The user's package: on this process's path and on the workers' (PYTHONPATH).
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(SUPPORT)
    mp.setenv("PYTHONPATH", os.pathsep.join([SUPPORT, REPO, os.environ.get("PYTHONPATH", "")]))
    try:
        one = str(folder / "one")
        assert cli.main(["run", str(path), "--output", one, "--runner=FnApiRunner"]) == 0
        two = str(folder / "two")
        run_pipeline(load_config(str(path)), two, beam_argv=[
            "--runner=FnApiRunner", "--direct_running_mode=multi_processing",
            "--direct_num_workers=2"])
    finally:
        mp.undo()
        sys.modules.pop("custom_metric_pkg", None)
    arrays = dict(y=y.astype(float), p=1 / (1 + np.exp(-z.astype(float))), w=w.astype(float),
                  country=country)
    return arrays, {"one": one, "two": two}


def _oracle(a, rows):
    y, p, w = a["y"][rows], a["p"][rows], a["w"][rows]
    high = p > 0.8
    tp, fn = np.sum(w * y * (p > 0.5)), np.sum(w * y * (p <= 0.5))
    return {"weighted_brier": np.sum(w * (p - y) ** 2) / np.sum(w),
            "high_score_lift/lift": (np.sum(w * y * high) / np.sum(w * high))
            / (np.sum(w * y) / np.sum(w)),
            "high_score_lift/coverage": np.sum(w * high) / np.sum(w),
            "fnr": fn / (tp + fn), "tpr": tp / (tp + fn)}


@pytest.mark.e2e
@pytest.mark.parametrize("run", ["one", "two"])
def test_custom_metrics_and_fairness_rows_match_numpy(runs, run):
    arrays, folders = runs
    rows = pq.read_table(os.path.join(folders[run], "metrics.parquet")).to_pylist()
    value = {(r["slice"], r["metric"], r["threshold"]): r["value"] for r in rows}
    slices = {"": np.arange(N)}
    slices.update({"country=%s" % c: np.flatnonzero(arrays["country"] == c) for c in COUNTRIES})
    expected = {s: _oracle(arrays, r) for s, r in slices.items()}
    for s, want in expected.items():
        for name in ("weighted_brier", "high_score_lift/lift", "high_score_lift/coverage"):
            assert value[(s, name, None)] == pytest.approx(want[name], rel=1e-9), (s, name)
        if s == "":
            assert not [k for k in value if k[0] == "" and k[1].endswith("_difference")]
            continue
        for rate, threshold in (("fnr", 0.5), ("tpr", 0.5), ("weighted_brier", None)):
            diff = value.get((s, rate + "_difference", threshold))
            ratio = value.get((s, rate + "_ratio", threshold))
            if threshold is None:  # the custom metric has no threshold: not at 0.5
                assert diff is None and ratio is None
                continue
            assert diff == pytest.approx(want[rate] - expected[""][rate], rel=1e-9, abs=1e-12)
            assert ratio == pytest.approx(want[rate] / expected[""][rate], rel=1e-9)
    keys = {r["key"] for r in rows if r["metric"] == "fnr_difference"}
    assert keys == {"fnr_difference/positive_threshold_0.5"}
    assert not any(math.isnan(r["value"]) for r in rows if r["metric"] == "tpr_ratio")
