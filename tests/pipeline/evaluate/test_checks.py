"""The row checks that reject examples (pipeline.evaluate.checks), on one batch."""
import numpy as np
import tensorflow as tf

from pipeline.config import parse_config
from pipeline.errors import (LABEL_NOT_FINITE, LABEL_NOT_IN_VOCABULARY, LABEL_OUT_OF_RANGE,
                             LOGITS_NOT_FINITE, WEIGHT_NEGATIVE, WEIGHT_NOT_FINITE)
from pipeline.evaluate.checks import RowChecks
from pipeline.evaluate.features import HeadInputs


def _config():
    return parse_config({
        "input": {"pattern": "unused-*.tfrecord", "features": {
            "y_bin": {"dtype": "string"}, "z_bin": {"dtype": "float32", "shape": [1]},
            "y_ml": {"dtype": "int64", "varlen": True}, "z_ml": {"dtype": "float32", "shape": [3]},
            "y_reg": {"dtype": "float32"}, "z_reg": {"dtype": "float32", "shape": [1]},
            "w": {"dtype": "float32", "default": 1.0}}},
        "model": {"logits": {"bin": "z_bin", "ml": "z_ml", "reg": "z_reg"}},
        "heads": [
            {"name": "bin", "type": "binary", "label": "y_bin", "label_vocabulary": ["n", "p"],
             "weight_column": "w"},
            {"name": "ml", "type": "multi_label", "n_classes": 3, "label": "y_ml"},
            {"name": "reg", "type": "regression", "label": "y_reg"}]})


def test_each_bad_row_is_found_once_with_its_kind_and_feature():
    n = 8
    features = {
        "y_bin": np.array([b"n", b"p", b"x", b"n", b"p", b"n", b"p", b"n"], object),
        "z_bin": np.zeros((n, 1), np.float32),
        "y_ml": tf.ragged.constant([[0], [1, 2], [], [3], [0], [], [], [2]], tf.int64),
        "z_ml": np.zeros((n, 3), np.float32),
        "y_reg": np.array([0, 1, 2, 3, np.nan, 5, 6, 7], np.float32),
        "z_reg": np.zeros((n, 1), np.float32),
        "w": np.array([1, 1, 1, 1, 1, -1, np.inf, 1], np.float32),
    }
    features["z_ml"][7, 1] = np.nan
    config = _config()
    head_inputs = HeadInputs(config)
    bad = RowChecks(head_inputs).find_bad_rows(features, head_inputs(features))
    assert {row: kind_and_feature[:2] for row, kind_and_feature in bad.items()} == {
        2: (LABEL_NOT_IN_VOCABULARY, "y_bin"),
        3: (LABEL_OUT_OF_RANGE, "y_ml"),
        4: (LABEL_NOT_FINITE, "y_reg"),
        5: (WEIGHT_NEGATIVE, "w"),
        6: (WEIGHT_NOT_FINITE, "w"),
        7: (LOGITS_NOT_FINITE, "z_ml"),
    }
    assert "heads[ml] logits (feature 'z_ml') must be finite" in bad[7][2]
    assert "'y_bin' is not in label_vocabulary ['n', 'p']; got ['x']" in bad[2][2]
