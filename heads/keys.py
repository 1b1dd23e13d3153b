"""Metric, prediction and mode keys, and the formatters that build metric keys.

The strings are the TF Estimator's (`metric_keys.MetricKeys`,
`prediction_keys.PredictionKeys`, `ModeKeys`): reports and users depend on them.
"""
from typing import Sequence


class ModeKeys:
    """Estimator modes."""

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


class PredictionKeys:
    """Keys of the dict returned by `Head.predictions`."""

    CLASSES = "classes"
    CLASS_IDS = "class_ids"
    ALL_CLASSES = "all_classes"
    ALL_CLASS_IDS = "all_class_ids"
    LOGISTIC = "logistic"
    LOGITS = "logits"
    PREDICTIONS = "predictions"
    PROBABILITIES = "probabilities"


class MetricKeys:
    """Base metric names (the estimator's) plus headeval's extended ones."""

    LOSS = "loss"
    LOSS_MEAN = "average_loss"
    LOSS_REGULARIZATION = "regularization_loss"
    ACCURACY = "accuracy"
    PRECISION = "precision"
    RECALL = "recall"
    ACCURACY_BASELINE = "accuracy_baseline"
    AUC = "auc"
    AUC_PR = "auc_precision_recall"
    LABEL_MEAN = "label/mean"
    PREDICTION_MEAN = "prediction/mean"
    PROBABILITY_MEAN = "probability_mean"
    # Extended metrics (opt-in).
    F1 = "f1"
    EXAMPLE_COUNT = "example_count"
    WEIGHTED_EXAMPLE_COUNT = "weighted_example_count"
    CONFUSION_MATRIX = "confusion_matrix"
    MEAN_ABSOLUTE_ERROR = "mean_absolute_error"
    ROOT_MEAN_SQUARED_ERROR = "root_mean_squared_error"
    R_SQUARED = "r_squared"
    LABEL_MEAN_PER_CLASS = "label_mean"
    CALIBRATION = "calibration"
    # Metric options (heads.options).
    FALSE_POSITIVE_RATE = "false_positive_rate"
    FALSE_NEGATIVE_RATE = "false_negative_rate"
    SPECIFICITY = "specificity"
    NEGATIVE_PREDICTIVE_VALUE = "negative_predictive_value"
    COVERAGE = "coverage"
    PRECISION_AT_RECALL = "precision_at_recall"
    RECALL_AT_PRECISION = "recall_at_precision"
    THRESHOLD_AT_RECALL = "threshold_at_recall"
    EXPECTED_CALIBRATION_ERROR = "expected_calibration_error"


DEFAULT_SERVING_KEY = "serving_default"
CLASSIFY_SERVING_KEY = "classification"
REGRESS_SERVING_KEY = "regression"
PREDICT_SERVING_KEY = "predict"


def format_threshold(threshold: float) -> str:
    """`%g`, as the estimator formats thresholds in keys: 0.5 -> '0.5'."""
    return "%g" % threshold


def at_threshold(base: str, threshold: float) -> str:
    """'precision' , 0.5 -> 'precision/positive_threshold_0.5'."""
    return "%s/positive_threshold_%s" % (base, format_threshold(threshold))


def class_label(class_id: int, label_vocabulary: Sequence[str] | None = None) -> str:
    """The estimator's class suffix: 'class3' by id, or the vocabulary string."""
    if label_vocabulary is not None:
        return str(label_vocabulary[class_id])
    return "class%d" % class_id


def class_name(class_id: int, label_vocabulary: Sequence[str] | None = None) -> str:
    """The report's class column: the vocabulary string, else the id as text."""
    if label_vocabulary is not None:
        return str(label_vocabulary[class_id])
    return str(class_id)


def at_class(base: str, class_id: int, label_vocabulary: Sequence[str] | None = None) -> str:
    """'auc', 0 -> 'auc/class0'; with a vocabulary ['a', ...] -> 'auc/a'."""
    return "%s/%s" % (base, class_label(class_id, label_vocabulary))


def summary_key(key: str, head_name: str) -> str:
    """Suffix a key with the head name, as named heads do: 'auc/head1'."""
    return key if not head_name else "%s/%s" % (key, head_name)


def head_scoped(head_name: str, key: str) -> str:
    """A MultiHead's key of one head's output or loss: 'tags', 'predict' ->
    'tags/predict'."""
    return "%s/%s" % (head_name, key)


def top_k(base: str, k: int) -> str:
    """'accuracy', 2 -> 'accuracy/top_2'."""
    return "%s/top_%d" % (base, k)


def averaged(key: str, average: str) -> str:
    """An average over classes: 'precision', 'macro' -> 'precision/macro';
    after a threshold: 'precision/positive_threshold_0.5/macro'."""
    return "%s/%s" % (key, average)


def at_target(base: str, target_name: str, target: float) -> str:
    """An operating point for a target: 'precision_at_recall', 'recall', 0.9
    -> 'precision_at_recall/recall_0.9'."""
    return "%s/%s_%s" % (base, target_name, format_threshold(target))


def sub_name(base: str, part: str) -> str:
    """The base name of one value of a composite metric: 'calibration',
    'weight' -> 'calibration/weight'."""
    return "%s/%s" % (base, part)


def bucket(lower_edge: float) -> str:
    """A calibration bucket by its lower edge: 0.05 -> 'bucket_0.05'."""
    return "bucket_%g" % lower_edge


def sub_key(key: str, base: str, *parts) -> str:
    """The key of one value of a composite metric of key `key` and base name
    `base`: `parts` follow the base name, and whatever followed it in `key`
    (a MultiHead's `/<head name>`) stays last: 'calibration/bin',
    'calibration', 'weight', 'bucket_0.05' -> 'calibration/weight/bucket_0.05/bin'."""
    tail = key[len(base):] if base and key.startswith(base) else ""
    head = key[:len(key) - len(tail)]
    return "/".join((head,) + tuple(str(p) for p in parts)) + tail
