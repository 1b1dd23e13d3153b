"""metrics.confidence_intervals: parsed, echoed in to_dict, refused with a
one-line error naming the key; and the replicate groups (pipeline/evaluate/
groups.py): a function of the seed and the record's identity only."""
import numpy as np
import pytest
import yaml
from tests.pipeline.test_config import BASE

from pipeline.config import ConfigError, parse_config
from pipeline.config.spec import IntervalsConfig
from pipeline.evaluate.groups import Groups


def _config(intervals):
    data = yaml.safe_load(BASE)
    data["metrics"]["confidence_intervals"] = intervals
    return parse_config(data)


def test_off_by_default_and_defaults():
    data = yaml.safe_load(BASE)
    assert parse_config(data).metrics.confidence_intervals is None
    ci = _config({}).metrics.confidence_intervals
    assert (ci.method, ci.replicates, ci.level, ci.seed, ci.example_id) == \
        ("jackknife", 20, 0.95, 0, None)
    config = _config({"method": "poisson_bootstrap", "replicates": 5, "level": 0.9, "seed": 7,
                      "example_id": "y"})
    assert parse_config(config.to_dict()) == config
    assert config.to_dict()["metrics"]["confidence_intervals"]["example_id"] == "y"


@pytest.mark.parametrize("intervals, key, expected", [
    ({"method": "bootstrap"}, "confidence_intervals.method", "one of jackknife"),
    ({"replicates": 1}, "confidence_intervals.replicates", ">= 2"),
    ({"replicates": 5000}, "confidence_intervals.replicates", "from 2 to 1000"),
    ({"level": 1.0}, "confidence_intervals.level", "between 0 and 1"),
    ({"level": "95%"}, "confidence_intervals.level", "between 0 and 1"),
    ({"seed": -1}, "confidence_intervals.seed", ">= 0"),
    ({"example_id": "nope"}, "confidence_intervals.example_id", "a feature of input.features"),
    ({"example_id": "tags"}, "confidence_intervals.example_id", "one value per example"),
    ({"groups": 3}, "confidence_intervals.groups", "unknown key"),
    ([20], "metrics.confidence_intervals", "a mapping"),
])
def test_bad_values_are_one_line_errors_naming_the_key(intervals, key, expected):
    with pytest.raises(ConfigError) as info:
        _config(intervals)
    message = str(info.value)
    assert key in message and expected in message and "\n" not in message


def test_too_many_replicates_for_the_slice_memory_limit():
    data = yaml.safe_load(BASE)
    data["heads"][0]["n_classes"] = 200
    data["heads"][0]["label_vocabulary"] = ["c%d" % i for i in range(200)]
    data["heads"][0]["classes_for_class_based_metrics"] = None
    data["model"]["logits"] = {"tags": "logits", "clicked": "score"}
    data["input"]["features"]["logits"]["shape"] = [200]
    data["metrics"]["confidence_intervals"] = {"method": "poisson_bootstrap",
                                               "replicates": 200}
    with pytest.raises(ConfigError, match="confidence_intervals.replicates.*fits in 1.0 GiB"):
        parse_config(data)


def _groups(**kw):
    return Groups(IntervalsConfig(**dict(dict(method="jackknife", replicates=20, level=0.95,
                                              seed=0), **kw)))


def test_record_groups_depend_on_file_name_position_and_seed_only():
    g = _groups()
    positions = np.arange(100_000)
    a = g.of_records("/data/part-0.tfrecord", positions)
    assert a.min() == 0 and a.max() == 19
    # Roughly uniform: each group within 5 % of n / 20.
    assert np.abs(np.bincount(a) / 5000 - 1).max() < 0.05
    np.testing.assert_array_equal(a, g.of_records("gs://bucket/x/part-0.tfrecord", positions))
    np.testing.assert_array_equal(a[1000:1097], g.of_records("part-0.tfrecord",
                                                             positions[1000:1097]))
    assert (a != g.of_records("/data/part-1.tfrecord", positions)).mean() > 0.9
    assert (a != _groups(seed=1).of_records("/data/part-0.tfrecord", positions)).mean() > 0.9


def test_example_id_groups_of_ints_and_strings():
    g = _groups(example_id="id", method="poisson_bootstrap")
    ids = np.arange(50_000, dtype=np.int64)
    a = g.of_ids({"id": ids})
    assert a.max() == 99 and np.abs(np.bincount(a) / 500 - 1).max() < 0.2
    np.testing.assert_array_equal(a[::-1], g.of_ids({"id": ids[::-1]}))
    words = np.array([("ex%d" % i).encode() for i in range(5000)], dtype=object)
    b = g.of_ids({"id": words})
    np.testing.assert_array_equal(b[10:20], g.of_ids({"id": words[10:20]}))
    assert len(np.unique(b)) == 100


def test_show_prints_value_plus_minus_half_width():
    from pipeline.report.text import format_rows
    rows = [{"head": "", "slice": "", "metric": "auc", "class": None, "threshold": None,
             "key": "auc", "value": 0.9, "lower": 0.88, "upper": 0.92, "stderr": 0.01},
            {"head": "", "slice": "", "metric": "accuracy", "class": None, "threshold": None,
             "key": "accuracy", "value": 0.8, "lower": None, "upper": None, "stderr": None}]
    text = format_rows(rows)
    assert "auc       0.9 ± 0.02\n" in text and "accuracy  0.8\n" in text
