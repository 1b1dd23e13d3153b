"""Heads from a config (pipeline.evaluate.build)."""
import importlib
import inspect
import pickle

import numpy as np
import pytest

from pipeline.config import parse_config
from pipeline.errors import ConfigError, LossFnError
from pipeline.evaluate.build import build_heads, build_report_head


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


_LOSS_MODULE = """
import tensorflow as tf
seen = []

def with_features(labels, logits, features):
    seen.append(sorted(features))
    return tf.square(tf.cast(labels, tf.float32) - logits)

def without_features(labels, logits):
    return tf.square(tf.cast(labels, tf.float32) - logits)

def boom(labels, logits):
    raise RuntimeError("boom\\non two lines")

def scalar(labels, logits):
    return tf.reduce_sum(logits)
"""


@pytest.fixture
def loss_module(tmp_path, monkeypatch):
    name = "loss_module_%s" % tmp_path.name.replace("-", "_")
    (tmp_path / (name + ".py")).write_text(_LOSS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _prepare(config):
    head, _ = build_heads(config)
    features = {"y": np.array([[1], [0]]), "z": np.array([[0.5], [-1.0]], np.float32)}
    return head.prepare(features, features["z"], features["y"])


def test_a_loss_fn_still_gets_features_when_it_asks_for_them(loss_module):
    """The one-line wrapper keeps the function's signature: the heads read
    it to decide whether to pass `features`."""
    module = importlib.import_module(loss_module)
    for function in ("with_features", "without_features"):
        prepared = _prepare(_config(loss_fn="%s:%s" % (loss_module, function)))
        np.testing.assert_allclose(np.asarray(prepared.unweighted_loss).ravel(),
                                   [0.25, 1.0])  # (1 - 0.5)^2, (0 + 1)^2
    assert module.seen == [["y", "z"]]


def test_a_loss_fn_that_raises_is_one_line_naming_head_function_and_exception(loss_module):
    with pytest.raises(LossFnError) as e:
        _prepare(_config(loss_fn="%s:boom" % loss_module))
    assert str(e.value) == ("heads[0].loss_fn '%s:boom' raised RuntimeError: boom on two lines"
                            % loss_module)
    assert isinstance(e.value, ValueError) and isinstance(e.value.__cause__, RuntimeError)


def test_a_loss_of_the_wrong_shape_keeps_the_heads_message(loss_module):
    with pytest.raises(ValueError, match=r"loss_fn must return Tensor of shape \[D0, D1, \.\.\. "
                                         r"DN, 1\]; logits_shape: \(2, 1\), loss_shape: \(\)"):
        _prepare(_config(loss_fn="%s:scalar" % loss_module))


def test_the_loss_fn_wrapper_pickles(loss_module):
    head, _ = build_heads(_config(loss_fn="%s:without_features" % loss_module))
    again = pickle.loads(pickle.dumps(head._loss_fn))
    assert again.spec == "%s:without_features" % loss_module and again.key == "heads[0].loss_fn"
    assert list(inspect.signature(again).parameters) == ["labels", "logits"]
