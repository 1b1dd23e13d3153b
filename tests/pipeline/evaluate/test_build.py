"""Heads from a config (pipeline.evaluate.build)."""
import pytest

from pipeline.config import parse_config
from pipeline.errors import ConfigError
from pipeline.evaluate.build import build_report_head


def _config(**head):
    return parse_config({
        "input": {"pattern": "unused-*.tfrecord",
                  "features": {"y": {"dtype": "int64"}, "z": {"dtype": "float32", "shape": [1]}}},
        "heads": [dict({"type": "binary", "label": "y"}, **head)], "model": {"logits": "z"}})


def test_report_names_and_empty_metrics():
    names, metrics = build_report_head(_config(thresholds=[0.3, 0.5]))
    assert names == [""]
    assert {"auc", "precision/positive_threshold_0.3", "recall/positive_threshold_0.5"} <= \
        set(metrics)


def test_a_head_that_refuses_its_arguments_is_a_config_error_naming_it():
    """Thresholds that would share a metric key: one line naming the head's
    entry (a ValueError with a traceback before)."""
    with pytest.raises(ConfigError, match=r"`heads\[0\]`: thresholds 0.5 and 0.5000001 are too "
                                          r"close") as e:
        build_report_head(_config(thresholds=[0.5, 0.5000001]))
    assert e.value.key == "heads[0]"
