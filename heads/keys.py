"""Metric, prediction and mode keys, and the formatters that build metric keys.

The strings are the TF Estimator's (`metric_keys.MetricKeys`,
`prediction_keys.PredictionKeys`, `ModeKeys`): reports and users depend on them.
"""


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


SERVING_KEYS = ("serving_default", "classification", "regression", "predict")
DEFAULT_SERVING_KEY = "serving_default"
CLASSIFY_SERVING_KEY = "classification"
REGRESS_SERVING_KEY = "regression"
PREDICT_SERVING_KEY = "predict"


def format_threshold(threshold):
    """`%g`, as the estimator formats thresholds in keys: 0.5 -> '0.5'."""
    return "%g" % threshold


def at_threshold(base, threshold):
    """'precision' , 0.5 -> 'precision/positive_threshold_0.5'."""
    return "%s/positive_threshold_%s" % (base, format_threshold(threshold))


def class_label(class_id, label_vocabulary=None):
    """The estimator's class suffix: 'class3' by id, or the vocabulary string."""
    if label_vocabulary is not None:
        return str(label_vocabulary[class_id])
    return "class%d" % class_id


def class_name(class_id, label_vocabulary=None):
    """The report's class column: the vocabulary string, else the id as text."""
    if label_vocabulary is not None:
        return str(label_vocabulary[class_id])
    return str(class_id)


def at_class(base, class_id, label_vocabulary=None):
    """'auc', 0 -> 'auc/class0'; with a vocabulary ['a', ...] -> 'auc/a'."""
    return "%s/%s" % (base, class_label(class_id, label_vocabulary))


def summary_key(key, head_name):
    """Suffix a key with the head name, as named heads do: 'auc/head1'."""
    return key if not head_name else "%s/%s" % (key, head_name)
