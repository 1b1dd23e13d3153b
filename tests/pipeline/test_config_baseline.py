"""The `baseline:` key (issue 18): the forms of `model:`, checked by the same
code at config time, each error one line naming `baseline...`; known to
`headeval schema`; echoed by `Config.to_dict` (run.json)."""
import copy

import jsonschema
import pytest
import yaml

from pipeline.config import ConfigError, ModelConfig, parse_config
from pipeline.config.json_schema import config_schema
from pipeline.report.stages import GatherSlices
from tests.pipeline.test_config import BASE


def _data(baseline):
    data = yaml.safe_load(BASE)
    data["baseline"] = baseline
    return data


def test_baseline_takes_the_forms_of_model():
    config = parse_config(_data({"logits": {"tags": "logits", "clicked": "score"}}))
    assert config.baseline == ModelConfig(logits={"tags": "logits", "clicked": "score"})
    assert config.to_dict()["baseline"] == {"logits": {"tags": "logits", "clicked": "score"}}
    assert parse_config(config.to_dict()) == config
    assert ("baseline.logits.clicked", "score") in config.feature_references()
    saved = parse_config(_data({"saved_model": "gs://b/m", "output": "out", "device": "cpu",
                                "batch_size": 64}))
    assert saved.baseline == ModelConfig(saved_model="gs://b/m", output="out", device="cpu",
                                         batch_size=64)
    assert parse_config(saved.to_dict()) == saved
    assert parse_config(yaml.safe_load(BASE)).baseline is None
    assert "baseline" not in parse_config(yaml.safe_load(BASE)).to_dict()


@pytest.mark.parametrize("baseline, key, words", [
    ({"logits": {"tags": "logits", "clicked": "nope"}}, "baseline.logits.clicked",
     ["a feature of input.features", "'nope'"]),
    ({"logits": {"tags": "score", "clicked": "score"}}, "baseline.logits.tags",
     ["shape [3]", "float32 scalar"]),
    ({"logits": "logits"}, "baseline.logits", ["shape [4]", "float32 [3]"]),
    ({"logits": {"tags": "logits"}}, "baseline.logits", ["one entry per head"]),
    ({"logits": "logits", "saved_model": "m"}, "baseline", ["exactly one of"]),
    ({}, "baseline", ["exactly one of"]),
    ({"logits": {"tags": "logits", "clicked": "score"}, "device": "cpu"}, "baseline.device",
     ["saved_model"]),
    ({"saved_model": "m", "device": "tpu"}, "baseline.device", ["auto, cpu, gpu"]),
    ({"saved_model": "m", "output": {"tags": "a"}}, "baseline.output",
     ["one entry per head"]),
    ({"saved_model": "m", "batch_size": 0}, "baseline.batch_size", ["integer >= 1"]),
    ({"saved_model": "m", "signatur": "s"}, "baseline.signatur", ["unknown key"]),
    ("m", "baseline", ["a mapping"]),
])
def test_a_bad_baseline_is_one_line_naming_its_key(baseline, key, words):
    with pytest.raises(ConfigError) as info:
        parse_config(_data(baseline), file="eval.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("eval.yaml: ")
    assert "`%s`" % key in message, message
    for word in words:
        assert word in message, message


def test_the_schema_knows_baseline():
    validator = jsonschema.Draft202012Validator(config_schema())
    good = _data({"saved_model": "m", "output": {"tags": "a", "clicked": "b"}})
    assert not list(validator.iter_errors(good))
    assert not list(validator.iter_errors(_data(None)))  # null: absent
    for bad in ({"saved_model": "m", "zz": 1}, {"logits": "x", "device": "cpu"}, {}):
        assert list(validator.iter_errors(_data(copy.deepcopy(bad)))), bad


def test_max_slices_counts_slices_not_models():
    """The report gathers a candidate and a baseline table per slice: three
    slices of a spec are three, not six."""
    elements = [(key, None, None) for key in ("", "id=a", "id=b", "id=c") for _ in range(2)]
    fn = GatherSlices([(), ("id",)], 3)
    a, b = fn.create_accumulator(), fn.create_accumulator()
    for e in elements[:4]:
        fn.add_input(a, e)
    for e in elements[4:]:
        fn.add_input(b, e)
    assert len(fn.extract_output(fn.merge_accumulators([a, b]))) == 8
    with pytest.raises(ConfigError, match="more than max_slices = 2"):
        GatherSlices([(), ("id",)], 2).merge_accumulators([a, b])
