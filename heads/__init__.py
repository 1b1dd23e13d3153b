"""TensorFlow Estimator heads for TF 2.21 / Keras 3, with mergeable metrics."""
from heads.keys import MetricKeys, ModeKeys, PredictionKeys
from heads.binary import BinaryClassHead

__all__ = ["BinaryClassHead", "MetricKeys", "ModeKeys", "PredictionKeys"]
