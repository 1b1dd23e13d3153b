"""The interval of the change candidate − baseline (issues 18 and 19): with
a baseline and jackknife intervals, comparison.parquet's delta_lower /
delta_upper are the paired jackknife interval of the change, and a
`significant: true` gate fails only when that interval wholly misses its
bound.

Oracle: the delete-one-group jackknife recomputed here with numpy on the
arrays the records were written from. Only the groups come from the code
(`pipeline.evaluate.groups.Groups`: they define which records share a
replicate); every metric value, replicate, standard error and t quantile
is computed here (weighted accuracy and mean squared error: exact, no
histogram). One in-process Beam run.
"""
import os

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from scipy import stats

from pipeline import cli
from pipeline.config import load_config
from pipeline.evaluate.groups import Groups
from pipeline.io.writer import write_examples

N = 900
REPLICATES = 10
LEVEL = 0.9


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paired")
    rng = np.random.default_rng(1819)
    y = (rng.random(N) < 0.45).astype(np.int64)
    cand = (rng.normal(-1.0, 1.0, N) + 2.2 * y).astype(np.float32)
    base = (rng.normal(-1.0, 1.0, N) + 1.6 * y).astype(np.float32)
    w = rng.uniform(0.5, 2.0, N).astype(np.float32)
    write_examples(str(folder / "data.tfrecord"), {"y": y, "cand": cand, "base": base, "w": w})
    config = {
        "input": {"pattern": str(folder / "data.tfrecord"), "features": {
            "y": {"dtype": "int64"}, "cand": {"dtype": "float32"},
            "base": {"dtype": "float32"}, "w": {"dtype": "float32"}}},
        "model": {"logits": "cand"}, "baseline": {"logits": "base"},
        "heads": [{"type": "binary", "label": "y", "weight_column": "w"}],
        "metrics": {"confidence_intervals": {"method": "jackknife", "replicates": REPLICATES,
                                             "level": LEVEL, "seed": 7}},
        "batch_size": 128,
        "validation": [
            # The candidate is clearly better: a demand to gain 0.01 in accuracy passes on
            # the point and on the interval alike...
            {"metric": "accuracy", "change": {"absolute": 0.01}, "significant": True},
            # ...a demand to gain 0.5 fails on both...
            {"metric": "accuracy", "change": {"absolute": 0.5}, "significant": True},
            # ...and one set just above the point change passes only because the
            # interval reaches it (the oracle below checks that it does).
            {"metric": "accuracy", "change": {"absolute": "POINT+"}, "significant": True},
        ]}
    arrays = dict(y=y.astype(float), cand=cand.astype(float), base=base.astype(float),
                  w=w.astype(float))
    groups = Groups(load_config_dict(config, folder).metrics.confidence_intervals) \
        .of_records(str(folder / "data.tfrecord"), np.arange(N))
    point = _accuracy(arrays, "cand", np.ones(N, bool)) - _accuracy(arrays, "base",
                                                                   np.ones(N, bool))
    config["validation"][2]["change"]["absolute"] = float(point + 0.002)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    out = str(folder / "report")
    code = cli.main(["run", str(path), "--output", out, "--quiet", "--runner=FnApiRunner"])
    return arrays, groups, out, code


def load_config_dict(config, folder):
    path = folder / "probe.yaml"
    path.write_text(yaml.safe_dump(dict(config, validation=[])))
    return load_config(str(path))


def _accuracy(a, model, keep):
    right = ((a[model] > 0) == (a["y"] > 0.5)).astype(float)
    return np.sum(a["w"][keep] * right[keep]) / np.sum(a["w"][keep])


def _jackknife(a, groups, metric):
    """Paired delta-interval (delta, lower, upper) by delete-one-group jackknife."""
    everything = np.ones(N, bool)
    delta = metric(a, "cand", everything) - metric(a, "base", everything)
    reps = np.array([metric(a, "cand", groups != g) - metric(a, "base", groups != g)
                     for g in range(REPLICATES)])
    se = np.sqrt((REPLICATES - 1) / REPLICATES * np.sum((reps - reps.mean()) ** 2))
    half = stats.t.ppf(0.5 + LEVEL / 2, REPLICATES - 1) * se
    return delta, delta - half, delta + half


def test_delta_interval_is_the_paired_jackknife(run):
    arrays, groups, out, _ = run
    table = pq.read_table(os.path.join(out, "comparison.parquet")).to_pylist()
    row = next(r for r in table if r["slice"] == "" and r["key"] == "accuracy")
    delta, lower, upper = _jackknife(arrays, groups, _accuracy)
    assert row["delta"] == pytest.approx(delta, rel=1e-6)
    assert row["delta_lower"] == pytest.approx(lower, rel=1e-6)
    assert row["delta_upper"] == pytest.approx(upper, rel=1e-6)
    # counts have no interval
    counts = [r for r in table if r["metric"] == "example_count"]
    assert counts and all(r["delta_lower"] is None for r in counts)
    # the paired-intervals file is folded in, not left behind
    assert not os.path.exists(os.path.join(out, "_paired_intervals.parquet"))


def test_significant_gates(run):
    arrays, groups, out, code = run
    rows = pq.read_table(os.path.join(out, "validation.parquet")).to_pylist()
    by_gate = {r["gate"]: r for r in rows}
    delta, lower, upper = _jackknife(arrays, groups, _accuracy)
    assert by_gate[0]["passed"] and not by_gate[1]["passed"]
    # gate 2: the point change misses the bound, the interval reaches it
    bound = delta + 0.002
    assert delta < bound <= upper
    assert by_gate[2]["passed"], by_gate[2]["reason"]
    assert "interval" in by_gate[2]["reason"]
    assert code == 3  # gate 1 failed
    assert os.path.exists(os.path.join(out, "NOT_BLESSED"))
