"""The `slices:` section (pipeline.config.slices): bucketed, filtered and
multivalent slice specs, min_slice_size; each fault one line naming its key."""
import copy

import pytest

from pipeline.config import ConfigError, SliceSpec, parse_config
from pipeline.config.slices import bucket_labels

BASE = {
    "input": {"pattern": "x", "features": {
        "y": {"dtype": "int64"}, "z": {"dtype": "float32", "shape": [1]},
        "age": {"dtype": "float32"}, "n": {"dtype": "int64"},
        "country": {"dtype": "string"}, "plan": {"dtype": "string"},
        "tags": {"dtype": "string", "varlen": True},
        "emb": {"dtype": "float32", "shape": [4]}}},
    "model": {"logits": "z"},
    "heads": [{"type": "binary", "label": "y"}],
}


def _parse(slices, **more):
    data = copy.deepcopy(BASE)
    data["slices"] = slices
    data.update(more)
    return parse_config(data)


def test_every_form_parses_and_round_trips():
    config = _parse([[], ["country"], {"feature": "age", "boundaries": [18, 25.5, 50]},
                     {"features": ["age", "country"], "boundaries": {"age": [30]}},
                     {"features": ["country", "plan"], "where": {"country": ["US", "DE"]}},
                     {"features": ["n"], "where": {"n": [1, 3]}},
                     ["tags"], ["tags", "country"]], min_slice_size=20)
    assert config.slices == (
        SliceSpec(), SliceSpec(("country",)),
        SliceSpec(("age",), boundaries=(("age", (18.0, 25.5, 50.0)),)),
        SliceSpec(("age", "country"), boundaries=(("age", (30.0,)),)),
        SliceSpec(("country", "plan"), where=(("country", ("US", "DE")),)),
        SliceSpec(("n",), where=(("n", (1, 3)),)),
        SliceSpec(("tags",)), SliceSpec(("tags", "country")))
    assert [tuple(s) for s in config.slices][2] == ("age",)  # iterates as its features
    assert config.min_slice_size == 20
    assert parse_config(config.to_dict()) == config
    assert config.to_dict()["slices"][2] == {"features": ["age"],
                                             "boundaries": {"age": [18.0, 25.5, 50.0]}}


def test_bucket_labels():
    assert bucket_labels([18, 25.5, 1e20]) == ["[-inf..18)", "[18..25.5)", "[25.5..1e+20)",
                                               "[1e+20..inf]", "nan"]


ERRORS = [
    # (slices, key, words in the message)
    ([["age"]], "slices[0][0]", ["not float32", "boundaries: [b1, b2, ...]", "'age'"]),
    ([{"features": ["country", "age"]}], "slices[0].features[1]", ["boundaries"]),
    ([["emb"]], "slices[0][0]", ["shape [] or [1]", "varlen"]),
    ([{"feature": "age", "boundaries": [25, 18]}], "slices[0].boundaries", ["increasing"]),
    ([{"feature": "age", "boundaries": [18, 18]}], "slices[0].boundaries", ["each once"]),
    ([{"feature": "age", "boundaries": [18, float("inf")]}], "slices[0].boundaries",
     ["finite"]),
    ([{"feature": "age", "boundaries": [True]}], "slices[0].boundaries", ["finite numbers"]),
    ([{"feature": "age", "boundaries": []}], "slices[0].boundaries", ["non-empty"]),
    ([{"features": ["age", "n"], "boundaries": {"age": [1, 0]}}], "slices[0].boundaries.age",
     ["increasing"]),
    ([{"features": ["age", "n"], "boundaries": [1]}], "slices[0].boundaries", ["mapping"]),
    ([{"feature": "country", "boundaries": [1]}], "slices[0].boundaries", ["numeric"]),
    ([{"feature": "age", "features": ["age"], "boundaries": [1]}], "slices[0]",
     ["exactly one of"]),
    ([{"boundaries": [1]}], "slices[0]", ["exactly one of"]),
    ([{"features": []}], "slices[0].features", ["non-empty"]),
    ([{"feature": "age", "bounds": [1]}], "slices[0].bounds", ["unknown key"]),
    ([{"features": ["plan"], "where": {"country": ["US"]}}], "slices[0].where.country",
     ["a feature of the slice spec"]),
    ([{"features": ["country"], "where": {"country": "US"}}], "slices[0].where.country",
     ["non-empty list"]),
    ([{"features": ["country"], "where": {"country": [1]}}], "slices[0].where.country",
     ["strings", "quote"]),
    ([{"features": ["n"], "where": {"n": ["1"]}}], "slices[0].where.n", ["integers"]),
    ([{"features": ["age"], "boundaries": {"age": [1]}, "where": {"age": [1]}}],
     "slices[0].where.age", ["boundaries"]),
    ([["country"], {"features": ["country"], "where": {"country": ["US"]}}], "slices[1]",
     ["different from the slices before it"]),
    ([{"features": ["country", "country"]}], "slices[0]", ["distinct"]),
    ([5], "slices[0]", ["a list of feature names", "or a mapping"]),
]


@pytest.mark.parametrize("slices,key,words", ERRORS, ids=[e[1] + "-%d" % i
                                                          for i, e in enumerate(ERRORS)])
def test_faults_are_one_line_naming_the_key(slices, key, words):
    with pytest.raises(ConfigError) as info:
        _parse(slices)
    message = str(info.value)
    assert "\n" not in message and "`%s`" % key in message, message
    for w in words:
        assert w in message, message


def test_min_slice_size_is_a_positive_integer():
    assert _parse([["country"]]).min_slice_size is None
    for bad in (0, 2.5, "5"):
        with pytest.raises(ConfigError, match=r"`min_slice_size` must be an integer >= 1"):
            _parse([["country"]], min_slice_size=bad)


def test_a_transform_output_may_be_any_dtype_until_run_time():
    config = _parse([{"features": ["out"], "where": {"out": ["a", 2]}}],
                    transform={"tft_output": "tft"})
    assert config.slices[1].where_of("out") == ("a", 2)
