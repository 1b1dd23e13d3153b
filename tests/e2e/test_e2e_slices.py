"""Bucketed, filtered and multivalent slices, and min_slice_size, through
`headeval run` end to end: in process, and on two SDK worker processes.

The oracle is pandas on the arrays the records were written from: `pd.cut`
for the buckets, `explode` of each example's distinct tags for the
multivalent slices, a boolean filter for `where`, then a groupby per slice
for example_count, weighted_example_count, and scikit-learn's
roc_auc_score (weighted) per slice. The slice strings are written here by
hand from the README's rule, not by the code under test.
"""
import json
import math
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from pipeline import cli
from pipeline.io.writer import take, write_examples
from tests.conftest import MULTI_PROCESS_FLAGS, RUNNER_FLAG

N = 1500
MIN_SLICE_SIZE = 25
BOUNDARIES = [18, 25, 35, 50]
# The buckets as the README names them, in order, for pd.cut's codes (NaN: -1).
AGE_LABELS = ["[-inf..18)", "[18..25)", "[25..35)", "[35..50)", "[50..inf]"]
FILTER = ["US", "DE"]


def _arrays():
    rng = np.random.default_rng(2020)
    country = rng.choice(np.array(["US", "DE", "FR", "BR"]), N, p=[0.4, 0.3, 0.2, 0.1])
    country[rng.choice(N, 12, replace=False)] = "JP"  # below min_slice_size
    age = rng.uniform(10, 70, N).astype(np.float32)
    age[rng.random(N) < 0.05] = np.nan
    age[:3] = [18.0, 25.0, 50.0]  # on the boundaries: the bucket they start
    plan = rng.choice(np.array(["free", "pro"]), N)
    pool = np.array(["a", "b", "c", "d"])
    n_tags = rng.integers(0, 4, N)
    tags = [list(rng.choice(pool, k, p=[0.5, 0.3, 0.195, 0.005])) for k in n_tags]
    tags[0] = ["a", "b", "a"]  # counts once in a, once in b
    y = (rng.random(N) < 0.4).astype(np.int64)
    z = (rng.normal(-0.3, 1.0, N) + 1.2 * y).astype(np.float32)
    w = rng.uniform(0.5, 2.0, N).astype(np.float32)
    return dict(country=country, age=age, plan=plan, tags=tags, y=y, z=z, w=w)


def _config(pattern):
    return {
        "input": {"pattern": pattern, "features": {
            "y": {"dtype": "int64"}, "z": {"dtype": "float32", "shape": [1]},
            "w": {"dtype": "float32"}, "age": {"dtype": "float32"},
            "country": {"dtype": "string"}, "plan": {"dtype": "string"},
            "tags": {"dtype": "string", "varlen": True}}},
        "model": {"logits": "z"},
        "heads": [{"type": "binary", "label": "y", "weight_column": "w"}],
        "metrics": {"auc": {"method": "exact"}},
        "slices": [[], ["country"], {"feature": "age", "boundaries": BOUNDARIES}, ["tags"],
                   {"features": ["tags", "country"], "where": {"country": FILTER}},
                   {"features": ["country", "plan"], "where": {"country": FILTER}}],
        "min_slice_size": MIN_SLICE_SIZE,
    }


def _oracle(a):
    """{slice string: {example_count, weighted_example_count, auc}} of every
    slice (before min_slice_size), from pandas and scikit-learn."""
    df = pd.DataFrame({k: a[k] for k in ("country", "age", "plan", "y", "z", "w")})
    df["p"] = 1 / (1 + np.exp(-df["z"].astype(np.float64)))
    codes = pd.cut(df["age"], [-np.inf] + BOUNDARIES + [np.inf], right=False).cat.codes
    df["bucket"] = [AGE_LABELS[c] if c >= 0 else "nan" for c in codes]
    df["tag"] = [sorted(set(t)) for t in a["tags"]]
    tagged = df.explode("tag").dropna(subset=["tag"])  # no tag: in no tags slice
    kept = df["country"].isin(FILTER)
    groups = [(df, ["country"], ["country"]), (df, ["bucket"], ["age"]),
              (tagged, ["tag"], ["tags"]),
              (tagged[tagged["country"].isin(FILTER)], ["tag", "country"], ["tags", "country"]),
              (df[kept], ["country", "plan"], ["country", "plan"])]
    out = {"": _stats(df)}
    for frame, columns, names in groups:
        for values, group in frame.groupby(columns):
            key = ",".join("%s=%s" % pair for pair in zip(names, values))
            out[key] = _stats(group)
    return out


def _stats(g):
    auc = roc_auc_score(g["y"], g["p"], sample_weight=g["w"]) if g["y"].nunique() == 2 \
        else math.nan
    return {"example_count": len(g), "weighted_example_count": float(g["w"].sum()),
            "auc": auc}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The data in two files, run once in process and once on two workers."""
    folder = tmp_path_factory.mktemp("slices")
    a = _arrays()
    columns = {"y": a["y"], "z": a["z"][:, None], "w": a["w"], "age": a["age"],
               "country": a["country"], "plan": a["plan"], "tags": a["tags"]}
    write_examples(folder / "data" / "part-0.tfrecord", take(columns, 0, 700))
    write_examples(folder / "data" / "part-1.tfrecord", take(columns, 700, None))
    config = folder / "eval.yaml"
    config.write_text(yaml.safe_dump(_config("data/part-*"), sort_keys=False))
    outputs = {}
    for name, flags in (("single", [RUNNER_FLAG]), ("multi", list(MULTI_PROCESS_FLAGS))):
        outputs[name] = str(folder / name)
        assert cli.main(["run", str(config), "--output", outputs[name], *flags]) == 0
    return _oracle(a), outputs


@pytest.mark.e2e
@pytest.mark.parametrize("run", ["single", "multi"])
def test_slices_match_a_pandas_groupby(runs, run):
    oracle, outputs = runs
    folder = outputs[run]
    metrics = pq.read_table(os.path.join(folder, "metrics.parquet")).to_pandas()
    kept = {k for k, v in oracle.items() if k == "" or v["example_count"] >= MIN_SLICE_SIZE}
    small = set(oracle) - kept
    assert {"country=JP", "tags=d"} <= small and len(kept) >= 20  # the test has teeth
    assert set(metrics["slice"]) == kept
    for name in ("example_count", "weighted_example_count", "auc"):
        got = metrics[metrics["metric"] == name].set_index("slice")["value"]
        for key in kept:
            expected = oracle[key][name]
            if math.isnan(expected):
                assert math.isnan(got[key]), (key, name)
            else:
                assert got[key] == pytest.approx(expected, rel=1e-6, abs=1e-9), (key, name)
    # No small slice in curves.parquet (nor in the HTML made from both).
    curves = pq.read_table(os.path.join(folder, "curves.parquet"), columns=["slice"])
    assert set(curves.column("slice").to_pylist()) <= kept
    with open(os.path.join(folder, "run.json"), encoding="utf-8") as f:
        run_json = json.load(f)
    assert run_json["slices_suppressed"] == {"count": len(small),
                                             "min_slice_size": MIN_SLICE_SIZE}
    assert not [f for f in os.listdir(folder) if f.startswith("_")]


@pytest.mark.e2e
def test_slice_columns_and_order_of_the_new_forms(runs):
    _, outputs = runs
    table = pq.read_table(os.path.join(outputs["single"], "metrics.parquet"))
    rows = table.filter(table.column("metric").to_pandas().eq("example_count").values)
    rows = rows.to_pylist()
    by_slice = {r["slice"]: r for r in rows}
    row = by_slice["tags=a,country=US"]
    assert row["slice_spec"] == "tags,country"
    assert row["slice_values"] == [{"feature": "tags", "value": "a"},
                                   {"feature": "country", "value": "US"}]
    assert by_slice["age=[18..25)"]["slice_values"] == [{"feature": "age", "value": "[18..25)"}]
    ages = [r["slice"] for r in rows if r["slice_spec"] == "age"]
    assert ages == ["age=" + label for label in AGE_LABELS + ["nan"]]  # bucket order


@pytest.mark.e2e
def test_the_html_shows_no_small_slice(runs):
    _, outputs = runs
    assert cli.main(["report", outputs["single"]]) == 0
    with open(os.path.join(outputs["single"], "report.html"), encoding="utf-8") as f:
        page = f.read()
    assert "country=JP" not in page and "tags=d" not in page
    assert "country=BR" in page
