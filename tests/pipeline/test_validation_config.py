"""The config's `validation:` gates (pipeline.config.validation): what is
accepted, each refusal naming its key, the round trip through run.json's
config, and a better direction for every metric name the heads report."""
import copy

import pytest
import yaml

from pipeline.config import ConfigError, parse_config
from pipeline.config.validation import (CHANGE_ABSOLUTE, CHANGE_RELATIVE, LOWER_BOUND,
                                        METRIC_DIRECTIONS, UPPER_BOUND, Gate, parse_validation)

BASE = yaml.safe_load("""
input:
  pattern: data/*.tfrecord
  features: {z: {dtype: float32}, y: {dtype: int64}}
model: {logits: z}
heads: [{type: binary, label: y}]
""")


def _config(gates):
    data = copy.deepcopy(BASE)
    data["validation"] = gates
    return data


def test_gates_parse_with_their_defaults():
    gates = parse_validation(yaml.safe_load("""
- {metric: auc, head: tags, slices: ["", "country=*"], lower_bound: 0.80}
- {metric: average_loss, change: {relative: 0.02}}
- {metric: recall, class: 3, threshold: 0.5, change: {absolute: -0.01}}
- {metric: prediction/mean, slices: [overall], upper_bound: 0.7}
- {metric: prediction/mean, change: {absolute: 0.1}, direction: lower}
"""), has_baseline=True)
    assert gates[0] == Gate("auc", LOWER_BOUND, 0.8, head="tags", slices=("", "country=*"))
    assert gates[1] == Gate("average_loss", CHANGE_RELATIVE, 0.02)
    assert gates[1].better == "lower" and gates[0].better == "higher"
    assert gates[2] == Gate("recall", CHANGE_ABSOLUTE, -0.01, class_name="3", threshold=0.5)
    assert gates[3] == Gate("prediction/mean", UPPER_BOUND, 0.7)  # `overall` is ""
    assert gates[4].better == "lower"
    assert parse_validation(None) == ()


def test_gates_round_trip_through_run_json():
    data = _config([{"metric": "auc", "slices": ["", "y=*"], "lower_bound": 0.8},
                    {"metric": "accuracy", "class": "a", "threshold": 0.3,
                     "change": {"absolute": -0.01}, "direction": "higher"}])
    # (without a baseline key: parse only the gates, with a baseline said to be there)
    gates = parse_validation(data["validation"], has_baseline=True)
    assert parse_validation([g.to_dict() for g in gates], has_baseline=True) == gates
    data["validation"] = data["validation"][:1]
    config = parse_config(data)
    assert parse_config(config.to_dict()) == config
    assert config.to_dict()["validation"] == [{"metric": "auc", "slices": ["", "y=*"],
                                               "lower_bound": 0.8}]


@pytest.mark.parametrize("gate, key, words", [
    ({"metric": "auc"}, "validation[0]", "exactly one of lower_bound, upper_bound, change"),
    ({"metric": "auc", "lower_bound": 0.5, "upper_bound": 0.9}, "validation[0]",
     "write two gates"),
    ({"lower_bound": 0.5}, "validation[0].metric", "the key is missing"),
    ({"metric": "auc", "lower_bound": "0.5"}, "validation[0].lower_bound", "a finite number"),
    ({"metric": "auc", "lower_bound": 0.5, "slice": [""]}, "validation[0]", "unknown key 'slice'"),
    ({"metric": "auc", "lower_bound": 0.5, "slices": "country=*"}, "validation[0].slices",
     "a non-empty list of slice globs"),
    ({"metric": "auc", "lower_bound": 0.5, "threshold": 2}, "validation[0].threshold",
     "a number in [0, 1]"),
    ({"metric": "auc", "change": {"absolute": 0.1, "relative": 0.1}}, "validation[0].change",
     "exactly one of absolute, relative"),
    ({"metric": "auc", "change": {"ratio": 0.1}}, "validation[0].change", "unknown key 'ratio'"),
    ({"metric": "auc", "lower_bound": 0.5, "direction": "up"}, "validation[0].direction",
     "one of higher, lower"),
    ({"metric": "auc", "lower_bound": 0.5, "significant": "yes"}, "validation[0].significant",
     "true or false"),
])
def test_a_bad_gate_is_refused_naming_its_key(gate, key, words):
    with pytest.raises(ConfigError) as info:  # (a config with `baseline:` says has_baseline)
        parse_validation([gate], "eval.yaml", has_baseline=True)
    assert "`%s`" % key in str(info.value) and words in str(info.value), str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_a_change_gate_needs_a_baseline():
    with pytest.raises(ConfigError, match=r"`validation\[0\].change` must be used with a "
                                          r"`baseline:` model"):
        parse_config(_config([{"metric": "auc", "change": {"absolute": -0.01}}]))
    parse_config(_config([{"metric": "auc", "lower_bound": 0.5}]))  # a bound needs none


@pytest.mark.parametrize("metric", ["prediction/mean", "my_custom_metric"])
def test_a_change_gate_on_a_metric_without_a_direction_needs_one(metric):
    with pytest.raises(ConfigError, match=r"`validation\[0\].direction` must be given for a "
                                          r"change gate on " + metric):
        parse_validation([{"metric": metric, "change": {"relative": 0.1}}], has_baseline=True)
    gate, = parse_validation([{"metric": metric, "change": {"relative": 0.1},
                               "direction": "higher"}], has_baseline=True)
    assert gate.better == "higher"


def test_a_misspelt_metric_of_a_change_gate_is_named():
    with pytest.raises(ConfigError, match=r"a metric the heads do not report \(did you mean "
                                          r"recall\?\)"):
        parse_validation([{"metric": "recal", "change": {"relative": 0.1}}], has_baseline=True)


def test_significant_needs_confidence_intervals():
    with pytest.raises(ConfigError, match="needs metrics.confidence_intervals"):
        parse_config(_config([{"metric": "auc", "lower_bound": 0.5, "significant": True}]))
    gate, = parse_validation([{"metric": "auc", "lower_bound": 0.5, "significant": True}],
                             has_intervals=True)
    assert gate.significant


def test_every_metric_a_head_reports_has_a_known_direction_entry():
    """Every base name of the four head types (extended metrics, thresholds,
    several heads) is in METRIC_DIRECTIONS, so a change gate on it knows
    which way is better or asks for `direction:`."""
    from pipeline.evaluate.build import build_report_head
    from pipeline.report.rows import metric_rows
    config = parse_config({
        "input": {"pattern": "x", "features": {
            "z": {"dtype": "float32"}, "z3": {"dtype": "float32", "shape": [3]},
            "y": {"dtype": "int64"}, "t": {"dtype": "int64", "varlen": True}}},
        "model": {"logits": {"b": "z", "m": "z3", "l": "z3", "r": "z"}},
        "heads": [{"name": "b", "type": "binary", "label": "y", "thresholds": [0.3]},
                  {"name": "m", "type": "multi_class", "n_classes": 3, "label": "y"},
                  {"name": "l", "type": "multi_label", "n_classes": 3, "label": "t",
                   "thresholds": [0.3]},
                  {"name": "r", "type": "regression", "label": "y"}]})
    names, metrics = build_report_head(config)
    reported = {r["metric"] for r in metric_rows("", metrics, names)}
    assert {"auc", "average_loss", "loss", "r_squared", "confusion_matrix"} <= reported
    assert reported <= set(METRIC_DIRECTIONS), reported - set(METRIC_DIRECTIONS)
    expected = {"auc": "higher", "precision": "higher", "recall": "higher",
                "accuracy": "higher", "average_loss": "lower", "loss": "lower",
                "root_mean_squared_error": "lower", "mean_absolute_error": "lower",
                "prediction/mean": None, "example_count": None}
    assert {m: METRIC_DIRECTIONS[m] for m in expected} == expected
