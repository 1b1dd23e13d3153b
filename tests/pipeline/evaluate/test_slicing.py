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

def test_zero_and_negative_zero_are_one_slice():
    """-0.0 == 0.0: the same slice, whichever sign a batch holds (hypothesis
    found them as two slices when they came in different batches)."""
    from pipeline.evaluate.slicing import slice_value_strings
    assert slice_value_strings(np.array([-0.0], np.float32)).tolist() == \
        slice_value_strings(np.array([0.0], np.float32)).tolist() == ["0"]


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
_FLOATS = st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_slices_of_any_bytes_and_floats_count_every_example_once(data):
    """Slice values drawn from any bytes (separators, backslashes, bytes that
    are not UTF-8, escape codes) and any float32 give exactly one slice per
    distinct value tuple, each with its example count (a Counter oracle):
    values that printed alike once shared one accumulator."""
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
        "slices": [["a", "b"], ["a"], ["x"]]})
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
    expected.update((("x", float(vx)),) for vx in x.tolist())
    expected[()] = n
    got = Counter()
    for text, count in counts.items():
        pairs = _decode_slice(text) if text else []
        key = tuple((f, float(np.float32(v.decode())) if f == "x" else v) for f, v in pairs)
        assert key not in got, "two slices decode to %r" % (key,)
        got[key] = int(count)
    assert got == expected
