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
from heads.regression import RegressionHead

__all__ = ["BinaryClassHead", "MultiClassHead", "MultiLabelHead", "RegressionHead", "MultiHead",
           "ModeKeys", "MetricKeys", "PredictionKeys", "EstimatorSpec", "MetricInfo"]
