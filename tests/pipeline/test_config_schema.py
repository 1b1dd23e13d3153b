"""`headeval schema`: the config's JSON Schema (pipeline.config.json_schema),
checked with `jsonschema` against the parser it is built beside.

The schema must accept every config the parser accepts (an editor must not
underline a good config) and reject the invalid ones whose fault it can
express; what only the parser can check is listed below, and a case on that
list must really pass the schema (so the list stays exact). The parser's own
"unknown key" messages give the keys it allows: the schema must have those.
"""
import copy
import json
import os
import re

import jsonschema  # the project's test extra
import pytest
import yaml

from tests.pipeline.test_config import (_DELETE, BASE, ERRORS, MERGED, _classes_config, _set,
                                        edit)
from tests.support import REPO

from pipeline.config import ConfigError, parse_config
from pipeline.config.json_schema import PARSER_ONLY, config_schema
from pipeline.config.spec import (AUC_METHODS, BAD_EXAMPLES, COMMON_HEAD_KEYS, DTYPES,
                                  HEAD_KEYS, HEAD_KEYS_BY_TYPE, HEAD_TYPES, LOSS_REDUCTIONS,
                                  VOCABULARY_REF_KEYS)
from pipeline.runtime.devices import DEVICES

SCHEMA = config_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
# VS Code's YAML extension validates with draft-07 rules: same verdicts.
DRAFT_7 = jsonschema.Draft7Validator(SCHEMA)


def schema_errors(data):
    errors = [e.message for e in VALIDATOR.iter_errors(data)]
    assert bool(errors) == (not DRAFT_7.is_valid(data)), errors
    return errors


def parser_accepts(data, tmp_path):
    try:
        parse_config(copy.deepcopy(data), base_dir=str(tmp_path))
        return True
    except ConfigError:
        return False


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["title"] and all(p in SCHEMA["description"] for p in PARSER_ONLY)


# -- valid configs: the repository's and the tests' -------------------------------

def _base(change=None):
    data = yaml.safe_load(BASE)
    if change:
        change(data)
    return data


def _vocabulary_refs(d):  # test_config.test_vocabulary_refs
    d["transform"] = {"tft_output": "tft"}
    d["heads"][0]["label_vocabulary"] = {"tft": "tags_vocab"}
    d["heads"][0]["classes_for_class_based_metrics"] = ["a"]
    d["heads"][1]["label_vocabulary"] = {"compute": True}
    d["heads"][1]["label"] = "y_str"


def _merged():  # test_config.test_merge_keys_are_yaml_not_duplicates
    return yaml.safe_load(MERGED)


def _regression():
    return {"input": {"pattern": "x", "features": {"y": {"dtype": "float32", "shape": [2]},
                                                   "z": {"dtype": "float32", "shape": [2]}}},
            "model": {"logits": "z"},
            "heads": [{"type": "regression", "label": "y", "label_dimension": 2,
                       "loss_fn": "my.losses:huber", "loss_reduction": "sum"}],
            "metrics": {"auc": {"method": "exact"}}, "max_slices": 50, "batch_size": 100}


def _slice_forms():
    from tests.pipeline.test_config_slices import BASE as SLICES_BASE
    return dict(copy.deepcopy(SLICES_BASE), min_slice_size=20, slices=[
        [], ["country"], ["tags", "country"], {"feature": "age", "boundaries": [18, 25.5]},
        {"features": ["age", "plan"], "boundaries": {"age": [30]}},
        {"features": ["country", "n"], "where": {"country": ["US"], "n": [1, 2]}}])


def _light_configs():
    from tests.conftest import e2e_config
    from tests.pipeline.test_cli import CONFIG as CLI_CONFIG
    configs = {
        "configs/demo.yaml": os.path.join(REPO, "configs", "demo.yaml"),
        "configs/saved_model.yaml": os.path.join(REPO, "configs", "saved_model.yaml"),
        "pipeline/data/demo.yaml": os.path.join(REPO, "pipeline", "data", "demo.yaml"),
    }
    out = {}
    for name, path in configs.items():
        with open(path, encoding="utf-8") as f:
            out[name] = yaml.safe_load(f)
    out.update({
        "test_config.BASE": _base(),
        "test_config defaults": yaml.safe_load(
            "input: {pattern: /abs/x.tfrecord, features: {z: {dtype: float32}, "
            "y: {dtype: int64}}}\nmodel: {logits: z}\nheads: [{type: binary, label: y}]\n"
            "slices: [[y]]\n"),
        "test_config vocabulary refs": _base(_vocabulary_refs),
        "test_config saved_model": _base(lambda d: d.update(model={
            "saved_model": "model", "output": {"tags": "out_tags", "clicked": "out_c"},
            "device": "cpu", "batch_size": 256})),
        "test_config transform outputs": _base(lambda d: (
            d.update(transform={"tft_output": "tft"}), d["heads"][1].update(label="y_id"))),
        "test_config merge keys": _merged(),
        "test_config uris": _base(lambda d: d.update(output="gs://bucket/report")),
        "test_config 1000 classes": _classes_config(1000),
        "test_config multi_label exact": _classes_config(12, "exact", "multi_label"),
        "regression": _regression(),
        "test_cli.CONFIG": yaml.safe_load(CLI_CONFIG),
        "conftest.e2e_config": e2e_config("data/part-*"),
        "validation gates": _base(lambda d: d.update(validation=[
            {"metric": "auc", "head": "tags", "slices": ["", "country=*"], "lower_bound": 0.8},
            {"metric": "precision", "class": "a", "threshold": 0.5, "upper_bound": 0.99,
             "direction": "higher", "significant": False},
            {"metric": "recall", "class": 3, "slices": ["overall"], "lower_bound": 0}])),
        "test_config_slices forms": _slice_forms(),
    })
    return out


VALID = _light_configs()


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_schema_accepts_every_valid_config(name, tmp_path):
    data = VALID[name]
    assert parser_accepts(data, tmp_path), name
    assert schema_errors(data) == []
    # and the config as run.json records it
    assert schema_errors(parse_config(copy.deepcopy(data), base_dir=str(tmp_path)).to_dict()) == []


def test_the_schema_accepts_the_bad_input_e2e_config(tmp_path):
    """tests/e2e/test_bad_input.py's CONFIG (that module imports TensorFlow)."""
    from tests.e2e.test_bad_input import CONFIG
    assert parser_accepts(CONFIG, tmp_path)
    assert schema_errors(CONFIG) == []


def _paths(data, prefix=()):
    """The path of every value in mappings and lists of `data`."""
    items = data.items() if isinstance(data, dict) else \
        enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        yield prefix + (k,)
        yield from _paths(v, prefix + (k,))


@pytest.mark.parametrize("name", ["test_config.BASE", "test_config saved_model", "regression",
                                  "test_config vocabulary refs", "configs/demo.yaml",
                                  "validation gates"])
def test_null_where_the_parser_takes_it_for_an_absent_key(name, tmp_path):
    """Any value set to null (what a section with all its keys commented out
    reads as): what the parser accepts, the schema accepts."""
    checked = 0
    for path in _paths(VALID[name]):
        data = copy.deepcopy(VALID[name])
        _set(list(path), None)(data)
        if parser_accepts(data, tmp_path):
            assert schema_errors(data) == [], path
            checked += 1
    assert checked >= 3


# -- invalid configs ---------------------------------------------------------------

# The key paths of test_config.ERRORS whose fault only the parser sees: they
# pass the schema (asserted, so this list stays exact).
PARSER_ONLY_KEYS = {
    "heads[1].label": "a feature of input.features; a string one needs label_vocabulary",
    "heads[0].weight_column": "a numeric feature of input.features",
    "slices[1][0]": "a feature of input.features with one value per example",
    "model.logits.clicked": "a feature of input.features",
    "model.logits": "one entry per head",
    "model.logits.tags": "the feature's size is the heads' logits dimension",
    "heads[0].label_vocabulary": "n_classes entries",
    "heads[0].label_vocabulary.file": "a readable file",
    "heads[0].label_vocabulary.tft": "needs a transform section",
    "heads[0].classes_for_class_based_metrics": "below n_classes, or in label_vocabulary",
    "heads[1].name": "unique among heads",  # (a missing one is the schema's: see below)
    "head_weights": "one finite number per head",
}
# heads[1].name appears twice in ERRORS: as a duplicate (parser only) and
# missing with several heads (the schema's too).
SCHEMA_TOO = {("heads[1].name", "several heads")}


@pytest.mark.parametrize("change,key,words", ERRORS, ids=[e[1] + "-%d" % i
                                                          for i, e in enumerate(ERRORS)])
def test_the_schema_rejects_what_it_can_of_the_parsers_refusals(change, key, words, tmp_path):
    data = yaml.safe_load(edit(None, change))
    assert not parser_accepts(data, tmp_path)
    parser_only = key in PARSER_ONLY_KEYS and not any((key, w) in SCHEMA_TOO for w in words)
    if parser_only:
        assert schema_errors(data) == [], "now caught by the schema: drop it from the list"
    else:
        assert schema_errors(data), key


MORE_ERRORS = [
    # (change of BASE, why); each refused by the parser and by the schema
    (_set(["max_slices"], 0), "max_slices >= 1"),
    (_set(["batch_size"], "8192"), "an integer"),
    (_set(["input"], None), "input is required"),
    (_set(["input", "features"], {}), "at least one feature"),
    (_set(["input", "features", "tags", "varlen"], "yes"), "varlen is a boolean"),
    (_set(["input", "features", "score", "shape"], [0]), "dimensions >= 1"),
    (_set(["input", "features", "y", "default"], 1.5), "an int64 default is an integer"),
    (_set(["input", "features", "tags", "default"], ["a"]), "no default for varlen"),
    (_set(["transform"], {}), "tft_output is required"),
    (_set(["heads", 0, "n_classes"], 1), "multi_label: n_classes >= 2"),
    (_set(["heads", 1, "n_classes"], 3), "binary: n_classes 2 or absent"),
    (_set(["heads", 1, "type"], "multi_class"), "multi_class needs n_classes"),
    (_set(["heads", 1, "type"], "regression"), "no thresholds on a regression head"),
    (_set(["heads", 1, "label_dimension"], 2), "label_dimension is for regression"),
    (_set(["heads", 1, "name"], "a/b"), "no '/' in a head name"),
    (_set(["heads", 1, "name"], ""), "a non-empty head name"),
    (_set(["heads", 0, "label_vocabulary"], {"compute": False}), "compute: true only"),
    (_set(["heads", 0, "label_vocabulary"], {"file": "v.txt", "tft": "v"}), "one ref key"),
    (_set(["heads", 0, "label_vocabulary"], "a,b,c"), "a list or a mapping"),
    (_set(["heads", 0, "thresholds"], [True]), "numbers, not booleans"),
    (_set(["heads", 0, "loss_fn"], "a:b c"), "no space in loss_fn"),
    (_set(["heads", 0, "loss_reduction"], None), "loss_reduction is not nullable"),
    (_set(["heads", 0, "label"], _DELETE), "label is required"),
    (_set(["model"], {}), "logits or saved_model"),
    (_set(["model"], {"saved_model": "m", "signature": None}), "a signature string"),
    (_set(["model"], {"saved_model": "m", "device": "tpu"}), "a device"),
    (_set(["model"], {"saved_model": "m", "batch_size": 0}), "model.batch_size >= 1"),
    (_set(["model", "logits"], ["score"]), "a name or a mapping"),
    (_set(["slices"], [[], ["country"], ["country"]]), "distinct slices"),
    (_set(["slices"], [["country", "country"]]), "distinct features in a slice"),
    (_set(["slices"], [{"feature": "score", "features": ["score"], "boundaries": [1]}]),
     "feature or features, not both"),
    (_set(["slices"], [{"boundaries": [1]}]), "a slice spec names its features"),
    (_set(["slices"], [{"feature": "score", "boundaries": ["1"]}]), "numeric boundaries"),
    (_set(["slices"], [{"feature": "score", "boundaries": []}]), "some boundaries"),
    (_set(["slices"], [{"feature": "country", "where": {"country": []}}]), "where has values"),
    (_set(["slices"], [{"feature": "country", "where": {"country": [True]}}]),
     "where values are strings or integers"),
    (_set(["min_slice_size"], 0), "min_slice_size >= 1"),
    (_set(["metrics"], {"roc": True}), "unknown metrics key"),
    (_set(["metrics", "auc", "buckets"], 251), "buckets >= MIN_AUC_BUCKETS"),
    (_set(["head_weights"], [1.0, -0.5]), "non-negative weights"),
    (_set(["output"], ""), "a non-empty path"),
    (_set(["validation"], [{"metric": "auc", "lower_bound": 0.5, "upper_bound": 0.9}]),
     "one criterion per gate"),
    (_set(["validation"], [{"metric": "auc"}]), "a gate has a criterion"),
    (_set(["validation"], [{"lower_bound": 0.5}]), "a gate names its metric"),
    (_set(["validation"], [{"metric": "auc", "lower_bound": 0.5, "direction": "up"}]),
     "direction higher or lower"),
    (_set(["validation"], {"metric": "auc"}), "validation is a list"),
]


@pytest.mark.parametrize("change,why", MORE_ERRORS, ids=[e[1] for e in MORE_ERRORS])
def test_the_schema_rejects_more_faults_the_parser_refuses(change, why, tmp_path):
    data = _base(change)
    assert not parser_accepts(data, tmp_path), why
    assert schema_errors(data), why


# -- drift guards --------------------------------------------------------------------

def _section(path):
    """(change adding an unknown key at `path` of BASE, the schema's node there)."""
    nodes = {"": SCHEMA, "input": SCHEMA["properties"]["input"],
             "input.features.score": SCHEMA["$defs"]["feature"],
             "model": SCHEMA["properties"]["model"], "heads.0": SCHEMA["$defs"]["head"],
             "transform": SCHEMA["properties"]["transform"]["anyOf"][0],
             "metrics": SCHEMA["properties"]["metrics"]["anyOf"][0]}
    nodes["metrics.auc"] = nodes["metrics"]["properties"]["auc"]["anyOf"][0]
    return nodes[path]


@pytest.mark.parametrize("path", ["", "input", "input.features.score", "model", "heads.0",
                                  "transform", "metrics", "metrics.auc"])
def test_the_schema_has_exactly_the_keys_the_parser_allows(path, tmp_path):
    """The parser's unknown-key message lists the keys it allows there."""
    data = _base(lambda d: d.update(transform={"tft_output": "tft"}))
    node = data
    for part in filter(None, path.split(".")):
        node = node[int(part) if part.isdigit() else part]
    node["zz_unknown"] = 1
    with pytest.raises(ConfigError, match="unknown key") as info:
        parse_config(data)
    allowed = re.search(r"expected one of: ([^(]*)", str(info.value)).group(1).strip()
    schema = _section(path)
    assert list(schema["properties"]) == allowed.split(", ")
    assert schema["additionalProperties"] is False
    assert schema_errors(data)


def test_the_schemas_names_are_the_parsers():
    props = SCHEMA["properties"]
    head, feature = SCHEMA["$defs"]["head"], SCHEMA["$defs"]["feature"]
    assert feature["properties"]["dtype"]["enum"] == list(DTYPES)
    assert head["properties"]["type"]["enum"] == list(HEAD_TYPES)
    assert head["properties"]["loss_reduction"]["enum"] == list(LOSS_REDUCTIONS)
    assert props["bad_examples"]["enum"] == list(BAD_EXAMPLES)
    assert props["model"]["properties"]["device"]["anyOf"][0]["enum"] == list(DEVICES)
    auc = props["metrics"]["anyOf"][0]["properties"]["auc"]["anyOf"][0]
    assert auc["properties"]["method"]["enum"] == list(AUC_METHODS)
    refs = head["properties"]["label_vocabulary"]["anyOf"][0]["anyOf"][1:]
    assert [list(r["properties"]) for r in refs] == [[k] for k in VOCABULARY_REF_KEYS]
    # the keys a head of each type refuses
    for kind, rule in zip(HEAD_TYPES, head["allOf"]):
        assert rule["if"]["properties"]["type"]["const"] == kind
        refused = {k for k, v in rule["then"]["properties"].items() if v is False}
        assert refused == set(HEAD_KEYS) - set(COMMON_HEAD_KEYS) - set(HEAD_KEYS_BY_TYPE[kind])


def test_the_schemas_defaults_are_the_parsers():
    """A config that leaves a key out gets the schema's `default` for it."""
    data = {"input": {"pattern": "x", "features": {"y": {"dtype": "float32"}}},
            "model": {"saved_model": "m"},
            "heads": [{"type": "regression", "label": "y"}]}
    config = parse_config(data)
    props = SCHEMA["properties"]
    head = SCHEMA["$defs"]["head"]["properties"]
    model = props["model"]["properties"]
    auc = props["metrics"]["anyOf"][0]["properties"]["auc"]["anyOf"][0]["properties"]
    feature = SCHEMA["$defs"]["feature"]["properties"]
    assert config.batch_size == props["batch_size"]["default"]
    assert config.max_slices == props["max_slices"]["default"]
    assert config.bad_examples == props["bad_examples"]["default"]
    assert [list(s) for s in config.slices] == props["slices"]["default"]
    assert config.metrics.auc.method == auc["method"]["default"]
    assert config.model.signature == model["signature"]["default"]
    assert config.model.device == model["device"]["default"]
    assert config.heads[0].loss_reduction == head["loss_reduction"]["default"]
    assert config.heads[0].label_dimension == head["label_dimension"]["default"]
    y = config.input.features["y"]
    assert list(y.shape) == feature["shape"]["default"] and y.varlen == feature["varlen"]["default"]
    from pipeline.config import DEFAULT_AUC_BUCKETS
    assert auc["buckets"]["default"] == DEFAULT_AUC_BUCKETS


def _described(node, where="$"):
    """Each key of each mapping in the schema has a description (the rules
    of if/then/else only narrow keys described already)."""
    if isinstance(node, dict):
        for k, v in (node.get("properties") or {}).items():
            assert v.get("description"), "%s.%s has no description" % (where, k)
        for k, v in node.items():
            if k not in ("if", "then", "else", "allOf"):
                _described(v, "%s.%s" % (where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _described(v, "%s[%d]" % (where, i))


def test_every_key_has_a_description():
    _described({k: v for k, v in SCHEMA.items() if k != "$defs"})
    for name, node in SCHEMA["$defs"].items():
        assert node.get("description"), name
        _described(node, name)


def test_the_schema_is_plain_json():
    assert json.loads(json.dumps(SCHEMA)) == SCHEMA
