"""Slices of a batch (pipeline.evaluate.slicing): distinct values, segments."""
import numpy as np

from pipeline.config import parse_config
from pipeline.evaluate.slicing import SliceSpecs, distinct


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
