"""TensorFlow Estimator heads for TF 2.21 / Keras 3, with mergeable metrics.

`heads` never imports apache_beam or pipeline: it is usable on its own.
"""
from heads.base import EstimatorSpec
from heads.binary import BinaryClassHead
from heads.keys import MetricKeys, ModeKeys, PredictionKeys
from heads.metrics import MetricInfo
from heads.multi_class import MultiClassHead
from heads.multi_head import MultiHead
from heads.multi_label import MultiLabelHead
from heads.options import MetricOptions
from heads.regression import RegressionHead
# TF 1.x factory functions (tf.contrib.estimator / tf.contrib.learn). Note:
# `heads.multi_head` is the factory function, not the module (import the
# module's names with `from heads.multi_head import MultiHead`).
from heads.migration import (binary_classification_head, multi_class_head, multi_head,
                             multi_label_head, regression_head)

__all__ = ["BinaryClassHead", "MultiClassHead", "MultiLabelHead", "RegressionHead", "MultiHead",
           "ModeKeys", "MetricKeys", "PredictionKeys", "EstimatorSpec", "MetricInfo",
           "MetricOptions",
           "binary_classification_head", "multi_class_head", "multi_label_head",
           "regression_head", "multi_head"]
