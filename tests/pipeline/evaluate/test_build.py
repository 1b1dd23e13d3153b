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


@pytest.mark.parametrize("module_text, spec, words", [
    (None, "no_such_module_xyz:loss", "cannot import module 'no_such_module_xyz': "
                                      "ModuleNotFoundError"),
    ("def other(labels, logits):\n    return logits\n", "{m}:loss", "has no function 'loss'"),
    ("LOSS = 3\n", "{m}:LOSS", "has no function 'LOSS'"),
    ("raise RuntimeError('boom at import')\n", "{m}:loss", "RuntimeError: boom at import"),
])
def test_a_loss_fn_that_does_not_import_is_a_config_error_in_the_driver(
        tmp_path, monkeypatch, module_text, spec, words):
    """Checked when the graph is built, naming the key: before, the error
    surfaced on a worker with a traceback and no key."""
    name = "loss_module_%s" % tmp_path.name.replace("-", "_")
    if module_text is not None:
        (tmp_path / (name + ".py")).write_text(module_text)
        monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as e:
        build_report_head(_config(loss_fn=spec.format(m=name)))
    assert e.value.key == "heads[0].loss_fn"
    assert words in str(e.value), str(e.value)
    assert "\n" not in str(e.value)
