"""Multivalent, filtered and bucketed slice specs on in-memory batches
(pipeline.evaluate.slicing), against pandas; the slice columns of any value."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from pipeline.config import MAX_SLICE_VALUE_BYTES, ConfigError, SliceSpec, parse_config
from pipeline.evaluate.evaluator import Evaluator
from pipeline.evaluate.slicing import SliceSpecs, slice_key, slice_value_strings
from pipeline.report.rows import metric_rows
from pipeline.report.schema import slice_columns

FEATURES = {"y": {"dtype": "int64"}, "z": {"dtype": "float32", "shape": [1]},
            "w": {"dtype": "float32"}, "c": {"dtype": "string"}, "n": {"dtype": "int64"},
            "t": {"dtype": "string", "varlen": True}, "v": {"dtype": "float32", "varlen": True}}
SLICES = [["c"], ["t"], ["t", "c"], ["c", "n"], ["n"],
          {"features": ["t", "n"], "where": {"t": ["a", "b"], "n": [0, 2]}},
          {"features": ["v", "c"], "boundaries": {"v": [0.0]}}]


def _config(slices=SLICES, **more):
    return parse_config(dict({
        "input": {"pattern": "unused", "features": FEATURES}, "model": {"logits": "z"},
        "heads": [{"type": "binary", "label": "y", "weight_column": "w"}],
        "slices": slices}, **more))


def test_which_specs_are_derived():
    """[c] and [n] are unions of [c, n]'s slices, and the overall slice too;
    specs with a var-length feature or a `where` are computed from the
    examples; after a transform nothing is known, so nothing is derived."""
    specs = SliceSpecs.for_config(_config())
    assert {s.features: t.features for s, t in specs.derived.items()} == {
        (): ("c", "n"), ("c",): ("c", "n"), ("n",): ("c", "n")}
    transformed = SliceSpecs.for_config(_config(transform={"tft_output": "tft"}))
    assert transformed.derived == {}


def test_multivalent_filtered_and_bucketed_slices_match_pandas():
    rng = np.random.default_rng(7)
    n = 300
    c = rng.choice(np.array([b"US", b"DE", b"FR"], object), n)
    num = rng.integers(0, 4, n)
    t = [list(rng.choice(np.array([b"a", b"b", b"c"], object), k)) for k in rng.integers(0, 4, n)]
    v = [list(rng.normal(0, 1, k).astype(np.float32)) for k in rng.integers(0, 3, n)]
    v[0] = [np.float32(np.nan), np.float32(1.0), np.float32(2.0)]  # one in nan, once in [0..inf]
    w = rng.uniform(0.5, 2, n).astype(np.float32)
    features = {"y": rng.integers(0, 2, n), "z": rng.normal(0, 1, (n, 1)).astype(np.float32),
                "w": w, "c": c, "n": num}
    evaluator = Evaluator(_config())
    accumulators = {}
    for rows in (slice(0, 170), slice(170, n)):  # two batches
        batch = {k: a[rows] for k, a in features.items()}
        batch["t"] = tf.ragged.constant(t[rows], dtype=tf.string)
        batch["v"] = tf.ragged.constant(v[rows], dtype=tf.float32)
        evaluator.add_batch(batch, accumulators)
    evaluator.finish(accumulators)
    got = {}
    for key, metrics in accumulators.items():
        for r in metric_rows(key, metrics, [""]):
            if r["metric"] in ("example_count", "weighted_example_count"):
                got[key, r["metric"]] = r["value"]

    # The oracle: one row per example, exploded to one per distinct value.
    df = pd.DataFrame({"c": [x.decode() for x in c], "n": num, "w": w.astype(np.float64)})
    df["t"] = [sorted({x.decode() for x in row}) for row in t]
    df["v"] = [sorted({"nan" if x != x else "[-inf..0)" if x < 0 else "[0..inf]" for x in row})
               for row in v]
    by_t, by_v = df.explode("t").dropna(subset=["t"]), df.explode("v").dropna(subset=["v"])
    filtered = by_t[by_t["t"].isin(["a", "b"]) & by_t["n"].isin([0, 2])]
    expected = {("", "example_count"): n, ("", "weighted_example_count"): df["w"].sum()}
    for frame, columns in ((df, ["c"]), (by_t, ["t"]), (by_t, ["t", "c"]), (df, ["c", "n"]),
                           (df, ["n"]), (filtered, ["t", "n"]), (by_v, ["v", "c"])):
        for values, group in frame.groupby(columns):
            key = ",".join("%s=%s" % pair for pair in zip(columns, values))
            expected[key, "example_count"] = len(group)
            expected[key, "weighted_example_count"] = group["w"].sum()
    assert sorted(got) == sorted(expected)
    for k, value in expected.items():
        assert got[k] == pytest.approx(value, rel=1e-6), k


def test_slice_values_give_back_any_value():
    """`,` `=` `\\` newlines and bytes that are not UTF-8 in values: the
    slice string stays one pair per feature, and slice_values gives each
    value back as text (bytes that are not UTF-8 as `\\xHH`)."""
    values = [b"a,b", b"x=y", b"line1\nline2", b"back\\slash", "\u00e9t\u00e9".encode(),
              b"\xff\xfe", b"\\x41"]
    texts = slice_value_strings(np.array(values, object))
    for value, text in zip(values, texts):
        key = slice_key(("f,=\n", "g"), {"f,=\n": text, "g": "[18..25)"})
        spec, pairs = slice_columns(key)
        assert spec == "f\\,\\=\\x0a,g"
        assert pairs == [{"feature": "f,=\n", "value": value.decode("utf-8", "backslashreplace")},
                         {"feature": "g", "value": "[18..25)"}]
    assert len({slice_key(("f",), {"f": text}) for text in texts}) == len(values)


def test_long_values_of_a_var_length_feature_are_found():
    specs = SliceSpecs([["t"]])
    long = b"x" * (MAX_SLICE_VALUE_BYTES + 1)
    t = tf.ragged.constant([[b"a"], [b"b", long], [], [long, long]], dtype=tf.string)
    bad, _ = specs.long_slice_values({"t": t})
    assert sorted(bad) == [1, 3] and "%d bytes" % len(long) in bad[1][2]


def test_max_slices_names_the_feature_and_the_count():
    specs = SliceSpecs([["t"], SliceSpec(("b",), boundaries=(("b", (1.0, 2.0, 3.0)),))],
                       max_slices=3)
    t = tf.ragged.constant([[b"a", b"b"], [b"c", b"d"]], dtype=tf.string)
    with pytest.raises(ConfigError, match=r"^slices: \['t'\] yields more than max_slices = 3 "
                                          r"distinct slices \(4 met by one worker\)"):
        specs.slice_rows({"t": t}, ("t",), 2)
    with pytest.raises(ConfigError, match=r"\['b'\] yields more .*\(4 met"):
        specs.slice_rows({"b": np.array([0.0, 1.5, 2.5, 9.0])}, ("b",), 4)


def test_run_time_refusals_of_what_the_config_could_not_know():
    """After a transform the config cannot know a feature's dtype."""
    specs = SliceSpecs([["x"], SliceSpec(("s",), where=(("s", (1,)),))])
    with pytest.raises(ConfigError, match=r"^slices: feature 'x' holds floats; give it "
                                          r"boundaries"):
        specs.slice_rows({"x": np.array([0.5, 1.5], np.float32)}, ("x",), 2)
    with pytest.raises(ConfigError, match=r"`where` on feature 's' lists \[1\], but the feature "
                                          r"holds strings"):
        specs.slice_rows({"s": np.array([b"a", b"b"], object)}, ("s",), 2)
