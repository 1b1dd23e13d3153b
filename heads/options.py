"""Opt-in metric options of the classification heads (`metric_options=`).

Every option adds metrics computed from sums the head already keeps (the
confusion counts, the AUC curve states, the top-k hits), never a new pass
over the examples, and none changes a metric the head reports without it.
They are extended metrics: a head takes them with `extended_metrics=True`.

* `average`: 'micro', 'macro', 'weighted' averages over classes of the
  per-class precision, recall, F1, AUC and AUC-PR (multi-class, multi-label);
* `top_k`: the k of `accuracy/top_k`, `precision/top_k`, `recall/top_k`
  (multi-class), in place of the default 2 and 5;
* `thresholds`: coverage, precision and recall of the top class when its
  probability is above each threshold (multi-class);
* `calibration`: top-class confidence against accuracy, with the expected
  calibration error (multi-class);
* `derived_rates`: false positive and negative rates, specificity, negative
  predictive value and F1 at every threshold (binary, multi-label);
* `precision_at_recall`, `recall_at_precision`, `threshold_at_recall`:
  operating points of the ROC/PR curve state for listed targets (binary,
  multi-label).
"""
import collections

AVERAGES = ("micro", "macro", "weighted")
BINARY, MULTI_CLASS, MULTI_LABEL = "binary", "multi_class", "multi_label"
TARGET_OPTIONS = ("precision_at_recall", "recall_at_precision", "threshold_at_recall")
# Which head takes which option.
OPTIONS_BY_HEAD = {
    BINARY: ("derived_rates",) + TARGET_OPTIONS,
    MULTI_CLASS: ("average", "top_k", "thresholds", "calibration"),
    MULTI_LABEL: ("average", "derived_rates") + TARGET_OPTIONS,
}

MetricOptions = collections.namedtuple("MetricOptions", (
    "average", "top_k", "thresholds", "calibration", "derived_rates") + TARGET_OPTIONS)
MetricOptions.__new__.__defaults__ = ((), None, (), False, False, (), (), ())
MetricOptions.__doc__ = "The metric options of one head (module docstring); all off by default."


def _numbers(value, name, low_open=True):
    """`value` as a tuple of floats in (0, 1] (in [0, 1] with `low_open` False)."""
    out = []
    for v in value or ():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
                (0.0 < v if low_open else 0.0 <= v) and v <= 1.0):
            raise ValueError("%s must be numbers in (0, 1]; got %r" % (name, v))
        out.append(float(v))
    if len(set(out)) != len(out):
        raise ValueError("%s must be distinct; got %r" % (name, list(value)))
    return tuple(out)


def checked(options: MetricOptions | None, head: str, n_classes: int,
            extended: bool) -> MetricOptions:
    """The options of a head of kind `head` ('binary', 'multi_class',
    'multi_label'), checked: each one the head takes, its values valid. The
    thresholds of `thresholds` are checked by the head (`common`)."""
    if options is None:
        return MetricOptions()
    if not isinstance(options, MetricOptions):
        raise ValueError("metric_options must be a heads.MetricOptions; got %r" % (options,))
    given = [name for name, value in options._asdict().items() if value]
    wrong = [name for name in given if name not in OPTIONS_BY_HEAD[head]]
    if wrong:
        raise ValueError("metric option %s does not apply to a %s head (it takes %s)"
                         % (", ".join(wrong), head, ", ".join(OPTIONS_BY_HEAD[head])))
    if given and not extended:
        raise ValueError("metric options (%s) are extended metrics: they need "
                         "extended_metrics=True" % ", ".join(given))
    average = tuple(options.average or ())
    for a in average:
        if a not in AVERAGES:
            raise ValueError("average must list some of %s; got %r" % (", ".join(AVERAGES), a))
    if len(set(average)) != len(average):
        raise ValueError("average must be distinct; got %r" % (list(average),))
    top_k = options.top_k
    if top_k is not None:
        top_k = tuple(top_k)
        for k in top_k:
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n_classes:
                raise ValueError("top_k must be integers in [1, n_classes - 1 = %d]; got %r"
                                 % (n_classes - 1, k))
        if not top_k or len(set(top_k)) != len(top_k):
            raise ValueError("top_k must be a non-empty list of distinct integers; got %r"
                             % (list(top_k),))
    return MetricOptions(
        average=average, top_k=top_k, thresholds=tuple(options.thresholds or ()),
        calibration=bool(options.calibration), derived_rates=bool(options.derived_rates),
        precision_at_recall=_numbers(options.precision_at_recall, "precision_at_recall"),
        recall_at_precision=_numbers(options.recall_at_precision, "recall_at_precision"),
        threshold_at_recall=_numbers(options.threshold_at_recall, "threshold_at_recall"))


def check_class_names(words, average: tuple) -> None:
    """A class named like an average would share its metric keys
    (`precision/macro`): refused."""
    clash = sorted(set(average) & {str(w) for w in words or ()})
    if clash:
        raise ValueError("label_vocabulary has a class named %r, which would share its metric "
                         "keys with the %s average (precision/%s...): rename the class or "
                         "leave %s out of average" % (clash[0], clash[0], clash[0], clash[0]))
