"""The metric specs of the metric options (`heads.options`), for the heads.

Each builder returns `base.MetricSpec`s (filled from batch sums the head
computes anyway) or `base.ViewSpec`s (reading AUCs of the same dict), keyed
as `heads.keys` formats them; `head._info` names them.
"""
from heads import base, derived, keys, metrics as M, states

K = keys.MetricKeys

RATES = ((M.FalsePositiveRate, K.FALSE_POSITIVE_RATE), (M.FalseNegativeRate, K.FALSE_NEGATIVE_RATE),
         (M.Specificity, K.SPECIFICITY), (M.NegativePredictiveValue, K.NEGATIVE_PREDICTIVE_VALUE))
# Each operating point's metric and the name of what its target is.
TARGETS = ((K.PRECISION_AT_RECALL, "recall"), (K.RECALL_AT_PRECISION, "precision"),
           (K.THRESHOLD_AT_RECALL, "recall"))


def absorb_ratio(total: str, total_index, count: str, count_index=(), scale: float = 1.0):
    """A mean of `stats[total][s][total_index]` over `scale *
    stats[count][s][count_index]`."""
    def absorb(metric, stats, s):
        metric.add_state(states.MeanState(total=stats[total][s][total_index],
                                          count=scale * stats[count][s][count_index]))
    return absorb


def absorb_classes(name: str, index):
    """Every class's `[2, 2]` counts `stats[name][s][:, index]` (a `[C, ..., 2, 2]` statistic)."""
    def absorb(metric, stats, s):
        metric.add_state(states.ClassConfusionState(stats[name][s][:, index]))
    return absorb


def rate_specs(head, stat: str, index, threshold: float | None, class_id: int | None = None,
               average: str | None = None, f1: bool = False) -> list:
    """False positive and negative rates, specificity, negative predictive
    value (and F1 with `f1`) from the counts `stats[stat][s][index]`, at
    `threshold` (None: no threshold in the key, counts at 0.5). `average`
    marks pooled counts ('micro'), without changing the key."""
    specs = []
    for metric_cls, name in RATES + (((M.F1, K.F1),) if f1 else ()):
        inf = head._info(name, class_id=class_id, threshold=threshold)._replace(average=average)
        t = 0.5 if threshold is None else threshold
        specs.append(base.MetricSpec(inf.key, lambda c=metric_cls, inf=inf, t=t: c(inf, threshold=t),
                                     base.absorb_confusion(stat, index)))
    return specs


def class_average_specs(head, stat: str, index, threshold: float | None, averages,
                        n_classes: int) -> list:
    """Precision, recall and F1 averaged over classes as each of `averages`
    says, from every class's counts `stats[stat][s][:, index]`."""
    specs = []
    for average in averages:
        for name in (K.PRECISION, K.RECALL, K.F1):
            inf = head._info(name, threshold=threshold, average=average)
            specs.append(base.MetricSpec(inf.key,
                                         lambda inf=inf: derived.ClassAverage(inf, n_classes),
                                         absorb_classes(stat, index)))
    return specs


def curve_average_specs(head, class_curves, averages) -> list:
    """The 'macro' and 'weighted' (of `averages`) AUC and AUC-PR over the
    per-class `class_curves` (CurveSpecs, before these in the spec order)."""
    specs = []
    for average in averages:
        if average == "micro":
            continue  # pooled scores: a curve of its own (the heads add it)
        for curve, name in (("roc", K.AUC), ("pr", K.AUC_PR)):
            inf = head._info(name, average=average)
            specs.append(base.ViewSpec(inf.key, lambda m, inf=inf, curve=curve: derived.CurveAverage(
                inf, [m[getattr(c, curve).key] for c in class_curves])))
    return specs


def operating_point_specs(head, options, curve, class_id: int | None = None,
                          average: str | None = None) -> list:
    """precision_at_recall, recall_at_precision, threshold_at_recall for the
    targets `options` lists, read off the curve state of `curve` (a CurveSpec
    before these)."""
    specs = []
    for name, target_name in TARGETS:
        for target in getattr(options, name):
            key = keys.at_target(name, target_name, target)
            if class_id is not None:
                key = keys.at_class(key, class_id, head._vocabulary_words())
            inf = head._info(name, class_id=class_id, key=key)._replace(average=average)
            specs.append(base.ViewSpec(inf.key, lambda m, inf=inf, name=name, target=target:
                                       derived.OperatingPoint(inf, m[curve.roc.key], name, target)))
    return specs
