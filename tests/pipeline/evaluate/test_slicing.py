"""Slices of a batch (pipeline.evaluate.slicing): distinct values, segments,
and slice strings that keep every slice apart."""
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import parse_config
from pipeline.evaluate.evaluator import Evaluator
from pipeline.evaluate.slicing import SliceSpecs, distinct
from pipeline.report.rows import metric_rows


def test_distinct_values_of_strings():
    values, index = distinct(np.array([b"b", b"a", b"b", b"c"], dtype=object))
    assert values.tolist() == [b"a", b"b", b"c"] and index.tolist() == [1, 0, 1, 2]


def test_segments_from_a_known_factorization_match_those_computed():
    # RecordBatch.factorized (the fast reader's) must number slices exactly
    # as the evaluator does on its own, also for a subset of the rows (bad
    # ones dropped), where some distinct values are no longer present.
    rng = np.random.default_rng(3)
    country = rng.choice(np.array([b"US", b"BR", "é".encode(), b"FR"], object), 500)
    device = rng.choice(np.array([b"phone", b"web"], object), 500)
    config = parse_config({
        "input": {"pattern": "unused-*.tfrecord",
                  "features": {"y": {"dtype": "int64"}, "z": {"dtype": "float32", "shape": [1]},
                               "country": {"dtype": "string"}, "device": {"dtype": "string"}}},
        "heads": [{"type": "binary", "label": "y"}], "model": {"logits": "z"},
        "slices": [["country", "device"]]})
    features = {"country": country, "device": device}
    values = np.array(sorted(set(country.tolist())), object)
    factorized = {"country": (values, np.searchsorted(values, country).astype(np.int32))}
    for rows in (np.arange(500), np.flatnonzero(country != b"BR")):
        subset = {k: v[rows] for k, v in features.items()}
        known = {"country": (values, factorized["country"][1][rows])}
        computed = SliceSpecs(config.slices).segments(subset, ("country", "device"), len(rows))
        given = SliceSpecs(config.slices).segments(subset, ("country", "device"), len(rows),
                                                   known)
        assert computed[1] == given[1] and np.array_equal(computed[0], given[0])
        assert len(given[1]) == (8 if len(rows) == 500 else 6)


# -- slice strings: no two slices print alike -----------------------------------------

def test_buckets_match_pandas_cut():
    """np.searchsorted buckets = pandas.cut(right=False); -0.0 is 0.0, the
    infinities fall in the open ends and NaN in a bucket of its own."""
    import pandas as pd

    from pipeline.evaluate.slicing import bucket_codes
    bounds = [-1.0, 0.0, 2.5, 1e6]
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 3, 200), bounds, [-0.0, np.inf, -np.inf, np.nan]])
    x = x.astype(np.float32)
    expected = pd.cut(x.astype(np.float64), [-np.inf] + bounds + [np.inf], right=False,
                      labels=False)
    expected[x == np.inf] = len(bounds)  # [1e6..inf]: +inf is in the last bucket
    expected = np.where(np.isnan(x), len(bounds) + 1, expected)
    assert bucket_codes(x, bounds).tolist() == expected.astype(int).tolist()
    assert bucket_codes(np.array([-1, 0, 3], np.int64), bounds).tolist() == [1, 2, 3]


def _decode_slice(text):
    """An independent reading of the documented slice-string rule (README,
    "The report"): [(feature, value bytes)], splitting at unescaped `,` and
    `=`, with `\\\\`, `\\,`, `\\=` and `\\xHH` undone."""
    pairs, field, fields, i = [], bytearray(), [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and text[i + 1] == "x":
            field.append(int(text[i + 2:i + 4], 16))
            i += 4
            continue
        if c == "\\":
            field += text[i + 1].encode()
            i += 2
            continue
        if c in ",=":
            fields.append(bytes(field))
            field = bytearray()
            if c == ",":
                pairs.append(tuple(fields))
                fields = []
        else:
            field += c.encode("utf-8")
        i += 1
    fields.append(bytes(field))
    pairs.append(tuple(fields))
    return [(f.decode(), v) for f, v in pairs]


_VALUES = st.lists(st.binary(max_size=4) | st.sampled_from([b",", b"=", b"\\", b"a=1,b", b"\xff",
                                                             "\ufffd".encode(), b"\x1b[0m"]),
                   min_size=1, max_size=4)
_FLOATS = st.lists(st.floats(width=32), min_size=1, max_size=3)
X_BOUNDS = [-1.5, 0, 2]
X_LABELS = ["[-inf..-1.5)", "[-1.5..0)", "[0..2)", "[2..inf]"]  # README's names


def _x_label(v):
    return "nan" if v != v else X_LABELS[sum(b <= v for b in X_BOUNDS)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_slices_of_any_bytes_and_floats_count_every_example_once(data):
    """Slice values drawn from any bytes (separators, backslashes, bytes that
    are not UTF-8, escape codes) and any float32 (bucketed) give exactly one
    slice per distinct value tuple or bucket, each with its example count (a
    Counter oracle): values that printed alike once shared one accumulator."""
    a_pool, b_pool, x_pool = data.draw(_VALUES), data.draw(_VALUES), data.draw(_FLOATS)
    n = data.draw(st.integers(2, 40))
    pick = lambda pool: np.array([data.draw(st.sampled_from(pool)) for _ in range(n)], object)
    a, b = pick(a_pool), pick(b_pool)
    x = pick(x_pool).astype(np.float32)
    config = parse_config({
        "input": {"pattern": "unused-*.tfrecord",
                  "features": {"y": {"dtype": "int64"}, "z": {"dtype": "float32", "shape": [1]},
                               "a": {"dtype": "string"}, "b": {"dtype": "string"},
                               "x": {"dtype": "float32"}}},
        "heads": [{"type": "binary", "label": "y"}], "model": {"logits": "z"},
        "slices": [["a", "b"], ["a"], {"feature": "x", "boundaries": X_BOUNDS}]})
    features = {"y": np.arange(n) % 2, "z": np.zeros((n, 1), np.float32), "a": a, "b": b, "x": x}
    evaluator = Evaluator(config)
    accumulators = {}
    half = n // 2
    for rows in (slice(0, half), slice(half, n)):
        evaluator.add_batch({k: v[rows] for k, v in features.items()}, accumulators)
    evaluator.finish(accumulators)
    counts = {r["slice"]: r["value"] for key, metrics in accumulators.items()
              for r in metric_rows(key, metrics, [""]) if r["metric"] == "example_count"}
    expected = Counter()
    expected.update((("a", va), ("b", vb)) for va, vb in zip(a.tolist(), b.tolist()))
    expected.update((("a", va),) for va in a.tolist())
    expected.update((("x", _x_label(vx)),) for vx in x.tolist())
    expected[()] = n
    got = Counter()
    for text, count in counts.items():
        pairs = _decode_slice(text) if text else []
        key = tuple((f, v.decode() if f == "x" else v) for f, v in pairs)
        assert key not in got, "two slices decode to %r" % (key,)
        got[key] = int(count)
    assert got == expected
